/* N uncontended acquire+release pairs through the C API, for ../shared/bench/anchors.sh.
 * Usage: redlock_pairs PORT N   -> prints "libredlock wall_us=<per pair> cpu_us=<per pair>"
 * REDLOCK_BENCH_URL replaces the port's URL; REDLOCK_BENCH_URLS (space-separated) makes it a quorum client. */
#include <redlock/redlock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
           (double)u.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    char url[1024];
    redlock_client *c;
    redlock_lock *l;
    redlock_lock_options o;
    int i, n;
    double t0, c0;
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT N\n", argv[0]);
        return 2;
    }
    n = atoi(argv[2]);
    /* REDLOCK_BENCH_URL (e.g. a rediss:// URL for scripts/bench-tls.sh) replaces the plain port's URL. */
    if (getenv("REDLOCK_BENCH_URL")) snprintf(url, sizeof url, "%s", getenv("REDLOCK_BENCH_URL"));
    else snprintf(url, sizeof url, "redis://127.0.0.1:%d", atoi(argv[1]));
    redlock_lock_options_init(&o);
    o.timeout_ms = 10000;
    if (getenv("REDLOCK_BENCH_URLS")) { /* Redlock over these masters (scripts/bench-redlock.sh) */
        static char list[8192];
        const char *urls[REDLOCK_MAX_MASTERS];
        size_t k = 0;
        char *p;
        snprintf(list, sizeof list, "%s", getenv("REDLOCK_BENCH_URLS"));
        for (p = strtok(list, " "); p && k < REDLOCK_MAX_MASTERS; p = strtok(NULL, " ")) urls[k++] = p;
        if (redlock_client_new_quorum(&c, urls, k, NULL) != REDLOCK_OK) {
            fprintf(stderr, "quorum client: %s\n", redlock_last_error());
            return 1;
        }
    } else if (redlock_client_new(&c, url, NULL) != REDLOCK_OK) {
        fprintf(stderr, "client: %s\n", redlock_last_error());
        return 1;
    }
    if (redlock_lock_new(&l, c, "anchor:libredlock", &o, 0) != 0 ||
        redlock_lock_acquire(l) != REDLOCK_OK || redlock_lock_release(l) != REDLOCK_OK) { /* warm */
        fprintf(stderr, "setup failed: %s\n", redlock_last_error());
        return 1;
    }
    t0 = now();
    c0 = cpu();
    for (i = 0; i < n; i++) {
        if (redlock_lock_acquire(l) != REDLOCK_OK || redlock_lock_release(l) != REDLOCK_OK) {
            fprintf(stderr, "pair %d failed: %s\n", i, redlock_last_error());
            return 1;
        }
    }
    printf("libredlock wall_us=%.1f cpu_us=%.1f\n", (now() - t0) / n * 1e6, (cpu() - c0) / n * 1e6);
    redlock_lock_free(l);
    redlock_client_free(c);
    return 0;
}

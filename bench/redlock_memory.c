/* Memory: bytes per idle THREAD_LOCAL lock handle (100k handles, RSS before and after), and RSS growth over
 * PAIRS acquire+release pairs on one handle (flat: nothing grows per pair).
 * Usage: redlock_memory PORT PAIRS  -> "libredlock bytes_per_handle=X rss_growth_kib=Y" */
#include <redlock/redlock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long rss_kib(void) {
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kib = atol(line + 6);
    fclose(f);
    return kib;
}

int main(int argc, char **argv) {
    enum { HANDLES = 100000 };
    char url[64], name[64];
    redlock_client *c;
    redlock_lock *l, **many;
    redlock_lock_options o;
    long before, after, i, pairs;
    if (argc != 3) return 2;
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", atoi(argv[1]));
    pairs = atol(argv[2]);
    redlock_lock_options_init(&o);
    o.timeout_ms = 10000;
    if (redlock_client_new(&c, url, NULL) != REDLOCK_OK || redlock_lock_new(&l, c, "bench:memory", &o, 0) != 0) return 1;
    for (i = 0; i < 1000; i++) /* warm: connection, buffers, script cache */
        if (redlock_lock_acquire(l) != REDLOCK_OK || redlock_lock_release(l) != REDLOCK_OK) return 1;
    many = calloc(HANDLES, sizeof *many);
    before = rss_kib();
    for (i = 0; i < HANDLES; i++) {
        snprintf(name, sizeof name, "bench:memory:%ld", i);
        if (redlock_lock_new(&many[i], c, name, &o, 0) != REDLOCK_OK) return 1;
    }
    after = rss_kib();
    double per_handle = (double)(after - before) * 1024.0 / HANDLES;
    for (i = 0; i < HANDLES; i++) redlock_lock_free(many[i]);
    free(many);
    before = rss_kib();
    for (i = 0; i < pairs; i++)
        if (redlock_lock_acquire(l) != REDLOCK_OK || redlock_lock_release(l) != REDLOCK_OK) return 1;
    after = rss_kib();
    printf("libredlock bytes_per_handle=%.0f rss_growth_kib=%ld\n", per_handle, after - before);
    redlock_lock_free(l);
    redlock_client_free(c);
    return 0;
}

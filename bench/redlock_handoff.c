/* Handoff latency: 1 + W processes on one lock, each with its own client and default lock options (sleep 100 ms).
 * The holder keeps the lock HOLD_US, notes the time and releases, then stays out until another process has taken it
 * (so it never competes with the waiters being measured), and waits again; the handoff is the time from the release call to the next owner's acquire returning (CLOCK_MONOTONIC
 * is one clock for every process of the machine). Prints percentiles of ROUNDS handoffs.
 * Usage: redlock_handoff PORT WAITERS ROUNDS [HOLD_US]
 *   -> "libredlock waiters=W rounds=N p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.." */
#include <redlock/redlock.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 100000

struct shared {
    _Atomic long next;          /* samples taken */
    _Atomic long released_ns;   /* when the last holder called release; 0: none yet */
    _Atomic int stop;
    _Atomic long grants;        /* acquisitions so far: a releaser waits for the next one */
    double samples[MAX_ROUNDS]; /* ms */
};

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

static void pause_us(long us) {
    struct timespec t = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&t, NULL);
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int run(struct shared *sh, const char *url, long rounds, long hold_us) {
    redlock_client *c;
    redlock_lock *l;
    redlock_lock_options o;
    redlock_lock_options_init(&o);
    o.timeout_ms = 10000;
    o.blocking_timeout_ms = 2000; /* so a finished run ends every process */
    if (redlock_client_new(&c, url, NULL) != REDLOCK_OK || redlock_lock_new(&l, c, "bench:handoff", &o, 0) != 0) {
        fprintf(stderr, "setup failed: %s\n", redlock_last_error());
        return 1;
    }
    while (!atomic_load(&sh->stop)) {
        int rc = redlock_lock_acquire(l);
        long got = now_ns();
        if (rc == REDLOCK_NOT_ACQUIRED) continue;
        if (rc != REDLOCK_OK) {
            fprintf(stderr, "acquire failed: %s\n", redlock_last_error());
            return 1;
        }
        long mine = atomic_fetch_add(&sh->grants, 1) + 1;
        long released = atomic_exchange(&sh->released_ns, 0);
        if (released != 0) {
            long i = atomic_fetch_add(&sh->next, 1);
            if (i < rounds) sh->samples[i] = (double)(got - released) / 1e6;
            if (i + 1 >= rounds) atomic_store(&sh->stop, 1);
        }
        pause_us(hold_us);
        atomic_store(&sh->released_ns, now_ns());
        if (redlock_lock_release(l) != REDLOCK_OK) {
            fprintf(stderr, "release failed: %s\n", redlock_last_error());
            return 1;
        }
        /* Wait until another process took it (or the run ends): the releaser must not compete with the waiters whose
         * wake-up is being measured. */
        for (long t0 = now_ns(); atomic_load(&sh->grants) == mine && !atomic_load(&sh->stop);) {
            if (now_ns() - t0 > 5000000000L) break;
            pause_us(50);
        }
    }
    redlock_lock_free(l);
    redlock_client_free(c);
    return 0;
}

int main(int argc, char **argv) {
    char url[64];
    int waiters, i, status, failed = 0;
    long rounds, hold_us, n;
    struct shared *sh;
    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT WAITERS ROUNDS [HOLD_US]\n", argv[0]);
        return 2;
    }
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", atoi(argv[1]));
    waiters = atoi(argv[2]);
    rounds = atol(argv[3]);
    hold_us = argc > 4 ? atol(argv[4]) : 1000;
    if (waiters < 1 || waiters > 64 || rounds < 1 || rounds > MAX_ROUNDS || hold_us < 0) {
        fprintf(stderr, "WAITERS 1..64, ROUNDS 1..%d, HOLD_US >= 0\n", MAX_ROUNDS);
        return 2;
    }
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return 1;
    for (i = 0; i <= waiters; i++) {
        pid_t p = fork();
        if (p == 0) _exit(run(sh, url, rounds, hold_us));
        if (p < 0) return 1;
    }
    while (wait(&status) > 0) failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    n = atomic_load(&sh->next) < rounds ? atomic_load(&sh->next) : rounds;
    if (failed || n == 0) {
        fprintf(stderr, "a process failed\n");
        return 1;
    }
    qsort(sh->samples, (size_t)n, sizeof sh->samples[0], cmp);
    printf("libredlock waiters=%d rounds=%ld p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", waiters, n,
           sh->samples[n / 2], sh->samples[n * 9 / 10], sh->samples[n * 99 / 100], sh->samples[n - 1]);
    return 0;
}

/* Fairness: THREADS threads, each with its own handle, on one lock name for SECONDS; each holds the lock HOLD_US
 * per grant. Prints the fewest and the most grants any thread got (default mode, or fair mode with "fair").
 * Usage: redlock_fairness PORT THREADS SECONDS default|fair [HOLD_US]
 *   -> "<mode> threads=N grants=T min=A max=B" */
#include <pthread.h>
#include <redlock/redlock.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static redlock_client *client;
static int fair;
static long hold_us;
static atomic_int stop;
static long grants[256];

static void *worker(void *arg) {
    long i = (long)(size_t)arg;
    redlock_lock *l;
    redlock_lock_options o;
    redlock_lock_options_init(&o);
    o.timeout_ms = 10000;
    o.blocking_timeout_ms = 500; /* so every thread sees `stop` soon */
    o.fair = fair;
    if (redlock_lock_new(&l, client, "bench:fairness", &o, 0) != REDLOCK_OK) return (void *)1;
    while (!atomic_load(&stop)) {
        int rc = redlock_lock_acquire(l);
        if (rc == REDLOCK_NOT_ACQUIRED) continue;
        if (rc != REDLOCK_OK) {
            fprintf(stderr, "acquire: %s\n", redlock_last_error());
            return (void *)1;
        }
        grants[i]++;
        struct timespec t = {0, hold_us * 1000};
        nanosleep(&t, NULL);
        if (redlock_lock_release(l) != REDLOCK_OK) return (void *)1;
    }
    redlock_lock_free(l);
    return NULL;
}

int main(int argc, char **argv) {
    char url[64];
    pthread_t th[256];
    int threads, i, failed = 0;
    long total = 0, mn = -1, mx = 0;
    if (argc < 5) {
        fprintf(stderr, "usage: %s PORT THREADS SECONDS default|fair [HOLD_US]\n", argv[0]);
        return 2;
    }
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", atoi(argv[1]));
    threads = atoi(argv[2]);
    fair = strcmp(argv[4], "fair") == 0;
    hold_us = argc > 5 ? atol(argv[5]) : 100;
    if (threads < 1 || threads > 256) return 2;
    if (redlock_client_new(&client, url, NULL) != REDLOCK_OK) return 1;
    for (i = 0; i < threads; i++) pthread_create(&th[i], NULL, worker, (void *)(size_t)i);
    double secs = atof(argv[3]);
    struct timespec d = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
    nanosleep(&d, NULL);
    atomic_store(&stop, 1);
    for (i = 0; i < threads; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        failed |= rc != NULL;
    }
    redlock_client_free(client);
    if (failed) return 1;
    for (i = 0; i < threads; i++) {
        total += grants[i];
        if (mn < 0 || grants[i] < mn) mn = grants[i];
        if (grants[i] > mx) mx = grants[i];
    }
    printf("%s threads=%d grants=%ld min=%ld max=%ld\n", fair ? "fair" : "default", threads, total, mn, mx);
    return 0;
}

/* Many threads on one client: N threads, each doing uncontended acquire+release pairs on a name of its own, for a
 * fixed time; pairs per second. The floor is raw hiredis with one connection per thread (SET NX PX + EVALSHA
 * compare-and-delete, nothing else), measured in the same run.
 * Usage: redlock_threads PORT THREADS SECONDS libredlock|hiredis [MAX_CONNECTIONS]
 *   -> "<mode> threads=N pairs_per_s=X" */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <sched.h>
#include <redlock/redlock.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int port, hiredis_mode;
static double seconds;
static redlock_client *client;
static char sha[64];
static atomic_int go, stop;
static atomic_long total;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *worker(void *arg) {
    char name[64];
    long n = 0;
    snprintf(name, sizeof name, "bench:threads:%ld", (long)(size_t)arg);
    if (hiredis_mode) {
        const char *tok = "0123456789abcdef0123456789abcdef";
        redisContext *c = redisConnect("127.0.0.1", port);
        if (!c || c->err) return (void *)1;
        while (!atomic_load(&go)) sched_yield();
        while (!atomic_load(&stop)) {
            freeReplyObject(redisCommand(c, "SET %s %s NX PX 10000", name, tok));
            freeReplyObject(redisCommand(c, "EVALSHA %s 1 %s %s", sha, name, tok));
            n++;
        }
        redisFree(c);
    } else {
        redlock_lock *l;
        redlock_lock_options o;
        redlock_lock_options_init(&o);
        o.timeout_ms = 10000;
        if (redlock_lock_new(&l, client, name, &o, 0) != REDLOCK_OK) return (void *)1;
        if (redlock_lock_acquire(l) != REDLOCK_OK || redlock_lock_release(l) != REDLOCK_OK) return (void *)1;  /* warm */
        while (!atomic_load(&go)) sched_yield();
        while (!atomic_load(&stop)) {
            if (redlock_lock_acquire(l) != REDLOCK_OK || redlock_lock_release(l) != REDLOCK_OK) {
                fprintf(stderr, "pair failed: %s\n", redlock_last_error());
                return (void *)1;
            }
            n++;
        }
        redlock_lock_free(l);
    }
    atomic_fetch_add(&total, n);
    return NULL;
}

int main(int argc, char **argv) {
    pthread_t th[256];
    int threads, i, failed = 0;
    double t0, t1;
    if (argc < 5) {
        fprintf(stderr, "usage: %s PORT THREADS SECONDS libredlock|hiredis [MAX_CONNECTIONS]\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    threads = atoi(argv[2]);
    seconds = atof(argv[3]);
    hiredis_mode = strcmp(argv[4], "hiredis") == 0;
    if (threads < 1 || threads > 256) return 2;
    if (hiredis_mode) {
        redisContext *c = redisConnect("127.0.0.1", port);
        redisReply *r = redisCommand(c, "SCRIPT LOAD %s",
                                     "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) "
                                     "else return 0 end");
        snprintf(sha, sizeof sha, "%s", r->str);
        freeReplyObject(r);
        redisFree(c);
    } else {
        char url[64];
        redlock_client_options co;
        redlock_client_options_init(&co);
        if (argc > 5) co.max_connections = (uint32_t)atoi(argv[5]);
        snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
        if (redlock_client_new(&client, url, &co) != REDLOCK_OK) {
            fprintf(stderr, "client: %s\n", redlock_last_error());
            return 1;
        }
    }
    for (i = 0; i < threads; i++) pthread_create(&th[i], NULL, worker, (void *)(size_t)i);
    struct timespec warm = {0, 200000000};
    nanosleep(&warm, NULL);  /* connections open, scripts cached */
    atomic_store(&go, 1);
    t0 = now();
    struct timespec d = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&d, NULL);
    atomic_store(&stop, 1);
    t1 = now();
    for (i = 0; i < threads; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        failed |= rc != NULL;
    }
    if (client) redlock_client_free(client);
    if (failed) return 1;
    printf("%s threads=%d pairs_per_s=%.0f\n", hiredis_mode ? "hiredis" : "libredlock", threads,
           (double)atomic_load(&total) / (t1 - t0));
    return 0;
}

/* Startup: from nothing to a first lock held, K times. libredlock: redlock_client_new + redlock_lock_new + the
 * first acquire, then both freed (the key expires on its own; each round has a new name). The floor: raw
 * hiredis connect + SET NX PX, then redisFree.
 * Usage: redlock_startup PORT K libredlock|hiredis  -> "<mode> startup_us=<per round>" */
#include <hiredis/hiredis.h>
#include <redlock/redlock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    char url[64], name[64];
    int port, k, i, raw;
    double t0, t;
    if (argc != 4) {
        fprintf(stderr, "usage: %s PORT K libredlock|hiredis\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    k = atoi(argv[2]);
    raw = strcmp(argv[3], "hiredis") == 0;
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    t0 = now();
    for (i = 0; i < k; i++) {
        snprintf(name, sizeof name, "bench:startup:%s:%d:%d", argv[3], (int)getpid(), i);  /* fresh each run */
        if (raw) {
            redisContext *c = redisConnect("127.0.0.1", port);
            redisReply *r;
            if (!c || c->err) return 1;
            r = redisCommand(c, "SET %s %s NX PX %d", name, "0123456789abcdef0123456789abcdef", 1000);
            if (!r || r->type != REDIS_REPLY_STATUS) return 1;
            freeReplyObject(r);
            redisFree(c);
        } else {
            redlock_client *c;
            redlock_lock *l;
            redlock_lock_options o;
            redlock_lock_options_init(&o);
            o.timeout_ms = 1000;
            if (redlock_client_new(&c, url, NULL) != REDLOCK_OK || redlock_lock_new(&l, c, name, &o, 0) != REDLOCK_OK ||
                redlock_lock_acquire(l) != REDLOCK_OK) {
                fprintf(stderr, "%s\n", redlock_last_error());
                return 1;
            }
            redlock_lock_free(l);
            redlock_client_free(c);
        }
    }
    t = now() - t0;
    printf("%s startup_us=%.1f\n", raw ? "hiredis" : "libredlock", t / k * 1e6);
    return 0;
}

/* Who may release a lock that another thread acquired? Per-thread vs shared token state, through the C API:
 * two REDLOCK_SHARED handles (never one token), one REDLOCK_SHARED handle on two threads (one token), and one
 * REDLOCK_THREAD_LOCAL handle on two threads (a token per thread). Usage: demo REDIS_URL */
#include <pthread.h>
#include <redlock/redlock.h>
#include <stdio.h>
#include <stdlib.h>

static redlock_lock *g_lock;
static int g_rc;
static char g_msg[256]; /* the detail message is per thread: copy it out of the worker */

static void *acquire_in_thread(void *arg) {
    (void)arg;
    g_rc = redlock_lock_acquire(g_lock);
    snprintf(g_msg, sizeof g_msg, "%s", redlock_last_error());
    return NULL;
}

static void *release_in_thread(void *arg) {
    g_rc = redlock_lock_release((redlock_lock *)arg);
    snprintf(g_msg, sizeof g_msg, "%s", redlock_last_error());
    return NULL;
}

/* Runs fn(arg) on a new thread and returns its result code. */
static int on_thread(void *(*fn)(void *), void *arg) {
    pthread_t t;
    if (pthread_create(&t, NULL, fn, arg) != 0) exit(1);
    pthread_join(t, NULL);
    return g_rc;
}

static void report_msg(const char *what, int rc, const char *msg) {
    if (rc == REDLOCK_OK) printf("  %-42s -> OK\n", what);
    else printf("  %-42s -> %s\n  %-42s    (%s)\n", what, redlock_strerror(rc), "", msg);
}

/* For calls made on this thread. */
static void report(const char *what, int rc) { report_msg(what, rc, redlock_last_error()); }

/* For calls made by on_thread(). */
static void report_thread(const char *what, int rc) { report_msg(what, rc, g_msg); }

static redlock_lock *new_lock(redlock_client *c, unsigned flags) {
    redlock_lock *l = NULL;
    redlock_lock_options o;
    redlock_lock_options_init(&o);
    o.timeout_ms = 10000;
    if (redlock_lock_new(&l, c, "demo:seed", &o, flags) != REDLOCK_OK) {
        fprintf(stderr, "lock: %s\n", redlock_last_error());
        exit(1);
    }
    return l;
}

int main(int argc, char **argv) {
    redlock_client *c;
    redlock_lock *a, *b;
    int rc;
    if (argc != 2) {
        fprintf(stderr, "usage: %s redis://host:port/db\n", argv[0]);
        return 2;
    }
    if (redlock_client_new(&c, argv[1], NULL) != REDLOCK_OK) {
        fprintf(stderr, "client: %s\n", redlock_last_error());
        return 1;
    }
    printf("libredlock %s\n", redlock_version());

    puts("1. Two handles, both REDLOCK_SHARED: two owners, never one token");
    a = new_lock(c, REDLOCK_SHARED);
    b = new_lock(c, REDLOCK_SHARED);
    g_lock = a;
    report_thread("thread 1 acquires with handle A", on_thread(acquire_in_thread, NULL));
    report_thread("thread 2 releases with handle B", rc = on_thread(release_in_thread, b));
    printf("  lock still held: %s\n", redlock_lock_locked(a) == 1 ? "yes" : "no");
    report("handle A releases", redlock_lock_release(a));
    redlock_lock_free(a);
    redlock_lock_free(b);
    if (rc != REDLOCK_ENOTHELD) return 1;

    puts("2. One REDLOCK_SHARED handle used by two threads: one owner, the handle");
    a = new_lock(c, REDLOCK_SHARED);
    g_lock = a;
    report_thread("thread 1 acquires", on_thread(acquire_in_thread, NULL));
    report_thread("thread 2 releases with the same handle", rc = on_thread(release_in_thread, a));
    redlock_lock_free(a);
    if (rc != REDLOCK_OK) return 1;

    puts("3. The default, one REDLOCK_THREAD_LOCAL handle used by two threads: each thread its own token");
    a = new_lock(c, REDLOCK_THREAD_LOCAL);
    report("main thread acquires", redlock_lock_acquire(a));
    report_thread("thread 2 releases with the same handle", rc = on_thread(release_in_thread, a));
    report("main thread releases", redlock_lock_release(a));
    redlock_lock_free(a);
    redlock_client_free(c);
    return rc == REDLOCK_ENOTHELD ? 0 : 1;
}

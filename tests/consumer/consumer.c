/* A user's program: built against the installed library with pkg-config, and with CMake find_package. */
#include <redlock/redlock.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    redlock_client *c;
    redlock_lock *l;
    redlock_lock_options o;
    int rc;
    if (argc != 2) return 2;
    if (strcmp(redlock_version(), REDLOCK_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s but library %s\n", REDLOCK_VERSION_STRING, redlock_version());
        return 1;
    }
    redlock_lock_options_init(&o);
    o.timeout_ms = 10000;
    if (redlock_client_new(&c, argv[1], NULL) != REDLOCK_OK) {
        puts(redlock_last_error());
        return 1;
    }
    redlock_lock_new(&l, c, "jobs:nightly", &o, REDLOCK_SHARED);
    rc = redlock_lock_acquire(l);
    if (rc == REDLOCK_OK) rc = redlock_lock_release(l);
    if (rc != REDLOCK_OK) fprintf(stderr, "%s: %s\n", redlock_strerror(rc), redlock_last_error());
    redlock_lock_free(l);
    redlock_client_free(c);
    if (rc == REDLOCK_OK) printf("consumer ok with libredlock %s\n", redlock_version());
    return rc == REDLOCK_OK ? 0 : 1;
}

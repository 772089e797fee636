/* The public header alone, compiled as C99 and as C++11 with every warning an error (tests/CMakeLists.txt). */
#include <redlock/redlock.h>

int redlock_headertest(void);
int redlock_headertest(void) {
    redlock_lock_options o;
    redlock_client_options c;
    redlock_acquire_options a;
    (void)o;
    (void)c;
    (void)a;
    return REDLOCK_VERSION_CHECK(0, 1, 0) && REDLOCK_SHARED != REDLOCK_THREAD_LOCAL ? REDLOCK_OK : REDLOCK_EINTERNAL;
}

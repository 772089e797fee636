// Result codes, their fixed texts and the per-thread detail message.
#include <cstring>

#include "guard.hpp"

namespace redlock::capi {

static_assert(static_cast<int>(Errc::not_acquired) == REDLOCK_NOT_ACQUIRED);
static_assert(static_cast<int>(Errc::invalid) == REDLOCK_EINVAL);
static_assert(static_cast<int>(Errc::not_held) == REDLOCK_ENOTHELD);
static_assert(static_cast<int>(Errc::not_owned) == REDLOCK_ENOTOWNED);
static_assert(static_cast<int>(Errc::no_ttl) == REDLOCK_ENOTTL);
static_assert(static_cast<int>(Errc::connection) == REDLOCK_ECONN);
static_assert(static_cast<int>(Errc::timed_out) == REDLOCK_ETIMEDOUT);
static_assert(static_cast<int>(Errc::server) == REDLOCK_ESERVER);
static_assert(static_cast<int>(Errc::auth) == REDLOCK_EAUTH);
static_assert(static_cast<int>(Errc::no_memory) == REDLOCK_ENOMEM);
static_assert(static_cast<int>(Errc::internal) == REDLOCK_EINTERNAL);

namespace {
thread_local char t_message[1024];
}

void set_message(const char *msg) noexcept {
    size_t n = std::strlen(msg);
    if (n >= sizeof t_message) n = sizeof t_message - 1;
    std::memcpy(t_message, msg, n);
    t_message[n] = '\0';
}

void clear_message() noexcept { t_message[0] = '\0'; }

int fail(int code, const char *msg) noexcept {
    set_message(msg);
    return code;
}

}  // namespace redlock::capi

using namespace redlock::capi;

extern "C" REDLOCK_API const char *redlock_strerror(int code) noexcept {
    switch (code) {
    case REDLOCK_OK: return "success";
    case REDLOCK_NOT_ACQUIRED: return "lock not acquired: held by another owner";
    case REDLOCK_EINVAL: return "invalid argument";
    case REDLOCK_ENOTHELD: return "lock is not held by this owner";
    case REDLOCK_ENOTOWNED: return "lock is no longer owned: expired or taken by another owner";
    case REDLOCK_ENOTTL: return "lock has no timeout";
    case REDLOCK_ECONN: return "connection to Redis failed";
    case REDLOCK_ETIMEDOUT: return "Redis did not answer in time";
    case REDLOCK_ESERVER: return "Redis returned an error";
    case REDLOCK_EAUTH: return "Redis refused authentication or permission";
    case REDLOCK_ENOMEM: return "out of memory";
    case REDLOCK_EINTERNAL: return "internal error in libredlock";
    default: return "unknown result code";
    }
}

extern "C" REDLOCK_API const char *redlock_last_error(void) noexcept { return t_message; }

extern "C" REDLOCK_API const char *redlock_version(void) noexcept { return REDLOCK_VERSION_STRING; }

extern "C" REDLOCK_API int redlock_version_number(void) noexcept { return REDLOCK_VERSION_NUMBER; }

#include "base/clock.hpp"

#include <fmt/format.h>

#include "base/error.hpp"

namespace redlock::core {

Millis checked_duration(int64_t ms, const char *what, int64_t min) {
    if (ms < min || ms > kMaxDurationMs)
        throw Error(Errc::invalid, fmt::format("{} must be from {} to {} ms (REDLOCK_MAX_DURATION_MS), got {}", what,
                                               min, kMaxDurationMs, ms));
    return Millis(ms);
}

}  // namespace redlock::core

// Every deadline in libredlock is on the monotonic clock; the wall clock never decides anything.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace redlock::core {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

// REDLOCK_MAX_DURATION_MS (capi/ checks they agree): about 31.7 years. Far below the point where a millisecond count
// overflows the clock's nanoseconds, and small enough for Redis to add to its own clock in PX and PEXPIRE.
inline constexpr int64_t kMaxDurationMs = 1'000'000'000'000;

// A duration that must be exact (a TTL sent to Redis, a pause): min..REDLOCK_MAX_DURATION_MS ms, else
// Error(invalid) naming `what` and the limit.
Millis checked_duration(int64_t ms, const char *what, int64_t min = 0);

// A limit on a wait: negative or above REDLOCK_MAX_DURATION_MS means none (nullopt).
inline std::optional<Millis> wait_limit(int64_t ms) {
    if (ms < 0 || ms > kMaxDurationMs) return std::nullopt;
    return Millis(ms);
}

// A point in time after which an operation gives up; "never" when empty. Arithmetic saturates: a duration too long
// for the clock is "never", not an overflow.
class Deadline {
public:
    Deadline() = default;
    static Deadline never() { return Deadline(); }
    static Deadline after(std::optional<Millis> d, Clock::time_point now = Clock::now()) {
        Deadline out;
        if (!d) return out;
        if (d->count() <= 0) out.at_ = now;  // already passed (and no overflow for very negative values)
        else if (*d <= std::chrono::floor<Millis>(Clock::time_point::max() - now)) out.at_ = now + *d;
        return out;
    }
    static Deadline at(Clock::time_point t) {
        Deadline out;
        out.at_ = t;
        return out;
    }
    // The sooner of the two.
    Deadline earlier(const Deadline &o) const { return !at_ ? o : !o.at_ ? *this : (*at_ <= *o.at_ ? *this : o); }
    bool is_never() const noexcept { return !at_; }
    bool passed(Clock::time_point now = Clock::now()) const noexcept { return at_ && now >= *at_; }
    // Would waiting `d` from now end past the deadline? (now + d > deadline, without computing now + d)
    bool passed_after(Millis d, Clock::time_point now = Clock::now()) const noexcept {
        return at_ && d > std::chrono::floor<Millis>(*at_ - now);
    }
    // Time left, clamped at zero; nullopt for "never".
    std::optional<Millis> remaining(Clock::time_point now = Clock::now()) const {
        if (!at_) return std::nullopt;
        if (now >= *at_) return Millis(0);
        return std::chrono::ceil<Millis>(*at_ - now);
    }

private:
    std::optional<Clock::time_point> at_;
};

}  // namespace redlock::core

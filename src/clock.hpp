// Every deadline in libredlock is on the monotonic clock; the wall clock never decides anything.
#pragma once

#include <chrono>
#include <optional>

namespace redlock::core {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

// A point in time after which an operation gives up; "never" when empty.
class Deadline {
public:
    Deadline() = default;
    static Deadline never() { return Deadline(); }
    static Deadline after(std::optional<Millis> d) {
        Deadline out;
        if (d) out.at_ = Clock::now() + *d;
        return out;
    }
    bool is_never() const noexcept { return !at_; }
    bool passed(Clock::time_point now = Clock::now()) const noexcept { return at_ && now >= *at_; }
    // Would waiting `d` from now end past the deadline?
    bool passed_after(Millis d, Clock::time_point now = Clock::now()) const noexcept { return at_ && now + d > *at_; }
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

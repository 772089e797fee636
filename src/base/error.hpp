// Errors of the C++ core. Codes mirror the C API's redlock_result one to one (capi/ checks this at compile time).
#pragma once

#include <stdexcept>
#include <string>

namespace redlock::core {

enum class Errc : int {
    ok = 0,
    not_acquired = 1,
    invalid = -1,
    not_held = -2,
    not_owned = -3,
    no_ttl = -4,
    connection = -5,
    timed_out = -6,
    server = -7,
    auth = -8,
    no_memory = -9,
    internal = -10,
};

class Error : public std::runtime_error {
public:
    Error(Errc code, const std::string &message) : std::runtime_error(message), code_(code) {}
    Errc code() const noexcept { return code_; }

private:
    Errc code_;
};

// True for failures after which a command may or may not have run on the server.
inline bool is_transport_failure(Errc c) noexcept { return c == Errc::connection || c == Errc::timed_out; }

}  // namespace redlock::core

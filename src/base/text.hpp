// Text from outside (lock names, server replies) shown in messages: bounded and printable.
#pragma once

#include <string>
#include <string_view>

namespace redlock::core {

inline bool starts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.substr(0, prefix.size()) == prefix;
}

// At most `max` bytes of `s`, with bytes outside printable ASCII (and '\') as \xNN, and "...(N bytes)" when cut.
std::string printable(std::string_view s, size_t max);
// A lock name in a message: printable and at most 64 bytes.
inline std::string shown(std::string_view name) { return printable(name, 64); }

}  // namespace redlock::core

#include "base/text.hpp"

#include <fmt/format.h>

namespace redlock::core {

std::string printable(std::string_view s, size_t max) {
    std::string out;
    for (unsigned char c : s.substr(0, max)) {
        if (c >= 0x20 && c < 0x7f && c != '\\') out += static_cast<char>(c);
        else out += fmt::format("\\x{:02x}", c);
    }
    if (s.size() > max) out += fmt::format("...({} bytes)", s.size());
    return out;
}

}  // namespace redlock::core

// The reply reader fed hostile bytes. Differential: the same bytes fed whole and in small pieces must give the same
// replies and the same error; the buffer stays within its bound; -malloc_limit_mb (run.sh) catches any allocation
// a header could inflate.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/resp.hpp"

using namespace redlock::core;

namespace {

void describe(const Reply &r, std::string &out) {
    out += static_cast<char>('0' + static_cast<int>(r.type));
    out += std::to_string(r.integer) + ":" + std::to_string(r.str.size()) + ":" + r.str + (r.oversize ? "+" : "");
    if (r.type == Reply::Type::array) {
        out += "[" + std::to_string(r.elements.size());
        for (const Reply &e : r.elements) describe(e, out);
        out += "]";
    }
}

// Every reply, then "E<kind>" for a protocol error or "." for "needs more bytes".
std::string parse(std::string_view bytes, size_t piece, bool skip) {
    ReplyLimits limits;
    if (skip) limits.max_skipped_bulk = 1 << 16;  // GET's mode: longer bulks read through, not kept
    ReplyReader reader(limits);
    const ReplyLimits &lim = reader.limits();
    const size_t bound = lim.max_line + 2 + lim.max_bulk + 2 + piece;
    std::string out;
    try {
        for (size_t off = 0; off < bytes.size(); off += piece) {
            std::string_view chunk = bytes.substr(off, piece);
            reader.feed(chunk.data(), chunk.size());
            Reply r;
            while (reader.next(r)) {
                describe(r, out);
                out += ";";
            }
            if (reader.buffered() > bound) {
                std::fprintf(stderr, "buffered %zu bytes, bound %zu\n", reader.buffered(), bound);
                std::abort();
            }
        }
        out += ".";
    } catch (const ProtocolError &e) {
        out += "E" + std::to_string(static_cast<int>(e.kind()));
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const size_t piece = 1 + data[0] % 7;  // the first byte picks the piece size and the mode
    const bool skip = (data[0] & 0x80) != 0;
    const std::string_view bytes(reinterpret_cast<const char *>(data) + 1, size - 1);
    const std::string whole = parse(bytes, bytes.size() + 1, skip);
    const std::string pieces = parse(bytes, piece, skip);
    if (whole != pieces) {
        std::fprintf(stderr, "whole:  %s\npieces: %s\n", whole.c_str(), pieces.c_str());
        std::abort();
    }
    return 0;
}

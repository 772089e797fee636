// RESP2 framing: commands are encoded from argv with lengths (binary-safe); replies are parsed by a bounded,
// incremental reader. A lock library knows the shape of every reply it expects (a status, an integer, nil, a bulk of
// a few KiB), so anything larger is a protocol error that breaks the connection, decided as soon as a header says
// so: a hostile or broken server cannot make the client allocate, or wait, beyond those bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace redlock::core {

// A command's arguments, binary-safe: a view over string_views that outlive the call. Functions taking Argv also
// take a braced list (an initializer_list parameter, whose array lives to the end of the caller's full-expression).
using ArgList = std::initializer_list<std::string_view>;
class Argv {
public:
    Argv(const std::string_view *p, size_t n) noexcept : p_(p), n_(n) {}
    const std::string_view *begin() const noexcept { return p_; }
    const std::string_view *end() const noexcept { return p_ + n_; }
    size_t size() const noexcept { return n_; }

private:
    const std::string_view *p_;
    size_t n_;
};

// Appends one command in RESP multi-bulk form to `out`.
void encode_command(std::string &out, Argv argv);
inline void encode_command(std::string &out, ArgList argv) { encode_command(out, Argv(argv.begin(), argv.size())); }

struct Reply {
    enum class Type { nil, status, error, integer, string, array };
    Type type = Type::nil;
    long long integer = 0;
    std::string str;             // status, error or bulk string text
    std::vector<Reply> elements;  // array
    bool oversize = false;        // a bulk string longer than the limit, read through but not kept (its length in
                                  // `integer`): see ReplyLimits::max_skipped_bulk

    bool is_nil() const noexcept { return type == Type::nil; }
    bool is_error() const noexcept { return type == Type::error; }
    bool is_status(std::string_view s) const noexcept { return type == Type::status && str == s; }
};

// The reply types a command may answer with, as a bit set (an error reply is always possible). Any other type means
// the connection is out of step with its commands, whatever the bytes say.
constexpr unsigned type_bit(Reply::Type t) noexcept { return 1u << static_cast<unsigned>(t); }
namespace expect {
inline constexpr unsigned any = ~0u;
inline constexpr unsigned status = type_bit(Reply::Type::status);
inline constexpr unsigned integer = type_bit(Reply::Type::integer);
inline constexpr unsigned string_or_nil = type_bit(Reply::Type::string) | type_bit(Reply::Type::nil);
inline constexpr unsigned status_or_nil = type_bit(Reply::Type::status) | type_bit(Reply::Type::nil);
inline constexpr unsigned status_ok_only = 1u << 16;  // modifier: a status must be exactly "OK"
inline constexpr unsigned ok_or_nil = status_or_nil | status_ok_only;
inline constexpr unsigned skip_big_strings = 1u << 17;  // modifier: longer bulks are read through, not kept
}  // namespace expect
const char *type_name(Reply::Type t) noexcept;

// Redis's longest string (proto-max-bulk-len's default, 512 MiB).
inline constexpr size_t kMaxRedisString = size_t{512} << 20;

// The largest reply a connection accepts. The defaults fit every lock command (tokens are at most 4 KiB); commands
// with bigger answers (topology queries) raise them for their own call.
struct ReplyLimits {
    size_t max_bulk = 8192;     // bytes in one bulk string
    size_t max_skipped_bulk = 0;  // longer bulks up to this are read through and dropped (Reply::oversize): for a
                                  // GET, whose value only matters if it can be a token
    size_t max_line = 8192;     // bytes in a status, error or integer line, or a header
    size_t max_elements = 16;   // array elements in one reply, all levels together
    unsigned max_depth = 2;     // arrays inside arrays
};

// The server broke the protocol or the limits; the connection cannot be trusted any more.
class ProtocolError : public Error {
public:
    enum class Kind { not_resp, malformed, too_large };
    ProtocolError(Kind kind, const std::string &message, int first_byte = -1)
        : Error(Errc::connection, message), kind_(kind), first_byte_(first_byte) {}
    Kind kind() const noexcept { return kind_; }
    int first_byte() const noexcept { return first_byte_; }  // of a not_resp reply

private:
    Kind kind_;
    int first_byte_;
};

// Incremental reply parser. Bytes go in through space()/commit() (read straight into the buffer) or feed(); whole
// replies come out of next(). The buffer never holds more than one reply's bytes plus one read.
class ReplyReader {
public:
    explicit ReplyReader(ReplyLimits limits = {}) : limits_(limits) {}
    ReplyReader(const ReplyReader &) = delete;
    ReplyReader &operator=(const ReplyReader &) = delete;

    // Room for at least `min` more bytes at the end of the buffer; commit(n) after writing n of them.
    char *space(size_t min);
    size_t space_size() const noexcept { return cap_ - end_; }
    void commit(size_t n) noexcept { end_ += n; }
    void feed(const char *data, size_t len);

    // True and fills `out` when a whole reply is buffered; false when more bytes are needed. Throws ProtocolError
    // (the reader is then unusable).
    bool next(Reply &out);
    // Bytes received and not yet part of a returned reply.
    size_t buffered() const noexcept { return end_ - begin_; }
    // True until the first byte of the first reply has been seen.
    bool nothing_seen() const noexcept { return !seen_any_; }

    void set_limits(ReplyLimits limits) noexcept { limits_ = limits; }
    const ReplyLimits &limits() const noexcept { return limits_; }

private:
    struct Frame {
        Reply *array;
        size_t left;
    };
    // Parses one item at begin_ if it is whole; false if more bytes are needed.
    bool parse_item(Reply &item, bool &opens_array, size_t &count);
    Reply *slot();

    // Consumes a skipped bulk's bytes as they come; true once its end (and CRLF) is reached.
    bool skip_bulk();

    ReplyLimits limits_;
    uint64_t skip_left_ = 0;  // bytes of a skipped bulk (with its CRLF) still to come
    long long skipped_len_ = 0;
    std::unique_ptr<char[]> buf_;
    size_t cap_ = 0, begin_ = 0, end_ = 0;
    Reply root_;
    std::vector<Frame> stack_;  // open arrays of the reply being parsed
    size_t elements_ = 0;       // elements announced so far in this reply
    bool seen_any_ = false;
};

}  // namespace redlock::core

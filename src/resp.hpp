// RESP2 framing: commands are encoded from argv with lengths (binary-safe); replies are parsed by hiredis's reader.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

struct redisReader;

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
    std::string str;  // status, error or bulk string text

    bool is_nil() const noexcept { return type == Type::nil; }
    bool is_error() const noexcept { return type == Type::error; }
    bool is_status(std::string_view s) const noexcept { return type == Type::status && str == s; }
};

// Incremental reply parser over hiredis's redisReader (owned).
class ReplyReader {
public:
    ReplyReader();
    ~ReplyReader();
    ReplyReader(const ReplyReader &) = delete;
    ReplyReader &operator=(const ReplyReader &) = delete;

    void feed(const char *data, size_t len);
    // True and fills `out` when a whole reply is buffered; throws Error(connection) on a protocol error.
    bool next(Reply &out);

private:
    redisReader *reader_;
};

}  // namespace redlock::core

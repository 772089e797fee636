#include "net/resp.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace redlock::core {

namespace {

void append_header(std::string &out, char kind, size_t n) {
    char buf[24];
    buf[0] = kind;
    auto [end, ec] = std::to_chars(buf + 1, buf + sizeof buf - 2, n);
    (void)ec;  // 20 digits always fit
    *end++ = '\r';
    *end++ = '\n';
    out.append(buf, end);
}

[[noreturn]] void malformed(const char *what) {
    throw ProtocolError(ProtocolError::Kind::malformed, fmt::format("malformed reply: {}", what));
}

// A RESP integer: an optional '-' and digits, nothing else, no overflow.
long long parse_integer(std::string_view s) {
    long long v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || s[0] == '+') malformed("bad integer");
    return v;
}

}  // namespace

const char *type_name(Reply::Type t) noexcept {
    switch (t) {
    case Reply::Type::nil: return "nil";
    case Reply::Type::status: return "status";
    case Reply::Type::error: return "error";
    case Reply::Type::integer: return "integer";
    case Reply::Type::string: return "bulk string";
    case Reply::Type::array: return "array";
    }
    return "unknown";
}

void encode_command(std::string &out, Argv argv) {
    append_header(out, '*', argv.size());
    for (std::string_view a : argv) {
        append_header(out, '$', a.size());
        out.append(a);
        out.append("\r\n", 2);
    }
}

char *ReplyReader::space(size_t min) {
    if (begin_ == end_) begin_ = end_ = 0;
    if (cap_ - end_ < min) {
        if (begin_ > 0) {  // slide the unparsed tail to the front
            std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        if (cap_ - end_ < min) {
            size_t cap = std::max(cap_ * 2, end_ + min);
            std::unique_ptr<char[]> bigger(new char[cap]);
            if (end_ > 0) std::memcpy(bigger.get(), buf_.get(), end_);
            buf_ = std::move(bigger);
            cap_ = cap;
        }
    }
    return buf_.get() + end_;
}

void ReplyReader::feed(const char *data, size_t len) {
    std::memcpy(space(len), data, len);
    commit(len);
}

bool ReplyReader::skip_bulk() {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(end_ - begin_, skip_left_));
    const char *p = buf_.get() + begin_;
    // Only the bulk's last two bytes are looked at, when in this chunk: they must be its CRLF.
    for (uint64_t left : {uint64_t{2}, uint64_t{1}}) {
        const uint64_t at = skip_left_ - left;  // index in this chunk
        if (skip_left_ >= left && at < n && p[at] != (left == 2 ? '\r' : '\n'))
            malformed("bulk string not ended by CRLF");
    }
    begin_ += n;
    skip_left_ -= n;
    return skip_left_ == 0;
}

bool ReplyReader::parse_item(Reply &item, bool &opens_array, size_t &count) {
    if (skip_left_ > 0) {
        if (!skip_bulk()) return false;
        item.type = Reply::Type::string;
        item.oversize = true;
        item.integer = skipped_len_;
        return true;
    }
    const char *p = buf_.get() + begin_;
    const size_t n = end_ - begin_;
    if (n == 0) return false;
    const char type = p[0];
    if (std::strchr("+-:$*", type) == nullptr || type == '\0') {
        if (!seen_any_)
            throw ProtocolError(ProtocolError::Kind::not_resp,
                                fmt::format("its reply starts with byte 0x{:02x}, not a RESP type",
                                            static_cast<unsigned char>(type)),
                                static_cast<unsigned char>(type));
        malformed("unknown type byte");
    }
    seen_any_ = true;
    const size_t scan = std::min(n, limits_.max_line + 2);
    const char *lf = static_cast<const char *>(std::memchr(p, '\n', scan));
    if (!lf) {
        if (n >= limits_.max_line + 2)
            throw ProtocolError(ProtocolError::Kind::too_large,
                                fmt::format("a reply line is longer than {} bytes", limits_.max_line));
        return false;
    }
    const size_t line = static_cast<size_t>(lf - p);  // up to '\n', excluded
    if (line < 2 || p[line - 1] != '\r') malformed("line not ended by CRLF");
    const std::string_view body(p + 1, line - 2);
    const size_t header = line + 1;
    switch (type) {
    case '+':
    case '-':
        item.type = type == '+' ? Reply::Type::status : Reply::Type::error;
        item.str.assign(body);
        break;
    case ':':
        item.type = Reply::Type::integer;
        item.integer = parse_integer(body);
        break;
    case '$': {
        const long long len = parse_integer(body);
        if (len == -1) {
            item.type = Reply::Type::nil;
            break;
        }
        if (len < 0) malformed("negative bulk length");
        if (static_cast<unsigned long long>(len) > limits_.max_bulk) {
            if (static_cast<unsigned long long>(len) > limits_.max_skipped_bulk)
                throw ProtocolError(ProtocolError::Kind::too_large,
                                    fmt::format("a bulk string of {} bytes; the limit is {}", len,
                                                std::max(limits_.max_bulk, limits_.max_skipped_bulk)));
            begin_ += header;  // read it through without keeping it
            skip_left_ = static_cast<uint64_t>(len) + 2;
            skipped_len_ = len;
            return parse_item(item, opens_array, count);
        }
        const size_t need = header + static_cast<size_t>(len) + 2;
        if (n < need) return false;
        if (p[need - 2] != '\r' || p[need - 1] != '\n') malformed("bulk string not ended by CRLF");
        item.type = Reply::Type::string;
        item.str.assign(p + header, static_cast<size_t>(len));
        begin_ += need;
        return true;
    }
    default: {  // '*'
        const long long len = parse_integer(body);
        if (len == -1) {
            item.type = Reply::Type::nil;
            break;
        }
        if (len < 0) malformed("negative array length");
        if (static_cast<unsigned long long>(len) > limits_.max_elements - elements_)
            throw ProtocolError(ProtocolError::Kind::too_large,
                                fmt::format("an array of {} elements; the limit is {} per reply", len,
                                            limits_.max_elements));
        if (stack_.size() >= limits_.max_depth)
            throw ProtocolError(ProtocolError::Kind::too_large,
                                fmt::format("arrays nested deeper than {}", limits_.max_depth));
        item.type = Reply::Type::array;
        count = static_cast<size_t>(len);
        elements_ += count;
        opens_array = true;
        break;
    }
    }
    begin_ += header;
    return true;
}

Reply *ReplyReader::slot() {
    if (stack_.empty()) return &root_;
    Frame &f = stack_.back();
    --f.left;
    f.array->elements.emplace_back();  // reserved: never reallocates, so open frames' pointers stay valid
    return &f.array->elements.back();
}

bool ReplyReader::next(Reply &out) {
    for (;;) {
        Reply item;
        bool opens_array = false;
        size_t count = 0;
        if (!parse_item(item, opens_array, count)) return false;
        Reply *dst = slot();
        *dst = std::move(item);
        if (opens_array && count > 0) {
            dst->elements.reserve(count);
            stack_.push_back({dst, count});
            continue;
        }
        while (!stack_.empty() && stack_.back().left == 0) stack_.pop_back();
        if (stack_.empty()) {
            out = std::move(root_);
            root_ = Reply();
            elements_ = 0;
            return true;
        }
    }
}

}  // namespace redlock::core

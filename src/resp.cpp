#include "resp.hpp"

#include <hiredis/hiredis.h>

#include <charconv>
#include <new>

#include "error.hpp"

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

struct ReplyDeleter {
    void operator()(redisReply *r) const noexcept { freeReplyObject(r); }
};

}  // namespace

void encode_command(std::string &out, Argv argv) {
    append_header(out, '*', argv.size());
    for (std::string_view a : argv) {
        append_header(out, '$', a.size());
        out.append(a);
        out.append("\r\n", 2);
    }
}

ReplyReader::ReplyReader() : reader_(redisReaderCreate()) {
    if (!reader_) throw std::bad_alloc();
}

ReplyReader::~ReplyReader() { redisReaderFree(reader_); }

void ReplyReader::feed(const char *data, size_t len) {
    if (redisReaderFeed(reader_, data, len) != REDIS_OK) throw std::bad_alloc();
}

bool ReplyReader::next(Reply &out) {
    void *raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK)
        throw Error(Errc::connection, std::string("protocol error in the server's reply: ") + reader_->errstr);
    if (!raw) return false;
    std::unique_ptr<redisReply, ReplyDeleter> r(static_cast<redisReply *>(raw));
    out.integer = 0;
    out.str.clear();
    switch (r->type) {
    case REDIS_REPLY_STRING: out.type = Reply::Type::string; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_STATUS: out.type = Reply::Type::status; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_ERROR: out.type = Reply::Type::error; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_INTEGER: out.type = Reply::Type::integer; out.integer = r->integer; break;
    case REDIS_REPLY_ARRAY: out.type = Reply::Type::array; out.integer = static_cast<long long>(r->elements); break;
    default: out.type = Reply::Type::nil; break;
    }
    return true;
}

}  // namespace redlock::core

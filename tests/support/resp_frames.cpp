#include "resp_frames.hpp"

#include <hiredis/hiredis.h>

#include <stdexcept>

namespace testing {

namespace {
void encode(const redisReply *r, std::string &out) {
    switch (r->type) {
    case REDIS_REPLY_STATUS: out += '+'; out.append(r->str, r->len); out += "\r\n"; break;
    case REDIS_REPLY_ERROR: out += '-'; out.append(r->str, r->len); out += "\r\n"; break;
    case REDIS_REPLY_INTEGER: out += ':' + std::to_string(r->integer) + "\r\n"; break;
    case REDIS_REPLY_NIL: out += "$-1\r\n"; break;
    case REDIS_REPLY_STRING:
        out += '$' + std::to_string(r->len) + "\r\n";
        out.append(r->str, r->len);
        out += "\r\n";
        break;
    case REDIS_REPLY_ARRAY:
        out += '*' + std::to_string(r->elements) + "\r\n";
        for (size_t i = 0; i < r->elements; ++i) encode(r->element[i], out);
        break;
    default: throw std::runtime_error("unexpected RESP type");
    }
}
}  // namespace

RespFramer::RespFramer() : reader_(redisReaderCreate()) {}
RespFramer::~RespFramer() { redisReaderFree(reader_); }

void RespFramer::feed(const char *data, size_t len) { redisReaderFeed(reader_, data, len); }

std::optional<RespFramer::Message> RespFramer::next() {
    void *raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK) throw std::runtime_error("RESP protocol error");
    if (!raw) return std::nullopt;
    std::unique_ptr<redisReply, decltype(&freeReplyObject)> r(static_cast<redisReply *>(raw), &freeReplyObject);
    Message m;
    encode(r.get(), m.bytes);
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; ++i)
            if (r->element[i]->type == REDIS_REPLY_STRING) m.argv.emplace_back(r->element[i]->str, r->element[i]->len);
    return m;
}

std::string encode_argv(const std::vector<std::string> &argv) {
    std::string out = '*' + std::to_string(argv.size()) + "\r\n";
    for (auto &a : argv) out += '$' + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    return out;
}

}  // namespace testing

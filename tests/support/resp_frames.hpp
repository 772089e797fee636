// RESP framing for test tools (the fault proxy, the fake server), with hiredis's reader: an implementation
// independent of the library's own, so a bug there cannot hide itself here.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

struct redisReader;

namespace testing {

// Splits a byte stream into whole RESP messages, each re-encoded to its exact RESP2 bytes.
class RespFramer {
public:
    RespFramer();
    ~RespFramer();
    RespFramer(const RespFramer &) = delete;
    RespFramer &operator=(const RespFramer &) = delete;

    void feed(const char *data, size_t len);
    struct Message {
        std::string bytes;              // the message, re-encoded
        std::vector<std::string> argv;  // for a command (an array of strings): its arguments
    };
    // The next whole message, nullopt if more bytes are needed; throws std::runtime_error on a protocol error.
    std::optional<Message> next();

private:
    redisReader *reader_;
};

// "*N\r\n$len\r\narg\r\n..." for argv.
std::string encode_argv(const std::vector<std::string> &argv);

}  // namespace testing

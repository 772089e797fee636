// A hostile fake Redis on a loopback port: each command's answer comes from a handler, which may send anything
// (huge headers, two replies, non-RESP bytes), slowly, late, or not at all. MiniRedis gives handlers a well-behaved
// baseline for the commands a lock uses, to be bent where a test needs it.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace testing {

class FakeServer {
public:
    struct Answer {
        Answer(std::string b = {}) : bytes(std::move(b)) {}  // NOLINT: implicit, so handlers can return "+OK\r\n"
        std::string bytes;        // sent as is
        int delay_ms = 0;         // before sending
        int drip_ms = 0;          // > 0: one byte every drip_ms
        size_t stream = 0;        // then this many more bytes of 'x' (a huge reply's body), until the peer goes
        std::string flood;        // then these bytes again and again, until the peer goes or the server stops
        std::string later;        // sent later_ms after the answer, unasked
        int later_ms = 0;
        bool close = false;       // close the connection afterwards
    };
    using Handler = std::function<Answer(const std::vector<std::string> &argv)>;

    explicit FakeServer(Handler handler);
    ~FakeServer();
    FakeServer(const FakeServer &) = delete;
    FakeServer &operator=(const FakeServer &) = delete;

    int port() const { return port_; }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
    int connections() const { return accepted_; }
    int commands() const { return commands_; }
    int resets() const { return resets_; }  // connections the client closed with RST rather than FIN

private:
    void accept_loop();
    void serve(int fd);
    bool pause(int ms);  // false if stopping

    Handler handler_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0}, commands_{0}, resets_{0};
    std::mutex mu_;
    std::vector<int> fds_;
    std::vector<std::thread> threads_;
    std::thread acceptor_;
};

// The lock's commands done right, on an in-memory map (no expiry): PING, AUTH, SELECT, SET [NX] [PX], GET, DEL,
// EXISTS, and EVAL/EVALSHA of the three lock scripts (told apart by their argument count). Thread-safe.
class MiniRedis {
public:
    FakeServer::Answer operator()(const std::vector<std::string> &argv);
    bool has(const std::string &key);

private:
    std::mutex mu_;
    std::map<std::string, std::string> kv_;
};

}  // namespace testing

// Test harness: a private redis-server on a free loopback port in a temp dir, stopped (and its dir removed) on
// destruction. Tests never touch port 6379.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace testing {

struct AdminReply {
    int type = 0;  // hiredis REDIS_REPLY_*
    long long integer = 0;
    std::string str;
    std::vector<AdminReply> elements;
    bool is_nil() const;
    bool is_error() const;
};

class RedisServer {
public:
    struct Options {
        Options() = default;
        Options(std::vector<std::string> args, bool unix = false) : extra_args(std::move(args)), unix_socket(unix) {}
        std::vector<std::string> extra_args;  // e.g. {"--requirepass", "secret"}
        bool unix_socket = false;
        std::string config_text;  // written to a redis.conf in the server's dir, loaded first (a sentinel needs one)
        bool wait_up = true;      // false: start and return; wait_up() later (servers that boot side by side)
    };
    RedisServer() : RedisServer(Options{}) {}
    explicit RedisServer(Options opts);
    ~RedisServer();
    RedisServer(const RedisServer &) = delete;
    RedisServer &operator=(const RedisServer &) = delete;

    int port() const { return port_; }
    std::string url(int db = 0) const;             // redis://127.0.0.1:PORT/db
    std::string unix_path() const { return dir_ + "/redis.sock"; }
    const std::string &dir() const { return dir_; }

    void kill();     // SIGKILL and reap: the server vanishes without a word
    void restart();  // start again on the same port (after kill)
    void wait_up();  // until it answers PING
    void signal(int sig);  // e.g. SIGSTOP / SIGCONT
    bool alive() const { return pid_ > 0; }

    // One command on a fresh admin connection (AUTH with admin_password if set).
    AdminReply admin(const std::vector<std::string> &argv) const;
    std::string admin_password;  // set when the server requires one

private:
    void start();
    void launch();

    Options opts_;
    std::string dir_;
    std::string exe_;
    int port_ = 0;
    pid_t pid_ = -1;
};

// The server shared by the tests of one process (one TEST_CASE per process under ctest).
RedisServer &default_server();

// A port on which nothing listens.
int unused_port();

// Run a command line through /bin/sh; returns its stdout, sets exit status.
std::string run_capture(const std::string &cmd, int *status);

}  // namespace testing

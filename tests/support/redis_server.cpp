#include "redis_server.hpp"

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>

namespace testing {

bool AdminReply::is_nil() const { return type == REDIS_REPLY_NIL; }
bool AdminReply::is_error() const { return type == REDIS_REPLY_ERROR; }

int unused_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    socklen_t len = sizeof sa;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr *>(&sa), &len) != 0)
        throw std::runtime_error("cannot find a free port");
    ::close(fd);
    return ntohs(sa.sin_port);
}

std::string run_capture(const std::string &cmd, int *status) {
    std::string out;
    FILE *p = ::popen(cmd.c_str(), "r");
    if (!p) throw std::runtime_error("popen failed: " + cmd);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int st = ::pclose(p);
    if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

static std::string find_redis_server() {
    for (const char *p : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"})
        if (::access(p, X_OK) == 0) return p;
    throw std::runtime_error("redis-server not found (install Debian's redis-server package)");
}

RedisServer::RedisServer(Options opts) : opts_(std::move(opts)), exe_(find_redis_server()) {
    char tmpl[] = "/tmp/redlock-test-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    for (int attempt = 0;; ++attempt) {
        port_ = unused_port();
        try {
            start();
            return;
        } catch (const std::exception &) {
            if (attempt == 4) throw;  // a port race with another test process: pick another port
        }
    }
}

RedisServer::~RedisServer() {
    kill();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::string RedisServer::url(int db) const {
    return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

void RedisServer::start() {
    launch();
    if (opts_.wait_up) wait_up();
}

void RedisServer::signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
}

void RedisServer::launch() {
    std::vector<std::string> args = {exe_};
    if (!opts_.config_text.empty()) {
        const std::string conf = dir_ + "/redis.conf";
        FILE *f = std::fopen(conf.c_str(), "w");
        if (!f) throw std::runtime_error("cannot write " + conf);
        std::fputs(opts_.config_text.c_str(), f);
        std::fclose(f);
        args.push_back(conf);
    }
    args.insert(args.end(), {"--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", dir_, "--logfile", dir_ + "/redis.log", "--daemonize", "no",
                             "--enable-debug-command", "local"});
    if (opts_.unix_socket) {
        args.insert(args.end(), {"--unixsocket", unix_path(), "--unixsocketperm", "700"});
    }
    args.insert(args.end(), opts_.extra_args.begin(), opts_.extra_args.end());
    std::vector<char *> argv;
    for (auto &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        // Die with the test process, even if it crashes, so no server outlives a test run.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) _exit(1);
        ::execv(argv[0], argv.data());
        _exit(127);
    }
}

void RedisServer::wait_up() {
    for (int i = 0; i < 500; ++i) {
        int st;
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("redis-server exited at start (port in use?)");
        }
        redisContext *c = redisConnect("127.0.0.1", port_);
        if (c && !c->err) {
            redisReply *r = static_cast<redisReply *>(redisCommand(c, "PING"));
            bool up = r && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR);  // NOAUTH is up too
            if (r) freeReplyObject(r);
            redisFree(c);
            if (up) return;
        } else if (c) {
            redisFree(c);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill();
    throw std::runtime_error("redis-server did not come up");
}

void RedisServer::kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
}

void RedisServer::restart() {
    kill();
    start();
}

static AdminReply convert(const redisReply *r) {
    AdminReply out;
    out.type = r->type;
    out.integer = r->integer;
    if (r->str) out.str.assign(r->str, r->len);
    for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
    return out;
}

AdminReply RedisServer::admin(const std::vector<std::string> &argv) const {
    timeval tv{10, 0};
    std::unique_ptr<redisContext, decltype(&redisFree)> c(redisConnectWithTimeout("127.0.0.1", port_, tv), &redisFree);
    if (!c || c->err) throw std::runtime_error("admin connect failed");
    redisSetTimeout(c.get(), tv);
    auto run = [&](const std::vector<std::string> &a) {
        std::vector<const char *> p;
        std::vector<size_t> l;
        for (auto &s : a) {
            p.push_back(s.data());
            l.push_back(s.size());
        }
        redisReply *r = static_cast<redisReply *>(redisCommandArgv(c.get(), static_cast<int>(a.size()), p.data(), l.data()));
        if (!r) throw std::runtime_error("admin command failed: " + a[0]);
        AdminReply out = convert(r);
        freeReplyObject(r);
        return out;
    };
    if (!admin_password.empty()) run({"AUTH", admin_password});
    return run(argv);
}

RedisServer &default_server() {
    static RedisServer server;
    return server;
}

}  // namespace testing

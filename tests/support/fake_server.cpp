#include "fake_server.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <chrono>
#include <stdexcept>

#include "loopback.hpp"
#include "resp_frames.hpp"

namespace testing {

namespace {
bool send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return false;
        p += k;
        n -= static_cast<size_t>(k);
    }
    return true;
}
std::string upper(std::string s) {
    for (auto &c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}
}  // namespace

FakeServer::FakeServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = listen_loopback(port_);
    acceptor_ = std::thread([this] { accept_loop(); });
}

FakeServer::~FakeServer() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    ::close(listen_fd_);
    {
        std::lock_guard<std::mutex> lk(mu_);
        for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto &t : threads_) t.join();
}

bool FakeServer::pause(int ms) {
    for (int waited = 0; waited < ms && !stop_; waited += 10)
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(10, ms - waited)));
    return !stop_;
}

void FakeServer::accept_loop() {
    for (;;) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0 || stop_) {
            if (fd >= 0) ::close(fd);
            return;
        }
        ++accepted_;
        std::lock_guard<std::mutex> lk(mu_);
        fds_.push_back(fd);
        threads_.emplace_back([this, fd] { serve(fd); });
    }
}

void FakeServer::serve(int fd) {
    RespFramer framer;
    char buf[16384];
    bool open = true;
    while (open && !stop_) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0 && errno == ECONNRESET) ++resets_;
            break;
        }
        framer.feed(buf, static_cast<size_t>(n));
        while (open) {
            std::optional<RespFramer::Message> m;
            try {
                m = framer.next();
            } catch (const std::exception &) {
                open = false;
                break;
            }
            if (!m) break;
            ++commands_;
            Answer a = handler_(m->argv);
            if (!pause(a.delay_ms)) {
                open = false;
                break;
            }
            if (a.drip_ms > 0) {
                for (char c : a.bytes)
                    if (!send_all(fd, &c, 1) || !pause(a.drip_ms)) {
                        open = false;
                        break;
                    }
            } else if (!send_all(fd, a.bytes.data(), a.bytes.size())) {
                open = false;
            }
            const std::string chunk(65536, 'x');
            for (size_t left = a.stream; open && left > 0 && !stop_;) {
                size_t k = std::min(left, chunk.size());
                if (!send_all(fd, chunk.data(), k)) break;
                left -= k;
            }
            while (open && !a.flood.empty() && !stop_ && send_all(fd, a.flood.data(), a.flood.size())) {
            }
            if (!a.later.empty() && pause(a.later_ms)) send_all(fd, a.later.data(), a.later.size());
            if (a.close) open = false;
        }
    }
    ::shutdown(fd, SHUT_RDWR);
    std::lock_guard<std::mutex> lk(mu_);
    // The fd is closed here, not in the destructor's shutdown loop, so a number reused by the kernel is never touched.
    fds_.erase(std::remove(fds_.begin(), fds_.end(), fd), fds_.end());
    ::close(fd);
}

FakeServer::Answer MiniRedis::operator()(const std::vector<std::string> &argv) {
    auto bulk = [](const std::string &s) { return FakeServer::Answer{"$" + std::to_string(s.size()) + "\r\n" + s + "\r\n"}; };
    auto integer = [](long long v) { return FakeServer::Answer{":" + std::to_string(v) + "\r\n"}; };
    if (argv.empty()) return {"-ERR empty command\r\n"};
    const std::string cmd = upper(argv[0]);
    std::lock_guard<std::mutex> lk(mu_);
    if (cmd == "PING" && argv.size() == 2) return bulk(argv[1]);
    if (cmd == "PING") return {"+PONG\r\n"};
    if (cmd == "AUTH" || cmd == "SELECT") return {"+OK\r\n"};
    if (cmd == "SET" && argv.size() >= 3) {
        bool nx = std::any_of(argv.begin() + 3, argv.end(), [](const std::string &a) { return upper(a) == "NX"; });
        if (nx && kv_.count(argv[1])) return {"$-1\r\n"};
        kv_[argv[1]] = argv[2];
        return {"+OK\r\n"};
    }
    if (cmd == "GET" && argv.size() == 2) {
        auto it = kv_.find(argv[1]);
        return it == kv_.end() ? FakeServer::Answer{"$-1\r\n"} : bulk(it->second);
    }
    if (cmd == "DEL" && argv.size() == 2) return integer(static_cast<long long>(kv_.erase(argv[1])));
    if (cmd == "EXISTS" && argv.size() == 2) return integer(static_cast<long long>(kv_.count(argv[1])));
    if ((cmd == "EVALSHA" || cmd == "EVAL") && argv.size() >= 5) {
        // EVALSHA sha 1 key token [...]: release (1 arg) deletes; extend (3) and reacquire (2) keep the key.
        auto it = kv_.find(argv[3]);
        if (it == kv_.end() || it->second != argv[4]) return integer(0);
        if (argv.size() == 5) kv_.erase(it);
        return integer(1);
    }
    return {"-ERR unknown command '" + argv[0] + "'\r\n"};
}

bool MiniRedis::has(const std::string &key) {
    std::lock_guard<std::mutex> lk(mu_);
    return kv_.count(key) != 0;
}

}  // namespace testing

// Plain sockets. Blocking I/O with SO_RCVTIMEO/SO_SNDTIMEO keeps a command at two system calls (send, recv), like
// hiredis does; the timeout option is only changed when a deadline is nearer than the command timeout already set.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include "base/error.hpp"
#include "base/fork_safety.hpp"
#include "net/tls.hpp"
#include "net/transport.hpp"

namespace redlock::core {

namespace {

std::string errno_text(int err) {
    char buf[256];
    // GNU strerror_r returns the message pointer (which may not be buf).
    return strerror_r(err, buf, sizeof buf);
}

class Fd {
public:
    explicit Fd(int fd = -1) noexcept : fd_(fd) {}
    Fd(Fd &&o) noexcept : fd_(o.release()) {}
    Fd &operator=(Fd &&o) noexcept {
        if (this != &o) {
            reset();
            fd_ = o.release();
        }
        return *this;
    }
    ~Fd() { reset(); }
    int get() const noexcept { return fd_; }
    int release() noexcept {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }
    void reset() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_;
};

// A connected socket, and the send timeout already set on it (0: none).
struct Connected {
    Fd fd;
    Millis send_timeout{0};
};

void set_timeout(int fd, int which, Millis t) {
    timeval tv{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>((t.count() % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, which, &tv, sizeof tv);
}

// A blocking connect bounded by the deadline through SO_SNDTIMEO, which Linux applies to connect(): three system
// calls where a non-blocking connect needs six (poll, SO_ERROR, two fcntl). Interrupted by a signal, the connect goes
// on in the background: then it is awaited with poll().
Connected connect_one(int family, const sockaddr *addr, socklen_t len, const Deadline &deadline,
                      const std::string &where) {
    Connected out{Fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0))};
    const int fd = out.fd.get();
    if (fd < 0) throw Error(Errc::connection, fmt::format("socket() failed: {}", errno_text(errno)));
    auto timed_out = [&] { return Error(Errc::connection, fmt::format("cannot connect to {}: connect timed out", where)); };
    if (auto rem = deadline.remaining()) {
        if (rem->count() == 0) throw timed_out();
        out.send_timeout = *rem;
        set_timeout(fd, SO_SNDTIMEO, out.send_timeout);
    }
    for (;;) {
        if (::connect(fd, addr, len) == 0) return out;
        if (errno == EINPROGRESS || errno == EAGAIN) throw timed_out();  // SO_SNDTIMEO ran out (EAGAIN: unix sockets)
        if (errno != EINTR)
            throw Error(Errc::connection, fmt::format("cannot connect to {}: {}", where, errno_text(errno)));
        if (family != AF_UNIX) break;
        // A unix socket's interrupted connect does not go on in the background: ask again, for the time left.
        auto rem = deadline.remaining();
        if (rem && rem->count() == 0) throw timed_out();
        if (rem) set_timeout(fd, SO_SNDTIMEO, *rem);
    }
    // A TCP connect interrupted by a signal goes on in the background: wait for it.
    for (;;) {
        auto rem = deadline.remaining();
        if (rem && rem->count() == 0) throw timed_out();
        pollfd p{fd, POLLOUT, 0};
        int n = ::poll(&p, 1, rem ? static_cast<int>(std::min<int64_t>(rem->count(), 1 << 30)) : -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error(Errc::connection, fmt::format("poll() failed: {}", errno_text(errno)));
        if (n == 0) continue;  // re-check the deadline
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr != 0) throw Error(Errc::connection, fmt::format("cannot connect to {}: {}", where, errno_text(soerr)));
        return out;
    }
}

// The sockets this process's transports own, by descriptor (lock-free: set and cleared as they open and close). A
// fork()ed child closes its copies at once, in an atfork handler: otherwise the child would keep each socket open,
// and the parent's close, a reset after an unknown outcome, would no longer be the last one, so no reset would go
// out while the child lives. Descriptors beyond the table are not tracked (their child copies close at the child's
// next use of the pool).
constexpr int kTrackedFds = 1 << 16;
std::atomic<bool> g_ours[kTrackedFds];
std::atomic<int> g_ours_end{0};  // above the highest descriptor ever tracked, so a fork scans only that far

void close_inherited_sockets() {
    const int end = g_ours_end.load(std::memory_order_relaxed);
    for (int fd = 0; fd < end; ++fd)
        if (g_ours[fd].load(std::memory_order_relaxed)) {
            g_ours[fd].store(false, std::memory_order_relaxed);
            ::close(fd);
        }
}

void track(int fd) {
    static std::once_flag installed;
    std::call_once(installed, [] { ::pthread_atfork(nullptr, nullptr, close_inherited_sockets); });
    if (fd < 0 || fd >= kTrackedFds) return;
    g_ours[fd].store(true, std::memory_order_relaxed);
    int end = g_ours_end.load(std::memory_order_relaxed);
    while (end <= fd && !g_ours_end.compare_exchange_weak(end, fd + 1, std::memory_order_relaxed)) {
    }
}

void untrack(int fd) {
    if (fd >= 0 && fd < kTrackedFds) g_ours[fd].store(false, std::memory_order_relaxed);
}

class SocketTransport final : public Transport {
public:
    SocketTransport(Connected c, std::optional<Millis> io_timeout) : fd_(std::move(c.fd)), pid_(current_pid()) {
        track(fd_.get());
        const Millis t = io_timeout ? *io_timeout : Millis(0);
        if (c.send_timeout <= t && c.send_timeout + Millis(50) >= t) {
            // The connect's send timeout already fits (a little shorter is fine: a send that times out early is
            // retried until the deadline; see ensure_timeout).
            set_timeout(fd_.get(), SO_RCVTIMEO, t);
            current_ = t;
        } else {
            set_timeouts(t);
        }
    }
    ~SocketTransport() override {
        if (pid_ != current_pid()) {  // inherited: the child's copy was closed at fork, its number may be reused since
            (void)fd_.release();
            return;
        }
        if (abort_) {
            linger l{1, 0};
            ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
        }
        untrack(fd_.get());
    }
    SocketTransport(const SocketTransport &) = delete;
    SocketTransport &operator=(const SocketTransport &) = delete;

    void abort_on_close() noexcept override { abort_ = true; }
    int poll_fd() const noexcept override { return fd_.get(); }

    void write_all(const char *data, size_t len, const Deadline &deadline) override {
        while (len > 0) {
            ensure_timeout(deadline);
            ssize_t n = ::send(fd_.get(), data, len, MSG_NOSIGNAL);
            if (n > 0) {
                data += n;
                len -= static_cast<size_t>(n);
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (deadline.passed()) throw Error(Errc::timed_out, "timed out writing to the server");
            } else {
                throw Error(Errc::connection, fmt::format("write failed: {}", errno_text(errno)));
            }
        }
    }

    size_t read_some(char *buf, size_t cap, const Deadline &deadline) override {
        for (;;) {
            ensure_timeout(deadline);
            ssize_t n = ::recv(fd_.get(), buf, cap, 0);
            if (n > 0) return static_cast<size_t>(n);
            if (n == 0) throw Error(Errc::connection, "connection closed by the server");
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (deadline.passed()) throw Error(Errc::timed_out, "timed out waiting for the server's reply");
                continue;
            }
            throw Error(Errc::connection, fmt::format("read failed: {}", errno_text(errno)));
        }
    }

    size_t read_now(char *buf, size_t cap) override {
        for (;;) {
            ssize_t n = ::recv(fd_.get(), buf, cap, MSG_DONTWAIT);
            if (n > 0) return static_cast<size_t>(n);
            if (n == 0) throw Error(Errc::connection, "connection closed by the server");
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            throw Error(Errc::connection, fmt::format("read failed: {}", errno_text(errno)));
        }
    }

    bool looks_dead() noexcept override {
        char c;
        ssize_t n = ::recv(fd_.get(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
        return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    }

private:
    // The kernel timeout follows the deadline: never longer, not much shorter, none without a deadline. In the
    // common case (a fresh per-command deadline equal to the command timeout) it already matches: no system call.
    void ensure_timeout(const Deadline &deadline) {
        auto rem = deadline.remaining();
        if (!rem) {  // e.g. no command timeout, after a handshake that ran under the connect deadline
            if (current_.count() != 0) set_timeouts(Millis(0));
            return;
        }
        if (rem->count() == 0) throw Error(Errc::timed_out, "command timed out");
        if (current_.count() == 0 || *rem < current_ || *rem > current_ + Millis(50)) set_timeouts(*rem);
    }

    void set_timeouts(Millis t) {
        set_timeout(fd_.get(), SO_RCVTIMEO, t);
        set_timeout(fd_.get(), SO_SNDTIMEO, t);
        current_ = t;
    }

    Fd fd_;
    const pid_t pid_;    // the process that opened it
    Millis current_{0};  // the kernel's SO_RCVTIMEO/SO_SNDTIMEO; 0: none
    bool abort_ = false;
};

void set_keepalive(int fd, int idle_s) {
    int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    int intvl = idle_s / 3 > 0 ? idle_s / 3 : 1, cnt = 3;
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

std::unique_ptr<Transport> tcp_transport(Connected c, const ClientConfig &cfg) {
    int one = 1;
    ::setsockopt(c.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (cfg.keepalive_s > 0) set_keepalive(c.fd.get(), cfg.keepalive_s);
    return std::make_unique<SocketTransport>(std::move(c), cfg.command_timeout);
}

}  // namespace

namespace {
std::unique_ptr<Transport> open_plain_transport(const ClientConfig &cfg, const Deadline &deadline);
}  // namespace

std::unique_ptr<Transport> open_socket_transport(const ClientConfig &cfg, const Deadline &deadline) {
    std::unique_ptr<Transport> plain = open_plain_transport(cfg, deadline);
    if (!cfg.tls) return plain;
    return tls_over(std::move(plain), cfg, deadline);
}

namespace {
std::unique_ptr<Transport> open_plain_transport(const ClientConfig &cfg, const Deadline &deadline) {
    const std::string where = cfg.describe();
    if (cfg.kind == ClientConfig::Kind::unix_socket) {
        sockaddr_un sa{};
        static_assert(sizeof sa.sun_path == kMaxUnixPath);
        sa.sun_family = AF_UNIX;
        if (cfg.path.size() >= sizeof sa.sun_path)
            throw Error(Errc::invalid, fmt::format("unix socket path is longer than {} bytes", sizeof sa.sun_path - 1));
        std::memcpy(sa.sun_path, cfg.path.data(), cfg.path.size());
        return std::make_unique<SocketTransport>(
            connect_one(AF_UNIX, reinterpret_cast<sockaddr *>(&sa), sizeof sa, deadline, where), cfg.command_timeout);
    }

    // A literal address needs no resolver: no getaddrinfo() (whose AI_ADDRCONFIG cache lock glibc does not reset in a
    // fork()ed child, so a child could hang there forever) and no time spent on it.
    const std::string port_str = std::to_string(cfg.port);
    sockaddr_in v4{};
    sockaddr_in6 v6{};
    if (::inet_pton(AF_INET, cfg.host.c_str(), &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons(cfg.port);
        return tcp_transport(connect_one(AF_INET, reinterpret_cast<sockaddr *>(&v4), sizeof v4, deadline, where), cfg);
    }
    if (::inet_pton(AF_INET6, cfg.host.c_str(), &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(cfg.port);
        return tcp_transport(connect_one(AF_INET6, reinterpret_cast<sockaddr *>(&v6), sizeof v6, deadline, where), cfg);
    }

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    addrinfo *res = nullptr;
    int rc = ::getaddrinfo(cfg.host.c_str(), port_str.c_str(), &hints, &res);
    if (rc != 0) {
        hints.ai_flags = 0;  // AI_ADDRCONFIG hides loopback-only hosts' addresses on machines without other networks
        rc = ::getaddrinfo(cfg.host.c_str(), port_str.c_str(), &hints, &res);
    }
    if (rc != 0)
        throw Error(Errc::connection, fmt::format("cannot resolve '{}': {}", cfg.host, ::gai_strerror(rc)));
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, &::freeaddrinfo);
    std::string last = "no addresses";
    for (addrinfo *ai = res; ai; ai = ai->ai_next) {
        try {
            return tcp_transport(connect_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen, deadline, where), cfg);
        } catch (const Error &e) {
            last = e.what();
            if (deadline.passed()) break;
        }
    }
    throw Error(Errc::connection, last);
}

}  // namespace

}  // namespace redlock::core

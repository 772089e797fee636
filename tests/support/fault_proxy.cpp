#include "fault_proxy.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <deque>
#include <memory>
#include <stdexcept>

#include "loopback.hpp"
#include "resp_frames.hpp"

namespace testing {

namespace {

using Clock = std::chrono::steady_clock;

void send_all(int fd, const std::string &b) {
    size_t off = 0;
    while (fd >= 0 && off < b.size()) {
        ssize_t n = ::send(fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;  // the peer is gone; the test sees that from its side
        off += static_cast<size_t>(n);
    }
}

void close_fd(int &fd, bool rst = false) {
    if (fd < 0) return;
    if (rst) {
        linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    ::close(fd);
    fd = -1;
}

struct Timed {
    std::string bytes;
    Clock::time_point at;
};

enum class ReplyPlan { pass, swallow, delay, cut, reset };

struct Pair {
    int client = -1, server = -1;
    RespFramer from_client, from_server;
    std::deque<Timed> to_server, to_client;  // FIFO: a held message holds back those after it
    std::deque<std::pair<ReplyPlan, int>> plans;  // one per delivered command, in order
    Clock::time_point linger_until{};             // client gone: keep the server side until then
    bool done() const { return client < 0 && server < 0; }
};

}  // namespace

FaultProxy::FaultProxy(int upstream_port) : upstream_port_(upstream_port) {
    listen_fd_ = listen_loopback(port_);
    if (::pipe(stop_pipe_) != 0) throw std::runtime_error("proxy setup failed");
    thread_ = std::thread([this] { run(); });
}

FaultProxy::~FaultProxy() {
    char b = 0;
    (void)!::write(stop_pipe_[1], &b, 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
}

void FaultProxy::add(Rule r) {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto &c : r.command) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    rules_.push_back(std::move(r));
}

bool FaultProxy::idle() const {
    std::lock_guard<std::mutex> lk(mu_);
    return std::all_of(rules_.begin(), rules_.end(), [](const Rule &r) { return r.times <= 0; });
}

bool FaultProxy::take_fault(const std::string &command, Rule &out) {
    std::string up = command;
    for (auto &c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::lock_guard<std::mutex> lk(mu_);
    for (auto &r : rules_) {
        if (r.times > 0 && (r.command.empty() || r.command == up)) {
            --r.times;
            out = r;
            ++applied_;
            return true;
        }
    }
    return false;
}

void FaultProxy::run() {
    std::vector<std::unique_ptr<Pair>> pairs;
    char buf[65536];
    for (;;) {
        const auto now = Clock::now();
        // Timers: held messages and lingering server sides decide how long poll may sleep.
        int timeout = -1;
        auto consider = [&](Clock::time_point at) {
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at - now).count();
            int t = static_cast<int>(std::max<long long>(0, ms + 1));
            timeout = timeout < 0 ? t : std::min(timeout, t);
        };
        for (auto &p : pairs) {
            if (!p->to_server.empty()) consider(p->to_server.front().at);
            if (!p->to_client.empty()) consider(p->to_client.front().at);
            if (p->client < 0 && p->server >= 0) consider(p->linger_until);
        }
        std::vector<pollfd> fds{{stop_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
        for (auto &p : pairs) {
            fds.push_back({p->client, static_cast<short>(p->client >= 0 ? POLLIN : 0), 0});
            fds.push_back({p->server, static_cast<short>(p->server >= 0 ? POLLIN : 0), 0});
        }
        if (::poll(fds.data(), fds.size(), timeout) < 0) continue;
        if (fds[0].revents) break;

        for (size_t i = 0; i < pairs.size(); ++i) {
            Pair &p = *pairs[i];
            if (p.client >= 0 && fds[2 + 2 * i].revents) {
                ssize_t n = ::read(p.client, buf, sizeof buf);
                if (n <= 0) {
                    close_fd(p.client);
                    p.linger_until = Clock::now() + std::chrono::seconds(2);
                } else {
                    p.from_client.feed(buf, static_cast<size_t>(n));
                    while (auto m = p.from_client.next()) {
                        Rule f;
                        const bool faulty = !m->argv.empty() && take_fault(m->argv[0], f);
                        auto at = Clock::now();
                        ReplyPlan plan = ReplyPlan::pass;
                        int plan_ms = 0;
                        if (faulty) {
                            switch (f.fault) {
                            case Fault::delay_request: at += std::chrono::milliseconds(f.ms); break;
                            case Fault::drop_request: continue;
                            case Fault::swallow_reply: plan = ReplyPlan::swallow; break;
                            case Fault::delay_reply: plan = ReplyPlan::delay; plan_ms = f.ms; break;
                            case Fault::cut: plan = ReplyPlan::cut; break;
                            case Fault::reset: plan = ReplyPlan::reset; break;
                            case Fault::reset_before:
                                close_fd(p.client, true);
                                p.linger_until = Clock::now();
                                break;
                            }
                            if (p.client < 0) break;
                        }
                        p.to_server.push_back({std::move(m->bytes), at});
                        p.plans.emplace_back(plan, plan_ms);
                    }
                }
            }
            if (p.server >= 0 && fds[3 + 2 * i].revents) {
                ssize_t n = ::read(p.server, buf, sizeof buf);
                if (n <= 0) {
                    close_fd(p.server);
                    close_fd(p.client);
                } else {
                    p.from_server.feed(buf, static_cast<size_t>(n));
                    while (auto m = p.from_server.next()) {
                        auto [plan, ms] = p.plans.empty() ? std::make_pair(ReplyPlan::pass, 0) : p.plans.front();
                        if (!p.plans.empty()) p.plans.pop_front();
                        switch (plan) {
                        case ReplyPlan::pass: p.to_client.push_back({std::move(m->bytes), Clock::now()}); break;
                        case ReplyPlan::delay:
                            p.to_client.push_back({std::move(m->bytes), Clock::now() + std::chrono::milliseconds(ms)});
                            break;
                        case ReplyPlan::swallow: break;
                        case ReplyPlan::cut:
                        case ReplyPlan::reset:
                            close_fd(p.client, plan == ReplyPlan::reset);
                            p.linger_until = Clock::now();
                            break;
                        }
                    }
                }
            }
            const auto t = Clock::now();
            while (!p.to_server.empty() && p.to_server.front().at <= t && p.server >= 0) {
                send_all(p.server, p.to_server.front().bytes);
                p.to_server.pop_front();
            }
            while (!p.to_client.empty() && p.to_client.front().at <= t) {
                send_all(p.client, p.to_client.front().bytes);
                p.to_client.pop_front();
            }
            // Client gone: held commands are still delivered (late), then the server side closes.
            if (p.client < 0 && p.to_server.empty() && t >= p.linger_until) close_fd(p.server);
        }
        pairs.erase(std::remove_if(pairs.begin(), pairs.end(), [](auto &p) { return p->done(); }), pairs.end());

        if (fds[1].revents & POLLIN) {  // accept last: the loop above covers only the pairs that were polled
            int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            int s = c >= 0 ? connect_loopback(upstream_port_) : -1;
            if (s >= 0) {
                auto p = std::make_unique<Pair>();
                p->client = c;
                p->server = s;
                pairs.push_back(std::move(p));
                ++accepted_;
            } else if (c >= 0) {
                ::close(c);
            }
        }
    }
    for (auto &p : pairs) {
        close_fd(p->client);
        close_fd(p->server);
    }
}

}  // namespace testing

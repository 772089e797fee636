#include "topology/sentinel.hpp"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "base/error.hpp"
#include "base/fork_safety.hpp"
#include "base/text.hpp"
#include "net/connection.hpp"

namespace redlock::core {

namespace {

ClientConfig sentinel_settings(const ClientConfig &cfg) {
    ClientConfig s = cfg;
    s.topology = ClientConfig::Topology::single;
    s.username = cfg.sentinel_username;
    s.password = cfg.sentinel_password;
    s.db = 0;
    s.require_master = false;
    return s;
}

std::string sentinel_name(const Endpoint &e) { return "sentinel " + e.describe(); }

}  // namespace

SentinelRouter::SentinelRouter(ClientConfig cfg)
    : cfg_(std::move(cfg)), sentinel_(sentinel_settings(cfg_)), sentinels_(cfg_.seeds) {}

SentinelRouter::~SentinelRouter() {
    std::unique_ptr<std::thread> t;
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
        if (listener_pid_ == current_pid()) t = std::move(listener_);
        else if (listener_) (void)listener_.release();  // inherited through fork(): not a thread of this process
    }
    if (wake_fd_ >= 0) {
        const uint64_t one = 1;
        if (t) (void)!::write(wake_fd_, &one, sizeof one);
    }
    if (t && t->joinable()) t->join();
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

void SentinelRouter::start_listener() {
    std::lock_guard<std::mutex> lk(mu_);
    const pid_t me = current_pid();
    if (stop_.load(std::memory_order_relaxed) || (listener_ && listener_pid_ == me) || listener_failed_pid_ == me)
        return;
    if (listener_) (void)listener_.release();  // the parent's, inherited through fork()
    if (wake_fd_ >= 0) ::close(wake_fd_);       // the parent's too: a stop meant for the parent's thread
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) return;  // the recheck still notices failovers
    listener_pid_ = me;
    try {
        listener_ = std::make_unique<std::thread>([this] {
            ::pthread_setname_np(::pthread_self(), "redlock-sentinel");
            listen();
        });
    } catch (const std::exception &) {
        // No thread to be had (a process at its limit): the recheck still notices failovers; not tried again, and
        // never the lock call's failure.
        listener_failed_pid_ = me;
        ::close(wake_fd_);
        wake_fd_ = -1;
    }
}

void SentinelRouter::listen() {
    const std::string prefix = cfg_.service + " ";  // "<service> <old ip> <old port> <new ip> <new port>"
    size_t next = 0;
    for (;;) {
        Endpoint s;
        int wake;
        {
            std::lock_guard<std::mutex> lk(mu_);
            if (stop_.load(std::memory_order_relaxed) || sentinels_.empty()) return;
            s = sentinels_[next++ % sentinels_.size()];
            wake = wake_fd_;
        }
        try {
            // A connect cannot be woken: kept short, so that freeing the client never waits long for this thread.
            Connection c(sentinel_.node(s), current_pid(),
                         Deadline::after(sentinel_.connect_timeout).earlier(Deadline::after(Millis(1000))));
            c.post({"SUBSCRIBE", "+switch-master"}, Deadline::after(sentinel_.command_timeout));
            for (;;) {
                pollfd fds[2] = {{c.poll_fd(), POLLIN, 0}, {wake, POLLIN, 0}};
                if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
                if (fds[1].revents) return;  // stopping
                Reply r;
                while (c.take_pushed(r)) {
                    if (stop_.load(std::memory_order_relaxed)) return;  // a flood must not hold up the client's free
                    if (r.type != Reply::Type::array || r.elements.size() != 3 || r.elements[0].str != "message" ||
                        r.elements[2].str.compare(0, prefix.size(), prefix) != 0)
                        continue;  // the subscription's confirmation, or another service's failover
                    // The next command asks the sentinels, who now name the new master. At most every 100 ms: a
                    // sentinel repeating the message cannot make every command a discovery.
                    const auto now = Clock::now();
                    if (now < last_switch_ + Millis(100)) continue;
                    last_switch_ = now;
                    std::lock_guard<std::mutex> lk(mu_);
                    stale_ = true;
                }
            }
        } catch (...) {
            // this sentinel is gone or refuses: the next one, after a pause
        }
        pollfd stop = {wake, POLLIN, 0};
        if (::poll(&stop, 1, 1000) > 0) return;
    }
}

Route SentinelRouter::route(std::string_view, const Deadline &until) {
    bool recheck = false;
    {
        std::lock_guard<std::mutex> lk(mu_);
        if (master_ && !stale_) {
            // A failover the client has not noticed (the old master still answers, as a master, until the sentinels
            // reconfigure it) is noticed within kRecheck: one thread asks the sentinels again, the others go on.
            // (a recheck under way in the parent, when this is a fork()ed child, is nobody's in here)
            if ((checking_ && checking_pid_ == current_pid()) || Clock::now() < checked_ + kRecheck) return Route::of(master_);
            checking_ = recheck = true;
            checking_pid_ = current_pid();
        }
    }
    if (!recheck) {
        std::shared_ptr<Pool> master = discover(until, false);
        start_listener();
        return Route::of(std::move(master));
    }
    try {
        // Bounded tighter than a discovery: it runs on some command's thread, and a sentinel that has gone silent
        // must not hold that command for a connect timeout every second.
        std::shared_ptr<Pool> master = discover(Deadline::after(kRecheckLimit).earlier(until), true);
        start_listener();
        return Route::of(std::move(master));
    } catch (const Error &) {
        std::lock_guard<std::mutex> lk(mu_);  // no sentinel answered: the master we know still does
        checking_ = false;
        checked_ = Clock::now();
        if (master_) return Route::of(master_);
        throw;
    }
}

Endpoint SentinelRouter::ask(const Endpoint &sentinel, const Deadline &until) const {
    Connection c(sentinel_.node(sentinel), current_pid(), Deadline::after(sentinel_.connect_timeout).earlier(until));
    Reply r = c.call({"SENTINEL", "get-master-addr-by-name", cfg_.service},
                     Deadline::after(sentinel_.command_timeout).earlier(until),
                     type_bit(Reply::Type::array) | type_bit(Reply::Type::nil));
    if (r.is_error()) throw server_error(r.str, "SENTINEL get-master-addr-by-name");
    if (r.is_nil())
        throw Error(Errc::connection, fmt::format("it monitors no master named '{}'", printable(cfg_.service, 128)));
    uint16_t port = 0;
    const std::string *p = r.elements.size() == 2 ? &r.elements[1].str : nullptr;
    if (!p || r.elements[0].type != Reply::Type::string || !valid_host(r.elements[0].str) ||
        std::from_chars(p->data(), p->data() + p->size(), port).ptr != p->data() + p->size() || port == 0)
        throw Error(Errc::connection, "SENTINEL get-master-addr-by-name: not a host and port");
    return {r.elements[0].str, port};
}

std::shared_ptr<Pool> SentinelRouter::discover(const Deadline &until, bool recheck) {
    std::optional<OneAtATime::Turn> turn;  // declared first: ends last, after any lock below
    std::vector<Endpoint> order;
    {
        std::unique_lock<std::mutex> lk(mu_);
        asking_.wait(lk, until);
        if (!recheck && master_ && !stale_) return master_;  // another thread asked while this one waited
        turn.emplace(asking_);
        order = sentinels_;
    }
    Failures failures;
    for (size_t i = 0; i < order.size(); ++i) {
        const Endpoint &s = order[i];
        Endpoint addr;
        try {
            addr = ask(s, host_slice(until, order.size() - i));
        } catch (const Error &e) {
            failures.add(sentinel_name(s), e);
            continue;
        }
        // A new master's pool is made, and the old one's dropped with its connections, outside the mutex: pools
        // register with the fork guards, whose registry is locked before any guarded mutex (this one included).
        std::shared_ptr<Pool> pool;
        {
            std::lock_guard<std::mutex> lk(mu_);
            if (master_ && addr == master_addr_) pool = master_;
        }
        if (!pool) pool = std::make_shared<Pool>(cfg_.node(addr));
        std::lock_guard<std::mutex> lk(mu_);  // released before `pool` (then the old master's) goes
        // The sentinel that answered is asked first next time.
        auto it = std::find(sentinels_.begin(), sentinels_.end(), s);
        if (it != sentinels_.end()) std::rotate(sentinels_.begin(), it, it + 1);
        named_by_ = s;
        std::swap(master_, pool);
        master_addr_ = addr;
        stale_ = false;
        checking_ = false;
        checked_ = Clock::now();
        return master_;
    }
    throw Error(failures.code(),
                fmt::format("no sentinel named the master of '{}' ({})", printable(cfg_.service, 128), failures.text));
}

void SentinelRouter::mark_stale(const Route &r) {
    std::lock_guard<std::mutex> lk(mu_);
    if (r.pool != master_.get() || stale_) return;
    stale_ = true;
    // The sentinel that named this master goes last: cut off from the others, it may name a master that is no
    // longer one for as long as it stays cut off, while they name the new one.
    auto it = std::find(sentinels_.begin(), sentinels_.end(), named_by_);
    if (it != sentinels_.end()) std::rotate(it, it + 1, sentinels_.end());
}

Router::Next SentinelRouter::redirected(const std::string &error, Route &r) {
    // A demoted master refuses writes (inside a script too); the command did not run.
    if (starts_with(error, "READONLY") || error.find("READONLY You can't write") != std::string::npos) {
        mark_stale(r);
        return Next::reroute;
    }
    if (starts_with(error, "LOADING") || starts_with(error, "MASTERDOWN")) return Next::wait;
    return Next::answer;
}

bool SentinelRouter::unreachable(const Route &r) {
    mark_stale(r);
    return true;
}

void SentinelRouter::suspect(const Route &r) { mark_stale(r); }

ClientConfig SentinelRouter::subscriber_config(const Deadline &until) { return route({}, until).pool->config(); }

void SentinelRouter::ping(const Deadline &until) {
    std::vector<Endpoint> order;
    {
        std::lock_guard<std::mutex> lk(mu_);
        order = sentinels_;
    }
    Failures failures;
    std::vector<std::pair<Endpoint, Endpoint>> named;  // sentinel, its master
    for (const Endpoint &s : order) {
        try {
            named.emplace_back(s, ask(s, until));
        } catch (const Error &e) {
            failures.add(sentinel_name(s), e);
        }
    }
    for (const auto &[s, m] : named)
        if (!(m == named.front().second))
            failures.add(sentinel_name(s),
                         fmt::format("names {} as the master, {} names {}", m.describe(),
                                     named.front().first.describe(), named.front().second.describe()),
                         Errc::connection);
    if (!named.empty()) {  // else the sentinels' answers above say it all
        std::string where = named.front().second.describe();
        try {
            Route r = route({}, until);
            where = r.pool->config().describe();
            ping_node(*r.pool, until);
        } catch (const Error &e) {
            failures.add("master " + where, e);
        }
    }
    if (!failures.empty())
        throw Error(failures.code(), fmt::format("Sentinel service '{}': {}", printable(cfg_.service, 128), failures.text));
}

}  // namespace redlock::core

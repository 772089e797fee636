#include "background/waiters.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

#include "base/error.hpp"
#include "net/connection.hpp"

namespace redlock::core {

std::string release_channel(int db, std::string_view name) {
    std::string out = "redlock:released:" + std::to_string(db) + ":";
    out.append(name);
    return out;
}

namespace {
constexpr Millis kIdleClose{2000};      // a subscriber with nothing to watch closes after this
constexpr Millis kLinger{1000};         // a channel nobody watches stays subscribed this long (acquire in a loop)
constexpr Millis kRetryAfterFailure{1000};  // no new subscriber sooner than this after one failed; doubling while
constexpr Millis kRetryAfterFailureMax{30000};  // they keep failing (an ACL that refuses SUBSCRIBE), up to this
}  // namespace

struct Waiters::State {
    struct Channel {
        int watchers = 0;
        bool wanted = false;  // the last request queued for it: SUBSCRIBE (true) or UNSUBSCRIBE (false)
        uint64_t subs_sent = 0, subs_confirmed = 0;  // SUBSCRIBEs on this connection, and the server's replies
        uint64_t subscription = 0;                   // the last SUBSCRIBE's serial (unique in this State)
        uint64_t releases = 0;                       // messages seen
        Clock::time_point unwatched_since{};         // watchers fell to 0 (still subscribed: it lingers)
        std::condition_variable cv;                  // releases, confirmations, the end of the connection
    };

    State(ClientConfig c, NodeFinder find) : cfg(std::move(c)), find_node(std::move(find)) {
        wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
    ~State() {
        if (wake_fd >= 0) ::close(wake_fd);
    }

    ClientConfig cfg;
    NodeFinder find_node;  // called on the subscriber thread only: ~Waiters joins it before the client goes
    std::mutex mu;
    std::map<std::string, Channel, std::less<>> channels;
    std::vector<std::pair<bool, std::string>> outbox;  // (subscribe?, channel), for the thread to send
    uint64_t epoch = 1;        // the subscriber connection's number: watches of an earlier one are inactive
    uint64_t next_subscription = 1;
    bool running = false;      // the thread is up (connecting or connected)
    bool stop = false;
    Clock::time_point retry_after{};  // after a failure: no new subscriber before this
    Millis backoff = kRetryAfterFailure;
    std::unique_ptr<std::thread> thread;
    pid_t pid = current_pid();    // the process whose thread and eventfd these are
    int wake_fd = -1;
    ForkGuard fork_guard{mu};  // after mu

    void wake() const noexcept {
        if (wake_fd < 0) return;
        const uint64_t one = 1;
        (void)!::write(wake_fd, &one, sizeof one);
    }

    // The subscriber connection ended (or never came): every watch of it becomes inactive and its waiters poll.
    void connection_ended_locked(bool failed) {
        ++epoch;
        running = false;
        outbox.clear();
        if (failed) {
            retry_after = Clock::now() + backoff;
            backoff = std::min(backoff * 2, kRetryAfterFailureMax);
        }
        for (auto it = channels.begin(); it != channels.end();) {
            Channel &ch = it->second;
            ch.wanted = false;
            ch.subs_sent = ch.subs_confirmed = 0;
            ch.cv.notify_all();
            if (ch.watchers == 0) it = channels.erase(it);
            else ++it;
        }
    }

    void after_fork_locked() {
        // The parent's thread is not in this process and its connection was closed at fork (transport_socket.cpp).
        (void)thread.release();
        // Their condition variables may count waiters that were threads of the parent: never touched again (not
        // even destroyed: glibc would wait for those waiters), and nothing in this process watches them.
        static auto *graveyard = new std::vector<std::map<std::string, Channel, std::less<>>>();  // reachable
        graveyard->push_back(std::move(channels));
        channels.clear();
        connection_ended_locked(false);
        if (wake_fd >= 0) ::close(wake_fd);
        wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);  // the parent's would wake the parent's thread
        pid = current_pid();
    }

    void run();
    void handle(Reply &r);  // with mu held
};

void Waiters::State::run() {
    std::unique_ptr<Connection> conn;
    try {
        const Deadline connect = Deadline::after(cfg.connect_timeout);
        conn = std::make_unique<Connection>(find_node(connect), current_pid(), connect);
        ReplyLimits limits;
        limits.max_bulk = 128 + 65536 + 64;  // a message names its channel, which holds the lock name
        limits.max_skipped_bulk = kMaxRedisString;  // anyone may publish a huge payload: read through, dropped
        conn->set_reply_limits(limits);
    } catch (...) {
        std::lock_guard<std::mutex> lk(mu);
        connection_ended_locked(true);
        return;
    }
    std::unique_lock<std::mutex> lk(mu);
    Clock::time_point idle_since = Clock::now();
    try {
        while (!stop) {
            // Requests first, in order: a SUBSCRIBE after an UNSUBSCRIBE of the same channel must reach the server so.
            std::vector<std::pair<bool, std::string>> out;
            out.swap(outbox);
            if (!out.empty()) {
                lk.unlock();
                for (const auto &[subscribe, channel] : out)
                    conn->post({subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE", channel},
                               Deadline::after(cfg.command_timeout));
                lk.lock();
                continue;  // more may have come meanwhile
            }
            const auto now = Clock::now();
            bool lingering = false;
            for (auto &[name, ch] : channels) {
                if (ch.watchers > 0 || !ch.wanted) continue;
                if (now - ch.unwatched_since < kLinger) {
                    lingering = true;
                } else {
                    ch.wanted = false;
                    outbox.emplace_back(false, name);
                }
            }
            if (!outbox.empty()) continue;
            if (!channels.empty()) idle_since = now;
            else if (now - idle_since >= kIdleClose) break;
            lk.unlock();
            pollfd fds[2] = {{conn->poll_fd(), POLLIN, 0}, {wake_fd, POLLIN, 0}};
            const int timeout_ms = static_cast<int>((lingering ? kLinger / 4 : kIdleClose).count());
            const int n = ::poll(fds, 2, timeout_ms);
            if (n < 0 && errno != EINTR) throw Error(Errc::connection, "poll failed");
            if (fds[1].revents & POLLIN) {
                uint64_t v;
                (void)!::read(wake_fd, &v, sizeof v);
            }
            std::vector<Reply> replies;
            if (fds[0].revents) {
                Reply r;
                while (conn->take_pushed(r)) replies.push_back(std::move(r));
            }
            lk.lock();
            for (Reply &r : replies) handle(r);
        }
        connection_ended_locked(false);
    } catch (...) {  // lost connection, refused or unexpected reply, out of memory: waiters fall back to polling
        if (!lk.owns_lock()) lk.lock();
        connection_ended_locked(true);
    }
}

void Waiters::State::handle(Reply &r) {
    // RESP2 pub/sub: ["subscribe"|"unsubscribe", channel, count] and ["message", channel, payload]. Anything else
    // (an error: SUBSCRIBE not permitted) ends this subscriber; the waiters poll, and a new one is tried later.
    if (r.type != Reply::Type::array || r.elements.size() != 3 || r.elements[0].type != Reply::Type::string ||
        r.elements[1].type != Reply::Type::string)
        throw Error(Errc::server, "unexpected reply on the subscriber connection");
    const std::string &kind = r.elements[0].str;
    auto it = channels.find(r.elements[1].str);
    if (it == channels.end()) return;  // a message published before our UNSUBSCRIBE took effect
    Channel &ch = it->second;
    if (kind == "message") {
        ++ch.releases;
        ch.cv.notify_all();
    } else if (kind == "subscribe") {
        backoff = kRetryAfterFailure;  // a subscriber that works
        ++ch.subs_confirmed;
        ch.cv.notify_all();
    } else if (kind == "unsubscribe") {
        if (ch.watchers == 0 && !ch.wanted && ch.subs_confirmed == ch.subs_sent) channels.erase(it);
    }
}

Waiters::Waiters(ClientConfig cfg, NodeFinder find_node)
    : s_(std::make_shared<State>(std::move(cfg), std::move(find_node))) {}

Waiters::~Waiters() {
    std::unique_ptr<std::thread> t;
    {
        std::lock_guard<std::mutex> lk(s_->mu);
        s_->stop = true;
        if (s_->pid != current_pid()) return;  // a fork()ed child that never waited: no thread of ours to stop
        t = std::move(s_->thread);
    }
    s_->wake();
    if (t && t->joinable()) t->join();
}

std::optional<Waiters::Mark> Waiters::mark(std::string_view name) const {
    const State &s = *s_;
    const std::string channel = release_channel(s.cfg.db, name);
    std::lock_guard<std::mutex> lk(s_->mu);
    if (s.pid != current_pid()) return std::nullopt;
    auto it = s.channels.find(channel);
    if (it == s.channels.end() || !it->second.wanted || it->second.subs_confirmed < it->second.subs_sent ||
        it->second.subs_sent == 0)
        return std::nullopt;
    return Mark{s.epoch, it->second.subscription, it->second.releases};
}

std::unique_ptr<Waiters::Watch> Waiters::watch(std::string_view name, const Deadline &deadline,
                                               const std::optional<Mark> &since, bool *covered) {
    if (covered) *covered = false;
    State &s = *s_;
    const std::string channel = release_channel(s.cfg.db, name);
    std::unique_lock<std::mutex> lk(s.mu);
    if (s.pid != current_pid()) s.after_fork_locked();
    if (s.stop || s.wake_fd < 0) return nullptr;
    if (!s.running) {
        if (Clock::now() < s.retry_after) return nullptr;  // the last subscriber failed: poll for a while
        if (s.thread) s.thread->join();  // ended (running is false): it no longer needs the mutex
        s.running = true;
        s.thread = std::make_unique<std::thread>([st = s_] {
            ::pthread_setname_np(::pthread_self(), "redlock-wake");
            st->run();
        });
    }
    const uint64_t epoch = s.epoch;
    auto [it, inserted] = s.channels.try_emplace(channel);
    State::Channel &ch = it->second;
    auto watch = std::make_unique<Watch>(s_, channel, epoch);  // counts as a watcher from here on
    ++ch.watchers;
    if (!ch.wanted) {
        ch.wanted = true;
        ++ch.subs_sent;
        ch.subscription = s.next_subscription++;
        s.outbox.emplace_back(true, channel);
        s.wake();
    }
    const uint64_t target = ch.subs_sent;
    const auto until = deadline.remaining() ? Clock::now() + *deadline.remaining() : Clock::now() + Millis(60000);
    const bool confirmed = ch.cv.wait_until(lk, until, [&] { return s.epoch != epoch || ch.subs_confirmed >= target; });
    if (!confirmed || s.epoch != epoch) {
        lk.unlock();
        return nullptr;  // ~Watch undoes the interest
    }
    // Subscribed without a break since the mark (same connection, never unsubscribed: a channel is erased before
    // it could be subscribed again), so every release since the mark was counted.
    if (covered && since && since->epoch == epoch && since->subscription == ch.subscription) *covered = true;
    return watch;
}

std::optional<Clock::time_point> Waiters::retry_at() const {
    std::lock_guard<std::mutex> lk(s_->mu);
    if (s_->running || Clock::now() >= s_->retry_after) return std::nullopt;
    return s_->retry_after;
}

Waiters::Watch::Watch(std::shared_ptr<State> s, std::string channel, uint64_t epoch)
    : s_(std::move(s)), channel_(std::move(channel)), epoch_(epoch) {}

Waiters::Watch::~Watch() {
    std::lock_guard<std::mutex> lk(s_->mu);
    auto it = s_->channels.find(channel_);
    if (it == s_->channels.end()) return;
    State::Channel &ch = it->second;
    if (--ch.watchers > 0) return;
    if (ch.wanted) {
        ch.unwatched_since = Clock::now();  // the thread unsubscribes it after kLinger, unless watched again
    } else if (ch.subs_sent == 0) {
        s_->channels.erase(it);  // never subscribed on the current connection
    }
}

bool Waiters::Watch::active() const {
    std::lock_guard<std::mutex> lk(s_->mu);
    return s_->epoch == epoch_;
}

uint64_t Waiters::Watch::seen() const {
    std::lock_guard<std::mutex> lk(s_->mu);
    auto it = s_->channels.find(channel_);
    return it == s_->channels.end() ? 0 : it->second.releases;
}

bool Waiters::Watch::wait(uint64_t seen, Clock::time_point until) const {
    std::unique_lock<std::mutex> lk(s_->mu);
    auto it = s_->channels.find(channel_);
    if (it == s_->channels.end() || s_->epoch != epoch_) return true;
    State::Channel &ch = it->second;
    return ch.cv.wait_until(lk, until, [&] { return ch.releases != seen || s_->epoch != epoch_; });
}

}  // namespace redlock::core

#include "background/watchdog.hpp"

#include <cxxabi.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>

#include "base/error.hpp"
#include "lock/scripts.hpp"
#include "net/client.hpp"
#include "net/connection.hpp"
#include "quorum/quorum.hpp"

namespace redlock::core {

// What tickets share with the watchdog: the renewals and their order, behind one mutex.
struct Watchdog::State {
    struct Entry {
        uint64_t owner;
        std::string name, token, ttl_ms;
        Millis ttl;
        Clock::time_point due;        // next renewal
        Clock::time_point confirmed;  // the TTL ran at least from here: sent time of the last renewal (or acquire)
                                      // that got through, so confirmed + ttl is the earliest it can end
        LostFn on_lost;
        pid_t pid;                    // the process whose lock it is: a fork()ed child never renews its parent's
        bool started = false;    // queued only from the ticket's start(): after the token is stored
        bool releasing = false;  // a release is under way: finding the key gone is its doing
        bool lost = false;
        bool in_callback = false;
        int last_failure = 0;  // the code of the last renewal that failed: the reason when the TTL runs out
    };

    std::mutex mu;
    std::condition_variable cv;  // the thread waits for work and due times; erasers wait for a running callback
    std::map<uint64_t, Entry> entries;
    std::set<std::pair<Clock::time_point, uint64_t>> queue;  // (due, id), soonest first
    uint64_t next_id = 1;
    bool stop = false;
    bool running = false;  // the thread is in its loop (false again if a callback ended it with pthread_exit)
    std::thread::id thread_id;
    ForkGuard fork_guard{mu, &cv};  // after mu and cv

    // Ends an entry's callback (relocking): erasers waiting for it may go on.
    struct CallbackDone {
        State &s;
        std::unique_lock<std::mutex> &lk;
        uint64_t id;
        ~CallbackDone() {
            lk.lock();
            auto it = s.entries.find(id);
            if (it != s.entries.end()) it->second.in_callback = false;
            s.cv.notify_all();
        }
    };

    // Erases an entry, first waiting for its running callback unless called by that callback (mu held by `lk`).
    void erase_locked(std::unique_lock<std::mutex> &lk, uint64_t id) {
        auto it = entries.find(id);
        while (it != entries.end() && it->second.in_callback && std::this_thread::get_id() != thread_id) {
            cv.wait(lk);
            it = entries.find(id);
        }
        if (it == entries.end()) return;
        queue.erase({it->second.due, id});
        entries.erase(it);
    }
};

Watchdog::Watchdog(Client &client) : client_(client), state_(std::make_shared<State>()) {}

Watchdog::~Watchdog() {
    std::unique_ptr<std::thread> t;
    {
        std::lock_guard<std::mutex> lk(state_->mu);
        state_->stop = true;
        t = std::move(thread_);
    }
    state_->cv.notify_all();
    if (!t) return;
    if (thread_pid_ != current_pid()) (void)t.release();  // a fork()ed child's copy of a thread it does not have
    else if (t->get_id() == std::this_thread::get_id()) t->detach();  // freed from inside a callback (a binding's GC)
    else t->join();
}

std::unique_ptr<Watchdog::Ticket> Watchdog::renew(uint64_t owner, std::string name, std::string token, Millis ttl,
                                                  Clock::time_point held_since, LostFn on_lost) {
    std::lock_guard<std::mutex> lk(state_->mu);
    const uint64_t id = state_->next_id++;
    State::Entry e;
    e.owner = owner;
    e.name = std::move(name);
    e.token = std::move(token);
    e.ttl_ms = std::to_string(ttl.count());
    e.ttl = ttl;
    e.confirmed = held_since;
    e.due = held_since + std::max<Clock::duration>(ttl / 3, Millis(1));
    e.on_lost = std::move(on_lost);
    e.pid = current_pid();
    state_->entries.emplace(id, std::move(e));
    start_thread_locked();
    return std::make_unique<Ticket>(state_, id);
}

void Watchdog::Ticket::start() noexcept {
    if (std::shared_ptr<State> s = state_.lock()) {
        std::lock_guard<std::mutex> lk(s->mu);
        auto it = s->entries.find(id_);
        if (it == s->entries.end() || it->second.started) return;
        it->second.started = true;
        s->queue.insert({it->second.due, id_});
        s->cv.notify_all();
    }
}

void Watchdog::Ticket::releasing(bool on) noexcept {
    if (std::shared_ptr<State> s = state_.lock()) {
        std::lock_guard<std::mutex> lk(s->mu);
        auto it = s->entries.find(id_);
        if (it != s->entries.end()) it->second.releasing = on;
    }
}

std::optional<Clock::time_point> Watchdog::Ticket::confirmed() const noexcept {
    if (std::shared_ptr<State> s = state_.lock()) {
        std::lock_guard<std::mutex> lk(s->mu);
        auto it = s->entries.find(id_);
        if (it != s->entries.end() && !it->second.lost) return it->second.confirmed;
    }
    return std::nullopt;
}

Watchdog::Ticket::~Ticket() {
    if (std::shared_ptr<State> s = state_.lock()) {
        std::unique_lock<std::mutex> lk(s->mu);
        s->erase_locked(lk, id_);
    }
}

void Watchdog::forget(uint64_t owner) {
    std::unique_lock<std::mutex> lk(state_->mu);
    for (;;) {
        auto &entries = state_->entries;
        auto it = std::find_if(entries.begin(), entries.end(), [&](const auto &kv) { return kv.second.owner == owner; });
        if (it == entries.end()) return;
        state_->erase_locked(lk, it->first);
    }
}

void Watchdog::start_thread_locked() {
    const pid_t me = current_pid();
    if (thread_ && thread_pid_ == me && state_->running) return;
    if (thread_ && thread_pid_ == me) thread_->join();  // ended inside a callback: it no longer needs the mutex
    else if (thread_) (void)thread_.release();  // inherited through fork(): that thread is not in this process
    state_->running = true;
    state_->stop = false;
    thread_pid_ = me;
    thread_ = std::make_unique<std::thread>([this] {
        ::pthread_setname_np(::pthread_self(), "redlock-renew");  // what top, gdb and ps -L show
        run();
    });
    state_->thread_id = thread_->get_id();
}

Watchdog::Outcome Watchdog::renew_once(const std::string &name, const std::string &token, const std::string &ttl_ms,
                                       int &code, const Deadline &cap) {
    try {
        Reply r = client_.script(kReacquireScript, {name}, {token, ttl_ms}, expect::integer, cap);
        if (r.is_error()) {
            code = static_cast<int>(server_error(r.str, "renewal").code());
            return Outcome::failed;
        }
        return r.integer == 1 ? Outcome::renewed : Outcome::gone;
    } catch (const OutcomeUnknown &lost) {
        // Whether the TTL was reset is unknown; whether the token is still there can be asked.
        code = static_cast<int>(lost.code());
        try {
            return client_.get_on_fresh_connection(name, cap).holds(token) ? Outcome::failed : Outcome::gone;
        } catch (const Error &) {
            return Outcome::failed;
        }
    } catch (const Error &err) {
        code = static_cast<int>(err.code());
        return Outcome::failed;
    } catch (...) {  // out of memory: try again later
        code = static_cast<int>(Errc::no_memory);
        return Outcome::failed;
    }
}

namespace {
constexpr size_t kBatch = 256;  // renewals per pipelined round trip
}  // namespace

std::vector<std::pair<Watchdog::Outcome, int>> Watchdog::renew_batch(const std::vector<Job> &jobs,
                                                                     const Deadline &cap) {
    std::vector<std::pair<Outcome, int>> out(jobs.size(), {Outcome::failed, 0});
    if (Quorum *q = client_.quorum()) {  // each renewal needs a majority of its own: one fan-out per lock
        for (size_t i = 0; i < jobs.size(); ++i) {
            try {
                q->ttl_script(kReacquireScript, jobs[i].name, jobs[i].token, jobs[i].ttl_ms, {}, "renew", cap);
                out[i] = {Outcome::renewed, 0};
            } catch (const Error &e) {
                out[i] = {e.code() == Errc::not_owned ? Outcome::gone : Outcome::failed, static_cast<int>(e.code())};
            }
        }
        return out;
    }
    std::vector<bool> done(jobs.size(), false);
    if (jobs.size() > 1) {
        try {
            std::vector<std::vector<std::string_view>> commands;
            commands.reserve(jobs.size());
            for (const Job &j : jobs)
                commands.push_back({"EVALSHA", kReacquireScript.sha1, "1", j.name, j.token, j.ttl_ms});
            std::vector<Reply> replies = client_.pipeline(commands, expect::integer, cap);
            for (size_t i = 0; i < jobs.size(); ++i) {
                const Reply &r = replies[i];
                if (r.is_error()) continue;  // NOSCRIPT (cache flushed) or worse: one at a time, below
                out[i] = {r.integer == 1 ? Outcome::renewed : Outcome::gone, 0};
                done[i] = true;
            }
        } catch (...) {
            // whether each ran is unknown: each is settled on its own, below (a GET after a lost reply)
        }
    }
    for (size_t i = 0; i < jobs.size(); ++i)
        if (!done[i]) out[i].first = renew_once(jobs[i].name, jobs[i].token, jobs[i].ttl_ms, out[i].second, cap);
    return out;
}

void Watchdog::settle(State &s, std::unique_lock<std::mutex> &lk, uint64_t id, Outcome outcome, int code,
                      Clock::time_point sent, Clock::time_point now) {
    auto it = s.entries.find(id);
    if (it == s.entries.end()) return;  // released or freed meanwhile
    State::Entry &e = it->second;
    if (outcome == Outcome::renewed) {
        e.confirmed = sent;  // the TTL restarted after the renewal was sent: the earliest it can end is from here
        e.due = sent + std::max<Clock::duration>(e.ttl / 3, Millis(1));
        s.queue.insert({e.due, id});
        return;
    }
    if (outcome == Outcome::failed && code != 0) e.last_failure = code;
    if (outcome == Outcome::failed && now < e.confirmed + e.ttl) {
        // It may still be ours: try again soon, and once more just before it would certainly have expired.
        const auto retry = std::max<Clock::duration>(e.ttl / 10, Millis(20));
        e.due = std::min(now + retry, e.confirmed + e.ttl);
        s.queue.insert({e.due, id});
        return;
    }
    // Lost: the token was found gone, or the TTL may have run out without a renewal getting through.
    e.lost = true;
    const int reason = outcome == Outcome::gone ? static_cast<int>(Errc::not_owned)
                       : e.last_failure != 0     ? e.last_failure
                                                 : static_cast<int>(Errc::timed_out);
    if (!e.on_lost || (outcome == Outcome::gone && e.releasing)) return;  // gone by the owner's own release
    e.in_callback = true;
    LostFn callback = e.on_lost;
    lk.unlock();
    State::CallbackDone done{s, lk, id};  // relocks, also when pthread_exit unwinds the thread inside the callback
    try {
        callback(reason);
    } catch (abi::__forced_unwind &) {
        // pthread_exit (or cancellation) in the callback, e.g. a host interpreter that is shutting down ends
        // foreign threads that ask for its lock: it must go through, or the process aborts.
        throw;
    } catch (...) {
        // a callback's exception has nowhere to go: the lock is lost either way
    }
}

void Watchdog::run() {
    const pid_t me = current_pid();
    // Owned here too: a callback may free the last handle of the client, destroying this Watchdog on this thread;
    // the loop then sees `stop` and leaves, touching only the state.
    const std::shared_ptr<State> keep = state_;
    State &s = *keep;
    std::unique_lock<std::mutex> lk(s.mu);
    bool ended_normally = false;
    struct Leaving {  // with lk held, however the loop ends
        Watchdog &w;
        State &s;
        const bool &normally;
        pid_t me;
        ~Leaving() {
            s.running = false;
            // Ended inside a callback (pthread_exit) while locks are still held: a new thread takes over. Not after
            // stop (the Watchdog may be gone), and not in a fork()ed child (a copy of this thread).
            if (!normally && !s.stop && current_pid() == me) w.restart_thread_locked();
        }
    } leaving{*this, s, ended_normally, me};
    std::vector<Job> jobs;
    for (;;) {
        // A fork() inside a callback leaves the child running this loop, on its parent's locks: it must stop.
        if (s.stop || current_pid() != me) break;
        if (s.queue.empty()) {
            s.cv.wait(lk);
            continue;
        }
        const auto now = Clock::now();
        const Clock::time_point due = s.queue.begin()->first;  // a copy: the node may go while we wait
        if (now < due) {
            s.cv.wait_until(lk, due);
            continue;
        }
        // Every renewal due now, in one pipelined round trip: thousands of held locks cost a few round trips per
        // third of a TTL, not one each. One whose TTL may have run out already is lost without asking.
        jobs.clear();
        std::vector<uint64_t> expired;
        while (!s.queue.empty() && s.queue.begin()->first <= now && jobs.size() < kBatch) {
            const uint64_t id = s.queue.begin()->second;
            s.queue.erase(s.queue.begin());
            auto it = s.entries.find(id);
            if (it == s.entries.end() || it->second.lost) continue;
            if (it->second.pid != me) {  // inherited from the parent: its lock, not ours to renew
                it->second.lost = true;
                continue;
            }
            if (now >= it->second.confirmed + it->second.ttl) expired.push_back(id);
            else jobs.push_back({id, it->second.name, it->second.token, it->second.ttl_ms});
        }
        // The I/O ends before any renewed lock's TTL could: a renewal that cannot get through in time must not keep
        // the owner (or another lock's owner) believing in a lock that may have expired.
        Deadline cap = Deadline::never();
        for (const auto &[id, e] : s.entries)  // (one already past it is settled as expired when due, not here)
            if (e.started && !e.lost && e.pid == me && e.confirmed + e.ttl > now)
                cap = cap.earlier(Deadline::at(e.confirmed + e.ttl));
        std::vector<std::pair<Outcome, int>> results;
        const auto sent = Clock::now();
        if (!jobs.empty()) {
            lk.unlock();  // the I/O runs unlocked: tickets may go meanwhile
            results = renew_batch(jobs, cap);
            lk.lock();
        }
        const auto after = Clock::now();
        // From here on `this` may be gone (a callback freed the client): only the state is used.
        // Settled one by one; if a callback ends this thread (pthread_exit), the rest of the batch goes back on the
        // queue, due now, for the thread that takes over: never an entry that nobody renews or reports.
        struct Requeue {
            State &s;
            const std::vector<uint64_t> &expired;
            const std::vector<Job> &jobs;
            size_t next_expired = 0, next = 0;
            void put_back(uint64_t id) {
                auto it = s.entries.find(id);
                if (it == s.entries.end() || it->second.lost) return;
                it->second.due = Clock::now();
                s.queue.insert({it->second.due, id});
            }
            ~Requeue() {
                for (size_t k = next_expired; k < expired.size(); ++k) put_back(expired[k]);
                for (size_t k = next; k < jobs.size(); ++k) put_back(jobs[k].id);
            }
        } requeue{s, expired, jobs};
        while (requeue.next_expired < expired.size() && !s.stop && current_pid() == me)
            settle(s, lk, expired[requeue.next_expired++], Outcome::failed, 0, sent, after);
        while (requeue.next < jobs.size() && !s.stop && current_pid() == me) {
            const size_t i = requeue.next++;
            settle(s, lk, jobs[i].id, results[i].first, results[i].second, sent, after);
        }
        if (s.stop || current_pid() != me) {  // nothing to hand on
            requeue.next_expired = expired.size();
            requeue.next = jobs.size();
        }
    }
    ended_normally = true;
}

void Watchdog::restart_thread_locked() {
    if (thread_) {
        thread_->detach();  // this very thread, on its way out
        thread_.reset();
    }
    start_thread_locked();
}

}  // namespace redlock::core

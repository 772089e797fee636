// Automatic renewal (auto_renew): while an owner holds a lock, its TTL is reset to the lock's timeout every third of
// it, by one background thread per client. A renewal that finds the token gone, or renewals that fail until the TTL
// has certainly run out, declare the lock lost: renewals stop and the owner's callback is called.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "base/fork_safety.hpp"
#include "lock/token.hpp"

namespace redlock::core {

class Client;

class Watchdog {
    struct State;

public:
    explicit Watchdog(Client &client);
    ~Watchdog();  // stops the thread (the client's destructor: no lock uses it any more)
    Watchdog(const Watchdog &) = delete;
    Watchdog &operator=(const Watchdog &) = delete;

    using LostFn = std::function<void(int reason)>;  // reason: a negative Errc

    // Renewals of one held token, for as long as the ticket lives. Destroying it stops them; if its on_lost callback
    // is running on the watchdog thread, waits for it to return (unless destroyed by that callback itself). A ticket
    // may outlive the watchdog (a thread's slot can keep a freed lock's token until the thread exits): it holds the
    // watchdog's state weakly.
    class Ticket final : public Renewal {
    public:
        Ticket(std::weak_ptr<State> state, uint64_t id) : state_(std::move(state)), id_(id) {}
        ~Ticket() override;
        Ticket(const Ticket &) = delete;
        Ticket &operator=(const Ticket &) = delete;
        void start() noexcept override;
        void releasing(bool on) noexcept override;
        std::optional<Clock::time_point> confirmed() const noexcept override;

    private:
        std::weak_ptr<State> state_;
        const uint64_t id_;
    };

    // Renewals of `token` on `name` every ttl / 3 for the lock `owner`, from the ticket's start(); `held_since` is
    // when the acquire that took it was sent (the TTL started at or after it: the earliest it can end is counted
    // from there).
    std::unique_ptr<Ticket> renew(uint64_t owner, std::string name, std::string token, Millis ttl,
                                  Clock::time_point held_since, LostFn on_lost);
    // Ends every renewal of the lock `owner` (its handle is being freed), after a running callback of it.
    void forget(uint64_t owner);


private:
    enum class Outcome { renewed, gone, failed };
    struct Job {
        uint64_t id;
        std::string name, token, ttl_ms;
    };

    void run();
    // One pipelined round trip for all `jobs`; any that it cannot settle (NOSCRIPT, a lost reply) one at a time.
    std::vector<std::pair<Outcome, int>> renew_batch(const std::vector<Job> &jobs, const Deadline &cap);
    static void settle(State &s, std::unique_lock<std::mutex> &lk, uint64_t id, Outcome outcome, int code,
                       Clock::time_point sent, Clock::time_point now);
    void start_thread_locked();
    Outcome renew_once(const std::string &name, const std::string &token, const std::string &ttl_ms, int &code,
                       const Deadline &cap);
    void restart_thread_locked();  // the thread was ended inside a callback (pthread_exit): a new one takes over

    Client &client_;
    std::shared_ptr<State> state_;
    std::unique_ptr<std::thread> thread_;  // under state_->mu
    pid_t thread_pid_ = 0;
};

}  // namespace redlock::core

// Redis Sentinel: the master is whatever the sentinels name for the service, checked with ROLE on every new
// connection. A failover is heard as it happens (+switch-master, on a subscriber thread), else noticed at the next
// recheck (every second), or by READONLY from the old master, ROLE saying replica, or the old master unreachable;
// then the sentinels are asked again and the old master's pool is dropped.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "topology/router.hpp"

namespace redlock::core {

class SentinelRouter final : public Router {
public:
    explicit SentinelRouter(ClientConfig cfg);
    ~SentinelRouter() override;  // stops the +switch-master listener

    Route route(std::string_view key, const Deadline &until) override;
    Next redirected(const std::string &error, Route &r) override;
    bool unreachable(const Route &r) override;
    void suspect(const Route &r) override;
    bool one_node() const noexcept override { return true; }
    ClientConfig subscriber_config(const Deadline &until) override;
    void ping(const Deadline &until) override;

private:
    // Asks the sentinels (unless another thread just did, or `recheck`) and switches pools if the master moved.
    std::shared_ptr<Pool> discover(const Deadline &until, bool recheck);
    // The master's address as one sentinel names it; throws Error.
    Endpoint ask(const Endpoint &sentinel, const Deadline &until) const;
    void mark_stale(const Route &r);
    // +switch-master: one thread subscribed on a sentinel (the next one after a failure, each second) marks the
    // master stale the moment the sentinels switch it, so the window in which commands still go to the old master
    // is that of the message, not of the recheck (which stays, for when no sentinel can be subscribed to).
    void start_listener();  // after a discovery succeeded; again in a fork()ed child
    void listen();          // the thread

    const ClientConfig cfg_;       // the data nodes' settings (host and port come from the sentinels)
    const ClientConfig sentinel_;  // the sentinels' (their own credentials, no database)
    std::mutex mu_;
    OneAtATime asking_{mu_};  // one thread asks the sentinels at a time; the others take its answer
    ForkGuard fork_guard_{mu_, &asking_.cv};
    std::vector<Endpoint> sentinels_;  // the last one that answered first
    std::shared_ptr<Pool> master_;
    Endpoint master_addr_;
    Endpoint named_by_;  // the sentinel that named it
    bool stale_ = true;
    bool checking_ = false;      // a thread is asking the sentinels again
    pid_t checking_pid_ = 0;     // of this process
    Clock::time_point checked_;  // the sentinels last named the master
    std::unique_ptr<std::thread> listener_;
    pid_t listener_pid_ = 0;  // the process whose thread and eventfd these are
    int wake_fd_ = -1;        // wakes the listener to stop
    std::atomic<bool> stop_{false};  // set with mu_ held; the listener also reads it between messages, without it
    pid_t listener_failed_pid_ = 0;      // no thread could be made for it in this process
    Clock::time_point last_switch_;      // the listener's own: the last +switch-master acted on
};

// How often the sentinels are asked again while all is well (at once after a connection failure or READONLY).
inline constexpr Millis kRecheck{1000};
// How long such a recheck may take; past it, the master we know is kept until the next one.
inline constexpr Millis kRecheckLimit{250};

}  // namespace redlock::core

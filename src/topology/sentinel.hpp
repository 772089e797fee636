// Redis Sentinel: the master is whatever the sentinels name for the service, checked with ROLE on every new
// connection. After a failover (READONLY from the old master, ROLE saying replica, or the old master unreachable)
// the sentinels are asked again and the old master's pool is dropped.
#pragma once

#include <mutex>
#include <vector>

#include "topology/router.hpp"

namespace redlock::core {

class SentinelRouter final : public Router {
public:
    explicit SentinelRouter(ClientConfig cfg);

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

    const ClientConfig cfg_;       // the data nodes' settings (host and port come from the sentinels)
    const ClientConfig sentinel_;  // the sentinels' (their own credentials, no database)
    std::mutex mu_;
    OneAtATime asking_;  // one thread asks the sentinels at a time; the others take its answer
    ForkGuard fork_guard_{mu_, &asking_.cv};
    std::vector<Endpoint> sentinels_;  // the last one that answered first
    std::shared_ptr<Pool> master_;
    Endpoint master_addr_;
    Endpoint named_by_;  // the sentinel that named it
    bool stale_ = true;
    bool checking_ = false;      // a thread is asking the sentinels again
    Clock::time_point checked_;  // the sentinels last named the master
};

// How often the sentinels are asked again while all is well (at once after a connection failure or READONLY).
inline constexpr Millis kRecheck{1000};
// How long such a recheck may take; past it, the master we know is kept until the next one.
inline constexpr Millis kRecheckLimit{250};

}  // namespace redlock::core

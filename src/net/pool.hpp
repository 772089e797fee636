// A bounded pool of connections to one server, safe for any number of threads.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "net/config.hpp"
#include "net/connection.hpp"
#include "base/fork_safety.hpp"

namespace redlock::core {

// Every connection of a pool stayed on loan for the whole wait: the server may be fine, the client is busy.
class PoolBusy : public Error {
public:
    using Error::Error;
};

class Pool {
public:
    explicit Pool(ClientConfig cfg);

    // A connection on loan to one thread; goes back to the pool when dropped, unless it broke.
    class Lease {
    public:
        Lease(Pool *pool, std::unique_ptr<Connection> conn) noexcept : pool_(pool), conn_(std::move(conn)) {}
        Lease(Lease &&) noexcept = default;
        Lease &operator=(Lease &&) = delete;
        ~Lease() {
            if (conn_) pool_->give_back(std::move(conn_));
        }
        Connection &operator*() const noexcept { return *conn_; }
        Connection *operator->() const noexcept { return conn_.get(); }

    private:
        Pool *pool_;
        std::unique_ptr<Connection> conn_;
    };

    // An idle connection if one is alive, else a new one (waiting while max_connections are on loan).
    // `fresh` forces a newly opened connection: used to check an ambiguous outcome on a path that cannot share
    // anything with the connection that failed.
    // `cap`: nothing (waiting for a connection, connecting) goes past it.
    Lease lease(bool fresh = false, const Deadline &cap = Deadline::never());
    // An idle connection that is alive, or nothing: never connects, never waits.
    std::optional<Lease> lease_idle();
    // Room for another connection (fewer than max_connections open): a hint, for the moment it is asked.
    bool has_room();
    // An idle connection, waiting (until `until`, then PoolBusy) while all are on loan; nothing as soon as there is
    // room for a new one, which it does not open.
    std::optional<Lease> wait_idle(const Deadline &until);

    const ClientConfig &config() const noexcept { return cfg_; }

private:
    void give_back(std::unique_ptr<Connection> conn) noexcept;
    // An idle connection that passes the probe (`lk` holds mu_; released while probing, held again on nullptr).
    std::unique_ptr<Connection> take_idle(std::unique_lock<std::mutex> &lk);
    void forget_after_fork();  // with mu_ held

    const ClientConfig cfg_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Connection>> idle_;
    unsigned open_ = 0;  // idle + on loan
    pid_t pid_;          // the process that owns the connections; another pid means we are a fork()ed child
    ForkGuard fork_guard_{mu_, &cv_};  // after mu_ and cv_
};

// A command that is safe to repeat (a read), on one of `pool`'s connections, within its command timeout (and `cap`):
// retried once on a newly opened connection after a dropped one (server restarted, idle socket closed); a slow server
// is not retried. `asking`: as Connection::call.
Reply read_on(Pool &pool, Argv argv, unsigned accept, bool asking = false, const Deadline &cap = Deadline::never());

}  // namespace redlock::core

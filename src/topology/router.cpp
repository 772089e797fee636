#include "topology/router.hpp"

#include "base/error.hpp"
#include "topology/cluster.hpp"
#include "topology/sentinel.hpp"

namespace redlock::core {

namespace {

// One server: nothing to discover, nothing to follow.
class SingleRouter final : public Router {
public:
    explicit SingleRouter(const ClientConfig &cfg) : pool_(std::make_shared<Pool>(cfg)) {}
    Route route(std::string_view, const Deadline &) override { return {pool_}; }
    Next redirected(const std::string &, Route &) override { return Next::answer; }
    bool unreachable(const Route &) override { return false; }
    void suspect(const Route &) override {}
    bool one_node() const noexcept override { return true; }
    ClientConfig subscriber_config(const Deadline &) override { return pool_->config(); }
    void ping(const Deadline &until) override { ping_node(*pool_, until); }

private:
    const std::shared_ptr<Pool> pool_;
};

}  // namespace

void ping_node(Pool &pool, const Deadline &until) {
    const Deadline d = Deadline::after(pool.config().command_timeout).earlier(until);
    Reply r;
    try {
        Pool::Lease c = pool.lease(false, until);
        r = c->call({"PING"}, d, expect::status);
    } catch (const OutcomeUnknown &e) {
        if (e.code() != Errc::connection) throw;
        Pool::Lease c = pool.lease(true, until);  // a dropped idle connection is worth one retry
        r = c->call({"PING"}, d, expect::status);
    }
    if (r.is_error()) throw server_error(r.str, "PING failed");
    if (!r.is_status("PONG")) throw Error(Errc::server, "PING: unexpected reply");
}

std::unique_ptr<Router> make_router(const ClientConfig &cfg) {
    switch (cfg.topology) {
    case ClientConfig::Topology::sentinel: return std::make_unique<SentinelRouter>(cfg);
    case ClientConfig::Topology::cluster: return std::make_unique<ClusterRouter>(cfg);
    case ClientConfig::Topology::single: break;
    }
    return std::make_unique<SingleRouter>(cfg);
}

}  // namespace redlock::core

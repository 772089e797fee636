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
    Route route(std::string_view, const Deadline &) override { return {pool_.get(), false, nullptr}; }
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
    static constexpr std::string_view kPing[] = {"PING"};
    const Reply r = read_on(pool, Argv(kPing, 1), expect::status, false, until);
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

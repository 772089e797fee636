// Redis Cluster: a key's slot (CRC16 of the key or of its {hash tag}, mod 16384) is served by one master. The slot
// map comes from CLUSTER SLOTS, one pool per master, made on demand; MOVED updates the map, ASK is followed once
// with ASKING, TRYAGAIN and CLUSTERDOWN are waited out within the command's time.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "topology/router.hpp"

namespace redlock::core {

inline constexpr unsigned kClusterSlots = 16384;
// The least time between two readings of the slot map after failures (a MOVED updates its slot at once).
inline constexpr Millis kMinRefreshGap{100};

// The slot Redis Cluster assigns to `key`.
unsigned key_slot(std::string_view key) noexcept;

class ClusterRouter final : public Router {
public:
    explicit ClusterRouter(ClientConfig cfg);

    Route route(std::string_view key, const Deadline &until) override;
    Next redirected(const std::string &error, Route &r) override;
    bool unreachable(const Route &r) override;
    void suspect(const Route &r) override;
    bool one_node() const noexcept override { return false; }
    ClientConfig subscriber_config(const Deadline &until) override;
    void ping(const Deadline &until) override;

private:
    static constexpr uint16_t kNoNode = 0xFFFF;
    struct Node {
        Endpoint addr;
        std::shared_ptr<Pool> pool;
    };
    // Asks the known nodes, then the seeds, for CLUSTER SLOTS until one answers; throws Error.
    void refresh(const Deadline &until, uint64_t seen_generation);
    // The pool of the master at `e`, added to the nodes if new; with a slot (< kClusterSlots), it is now that slot's.
    std::shared_ptr<Pool> pool_for(const Endpoint &e, unsigned slot);
    // A map read from `from` becomes the client's.
    void install(const std::vector<std::pair<std::pair<unsigned, unsigned>, Endpoint>> &ranges, const Endpoint &from);
    // "MOVED 3999 127.0.0.1:6381": the slot and the node (an empty host is the replying node's).
    bool parse_redirect(const std::string &error, size_t skip, const Route &from, unsigned &slot, Endpoint &to) const;

    const ClientConfig cfg_;
    std::mutex mu_;
    OneAtATime refreshing_{mu_};  // one thread reads the map at a time; the others take its result
    std::vector<Node> nodes_;
    std::vector<uint16_t> slots_;  // slot -> index in nodes_, or kNoNode
    bool stale_ = true;
    Endpoint answered_;  // the node whose map was read last
    Clock::time_point tried_at_;  // the last reading of the map, whatever came of it
    Endpoint distrusted_;         // its map named a master that could not be reached: asked last
    uint64_t generation_ = 0;  // maps installed so far
    ForkGuard fork_guard_{mu_, &refreshing_.cv};
};

}  // namespace redlock::core

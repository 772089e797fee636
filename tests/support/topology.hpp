// Test harness for the distributed forms: a master, a replica and sentinels; a 3-master + 3-replica Redis Cluster.
// Every server is a RedisServer (own temp dir, free port, dies with the test process); they boot side by side and the
// harness waits until the topology is whole. Destruction stops them all, also when a test fails half-way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "redis_server.hpp"

namespace testing {

class SentinelSetup {
public:
    static constexpr const char *kService = "mymaster";
    explicit SentinelSetup(int sentinels = 3);

    std::vector<std::unique_ptr<RedisServer>> data;       // [0] starts as master, [1] as its replica
    std::vector<std::unique_ptr<RedisServer>> sentinels;  // quorum: a majority

    // redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,.../mymaster
    std::string url(const std::string &tail = "") const;
    // The data server the sentinels name as master now (nullptr if none is named or it is not one of ours).
    RedisServer *master() const;
    RedisServer *replica() const;  // the other one
    // Until the sentinels name a master other than `old` and that server answers ROLE as master.
    RedisServer *wait_for_new_master(const RedisServer *old, double seconds) const;
    // Until every sentinel sees the replica and the other sentinels (a failover needs both).
    void wait_ready() const;
};

class ClusterSetup {
public:
    ClusterSetup();  // 3 masters, 3 replicas, cluster-node-timeout 1000 ms

    std::vector<std::unique_ptr<RedisServer>> nodes;

    std::string url(const std::string &tail = "") const;  // redis+cluster://127.0.0.1:P1,127.0.0.1:P2
    RedisServer &by_port(int port) const;
    // The node serving `slot` now (as the first live node sees the map).
    RedisServer &owner(int slot) const;
    std::string node_id(const RedisServer &n) const;
    // Until every live node says cluster_state:ok and agrees on each slot's owner.
    void wait_ok(double seconds = 30) const;
};

// CLUSTER KEYSLOT as the server computes it.
int server_key_slot(const RedisServer &node, const std::string &key);

}  // namespace testing

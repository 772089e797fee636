#include "topology.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <stdexcept>
#include <thread>
#include <tuple>

namespace testing {

namespace {

using Clock = std::chrono::steady_clock;

void poll_until(double seconds, const char *what, const std::function<bool()> &ready) {
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
        try {
            if (ready()) return;
        } catch (const std::exception &) {
            // a server that is not up yet: poll on
        }
        if (Clock::now() > end) throw std::runtime_error(std::string("timed out waiting for ") + what);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

// Starts servers side by side: all forked first (from this thread, which they die with), then waited for.
std::vector<std::unique_ptr<RedisServer>> start_all(const std::vector<RedisServer::Options> &opts) {
    std::vector<std::unique_ptr<RedisServer>> out;
    for (RedisServer::Options o : opts) {
        o.wait_up = false;
        out.push_back(std::make_unique<RedisServer>(o));
    }
    for (auto &s : out) s->wait_up();
    return out;
}

bool info_has(const RedisServer &s, const std::string &section, const std::string &line) {
    return s.admin({"INFO", section}).str.find(line) != std::string::npos;
}

// (first slot, last slot) -> master port, as one node sees the map.
std::map<std::pair<long long, long long>, long long> slot_map(const RedisServer &node) {
    std::map<std::pair<long long, long long>, long long> m;
    AdminReply r = node.admin({"CLUSTER", "SLOTS"});
    for (const AdminReply &range : r.elements)
        if (range.elements.size() >= 3 && range.elements[2].elements.size() >= 2)
            m[{range.elements[0].integer, range.elements[1].integer}] = range.elements[2].elements[1].integer;
    return m;
}

}  // namespace

SentinelSetup::SentinelSetup(int n) {
    RedisServer::Options master;
    master.wait_up = false;
    data.push_back(std::make_unique<RedisServer>(master));
    RedisServer::Options replica;
    replica.extra_args = {"--replicaof", "127.0.0.1", std::to_string(data[0]->port())};
    replica.wait_up = false;
    data.push_back(std::make_unique<RedisServer>(replica));
    data[0]->wait_up();
    data[1]->wait_up();
    poll_until(20, "the replica to sync", [&] { return info_has(*data[1], "replication", "master_link_status:up"); });

    std::vector<RedisServer::Options> opts(n);
    for (auto &o : opts) {
        o.config_text = "sentinel monitor " + std::string(kService) + " 127.0.0.1 " + std::to_string(data[0]->port()) +
                        " " + std::to_string(n / 2 + 1) + "\nsentinel down-after-milliseconds " + kService +
                        " 1000\nsentinel failover-timeout " + kService + " 4000\n";
        o.extra_args = {"--sentinel"};
    }
    sentinels = start_all(opts);
    wait_ready();
}

std::string SentinelSetup::url(const std::string &tail) const {
    std::string hosts;
    for (const auto &s : sentinels) hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(s->port());
    return "redis+sentinel://" + hosts + "/" + kService + tail;
}

RedisServer *SentinelSetup::master() const {
    for (const auto &s : sentinels) {
        if (!s->alive()) continue;
        try {
            AdminReply r = s->admin({"SENTINEL", "get-master-addr-by-name", kService});
            if (r.elements.size() != 2) continue;
            for (const auto &d : data)
                if (std::to_string(d->port()) == r.elements[1].str) return d.get();
        } catch (const std::exception &) {
        }
    }
    return nullptr;
}

RedisServer *SentinelSetup::replica() const {
    RedisServer *m = master();
    for (const auto &d : data)
        if (d.get() != m) return d.get();
    return nullptr;
}

RedisServer *SentinelSetup::wait_for_new_master(const RedisServer *old, double seconds) const {
    RedisServer *found = nullptr;
    poll_until(seconds, "a new master", [&] {
        found = master();
        return found && found != old && found->admin({"ROLE"}).elements.at(0).str == "master";
    });
    return found;
}

void SentinelSetup::wait_ready() const {
    const size_t others = sentinels.size() - 1;
    poll_until(30, "the sentinels to see the replica and each other", [&] {
        for (const auto &s : sentinels) {
            AdminReply replicas = s->admin({"SENTINEL", "REPLICAS", kService});
            bool ok = false;
            for (const AdminReply &r : replicas.elements)
                for (size_t i = 0; i + 1 < r.elements.size(); i += 2)
                    if (r.elements[i].str == "flags" && r.elements[i + 1].str == "slave") ok = true;
            if (!ok || s->admin({"SENTINEL", "SENTINELS", kService}).elements.size() < others) return false;
        }
        return true;
    });
}

ClusterSetup::ClusterSetup() {
    std::vector<RedisServer::Options> opts(6);
    for (auto &o : opts)  // the bus port is a free one too (the default, port + 10000, may be taken or past 65535)
        o.extra_args = {"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout",
                        "1000", "--cluster-port", std::to_string(unused_port())};
    nodes = start_all(opts);
    std::string cmd = "redis-cli --cluster create";
    for (const auto &n : nodes) cmd += " 127.0.0.1:" + std::to_string(n->port());
    cmd += " --cluster-replicas 1 --cluster-yes 2>&1";
    int status = -1;
    std::string out = run_capture(cmd, &status);
    if (status != 0) throw std::runtime_error("redis-cli --cluster create failed:\n" + out);
    wait_ok();
}

std::string ClusterSetup::url(const std::string &tail) const {
    return "redis+cluster://127.0.0.1:" + std::to_string(nodes[0]->port()) + ",127.0.0.1:" +
           std::to_string(nodes[1]->port()) + tail;
}

RedisServer &ClusterSetup::by_port(int port) const {
    for (const auto &n : nodes)
        if (n->port() == port) return *n;
    throw std::runtime_error("no node on port " + std::to_string(port));
}

RedisServer &ClusterSetup::owner(int slot) const {
    for (const auto &n : nodes) {
        if (!n->alive()) continue;
        for (const auto &[range, port] : slot_map(*n))
            if (slot >= range.first && slot <= range.second) return by_port(static_cast<int>(port));
    }
    throw std::runtime_error("no owner for slot " + std::to_string(slot));
}

std::string ClusterSetup::node_id(const RedisServer &n) const { return n.admin({"CLUSTER", "MYID"}).str; }

void ClusterSetup::wait_ok(double seconds) const {
    poll_until(seconds, "the cluster to be ok and agree", [&] {
        std::map<std::pair<long long, long long>, long long> first;
        bool have_first = false;
        for (const auto &n : nodes) {
            if (!n->alive()) continue;
            if (!info_has(*n, "", "") || n->admin({"CLUSTER", "INFO"}).str.find("cluster_state:ok") == std::string::npos)
                return false;
            auto m = slot_map(*n);
            long long covered = 0;
            for (const auto &[range, port] : m) covered += range.second - range.first + 1;
            if (covered != 16384) return false;
            if (!have_first) {
                first = m;
                have_first = true;
            } else if (m != first) {
                return false;
            }
            const std::string role = n->admin({"ROLE"}).elements.at(0).str;
            if (role == "slave" && !info_has(*n, "replication", "master_link_status:up")) return false;
        }
        return have_first;
    });
}

int server_key_slot(const RedisServer &node, const std::string &key) {
    return static_cast<int>(node.admin({"CLUSTER", "KEYSLOT", key}).integer);
}

}  // namespace testing

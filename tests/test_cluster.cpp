// Redis Cluster (redis+cluster://) against a real 3-master + 3-replica cluster made by redis-cli --cluster create.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "support/fake_server.hpp"
#include "support/handles.hpp"
#include "support/loopback.hpp"
#include "support/pair_stream.hpp"
#include "support/topology.hpp"

using namespace testing;
using Catch::Matchers::Contains;

namespace {

redlock_client_options quick_options() { return client_options(1000, 3000); }

// The replica of `master` (by ROLE).
RedisServer &replica_of(const ClusterSetup &c, const RedisServer &master) {
    for (const auto &n : c.nodes) {
        if (!n->alive()) continue;
        AdminReply role = n->admin({"ROLE"});
        if (role.elements.at(0).str == "slave" && role.elements.at(2).integer == master.port()) return *n;
    }
    throw std::runtime_error("no replica for the master on port " + std::to_string(master.port()));
}

// A number whose lock name "cluster:direct:N" is not in a slot of the master serving slot 0.
int key_in_other_slot(const ClusterSetup &c) {
    RedisServer &first = c.owner(0);
    for (int i = 0;; ++i)
        if (&c.owner(server_key_slot(first, "cluster:direct:" + std::to_string(i))) != &first) return i;
}

}  // namespace

TEST_CASE("Cluster: each lock goes to its slot's master, in every slot range, and ping checks every slot",
          "[cluster]") {
    ClusterSetup cluster;
    auto o = quick_options();
    Client c = make_client(cluster.url(), &o);
    REQUIRE(redlock_client_ping(c.get()) == REDLOCK_OK);

    std::set<int> owners;
    std::vector<Lock> locks;
    for (int i = 0; i < 120; ++i) {
        const std::string name = "cluster:" + std::to_string(i);
        locks.push_back(make_lock(c.get(), name, lock_options(30000)));
        REQUIRE(redlock_lock_acquire(locks.back().get()) == REDLOCK_OK);
        RedisServer &owner = cluster.owner(server_key_slot(*cluster.nodes[0], name));
        INFO(name);
        CHECK(value_on(owner, name) == token_of(locks.back().get()));
        owners.insert(owner.port());
    }
    CHECK(owners.size() == 3);  // all three masters served some
    for (auto &l : locks) CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);

    // Hash tags and the companion keys of fair and fenced locks stay in the lock's slot (one script, one node).
    auto fo = lock_options(30000);
    fo.fair = 1;
    fo.fencing = 1;
    for (const char *name : {"cluster:fair", "{cluster}:tagged"}) {
        Lock fair = make_lock(c.get(), name, fo);
        REQUIRE(redlock_lock_acquire(fair.get()) == REDLOCK_OK);
        uint64_t fence = 0;
        CHECK(redlock_lock_fence(fair.get(), &fence) == REDLOCK_OK);
        CHECK(fence == 1);
        CHECK(redlock_lock_release(fair.get()) == REDLOCK_OK);
    }

    // A release wakes a waiter through the cluster's pub/sub (a PUBLISH reaches every node).
    const double woken = wake_seconds(c.get(), "cluster:wake");
    CHECK(woken >= 0);
    CHECK(woken < 3.0);

    // Auto-renewal pipelines per node.
    auto ro = lock_options(1500);
    ro.auto_renew = 1;
    std::vector<Lock> renewed;
    for (int i = 0; i < 30; ++i) {
        renewed.push_back(make_lock(c.get(), "cluster:renew:" + std::to_string(i), ro));
        REQUIRE(redlock_lock_acquire(renewed.back().get()) == REDLOCK_OK);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(3000));  // two TTLs: only renewals keep them
    for (auto &l : renewed) CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);

    // A silent first seed (a stopped replica: connections are accepted, nothing answers) leaves time for the next.
    RedisServer &quiet = replica_of(cluster, cluster.owner(0));
    RedisServer &master = cluster.owner(16383);
    quiet.signal(SIGSTOP);
    {
        Client fresh = make_client("redis+cluster://127.0.0.1:" + std::to_string(quiet.port()) + ",127.0.0.1:" +
                                       std::to_string(master.port()),
                                   &o);
        Lock x = make_lock(fresh.get(), "cluster:silent-seed", lock_options(10000));
        const auto t = std::chrono::steady_clock::now();
        CHECK(redlock_lock_acquire(x.get()) == REDLOCK_OK);
        INFO(redlock_last_error());
        CHECK(seconds_since(t) < 2.5);  // its share of the 3 s command timeout
        CHECK(redlock_lock_release(x.get()) == REDLOCK_OK);
    }
    quiet.signal(SIGCONT);

    // A master that hangs (stopped: connections are accepted, nothing answers) costs its own slots only: once a
    // command to it has timed out and marked the map stale, locks on the other masters go on, each within its time.
    {
        auto so = quick_options();
        so.command_timeout_ms = 1000;
        Client sc = make_client(cluster.url(), &so);
        RedisServer &hung = cluster.owner(0);
        std::vector<std::string> elsewhere;
        for (int i = 0; elsewhere.size() < 5; ++i) {
            const std::string name = "cluster:elsewhere:" + std::to_string(i);
            if (&cluster.owner(server_key_slot(*cluster.nodes[1], name)) != &hung) elsewhere.push_back(name);
        }
        std::string on_hung;
        for (int i = 0; on_hung.empty(); ++i) {
            const std::string name = "cluster:hung:" + std::to_string(i);
            if (&cluster.owner(server_key_slot(*cluster.nodes[1], name)) == &hung) on_hung = name;
        }
        hung.signal(SIGSTOP);
        Lock h = make_lock(sc.get(), on_hung, lock_options(10000));
        CHECK(redlock_lock_acquire(h.get()) != REDLOCK_OK);  // times out on the stopped master
        for (const std::string &name : elsewhere) {
            Lock x = make_lock(sc.get(), name, lock_options(10000));
            const auto t = std::chrono::steady_clock::now();
            CHECK(redlock_lock_acquire(x.get()) == REDLOCK_OK);
            INFO(name << ": " << redlock_last_error());
            CHECK(seconds_since(t) < 0.9);
            CHECK(redlock_lock_release(x.get()) == REDLOCK_OK);
        }
        hung.signal(SIGCONT);
        cluster.wait_ok();  // its replica may have taken over meanwhile
    }

    // A plain URL aimed at a cluster node: the refusal (MOVED) says what it is talking to.
    {
        Client direct = make_client("redis://127.0.0.1:" + std::to_string(cluster.owner(0).port()), &o);
        Lock x = make_lock(direct.get(), "cluster:direct:" + std::to_string(key_in_other_slot(cluster)), lock_options(1000));
        CHECK(redlock_lock_acquire(x.get()) == REDLOCK_ESERVER);
        CHECK_THAT(redlock_last_error(), Contains("MOVED") && Contains("redis+cluster://"));
    }
    // A seed that does not answer is named by ping, even while another seed serves everything.
    {
        Client typo = make_client(cluster.url() + ",127.0.0.1:" + std::to_string(unused_port()), &o);
        CHECK(redlock_client_ping(typo.get()) == REDLOCK_ECONN);
        CHECK_THAT(redlock_last_error(), Contains("seed 127.0.0.1:"));
    }

    // A server that is not a cluster node: said plainly.
    RedisServer plain;
    Client wrong = make_client("redis+cluster://127.0.0.1:" + std::to_string(plain.port()), &o);
    CHECK(redlock_client_ping(wrong.get()) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("not a cluster node"));
}

TEST_CASE("Cluster: resharding a slot with live locks (MIGRATING/IMPORTING, ASK then MOVED)", "[cluster]") {
    ClusterSetup cluster;
    auto o = quick_options();
    Client c = make_client(cluster.url(), &o);
    const int slot = server_key_slot(*cluster.nodes[0], "{reshard}");
    RedisServer &src = cluster.owner(slot);
    RedisServer *dst = nullptr;
    for (const auto &n : cluster.nodes)
        if (n.get() != &src && n->admin({"ROLE"}).elements.at(0).str == "master") dst = n.get();
    REQUIRE(dst != nullptr);

    std::vector<Lock> held;  // held across the move, released after it
    for (int i = 0; i < 20; ++i) {
        held.push_back(make_lock(c.get(), "{reshard}:held:" + std::to_string(i), lock_options(60000)));
        REQUIRE(redlock_lock_acquire(held.back().get()) == REDLOCK_OK);
    }
    PairStream stream(c.get(), [](long i) { return "{reshard}:pair:" + std::to_string(i); });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));

    const std::string src_id = cluster.node_id(src), dst_id = cluster.node_id(*dst);
    const auto t_start = std::chrono::steady_clock::now();
    REQUIRE(dst->admin({"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", src_id}).str == "OK");
    REQUIRE(src.admin({"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", dst_id}).str == "OK");
    // Keys move a few at a time while pairs run: some are here, some there (ASK).
    for (int round = 0; round < 50; ++round) {
        AdminReply keys = src.admin({"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "3"});
        if (keys.elements.empty() && round > 5) break;
        if (!keys.elements.empty()) {
            std::vector<std::string> argv = {"MIGRATE", "127.0.0.1", std::to_string(dst->port()), "", "0", "5000", "KEYS"};
            for (const auto &k : keys.elements) argv.push_back(k.str);
            AdminReply m = src.admin(argv);
            INFO(m.str);
            REQUIRE(!m.is_error());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(40));
    }
    const size_t during = stream.ok_after(t_start);
    for (const auto &n : cluster.nodes)
        if (n->admin({"ROLE"}).elements.at(0).str == "master")
            REQUIRE(n->admin({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", dst_id}).str == "OK");
    const auto t_done = std::chrono::steady_clock::now();
    CHECK(during > 10);  // the pairs ran while the slot was half here, half there
    CHECK_THAT(dst->admin({"INFO", "commandstats"}).str, Contains("cmdstat_asking:calls="));  // and were sent there
    judge(stream, t_done, "resharding");
    for (const auto &p : stream.pairs()) {
        CHECK(p.acquire == REDLOCK_OK);  // ASK and MOVED are followed: nothing for the caller to see
        CHECK(p.release == REDLOCK_OK);
    }
    for (auto &l : held) CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);  // found on the new owner
    Lock after = make_lock(c.get(), "{reshard}:after", lock_options(10000));
    REQUIRE(redlock_lock_acquire(after.get()) == REDLOCK_OK);
    CHECK(value_on(*dst, "{reshard}:after") == token_of(after.get()));
    CHECK(redlock_lock_release(after.get()) == REDLOCK_OK);
}

TEST_CASE("Cluster: failover (CLUSTER FAILOVER, then kill -9 of a master) during a stream of pairs", "[cluster]") {
    ClusterSetup cluster;
    auto o = quick_options();
    Client c = make_client(cluster.url(), &o);

    PairStream stream(c.get(), [](long i) { return "failover:" + std::to_string(i); });  // names in every slot range
    std::this_thread::sleep_for(std::chrono::milliseconds(300));

    // A coordinated failover: the replica takes over once it has everything.
    RedisServer &m1 = cluster.owner(0);
    RedisServer &r1 = replica_of(cluster, m1);
    REQUIRE(r1.admin({"CLUSTER", "FAILOVER"}).str == "OK");
    REQUIRE(eventually([&] { return &cluster.owner(0) == &r1; }, std::chrono::seconds(20)));
    cluster.wait_ok();
    auto done = std::chrono::steady_clock::now();
    REQUIRE(eventually([&] { return stream.ok_after(done) >= 50; }, std::chrono::seconds(20)));

    // A master dies: its replica is promoted after cluster-node-timeout (1 s here).
    RedisServer &m2 = cluster.owner(16383);
    RedisServer &r2 = replica_of(cluster, m2);
    const auto killed = std::chrono::steady_clock::now();
    m2.kill();
    CHECK(redlock_client_ping(c.get()) != REDLOCK_OK);  // a master does not answer (or its slots are uncovered)
    INFO(redlock_last_error());
    REQUIRE(eventually([&] { return &cluster.owner(16383) == &r2; }, std::chrono::seconds(30)));
    cluster.wait_ok();
    done = std::chrono::steady_clock::now();
    REQUIRE(eventually([&] { return stream.ok_after(done) >= 1; }, std::chrono::seconds(15)));
    WARN("kill -9 of a cluster master: its replica took over after "
         << std::chrono::duration<double>(done - killed).count() << " s");
    judge(stream, done, "cluster failovers");
    int ping = REDLOCK_ECONN;
    CHECK(eventually([&] { return (ping = redlock_client_ping(c.get())) == REDLOCK_OK; }, std::chrono::seconds(10)));
    INFO(redlock_last_error());
    CHECK(ping == REDLOCK_OK);
}

TEST_CASE("Cluster, hostile or odd nodes: a nil host (unknown-endpoint) is the node asked, an unserved slot does not "
          "storm",
          "[cluster]") {
    MiniRedis redis;
    std::atomic<int> slot_maps{0};
    int port = 0;
    std::string last_slot = "16383";
    FakeServer node([&](const std::vector<std::string> &argv) -> FakeServer::Answer {
        if (argv.size() == 2 && argv[0] == "CLUSTER" && argv[1] == "SLOTS") {
            ++slot_maps;  // one range, its master's host nil: "the host you asked"
            return "*1\r\n*3\r\n:0\r\n:" + last_slot + "\r\n*3\r\n$-1\r\n:" + std::to_string(port) +
                   "\r\n$2\r\nid\r\n";
        }
        return redis(argv);
    });
    port = node.port();
    auto o = quick_options();
    o.command_timeout_ms = 1000;
    {
        Client c = make_client("redis+cluster://127.0.0.1:" + std::to_string(port), &o);
        Lock l = make_lock(c.get(), "odd:nil-host", lock_options(10000));
        CHECK(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        INFO(redlock_last_error());
        CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
    }
    // Only slots 0-100 served: a lock elsewhere waits for a map that serves it, reading the map at most every
    // 100 ms (not once per attempt), and then says which slot.
    last_slot = "100";
    slot_maps = 0;
    const int before = node.connections();
    Client c = make_client("redis+cluster://127.0.0.1:" + std::to_string(port), &o);
    Lock l = make_lock(c.get(), "foo", lock_options(10000));  // slot 12182
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_ECONN);
    CHECK_THAT(redlock_last_error(), Contains("no cluster node serves slot 12182"));
    CHECK(seconds_since(t0) >= 0.9);
    CHECK(seconds_since(t0) < 3.0);
    CHECK(slot_maps.load() <= 15);
    CHECK(node.connections() - before <= 15);
}

namespace {
// A cluster node of one: every slot its own (or, with `master_port`, another's), the lock's commands done right.
std::string one_range(int master_port) {
    return "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:" + std::to_string(master_port) + "\r\n";
}
}  // namespace

TEST_CASE("Cluster, hostile or odd nodes: stale maps, failed map reads, ASK loops, a silent seed without a timeout",
          "[cluster]") {
    MiniRedis redis;
    int good_port = 0;
    FakeServer good([&](const std::vector<std::string> &argv) -> FakeServer::Answer {
        if (argv.size() == 2 && argv[0] == "CLUSTER") return one_range(good_port);
        return redis(argv);
    });
    good_port = good.port();

    // A node whose map names a master that is gone (cut off from the cluster bus): asked last once that master
    // cannot be reached, so the node with the right map is asked.
    const int dead = unused_port();
    FakeServer stale([&](const std::vector<std::string> &argv) -> FakeServer::Answer {
        if (argv.size() == 2 && argv[0] == "CLUSTER") return one_range(dead);
        return std::string("-ERR not here\r\n");
    });
    auto o = quick_options();
    o.command_timeout_ms = 2000;
    {
        Client c = make_client("redis+cluster://127.0.0.1:" + std::to_string(stale.port()) + ",127.0.0.1:" +
                                   std::to_string(good_port),
                               &o);
        Lock l = make_lock(c.get(), "odd:stale-map", lock_options(10000));
        CHECK(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        INFO(redlock_last_error());
        CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
    }

    // Map reads that fail are rate limited as much as those that succeed.
    std::atomic<int> reads{0};
    FakeServer failing([&](const std::vector<std::string> &argv) -> FakeServer::Answer {
        if (argv.size() == 2 && argv[0] == "CLUSTER") {
            ++reads;
            return std::string("-ERR no map today\r\n");
        }
        return std::string("-CLUSTERDOWN The cluster is down\r\n");
    });
    {
        o.command_timeout_ms = 1000;
        Client c = make_client("redis+cluster://127.0.0.1:" + std::to_string(failing.port()), &o);
        Lock l = make_lock(c.get(), "odd:failing", lock_options(10000));
        CHECK(redlock_lock_acquire(l.get()) != REDLOCK_OK);
        CHECK(reads.load() <= 15);  // about one per 100 ms of the 1 s timeout
    }

    // A node that answers every command with ASK (to itself): the command still ends at its timeout.
    int ask_port = 0;
    FakeServer asker([&](const std::vector<std::string> &argv) -> FakeServer::Answer {
        if (argv.size() == 2 && argv[0] == "CLUSTER") return one_range(ask_port);
        if (argv[0] == "ASKING") return std::string("+OK\r\n");
        FakeServer::Answer a("-ASK 0 127.0.0.1:" + std::to_string(ask_port) + "\r\n");
        a.delay_ms = 100;
        return a;
    });
    ask_port = asker.port();
    {
        Client c = make_client("redis+cluster://127.0.0.1:" + std::to_string(ask_port), &o);
        Lock l = make_lock(c.get(), "odd:ask-loop", lock_options(10000));
        const auto t0 = std::chrono::steady_clock::now();
        CHECK(redlock_lock_acquire(l.get()) != REDLOCK_OK);
        CHECK(seconds_since(t0) < 4.0);  // one timeout, then the outcome check's; not 100 hops of it
    }

    // No command timeout at all: a silent first seed (it accepts, never answers) still leaves the next one asked.
    int silent_port = 0;
    const int silent = listen_loopback(silent_port);
    {
        o.command_timeout_ms = -1;
        Client c = make_client("redis+cluster://127.0.0.1:" + std::to_string(silent_port) + ",127.0.0.1:" +
                                   std::to_string(good_port),
                               &o);
        Lock l = make_lock(c.get(), "odd:silent-seed", lock_options(10000));
        const auto t0 = std::chrono::steady_clock::now();
        CHECK(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        CHECK(seconds_since(t0) < 8.0);  // the silent one's 5 s, then the good one
        CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
    }
    ::close(silent);
}

// Wake-on-release: waiters are woken by a libredlock release (in any process) instead of their next poll; they
// still poll within `sleep` (redis-py's releases publish nothing), never sleep past the holder's expiry, and fall
// back to polling when the subscriber connection is lost.
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <sstream>
#include <thread>
#include <vector>

#include "support/handles.hpp"

using namespace testing;
using namespace std::chrono_literals;

namespace {
// CLOCK_MONOTONIC is one clock for every process of the machine: times taken in two processes compare.
double monotonic_now() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
int pubsub_clients(const RedisServer &s) {
    std::istringstream in(s.admin({"CLIENT", "LIST", "TYPE", "pubsub"}).str);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) n += line.rfind("id=", 0) == 0;
    return n;
}
}  // namespace

TEST_CASE("a release in another process wakes the waiter at once, long before its next poll", "[waiting][timing]") {
    auto &s = default_server();
    int to_parent[2], to_child[2];
    REQUIRE(::pipe(to_parent) == 0);
    REQUIRE(::pipe(to_child) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {  // the holder: its own client, acquires, tells the parent, releases when told
        ::close(to_parent[0]);
        ::close(to_child[1]);
        redlock_client *c = nullptr;
        redlock_lock *l = nullptr;
        auto o = lock_options(30000);
        if (redlock_client_new(&c, s.url().c_str(), nullptr) != REDLOCK_OK ||
            redlock_lock_new(&l, c, "wait:process", &o, 0) != REDLOCK_OK || redlock_lock_acquire(l) != REDLOCK_OK)
            ::_exit(1);
        char b = 'h';
        (void)!::write(to_parent[1], &b, 1);
        (void)!::read(to_child[0], &b, 1);
        double at = monotonic_now();
        if (redlock_lock_release(l) != REDLOCK_OK) ::_exit(2);
        (void)!::write(to_parent[1], &at, sizeof at);
        redlock_lock_free(l);
        redlock_client_free(c);
        ::_exit(0);
    }
    ::close(to_parent[1]);
    ::close(to_child[0]);
    char b;
    REQUIRE(::read(to_parent[0], &b, 1) == 1);
    auto c = make_client(s.url());
    auto waiter = make_lock(c.get(), "wait:process", lock_options(30000, 10000));  // polls every 10 s
    std::thread release_later([&] {
        std::this_thread::sleep_for(300ms);  // the waiter is subscribed and waiting by then
        (void)!::write(to_child[1], "r", 1);
    });
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(redlock_lock_acquire(waiter.get()) == REDLOCK_OK);
    const double got_at = monotonic_now();
    release_later.join();
    double released_at = 0;
    REQUIRE(::read(to_parent[0], &released_at, sizeof released_at) == sizeof released_at);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(seconds_since(t0) < 2.0);       // not the 10 s poll
    CHECK(got_at - released_at < 0.25);   // a wake-up, not a poll (generous: sanitizers, 2 cores)
    CHECK(redlock_lock_release(waiter.get()) == REDLOCK_OK);
}

TEST_CASE("8 waiting threads share one subscriber connection, closed when nothing waits", "[waiting][timing]") {
    RedisServer s;
    auto c = make_client(s.url());
    auto holder = make_lock(c.get(), "wait:shared", lock_options(30000), REDLOCK_SHARED);
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    std::atomic<int> got{0};
    std::vector<std::thread> threads;
    std::vector<Lock> waiters;
    for (int i = 0; i < 8; ++i) waiters.push_back(make_lock(c.get(), "wait:shared", lock_options(30000, 5000)));
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&, i] {
            if (redlock_lock_acquire(waiters[i].get()) == REDLOCK_OK) {
                ++got;
                redlock_lock_release(waiters[i].get());
            }
        });
    CHECK(eventually([&] { return pubsub_clients(s) == 1; }, 2000ms));
    std::this_thread::sleep_for(200ms);
    CHECK(pubsub_clients(s) == 1);
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(redlock_lock_release(holder.get()) == REDLOCK_OK);
    for (auto &t : threads) t.join();
    CHECK(got == 8);
    CHECK(seconds_since(t0) < 3.0);  // each release woke the next: no 5 s polls
    CHECK(eventually([&] { return pubsub_clients(s) == 0; }, 5000ms));  // idle: closed
}

TEST_CASE("a killed subscriber connection falls back to polling, then wakes again", "[waiting][timing]") {
    RedisServer s;
    auto c = make_client(s.url());
    auto holder = make_lock(c.get(), "wait:killed", lock_options(30000), REDLOCK_SHARED);
    auto waiter = make_lock(c.get(), "wait:killed", lock_options(30000, 400), REDLOCK_SHARED);
    for (int round = 0; round < 2; ++round) {
        INFO(round);
        REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
        std::atomic<int> rc{99};
        std::thread t([&] { rc = redlock_lock_acquire(waiter.get()); });
        REQUIRE(eventually([&] { return pubsub_clients(s) == 1; }, 2000ms));
        if (round == 0) {
            s.admin({"CLIENT", "KILL", "TYPE", "pubsub"});  // the waiter polls from now on
            std::this_thread::sleep_for(100ms);
        }
        const auto t0 = std::chrono::steady_clock::now();
        REQUIRE(redlock_lock_release(holder.get()) == REDLOCK_OK);
        t.join();
        CHECK(rc == REDLOCK_OK);
        // Round 0: found by a poll, within `sleep`. Round 1: a new subscriber was opened and wakes it.
        CHECK(seconds_since(t0) < (round == 0 ? 0.4 + 0.5 : 0.25));
        CHECK(redlock_lock_release(waiter.get()) == REDLOCK_OK);
        if (round == 0) std::this_thread::sleep_for(1100ms);  // the pause before a new subscriber after a failure
    }
}

TEST_CASE("a release that publishes nothing (redis-py's) is noticed within sleep, an expiry on time",
          "[waiting][timing]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto waiter = make_lock(c.get(), "wait:silent", lock_options(30000, 300));
    SECTION("deleted without a message, as redis-py's release does") {
        s.admin({"SET", "wait:silent", "redis-py-token", "PX", "30000"});
        std::thread t([&] {
            std::this_thread::sleep_for(500ms);
            s.admin({"DEL", "wait:silent"});
        });
        const auto t0 = std::chrono::steady_clock::now();
        CHECK(redlock_lock_acquire(waiter.get()) == REDLOCK_OK);
        t.join();
        CHECK(seconds_since(t0) < 0.5 + 0.3 + 0.3);  // the release, at most one sleep, margin
    }
    SECTION("a holder that expires: the waiter comes back at its PTTL, not at its 10 s sleep") {
        auto patient = make_lock(c.get(), "wait:silent", lock_options(30000, 10000));
        s.admin({"SET", "wait:silent", "crashed-holder", "PX", "600"});
        const auto t0 = std::chrono::steady_clock::now();
        CHECK(redlock_lock_acquire(patient.get()) == REDLOCK_OK);
        CHECK(seconds_since(t0) >= 0.5);
        CHECK(seconds_since(t0) < 1.5);
        CHECK(redlock_lock_release(patient.get()) == REDLOCK_OK);
        return;
    }
    CHECK(redlock_lock_release(waiter.get()) == REDLOCK_OK);
}

TEST_CASE("without permission for the channels, release still works and waiters poll", "[waiting][timing]") {
    RedisServer s;
    // Redis 7 users start with no channel permissions (acl-pubsub-default resetchannels).
    REQUIRE(s.admin({"ACL", "SETUSER", "nochan", "on", ">pw", "~*", "+@all", "resetchannels"}).str == "OK");
    auto c = make_client("redis://nochan:pw@127.0.0.1:" + std::to_string(s.port()));
    auto holder = make_lock(c.get(), "wait:acl", lock_options(30000), REDLOCK_SHARED);
    auto waiter = make_lock(c.get(), "wait:acl", lock_options(30000, 200), REDLOCK_SHARED);
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    std::atomic<int> rc{99};
    std::thread t([&] { rc = redlock_lock_acquire(waiter.get()); });
    std::this_thread::sleep_for(300ms);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(redlock_lock_release(holder.get()) == REDLOCK_OK);  // its PUBLISH is refused, inside the script
    t.join();
    CHECK(rc == REDLOCK_OK);
    CHECK(seconds_since(t0) < 0.2 + 0.4);
    CHECK(redlock_lock_release(waiter.get()) == REDLOCK_OK);
}

TEST_CASE("a fork()ed child waits with a subscriber of its own", "[waiting][timing][fork]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto holder = make_lock(c.get(), "wait:fork", lock_options(30000), REDLOCK_SHARED);
    auto waiter = make_lock(c.get(), "wait:fork", lock_options(30000, 10000, 1, 5000));
    // The parent has waited once (its subscriber exists) before the fork.
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    std::thread release_soon([&] {
        std::this_thread::sleep_for(200ms);
        redlock_lock_release(holder.get());
    });
    REQUIRE(redlock_lock_acquire(waiter.get()) == REDLOCK_OK);
    release_soon.join();
    REQUIRE(redlock_lock_release(waiter.get()) == REDLOCK_OK);
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        const double t0 = monotonic_now();
        const int rc = redlock_lock_acquire(waiter.get());  // woken by the parent's release below, not a 10 s poll
        const double waited = monotonic_now() - t0;
        ::_exit(rc == REDLOCK_OK && waited < 2.0 ? 0 : 1);
    }
    std::this_thread::sleep_for(500ms);
    CHECK(redlock_lock_release(holder.get()) == REDLOCK_OK);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    s.admin({"DEL", "wait:fork"});
}

TEST_CASE("acquire called in a loop of short waits (as bindings slice them) asks once per call and still wakes",
          "[waiting][timing]") {
    RedisServer s;
    auto c = make_client(s.url());
    auto holder = make_lock(c.get(), "wait:sliced", lock_options(30000), REDLOCK_SHARED);
    auto waiter = make_lock(c.get(), "wait:sliced", lock_options(30000, 10000));
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    redlock_acquire_options a;
    redlock_acquire_options_init(&a);
    a.set = REDLOCK_ACQ_BLOCKING_TIMEOUT;
    a.blocking_timeout_ms = 50;
    CHECK(redlock_lock_acquire_ex(waiter.get(), &a) == REDLOCK_NOT_ACQUIRED);  // subscribes
    auto set_calls = [&] {
        const std::string info = s.admin({"INFO", "commandstats"}).str;
        const size_t at = info.find("cmdstat_set:calls=");
        return at == std::string::npos ? 0LL : std::stoll(info.substr(at + 18));
    };
    const long long before = set_calls();
    for (int i = 0; i < 10; ++i) CHECK(redlock_lock_acquire_ex(waiter.get(), &a) == REDLOCK_NOT_ACQUIRED);
    CHECK(set_calls() - before == 10);  // the lingering subscription covers each call: no second attempt
    std::thread release_later([&] {
        std::this_thread::sleep_for(120ms);
        redlock_lock_release(holder.get());
    });
    const auto t0 = std::chrono::steady_clock::now();
    int rc;
    while ((rc = redlock_lock_acquire_ex(waiter.get(), &a)) == REDLOCK_NOT_ACQUIRED) {
    }
    release_later.join();
    CHECK(rc == REDLOCK_OK);
    CHECK(seconds_since(t0) < 0.12 + 0.1);
    CHECK(redlock_lock_release(waiter.get()) == REDLOCK_OK);
}

TEST_CASE("a huge message on the release channel is read through, and the subscriber keeps waking", "[waiting][timing]") {
    RedisServer s;
    auto c = make_client(s.url());
    auto holder = make_lock(c.get(), "wait:huge", lock_options(30000), REDLOCK_SHARED);
    auto waiter = make_lock(c.get(), "wait:huge", lock_options(30000, 5000), REDLOCK_SHARED);
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    std::atomic<int> rc{99};
    std::thread t([&] { rc = redlock_lock_acquire(waiter.get()); });
    REQUIRE(eventually([&] { return pubsub_clients(s) == 1; }, 2000ms));
    // Anyone allowed to publish there can: 2 MB (a spurious wake-up, not a broken subscriber).
    s.admin({"PUBLISH", "redlock:released:0:wait:huge", std::string(2 << 20, 'x')});
    std::this_thread::sleep_for(200ms);
    CHECK(pubsub_clients(s) == 1);
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(redlock_lock_release(holder.get()) == REDLOCK_OK);
    t.join();
    CHECK(rc == REDLOCK_OK);
    CHECK(seconds_since(t0) < 0.5);  // woken, not the 5 s poll
    CHECK(redlock_lock_release(waiter.get()) == REDLOCK_OK);
}

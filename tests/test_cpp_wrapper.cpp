// include/redlock/redlock.hpp: the header-only C++ wrapper, against a real redis-server.
#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "redlock/redlock.hpp"
#include "support/redis_server.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using testing::default_server;

TEST_CASE("C++: std::lock_guard and std::unique_lock hold the key for the scope", "[cpp]") {
    auto &s = default_server();
    redlock::Client client(s.url());
    client.ping();
    redlock::Lock lock(client, "cpp:guard", redlock::LockOptions{}.timeout(10s));
    {
        std::lock_guard<redlock::Lock> g(lock);
        CHECK(s.admin({"GET", "cpp:guard"}).str == lock.token().value());
        CHECK(lock.owned());
    }
    CHECK(s.admin({"EXISTS", "cpp:guard"}).integer == 0);
    CHECK(redlock::Lock::unlock_code() == REDLOCK_OK);
    {
        std::unique_lock<redlock::Lock> u(lock, std::try_to_lock);
        CHECK(u.owns_lock());
        redlock::Lock other(client, "cpp:guard", redlock::LockOptions{}.timeout(10s));
        CHECK_FALSE(other.try_lock());
        CHECK_FALSE(other.try_lock_for(100ms));
        u.unlock();
        CHECK(other.try_lock_for(100ms));
        other.release();
    }
}

TEST_CASE("C++: errors are exceptions per code", "[cpp]") {
    auto &s = default_server();
    redlock::Client client(s.url());
    redlock::Lock lock(client, "cpp:errors", redlock::LockOptions{}.timeout(10s));
    CHECK_THROWS_AS(lock.release(), redlock::LockError);
    try {
        lock.extend(1s);
        FAIL("no exception");
    } catch (const redlock::LockError &e) {
        CHECK(e.code() == REDLOCK_ENOTHELD);
        CHECK(std::string(e.what()).find("unlocked") != std::string::npos);
    }
    REQUIRE(lock.acquire());
    s.admin({"SET", "cpp:errors", "someone-else"});
    CHECK_THROWS_AS(lock.release(), redlock::LockNotOwnedError);
    CHECK_FALSE(lock.token().has_value());

    redlock::Lock forever(client, "cpp:forever");
    REQUIRE(forever.acquire());
    CHECK_THROWS_AS(forever.reacquire(), redlock::LockError);
    forever.release();

    CHECK_THROWS_AS(redlock::Client("bogus://"), redlock::InvalidArgument);
    CHECK_THROWS_AS(redlock::Lock(client, ""), redlock::InvalidArgument);
    redlock::Client dead("redis://127.0.0.1:" + std::to_string(testing::unused_port()));
    CHECK_THROWS_AS(dead.ping(), redlock::ConnectionError);
    redlock::Lock dl(dead, "cpp:dead");
    CHECK_THROWS_AS(dl.locked(), redlock::ConnectionError);
}

TEST_CASE("C++: lock() throws LockError when the wait runs out - Guard releases and reports", "[cpp]") {
    auto &s = default_server();
    redlock::Client client(s.url());
    redlock::Lock holder(client, "cpp:busy", redlock::LockOptions{}.timeout(10s));
    REQUIRE(holder.acquire());
    redlock::Lock waiter(client, "cpp:busy", redlock::LockOptions{}.timeout(10s).blocking_timeout(150ms).sleep(20ms));
    CHECK_THROWS_AS(waiter.lock(), redlock::LockError);
    CHECK_THROWS_AS(redlock::Guard{waiter}, redlock::LockError);
    redlock::Guard maybe(waiter, std::try_to_lock);
    CHECK_FALSE(maybe);
    holder.release();
    {
        redlock::Guard g(waiter);
        CHECK(g.owns_lock());
        CHECK(waiter.owned());
        s.admin({"DEL", "cpp:busy"});
        CHECK_THROWS_AS(g.release(), redlock::LockNotOwnedError);
        CHECK_FALSE(g.owns_lock());
    }
    {
        redlock::Guard g(waiter);
        s.admin({"SET", "cpp:busy", "stolen"});
    }  // the destructor's release fails quietly; the code is kept for this thread
    CHECK(redlock::Lock::unlock_code() == REDLOCK_ENOTOWNED);
    CHECK(redlock::Lock::unlock_error().find("no longer owned") != std::string::npos);
}

TEST_CASE("C++: shared vs thread-local tokens, extend and a caller token", "[cpp]") {
    auto &s = default_server();
    redlock::Client client(s.url(), redlock::ClientOptions{}.max_connections(4).command_timeout(2s));
    redlock::Lock shared(client, "cpp:shared", redlock::LockOptions{}.timeout(10s).thread_local_tokens(false));
    redlock::Lock local(client, "cpp:local", redlock::LockOptions{}.timeout(10s));
    REQUIRE(shared.acquire(redlock::AcquireArgs{std::nullopt, std::nullopt, std::nullopt, std::string("tok-1")}));
    REQUIRE(local.acquire());
    int shared_rc = -100, local_rc = -100;
    std::thread([&] {
        shared_rc = redlock_lock_release(shared.native());
        local_rc = redlock_lock_release(local.native());
    }).join();
    CHECK(shared_rc == REDLOCK_OK);
    CHECK(local_rc == REDLOCK_ENOTHELD);
    local.extend(10s);
    CHECK(s.admin({"PTTL", "cpp:local"}).integer > 16000);
    local.extend(5s, true);
    CHECK(s.admin({"PTTL", "cpp:local"}).integer <= 5000);
    local.release();
}

TEST_CASE("C++: chrono extremes saturate - try_lock_for with a huge wait waits, a negative one tries once", "[cpp]") {
    auto &s = default_server();
    redlock::Client client(s.url());
    redlock::Lock holder(client, "cpp:extremes", redlock::LockOptions{}.timeout(10s).thread_local_tokens(false));
    redlock::Lock waiter(client, "cpp:extremes", redlock::LockOptions{}.timeout(10s).sleep(20ms));
    CHECK_THROWS_AS(redlock::Lock(client, "x", redlock::LockOptions{}.timeout(std::chrono::hours::max())),
                    redlock::InvalidArgument);
    CHECK_THROWS_AS(redlock::Lock(client, "x", redlock::LockOptions{}.sleep(std::chrono::hours::min())),
                    redlock::InvalidArgument);
    CHECK_THROWS_AS(redlock::Lock(client, "x", redlock::LockOptions{}.timeout(std::chrono::duration<double>(NAN))),
                    redlock::InvalidArgument);
    holder.lock();
    auto t0 = std::chrono::steady_clock::now();
    CHECK_FALSE(waiter.try_lock_for(-1ms));
    CHECK_FALSE(waiter.try_lock_for(std::chrono::hours::min()));
    CHECK_FALSE(waiter.try_lock_until(std::chrono::steady_clock::time_point::min()));
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);  // each was one attempt, not "forever"
    CHECK_THROWS_AS(holder.extend(std::chrono::hours::max()), redlock::InvalidArgument);
    std::thread releaser([&] {
        std::this_thread::sleep_for(300ms);
        holder.release();
    });
    CHECK(waiter.try_lock_for(std::chrono::hours::max()));  // waits (no overflow into "give up now")
    releaser.join();
    waiter.release();
    CHECK(waiter.try_lock_until(std::chrono::steady_clock::time_point::max()));
    waiter.release();
}

TEST_CASE("C++: fencing locks hand out increasing fences", "[cpp][fencing]") {
    auto &s = default_server();
    redlock::Client client(s.url());
    redlock::Lock a(client, "cpp:fence", redlock::LockOptions{}.timeout(10s).fencing(true));
    CHECK_FALSE(a.fence().has_value());
    a.lock();
    const uint64_t first = a.fence().value();
    a.unlock();
    a.lock();
    CHECK(a.fence().value() > first);
    a.unlock();
    redlock::Lock plain(client, "cpp:plain", redlock::LockOptions{}.timeout(10s));
    CHECK_THROWS_AS(plain.fence(), redlock::InvalidArgument);
}

TEST_CASE("C++: auto_renew keeps a lock past its TTL, and on_lost fires when the key is taken away", "[cpp][renewal]") {
    auto &s = default_server();
    redlock::Client client(s.url());
    std::mutex mu;
    std::condition_variable cv;
    int reason = 0;
    auto opts = redlock::LockOptions{}.timeout(300ms).auto_renew(true).on_lost([&](int r) {
        std::lock_guard<std::mutex> lk(mu);
        reason = r;
        cv.notify_all();
    });
    redlock::Lock moved_from(client, "cpp:renew", opts);
    redlock::Lock a(std::move(moved_from));  // the callback's home moves with the lock
    a.lock();
    std::this_thread::sleep_for(1s);  // more than three TTLs
    CHECK(a.owned());
    s.admin({"DEL", "cpp:renew"});
    {
        std::unique_lock<std::mutex> lk(mu);
        CHECK(cv.wait_for(lk, 2s, [&] { return reason != 0; }));
    }
    CHECK(reason == REDLOCK_ENOTOWNED);
    CHECK_FALSE(a.owned());
    CHECK_THROWS_AS(a.release(), redlock::LockNotOwnedError);
    CHECK_THROWS_AS(redlock::Lock(client, "cpp:renew", redlock::LockOptions{}.auto_renew(true)),
                    redlock::InvalidArgument);  // no TTL to renew
}

TEST_CASE("C++: fair locks serve waiters in order, with fencing too", "[cpp][fair]") {
    auto &s = default_server();
    redlock::Client client(s.url());
    redlock::Lock holder(client, "cpp:fair", redlock::LockOptions{}.timeout(30s).fair(true).thread_local_tokens(false));
    holder.lock();
    std::mutex mu;
    std::vector<int> order;
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) {
        threads.emplace_back([&, i] {
            redlock::Lock l(client, "cpp:fair", redlock::LockOptions{}.timeout(30s).fair(true));
            std::lock_guard<redlock::Lock> g(l);
            std::lock_guard<std::mutex> lk(mu);
            order.push_back(i);
        });
        for (int k = 0; k < 100 && s.admin({"ZCARD", "{cpp:fair}:queue"}).integer < i + 1; ++k)
            std::this_thread::sleep_for(10ms);
    }
    holder.unlock();
    for (auto &t : threads) t.join();
    CHECK(order == std::vector<int>{0, 1, 2});
    redlock::Lock fenced(client, "cpp:fair", redlock::LockOptions{}.timeout(30s).fair(true).fencing(true));
    fenced.lock();
    CHECK(fenced.fence().value() > 0);
    fenced.unlock();
    CHECK_THROWS_AS(redlock::Lock(client, "cpp:fair{", redlock::LockOptions{}.fair(true)), redlock::InvalidArgument);
}

TEST_CASE("C++: a quorum client over three masters, with validity and per-master outcomes", "[cpp][quorum]") {
    testing::RedisServer a, b, c;
    auto client = redlock::Client::quorum({a.url(), b.url(), c.url()},
                                          redlock::ClientOptions{}.command_timeout(1s).connect_timeout(1s));
    redlock::Lock lock(client, "cpp:quorum", redlock::LockOptions{}.timeout(5s));
    CHECK_FALSE(lock.validity().has_value());
    {
        std::lock_guard<redlock::Lock> g(lock);
        CHECK(lock.validity().value() > 4s);
        CHECK(lock.validity().value() <= 5s - 52ms);
        CHECK(redlock::Client::quorum_outcomes().size() == 3);
    }
    const std::vector<int> released = redlock::Client::quorum_outcomes();  // the release: a majority at least
    CHECK(std::count(released.begin(), released.end(), REDLOCK_OK) >= 2);
    c.kill();
    b.kill();
    CHECK_THROWS_AS(lock.try_lock(), redlock::ConnectionError);
    CHECK_THROWS_AS(redlock::Client::quorum({a.url(), a.url()}), redlock::InvalidArgument);
    redlock::Client single(a.url());
    redlock::Lock forever(single, "cpp:forever");
    std::lock_guard<redlock::Lock> g(forever);
    CHECK(forever.validity() == redlock::Millis::max());
}

TEST_CASE("C++: status() and release_token() for operators", "[cpp]") {
    auto &s = default_server();
    redlock::Client client(s.url());
    redlock::Lock owner(client, "cpp:status", redlock::LockOptions{}.timeout(10s));
    redlock::Lock op(client, "cpp:status");
    CHECK_FALSE(op.status().held);
    REQUIRE(owner.acquire());
    redlock::Lock::Status st = op.status();
    CHECK(st.held);
    CHECK(st.value == owner.token().value());
    CHECK(st.value_bytes == 32);
    REQUIRE(st.ttl.has_value());
    CHECK(st.ttl->count() > 9000);
    CHECK_THROWS_AS(op.release_token("not-it"), redlock::LockNotOwnedError);
    op.release_token(st.value);
    CHECK(s.admin({"EXISTS", "cpp:status"}).integer == 0);
    s.admin({"SET", "cpp:status", "forever"});
    st = op.status();
    CHECK((st.held && !st.ttl && st.value == "forever"));
    s.admin({"DEL", "cpp:status"});
}

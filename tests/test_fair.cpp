// Fair mode: waiters get the lock in the order they asked, across threads and processes; a waiter that gives up or
// dies leaves the queue.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "support/handles.hpp"

using namespace testing;
using namespace std::chrono_literals;

namespace {
redlock_lock_options fair_options(int64_t ttl_ms, int64_t sleep_ms = 100, int64_t blocking_timeout_ms = -1) {
    auto o = lock_options(ttl_ms, sleep_ms, 1, blocking_timeout_ms);
    o.fair = 1;
    return o;
}
long long queued(const RedisServer &s, const std::string &name) { return s.admin({"ZCARD", "{" + name + "}:queue"}).integer; }

}  // namespace

TEST_CASE("fair: waiters get the lock in the order they asked", "[fair][timing]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto holder = make_lock(c.get(), "fair:order", fair_options(30000), REDLOCK_SHARED);
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    std::mutex mu;
    std::vector<int> order;
    std::vector<Lock> locks;
    std::vector<std::thread> threads;
    for (int i = 0; i < 5; ++i) locks.push_back(make_lock(c.get(), "fair:order", fair_options(30000, 50)));
    for (int i = 0; i < 5; ++i) {
        threads.emplace_back([&, i] {
            if (redlock_lock_acquire(locks[i].get()) != REDLOCK_OK) return;
            {
                std::lock_guard<std::mutex> lk(mu);
                order.push_back(i);
            }
            std::this_thread::sleep_for(20ms);
            redlock_lock_release(locks[i].get());
        });
        // Each has queued before the next starts (its first attempt is its place in the queue).
        for (int k = 0; k < 100 && queued(s, "fair:order") < i + 1; ++k) std::this_thread::sleep_for(5ms);
    }
    REQUIRE(queued(s, "fair:order") == 5);
    REQUIRE(redlock_lock_release(holder.get()) == REDLOCK_OK);
    for (auto &t : threads) t.join();
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
    CHECK(queued(s, "fair:order") == 0);  // the queue key is gone once empty
}

TEST_CASE("fair: the queue holds across processes, and a non-blocking try does not jump it", "[fair][timing][fork]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto holder = make_lock(c.get(), "fair:procs", fair_options(30000), REDLOCK_SHARED);
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    int done[2];
    REQUIRE(::pipe(done) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {  // the first waiter, in another process: holds 300 ms, then tells the parent
        ::close(done[0]);
        redlock_client *cc = nullptr;
        redlock_lock *l = nullptr;
        auto o = fair_options(30000, 50);
        if (redlock_client_new(&cc, s.url().c_str(), nullptr) != REDLOCK_OK ||
            redlock_lock_new(&l, cc, "fair:procs", &o, 0) != REDLOCK_OK || redlock_lock_acquire(l) != REDLOCK_OK)
            ::_exit(1);
        ::usleep(300000);
        char b = 'x';
        (void)!::write(done[1], &b, 1);
        ::_exit(redlock_lock_release(l) == REDLOCK_OK ? 0 : 2);
    }
    ::close(done[1]);
    for (int k = 0; k < 200 && queued(s, "fair:procs") < 1; ++k) std::this_thread::sleep_for(5ms);
    REQUIRE(queued(s, "fair:procs") == 1);
    auto second = make_lock(c.get(), "fair:procs", fair_options(30000, 50), REDLOCK_SHARED);
    std::atomic<double> second_got{0};
    const auto t0 = std::chrono::steady_clock::now();
    std::thread t([&] {
        if (redlock_lock_acquire(second.get()) == REDLOCK_OK) second_got = seconds_since(t0);
    });
    for (int k = 0; k < 200 && queued(s, "fair:procs") < 2; ++k) std::this_thread::sleep_for(5ms);
    REQUIRE(redlock_lock_release(holder.get()) == REDLOCK_OK);
    // The key is free, but the child is first in the queue: a non-blocking try must not take it.
    redlock_lock_options o = fair_options(30000, 50);
    o.blocking = 0;
    auto polite = make_lock(c.get(), "fair:procs", o);
    CHECK(redlock_lock_acquire(polite.get()) == REDLOCK_NOT_ACQUIRED);
    char b;
    CHECK(::read(done[0], &b, 1) == 1);  // the child held it
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WEXITSTATUS(status) == 0);
    t.join();
    CHECK(second_got.load() >= 0.3);  // after the child's 300 ms, though it asked while the key was free
    CHECK(redlock_lock_release(second.get()) == REDLOCK_OK);
}

TEST_CASE("fair: a waiter that gives up leaves the queue, one that dies is dropped", "[fair][timing][fork]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto holder = make_lock(c.get(), "fair:leave", fair_options(30000), REDLOCK_SHARED);
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    // Gives up after 200 ms: out of the queue at once.
    auto impatient = make_lock(c.get(), "fair:leave", fair_options(30000, 50, 200));
    CHECK(redlock_lock_acquire(impatient.get()) == REDLOCK_NOT_ACQUIRED);
    CHECK(queued(s, "fair:leave") == 0);
    // Queues up, then is killed: dropped once its heartbeat runs out (2 x sleep + its command timeout + 1 s).
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        redlock_client *cc = nullptr;
        redlock_lock *l = nullptr;
        auto o = fair_options(30000, 100);
        redlock_client_options co;
        redlock_client_options_init(&co);
        co.command_timeout_ms = 500;
        if (redlock_client_new(&cc, s.url().c_str(), &co) == REDLOCK_OK &&
            redlock_lock_new(&l, cc, "fair:leave", &o, 0) == REDLOCK_OK)
            (void)redlock_lock_acquire(l);
        ::_exit(1);
    }
    for (int k = 0; k < 200 && queued(s, "fair:leave") < 1; ++k) std::this_thread::sleep_for(5ms);
    REQUIRE(queued(s, "fair:leave") == 1);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    auto next = make_lock(c.get(), "fair:leave", fair_options(30000, 100), REDLOCK_SHARED);
    std::atomic<int> rc{99};
    const auto t0 = std::chrono::steady_clock::now();
    std::thread t([&] { rc = redlock_lock_acquire(next.get()); });
    std::this_thread::sleep_for(100ms);
    REQUIRE(redlock_lock_release(holder.get()) == REDLOCK_OK);
    t.join();
    CHECK(rc == REDLOCK_OK);
    CHECK(seconds_since(t0) < 1.7 + 1.0);  // the dead waiter's heartbeat ran out; then it was this one's turn
    CHECK(redlock_lock_release(next.get()) == REDLOCK_OK);
}

TEST_CASE("fair: 8 threads on one lock take turns", "[fair][timing]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    std::vector<Lock> locks;
    for (int i = 0; i < 8; ++i) locks.push_back(make_lock(c.get(), "fair:turns", fair_options(30000)));
    std::vector<int> grants(8, 0);
    std::atomic<bool> stop{false};
    std::atomic<int> overlaps{0}, holders{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&, i] {
            while (!stop) {
                if (redlock_lock_acquire(locks[i].get()) != REDLOCK_OK) continue;
                if (++holders != 1) ++overlaps;
                ++grants[i];
                std::this_thread::sleep_for(2ms);
                --holders;
                redlock_lock_release(locks[i].get());
            }
        });
    std::this_thread::sleep_for(1500ms);
    stop = true;
    for (auto &t : threads) t.join();
    const auto [mn, mx] = std::minmax_element(grants.begin(), grants.end());
    INFO("min " << *mn << " max " << *mx);
    CHECK(overlaps == 0);
    CHECK(*mn >= 10);
    CHECK(*mx - *mn <= 3);  // FIFO: each thread waits behind the seven others
}

TEST_CASE("fair with fencing: turns in order, each with a higher fence - and names without a usable hash tag are refused",
          "[fair]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto o = fair_options(30000, 50);
    o.fencing = 1;
    auto holder = make_lock(c.get(), "fair:fenced", o, REDLOCK_SHARED);
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    uint64_t last = 0;
    REQUIRE(redlock_lock_fence(holder.get(), &last) == REDLOCK_OK);
    std::mutex mu;
    std::vector<std::pair<int, uint64_t>> got;
    std::vector<Lock> locks;
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) locks.push_back(make_lock(c.get(), "fair:fenced", o));
    for (int i = 0; i < 3; ++i) {
        threads.emplace_back([&, i] {
            if (redlock_lock_acquire(locks[i].get()) != REDLOCK_OK) return;
            uint64_t f = 0;
            redlock_lock_fence(locks[i].get(), &f);
            {
                std::lock_guard<std::mutex> lk(mu);
                got.emplace_back(i, f);
            }
            redlock_lock_release(locks[i].get());
        });
        for (int k = 0; k < 100 && queued(s, "fair:fenced") < i + 1; ++k) std::this_thread::sleep_for(5ms);
    }
    REQUIRE(redlock_lock_release(holder.get()) == REDLOCK_OK);
    for (auto &t : threads) t.join();
    REQUIRE(got.size() == 3);
    for (int i = 0; i < 3; ++i) {
        CHECK(got[i].first == i);
        CHECK(got[i].second > last);
        last = got[i].second;
    }
    redlock_lock *l = nullptr;
    CHECK(redlock_lock_new(&l, c.get(), "fair{", &o, 0) == REDLOCK_EINVAL);
    CHECK(l == nullptr);
    CHECK(std::string(redlock_last_error()).find("hash tag") != std::string::npos);
}

TEST_CASE("fair: 'foo' and '{foo}' are two locks with two queues", "[fair][timing]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto tagged = make_lock(c.get(), "{fair:same}", fair_options(30000), REDLOCK_SHARED);
    REQUIRE(redlock_lock_acquire(tagged.get()) == REDLOCK_OK);
    auto waiter = make_lock(c.get(), "{fair:same}", fair_options(30000, 50, 3000), REDLOCK_SHARED);
    std::thread t([&] { (void)redlock_lock_acquire(waiter.get()); });  // queued behind the holder of "{fair:same}"
    for (int k = 0; k < 100 && s.admin({"ZCARD", "{fair:same}::queue"}).integer < 1; ++k)
        std::this_thread::sleep_for(10ms);
    REQUIRE(s.admin({"ZCARD", "{fair:same}::queue"}).integer == 1);
    auto plain = make_lock(c.get(), "fair:same", fair_options(30000, 50, 1000));
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(redlock_lock_acquire(plain.get()) == REDLOCK_OK);  // a free lock with an empty queue of its own
    CHECK(seconds_since(t0) < 0.5);
    CHECK(redlock_lock_release(plain.get()) == REDLOCK_OK);
    CHECK(redlock_lock_release(tagged.get()) == REDLOCK_OK);
    t.join();
    CHECK(redlock_lock_release(waiter.get()) == REDLOCK_OK);
}

TEST_CASE("fair: REDLOCK_ACQ_STAY_QUEUED keeps a sliced wait's place, REDLOCK_ACQ_LEAVE_QUEUE gives it up",
          "[fair][timing]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto holder = make_lock(c.get(), "fair:slices", fair_options(30000), REDLOCK_SHARED);
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    auto waiter = make_lock(c.get(), "fair:slices", fair_options(30000, 50));
    redlock_acquire_options a;
    redlock_acquire_options_init(&a);
    a.set = REDLOCK_ACQ_BLOCKING_TIMEOUT | REDLOCK_ACQ_STAY_QUEUED;
    a.blocking_timeout_ms = 100;
    a.token = "my-wait";
    a.token_len = 7;
    CHECK(redlock_lock_acquire_ex(waiter.get(), &a) == REDLOCK_NOT_ACQUIRED);
    CHECK(queued(s, "fair:slices") == 1);  // still queued between the calls
    CHECK(redlock_lock_acquire_ex(waiter.get(), &a) == REDLOCK_NOT_ACQUIRED);
    CHECK(queued(s, "fair:slices") == 1);  // the same place (the same token), not a second one
    a.set = REDLOCK_ACQ_LEAVE_QUEUE;
    CHECK(redlock_lock_acquire_ex(waiter.get(), &a) == REDLOCK_NOT_ACQUIRED);
    CHECK(queued(s, "fair:slices") == 0);
    a.token = nullptr;
    a.token_len = 0;
    CHECK(redlock_lock_acquire_ex(waiter.get(), &a) == REDLOCK_EINVAL);  // leaving needs the token that waited
    CHECK(std::string(redlock_last_error()).find("token") != std::string::npos);
    CHECK(redlock_lock_release(holder.get()) == REDLOCK_OK);
}

// The seed: who can release what, with per-thread and shared token state.
#include <thread>

#include "support/handles.hpp"

using namespace testing;

namespace {
template <typename F>
int in_other_thread(F f) {
    int rc = 0;
    std::thread t([&] { rc = f(); });
    t.join();
    return rc;
}
}  // namespace

TEST_CASE("experiment 1: two SHARED handles never share a token", "[seed]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto a = make_lock(c.get(), "seed:exp1", lock_options(10000), REDLOCK_SHARED);
    auto b = make_lock(c.get(), "seed:exp1", lock_options(10000), REDLOCK_SHARED);
    REQUIRE(in_other_thread([&] { return redlock_lock_acquire(a.get()); }) == REDLOCK_OK);
    CHECK(in_other_thread([&] { return redlock_lock_release(b.get()); }) == REDLOCK_ENOTHELD);
    CHECK(redlock_lock_locked(a.get()) == 1);
    CHECK(redlock_lock_owned(b.get()) == 0);
    CHECK(redlock_lock_owned(a.get()) == 1);
    CHECK(redlock_lock_release(a.get()) == REDLOCK_OK);
}

TEST_CASE("experiment 2: one SHARED handle: thread 2 releases what thread 1 acquired", "[seed]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "seed:exp2", lock_options(10000), REDLOCK_SHARED);
    REQUIRE(in_other_thread([&] { return redlock_lock_acquire(l.get()); }) == REDLOCK_OK);
    CHECK(in_other_thread([&] { return redlock_lock_owned(l.get()); }) == 1);
    CHECK(in_other_thread([&] { return redlock_lock_extend(l.get(), 1000, 0); }) == REDLOCK_OK);
    CHECK(in_other_thread([&] { return redlock_lock_release(l.get()); }) == REDLOCK_OK);
    CHECK(s.admin({"EXISTS", "seed:exp2"}).integer == 0);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTHELD);  // the shared token is gone for everyone
}

TEST_CASE("experiment 3 (the default): one THREAD_LOCAL handle: thread 2 cannot release", "[seed]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    redlock_lock *raw = nullptr;
    auto o = lock_options(10000);
    REQUIRE(redlock_lock_new(&raw, c.get(), "seed:exp3", &o, 0) == REDLOCK_OK);  // 0 is REDLOCK_THREAD_LOCAL
    Lock l(raw);
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    CHECK(in_other_thread([&] { return redlock_lock_release(l.get()); }) == REDLOCK_ENOTHELD);
    CHECK(in_other_thread([&] { return redlock_lock_owned(l.get()); }) == 0);
    CHECK(in_other_thread([&] { return redlock_lock_locked(l.get()); }) == 1);
    CHECK(in_other_thread([&] { return redlock_lock_extend(l.get(), 1000, 0); }) == REDLOCK_ENOTHELD);
    CHECK(in_other_thread([&] { return redlock_lock_reacquire(l.get()); }) == REDLOCK_ENOTHELD);
    CHECK(in_other_thread([&] {
              size_t n;
              return redlock_lock_token(l.get(), nullptr, 0, &n);
          }) == REDLOCK_ENOTHELD);
    CHECK(s.admin({"EXISTS", "seed:exp3"}).integer == 1);  // still held
    CHECK(redlock_lock_owned(l.get()) == 1);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("THREAD_LOCAL: each thread of one handle has its own token", "[seed]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "seed:own-token", lock_options(10000, 10));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    std::string mine = token_of(l.get());
    // Thread 2 waits (not reentrant for it either), gets the lock after we release, and has a different token.
    std::string theirs;
    std::thread t([&] {
        if (redlock_lock_acquire(l.get()) == REDLOCK_OK) {
            theirs = token_or_empty(l.get());
            redlock_lock_release(l.get());
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
    t.join();
    CHECK(!theirs.empty());
    CHECK(theirs != mine);
}

TEST_CASE("THREAD_LOCAL: thread 1's slot survives thread 2's acquire of the same handle after expiry", "[seed]") {
    // redis-py's motivating timeline: thread 1's lock expires, thread 2 takes it; thread 1 must not release it.
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "seed:timeline", lock_options(500, 10));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    std::this_thread::sleep_for(std::chrono::milliseconds(650));  // expired
    std::string t2_token;
    std::thread t2([&] {
        if (redlock_lock_acquire(l.get()) == REDLOCK_OK) t2_token = token_or_empty(l.get());
    });
    t2.join();
    REQUIRE(!t2_token.empty());
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTOWNED);  // thread 1's stale token, not thread 2's
    CHECK(s.admin({"GET", "seed:timeline"}).str == t2_token);
}

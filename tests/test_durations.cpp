// Every duration of every struct and call at the extremes: each either means "forever" / "no limit" or is EINVAL
// naming the limit, as redlock.h says per field. Nothing overflows (the sanitizer builds run this too).
#include <chrono>
#include <cstdint>
#include <limits>
#include <thread>

#include "support/handles.hpp"

using namespace testing;
using Catch::Matchers::Contains;

namespace {
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t k2p53 = int64_t(1) << 53;
const int64_t kExtremes[] = {kMax, kMin, k2p53, REDLOCK_MAX_DURATION_MS + 1};


// Holds `name` from another handle and releases it after `ms`, so a waiter can prove it waited.
struct HeldThenReleased {
    Lock holder;
    std::thread releaser;
    HeldThenReleased(redlock_client *c, const std::string &name, int ms)
        : holder(make_lock(c, name, lock_options(30000), REDLOCK_SHARED)) {
        REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
        releaser = std::thread([this, ms] {
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
            redlock_lock_release(holder.get());
        });
    }
    ~HeldThenReleased() { releaser.join(); }
};
}  // namespace

TEST_CASE("client timeouts: negative or above the limit mean no limit, in options and in the URL", "[durations]") {
    auto &s = default_server();
    for (int64_t v : kExtremes) {
        INFO(v);
        redlock_client_options o;
        redlock_client_options_init(&o);
        o.connect_timeout_ms = v;
        o.command_timeout_ms = v;
        auto c = make_client(s.url(), &o);
        CHECK(redlock_client_ping(c.get()) == REDLOCK_OK);
        INFO(redlock_last_error());
        const std::string url = s.url() + "?connect_timeout=" + std::to_string(v) + "&command_timeout=" + std::to_string(v);
        auto cu = make_client(url);
        CHECK(redlock_client_ping(cu.get()) == REDLOCK_OK);
    }
}

TEST_CASE("keepalive_s outside 0..32767 is EINVAL", "[durations]") {
    for (int64_t v : kExtremes) {
        redlock_client_options o;
        redlock_client_options_init(&o);
        o.keepalive_s = v;
        redlock_client *c = nullptr;
        CHECK(redlock_client_new(&c, "redis://127.0.0.1", &o) == REDLOCK_EINVAL);
        CHECK_THAT(redlock_last_error(), Contains("keepalive_s"));
        CHECK(c == nullptr);
    }
}

TEST_CASE("lock timeout_ms and sleep_ms: EINVAL beyond REDLOCK_MAX_DURATION_MS, the limit itself works", "[durations]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    for (int64_t v : kExtremes) {
        INFO(v);
        redlock_lock *l = nullptr;
        auto o = lock_options(v);
        CHECK(redlock_lock_new(&l, c.get(), "dur:ttl", &o, 0) == REDLOCK_EINVAL);
        CHECK_THAT(redlock_last_error(), Contains("timeout_ms") && Contains("REDLOCK_MAX_DURATION_MS"));
        o = lock_options(1000, v);
        CHECK(redlock_lock_new(&l, c.get(), "dur:ttl", &o, 0) == REDLOCK_EINVAL);
        CHECK_THAT(redlock_last_error(), Contains("sleep_ms") && Contains("REDLOCK_MAX_DURATION_MS"));
        CHECK(l == nullptr);
    }
    auto l = make_lock(c.get(), "dur:ttl", lock_options(REDLOCK_MAX_DURATION_MS, REDLOCK_MAX_DURATION_MS));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    CHECK(pttl(s, "dur:ttl") > REDLOCK_MAX_DURATION_MS - 60000);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("blocking_timeout_ms at the extremes waits until the lock is free", "[durations][timing]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    for (int64_t v : kExtremes) {
        INFO(v);
        HeldThenReleased busy(c.get(), "dur:wait", 300);
        auto l = make_lock(c.get(), "dur:wait", lock_options(10000, 20, 1, v));
        auto t0 = std::chrono::steady_clock::now();
        CHECK(redlock_lock_acquire(l.get()) == REDLOCK_OK);  // not NOT_ACQUIRED at once
        CHECK(seconds_since(t0) >= 0.25);
        CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
    }
    for (int64_t v : kExtremes) {  // the same through redlock_acquire_options
        INFO(v);
        HeldThenReleased busy(c.get(), "dur:wait-ex", 300);
        auto l = make_lock(c.get(), "dur:wait-ex", lock_options(10000, 20, 1, 0));
        redlock_acquire_options a;
        redlock_acquire_options_init(&a);
        a.set = REDLOCK_ACQ_BLOCKING_TIMEOUT;
        a.blocking_timeout_ms = v;
        auto t0 = std::chrono::steady_clock::now();
        CHECK(redlock_lock_acquire_ex(l.get(), &a) == REDLOCK_OK);
        CHECK(seconds_since(t0) >= 0.25);
        CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
    }
}

TEST_CASE("per-call sleep_ms: EINVAL beyond the limit - the limit with a short wait never sleeps past it",
          "[durations][timing]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto holder = make_lock(c.get(), "dur:sleep", lock_options(10000));
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    auto l = make_lock(c.get(), "dur:sleep", lock_options(10000));
    for (int64_t v : kExtremes) {
        INFO(v);
        redlock_acquire_options a;
        redlock_acquire_options_init(&a);
        a.set = REDLOCK_ACQ_SLEEP;
        a.sleep_ms = v;
        CHECK(redlock_lock_acquire_ex(l.get(), &a) == REDLOCK_EINVAL);
        CHECK_THAT(redlock_last_error(), Contains("sleep_ms") && Contains("REDLOCK_MAX_DURATION_MS"));
    }
    redlock_acquire_options a;
    redlock_acquire_options_init(&a);
    a.set = REDLOCK_ACQ_SLEEP | REDLOCK_ACQ_BLOCKING_TIMEOUT;
    a.sleep_ms = REDLOCK_MAX_DURATION_MS;
    a.blocking_timeout_ms = 500;
    auto t0 = std::chrono::steady_clock::now();
    CHECK(redlock_lock_acquire_ex(l.get(), &a) == REDLOCK_NOT_ACQUIRED);
    CHECK(seconds_since(t0) < 2.0);
    CHECK(redlock_lock_release(holder.get()) == REDLOCK_OK);
}

TEST_CASE("extend additional_ms: EINVAL beyond the limit and the TTL untouched - the limit itself works", "[durations]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "dur:extend", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    for (int64_t v : kExtremes) {
        for (int replace : {0, 1}) {
            INFO(v << " replace=" << replace);
            CHECK(redlock_lock_extend(l.get(), v, replace) == REDLOCK_EINVAL);
            CHECK_THAT(redlock_last_error(), Contains("additional_ms") || Contains("> 0"));
        }
    }
    CHECK(pttl(s, "dur:extend") <= 10000);
    CHECK(redlock_lock_extend(l.get(), REDLOCK_MAX_DURATION_MS, 1) == REDLOCK_OK);
    CHECK(pttl(s, "dur:extend") > REDLOCK_MAX_DURATION_MS - 60000);
    CHECK(redlock_lock_extend(l.get(), 1000, 0) == REDLOCK_OK);
    // added time piles up past the clock's range: the validity saturates (UBSan checks for overflow)
    for (int i = 0; i < 12; ++i) CHECK(redlock_lock_extend(l.get(), REDLOCK_MAX_DURATION_MS, 0) == REDLOCK_OK);
    int64_t left = 0;
    CHECK(redlock_lock_validity(l.get(), &left) == REDLOCK_OK);
    CHECK(left > REDLOCK_MAX_DURATION_MS);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

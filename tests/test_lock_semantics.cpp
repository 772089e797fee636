// redis-py's own lock test list, through the C API, against a real redis-server.
#include <chrono>
#include <thread>

#include "support/handles.hpp"

using namespace testing;
using Catch::Matchers::Contains;

namespace {
long long set_calls(const RedisServer &s) {
    std::string stats = s.admin({"INFO", "commandstats"}).str;
    size_t at = stats.find("cmdstat_set:calls=");
    return at == std::string::npos ? 0 : std::stoll(stats.substr(at + 18));
}
}  // namespace

TEST_CASE("lock without timeout: key holds the token with no TTL, release deletes it", "[semantics]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    for (unsigned flags : {REDLOCK_THREAD_LOCAL, REDLOCK_SHARED}) {
        auto l = make_lock(c.get(), "sem:no-timeout", lock_options(), flags);
        REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        CHECK(s.admin({"GET", "sem:no-timeout"}).str == token_of(l.get()));
        CHECK(pttl(s, "sem:no-timeout") == -1);
        REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
        CHECK(s.admin({"EXISTS", "sem:no-timeout"}).integer == 0);
    }
}

TEST_CASE("generated tokens are 32 hex chars and differ each acquire", "[semantics]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "sem:tokens", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    std::string t1 = token_of(l.get());
    REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    std::string t2 = token_of(l.get());
    REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
    CHECK(t1.size() == 32);
    CHECK(t1.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(t1 != t2);
}

TEST_CASE("a caller-supplied token is stored verbatim", "[semantics]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    for (unsigned flags : {REDLOCK_THREAD_LOCAL, REDLOCK_SHARED}) {
        auto l = make_lock(c.get(), "sem:token", lock_options(), flags);
        const std::string tok("my-token\0with-nul", 17);
        redlock_acquire_options a;
        redlock_acquire_options_init(&a);
        a.token = tok.data();
        a.token_len = tok.size();
        REQUIRE(redlock_lock_acquire_ex(l.get(), &a) == REDLOCK_OK);
        CHECK(s.admin({"GET", "sem:token"}).str == tok);
        CHECK(token_of(l.get()) == tok);
        CHECK(redlock_lock_owned(l.get()) == 1);
        REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
    }
}

TEST_CASE("locked and owned across acquire and release - one owner among two handles", "[semantics]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto a = make_lock(c.get(), "sem:owned", lock_options(10000));
    auto b = make_lock(c.get(), "sem:owned", lock_options(10000));
    CHECK(redlock_lock_locked(a.get()) == 0);
    CHECK(redlock_lock_owned(a.get()) == 0);
    REQUIRE(redlock_lock_acquire(a.get()) == REDLOCK_OK);
    CHECK(redlock_lock_locked(a.get()) == 1);
    CHECK(redlock_lock_owned(a.get()) == 1);
    CHECK(redlock_lock_locked(b.get()) == 1);
    CHECK(redlock_lock_owned(b.get()) == 0);
    REQUIRE(redlock_lock_release(a.get()) == REDLOCK_OK);
    CHECK(redlock_lock_locked(a.get()) == 0);
    CHECK(redlock_lock_owned(a.get()) == 0);
}

TEST_CASE("competing non-blocking acquires alternate", "[semantics]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto a = make_lock(c.get(), "sem:compete", lock_options(0, 100, 0));
    auto b = make_lock(c.get(), "sem:compete", lock_options(0, 100, 0));
    REQUIRE(redlock_lock_acquire(a.get()) == REDLOCK_OK);
    CHECK(redlock_lock_acquire(b.get()) == REDLOCK_NOT_ACQUIRED);
    CHECK(redlock_lock_acquire(a.get()) == REDLOCK_NOT_ACQUIRED);  // not reentrant
    REQUIRE(redlock_lock_release(a.get()) == REDLOCK_OK);
    CHECK(redlock_lock_acquire(b.get()) == REDLOCK_OK);
    CHECK(redlock_lock_acquire(a.get()) == REDLOCK_NOT_ACQUIRED);
    REQUIRE(redlock_lock_release(b.get()) == REDLOCK_OK);
}

TEST_CASE("timeout sets the TTL: 10 s and 9.5 s", "[semantics]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "sem:ttl", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    long long t = pttl(s, "sem:ttl");
    CHECK(t > 8000);
    CHECK(t <= 10000);
    REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);

    auto f = make_lock(c.get(), "sem:ttl-float", lock_options(9500));
    REQUIRE(redlock_lock_acquire(f.get()) == REDLOCK_OK);
    t = pttl(s, "sem:ttl-float");
    CHECK(t > 8000);
    CHECK(t <= 9500);
    REQUIRE(redlock_lock_release(f.get()) == REDLOCK_OK);
}

TEST_CASE("blocking_timeout 400 ms with sleep 50 ms gives up after about 0.4 s", "[semantics][timing]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto holder = make_lock(c.get(), "sem:bt", lock_options(10000));
    auto waiter = make_lock(c.get(), "sem:bt", lock_options(10000, 50, 1, 400));
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    auto sets_before = set_calls(s);
    auto t0 = std::chrono::steady_clock::now();
    CHECK(redlock_lock_acquire(waiter.get()) == REDLOCK_NOT_ACQUIRED);
    double took = seconds_since(t0);
    long long attempts = set_calls(s) - sets_before;
    CHECK(took >= 0.35);  // 8 sleeps of 50 ms: never less
    CHECK(took < 2.0);    // generous: a loaded machine
    CHECK(attempts <= 9);  // the first try and one after each of at most 8 sleeps: never a sleep past the deadline
    CHECK(attempts >= 2);  // it did wait and retry
    REQUIRE(redlock_lock_release(holder.get()) == REDLOCK_OK);
}

TEST_CASE("blocking_timeout 0 is exactly one attempt - a sleep longer than the wait polls no more, but hears a release", "[semantics]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto holder = make_lock(c.get(), "sem:bt0", lock_options(10000), REDLOCK_SHARED);  // released by a thread
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    auto once = make_lock(c.get(), "sem:bt0", lock_options(10000, 100, 1, 0));
    auto sets_before = set_calls(s);
    auto t0 = std::chrono::steady_clock::now();
    CHECK(redlock_lock_acquire(once.get()) == REDLOCK_NOT_ACQUIRED);
    CHECK(seconds_since(t0) < 0.09);
    CHECK(set_calls(s) - sets_before == 1);
    // redis-py gives up at once when its next poll would come after the deadline. Here the wait until the deadline
    // still listens for a release: no release, NOT_ACQUIRED at the deadline (not after the 10 s sleep) ...
    auto high_sleep = make_lock(c.get(), "sem:bt0", lock_options(10000, 10000, 1, 600));
    t0 = std::chrono::steady_clock::now();
    CHECK(redlock_lock_acquire(high_sleep.get()) == REDLOCK_NOT_ACQUIRED);
    CHECK(seconds_since(t0) >= 0.55);
    CHECK(seconds_since(t0) < 1.5);
    // ... and a release within it is taken at once.
    int released = 1;
    std::thread releaser([&] {  // (Catch2's macros stay on this thread)
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        released = redlock_lock_release(holder.get());
    });
    t0 = std::chrono::steady_clock::now();
    CHECK(redlock_lock_acquire(high_sleep.get()) == REDLOCK_OK);
    CHECK(seconds_since(t0) < 0.5);
    releaser.join();
    CHECK(released == REDLOCK_OK);
    CHECK(redlock_lock_release(high_sleep.get()) == REDLOCK_OK);
}

TEST_CASE("per-call acquire overrides blocking, blocking_timeout and sleep", "[semantics][timing]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto holder = make_lock(c.get(), "sem:override", lock_options(10000), REDLOCK_SHARED);  // released by a thread
    auto other = make_lock(c.get(), "sem:override", lock_options(10000));  // defaults: block forever
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    redlock_acquire_options a;
    redlock_acquire_options_init(&a);
    a.set = REDLOCK_ACQ_BLOCKING_TIMEOUT | REDLOCK_ACQ_SLEEP;
    a.blocking_timeout_ms = 200;
    a.sleep_ms = 20;
    auto t0 = std::chrono::steady_clock::now();
    CHECK(redlock_lock_acquire_ex(other.get(), &a) == REDLOCK_NOT_ACQUIRED);
    double took = seconds_since(t0);
    CHECK(took >= 0.15);
    CHECK(took < 2.0);
    a.set = REDLOCK_ACQ_BLOCKING;
    a.blocking = 0;
    t0 = std::chrono::steady_clock::now();
    CHECK(redlock_lock_acquire_ex(other.get(), &a) == REDLOCK_NOT_ACQUIRED);
    CHECK(seconds_since(t0) < 0.5);

    // A blocked acquire succeeds once the holder releases.
    int released = -100;
    std::thread releaser([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        released = redlock_lock_release(holder.get());
    });
    a.set = REDLOCK_ACQ_SLEEP;
    a.sleep_ms = 10;
    CHECK(redlock_lock_acquire_ex(other.get(), &a) == REDLOCK_OK);
    releaser.join();
    CHECK(released == REDLOCK_OK);
    CHECK(redlock_lock_release(other.get()) == REDLOCK_OK);
}

TEST_CASE("releasing an unlocked lock is ENOTHELD", "[semantics]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "sem:unlocked", lock_options());
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTHELD);
    CHECK_THAT(redlock_last_error(), Contains("unlocked"));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTHELD);  // release twice
}

TEST_CASE("releasing after the key was overwritten is ENOTOWNED and clears the token", "[semantics]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "sem:overwritten", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    s.admin({"SET", "sem:overwritten", "someone-else"});
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTOWNED);
    CHECK_THAT(redlock_last_error(), Contains("no longer owned"));
    size_t needed = 0;
    CHECK(redlock_lock_token(l.get(), nullptr, 0, &needed) == REDLOCK_ENOTHELD);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTHELD);
    CHECK(s.admin({"GET", "sem:overwritten"}).str == "someone-else");  // not ours: untouched
}

TEST_CASE("extend adds to the TTL, or replaces it", "[semantics]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "sem:extend", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    REQUIRE(redlock_lock_extend(l.get(), 10000, 0) == REDLOCK_OK);
    long long t = pttl(s, "sem:extend");
    CHECK(t > 16000);
    CHECK(t <= 20000);
    REQUIRE(redlock_lock_extend(l.get(), 10000, 1) == REDLOCK_OK);
    t = pttl(s, "sem:extend");
    CHECK(t > 8000);
    CHECK(t <= 10000);
    REQUIRE(redlock_lock_extend(l.get(), 9500, 1) == REDLOCK_OK);  // redis-py's float extend, 9.5 s
    t = pttl(s, "sem:extend");
    CHECK(t > 8000);
    CHECK(t <= 9500);
    REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("extend errors in redis-py's order", "[semantics]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "sem:extend-err", lock_options(10000));
    CHECK(redlock_lock_extend(l.get(), 10000, 0) == REDLOCK_ENOTHELD);
    CHECK_THAT(redlock_last_error(), Contains("Cannot extend an unlocked lock"));

    auto forever = make_lock(c.get(), "sem:extend-forever", lock_options(0));
    REQUIRE(redlock_lock_acquire(forever.get()) == REDLOCK_OK);
    CHECK(redlock_lock_extend(forever.get(), 10000, 0) == REDLOCK_ENOTTL);
    CHECK_THAT(redlock_last_error(), Contains("no timeout"));
    CHECK(redlock_lock_release(forever.get()) == REDLOCK_OK);  // release still works

    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    s.admin({"SET", "sem:extend-err", "someone-else"});
    CHECK(redlock_lock_extend(l.get(), 10000, 0) == REDLOCK_ENOTOWNED);
    CHECK_THAT(redlock_last_error(), Contains("no longer owned"));
}

TEST_CASE("extend after expiry is ENOTOWNED", "[semantics]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "sem:expired", lock_options(50));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    CHECK(redlock_lock_extend(l.get(), 1000, 0) == REDLOCK_ENOTOWNED);
    CHECK(redlock_lock_reacquire(l.get()) == REDLOCK_ENOTOWNED);
    CHECK(redlock_lock_owned(l.get()) == 0);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTOWNED);
}

TEST_CASE("reacquire restores the TTL to the timeout", "[semantics]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "sem:reacquire", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    s.admin({"PEXPIRE", "sem:reacquire", "5000"});
    CHECK(pttl(s, "sem:reacquire") <= 5000);
    REQUIRE(redlock_lock_reacquire(l.get()) == REDLOCK_OK);
    long long t = pttl(s, "sem:reacquire");
    CHECK(t > 8000);
    CHECK(t <= 10000);
    REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("reacquire errors: unlocked, no timeout, overwritten", "[semantics]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "sem:reacq-err", lock_options(10000));
    CHECK(redlock_lock_reacquire(l.get()) == REDLOCK_ENOTHELD);
    auto forever = make_lock(c.get(), "sem:reacq-forever", lock_options(0));
    REQUIRE(redlock_lock_acquire(forever.get()) == REDLOCK_OK);
    CHECK(redlock_lock_reacquire(forever.get()) == REDLOCK_ENOTTL);
    REQUIRE(redlock_lock_release(forever.get()) == REDLOCK_OK);
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    s.admin({"SET", "sem:reacq-err", "someone-else"});
    CHECK(redlock_lock_reacquire(l.get()) == REDLOCK_ENOTOWNED);
}

TEST_CASE("extend of a key without TTL fails - a key that lost its TTL cannot be extended", "[semantics]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "sem:persist", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    s.admin({"PERSIST", "sem:persist"});
    CHECK(redlock_lock_extend(l.get(), 1000, 0) == REDLOCK_ENOTOWNED);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("the token can be read to hand to another client, and another handle can release with it", "[semantics]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto a = make_lock(c.get(), "sem:handoff", lock_options(10000));
    REQUIRE(redlock_lock_acquire(a.get()) == REDLOCK_OK);
    size_t needed = 0;
    REQUIRE(redlock_lock_token(a.get(), nullptr, 0, &needed) == REDLOCK_OK);
    CHECK(needed == 33);
    char small[8];
    CHECK(redlock_lock_token(a.get(), small, sizeof small, &needed) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("too small"));
    std::string tok = token_of(a.get());
    // Another handle cannot acquire with the holder's token: SET NX refuses whatever the value.
    auto b = make_lock(c.get(), "sem:handoff", lock_options(10000, 100, 0));
    redlock_acquire_options o;
    redlock_acquire_options_init(&o);
    o.token = tok.data();
    o.token_len = tok.size();
    CHECK(redlock_lock_acquire_ex(b.get(), &o) == REDLOCK_NOT_ACQUIRED);
    REQUIRE(redlock_lock_release(a.get()) == REDLOCK_OK);
}

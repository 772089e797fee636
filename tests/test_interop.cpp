// libredlock and redis-py 4.3.4 (Debian's python3-redis) exclude each other on the same name.
#include <atomic>
#include <thread>

#include "support/handles.hpp"

using namespace testing;

namespace {
std::string py(const RedisServer &s, const std::string &args) {
    int status = -1;
    std::string out = run_capture("/usr/bin/python3 " REDLOCK_TEST_SOURCE_DIR "/interop/redis_py_peer.py " +
                                      std::to_string(s.port()) + " " + args,
                                  &status);
    INFO(out);
    REQUIRE(status == 0);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}
}  // namespace

TEST_CASE("a lock held by libredlock blocks redis-py, and redis-py releases it with our token", "[interop]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "interop:ours", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    CHECK(py(s, "try-acquire interop:ours") == "busy");
    std::string tok = token_of(l.get());
    CHECK(py(s, "extend-with-token interop:ours " + tok) == "extended");
    CHECK(pttl(s, "interop:ours") > 20000);  // redis-py's extend script ran on our key
    CHECK(py(s, "release-with-token interop:ours " + tok) == "released");
    CHECK(redlock_lock_locked(l.get()) == 0);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTOWNED);
}

TEST_CASE("a lock held by redis-py blocks libredlock until redis-py releases it", "[interop]") {
    auto &s = default_server();
    std::string out = py(s, "try-acquire interop:theirs");
    REQUIRE(out.rfind("acquired ", 0) == 0);
    std::string their_token = out.substr(9);
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "interop:theirs", lock_options(10000, 100, 0));
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_NOT_ACQUIRED);
    CHECK(redlock_lock_locked(l.get()) == 1);
    CHECK(redlock_lock_owned(l.get()) == 0);
    CHECK(py(s, "release-with-token interop:theirs wrong-token") == "not-owned");
    CHECK(py(s, "release-with-token interop:theirs " + their_token) == "released");
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    CHECK(py(s, "try-acquire interop:theirs") == "busy");
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("a waiter notices redis-py's release within its sleep (redis-py publishes nothing)", "[interop][timing]") {
    auto &s = default_server();
    std::string out = py(s, "try-acquire interop:wait");
    REQUIRE(out.rfind("acquired ", 0) == 0);
    const std::string their_token = out.substr(9);
    auto c = make_client(s.url());
    auto waiter = make_lock(c.get(), "interop:wait", lock_options(10000, 300), REDLOCK_SHARED);
    std::atomic<int> rc{99};
    std::atomic<double> got_at{0};
    const auto t0 = std::chrono::steady_clock::now();
    std::thread t([&] {
        rc = redlock_lock_acquire(waiter.get());
        got_at = seconds_since(t0);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(py(s, "release-with-token interop:wait " + their_token) == "released");
    const double released_at = seconds_since(t0);
    t.join();
    CHECK(rc == REDLOCK_OK);
    CHECK(got_at.load() - released_at < 0.3 + 0.25);  // its next poll, at most one sleep later
    CHECK(redlock_lock_release(waiter.get()) == REDLOCK_OK);
}

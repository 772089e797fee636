// For operators (the redlock command): redlock_lock_status and redlock_lock_release_token against a real server.
#include <atomic>
#include <string>

#include "support/handles.hpp"

using namespace testing;
using Catch::Matchers::Contains;

namespace {
struct Status {
    int rc;
    int64_t ttl;
    std::string value;
    size_t len;
};
Status status_of(redlock_lock *l, size_t cap = REDLOCK_MAX_TOKEN_LEN + 1) {
    Status s{0, -99, std::string(), 12345};
    std::string buf(cap, 'X');
    s.rc = redlock_lock_status(l, &s.ttl, cap ? &buf[0] : nullptr, cap, &s.len);
    if (cap) s.value = buf.c_str();  // up to the NUL it wrote
    return s;
}
}  // namespace

TEST_CASE("status: free, held with its TTL and value, held without TTL", "[status]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto owner = make_lock(c.get(), "st:basic", lock_options(20000));
    auto observer = make_lock(c.get(), "st:basic", lock_options());  // another handle: token state plays no part
    Status st = status_of(observer.get());
    CHECK(st.rc == 0);
    CHECK(st.ttl == -2);
    CHECK(st.len == 0);
    CHECK(st.value.empty());
    REQUIRE(redlock_lock_acquire(owner.get()) == REDLOCK_OK);
    st = status_of(observer.get());
    CHECK(st.rc == 1);
    CHECK(st.ttl > 19000);
    CHECK(st.ttl <= 20000);
    CHECK(st.value == token_of(owner.get()));
    CHECK(st.len == 32);
    REQUIRE(redlock_lock_release(owner.get()) == REDLOCK_OK);
    s.admin({"SET", "st:basic", "forever"});
    st = status_of(observer.get());
    CHECK(st.rc == 1);
    CHECK(st.ttl == -1);
    CHECK(st.value == "forever");
    s.admin({"SET", "st:basic", ""});  // an empty value is a value: held (1), not "unknown" (2)
    st = status_of(observer.get());
    CHECK(st.rc == 1);
    CHECK(st.len == 0);
    s.admin({"DEL", "st:basic"});
}

TEST_CASE("status: library tokens are random UUIDs (version 4), told apart from redis-py's uuid1", "[status]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "st:uuid", lock_options(10000));
    for (int i = 0; i < 50; ++i) {
        REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        const std::string t = token_of(l.get());
        CHECK(t[12] == '4');
        CHECK(std::string("89ab").find(t[16]) != std::string::npos);
        REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
    }
}

TEST_CASE("status: big, binary and small buffers, a key that is not a string", "[status]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "st:odd", lock_options());
    std::string big(1 << 20, 'v');
    s.admin({"SET", "st:odd", big});
    Status st = status_of(l.get());
    CHECK(st.rc == 1);
    CHECK(st.len == big.size());
    CHECK(st.value.size() == REDLOCK_MAX_TOKEN_LEN);  // the first 4096 bytes only
    st = status_of(l.get(), 5);
    CHECK(st.value == "vvvv");  // truncated, NUL-terminated
    st = status_of(l.get(), 0);  // sizes only
    CHECK(st.rc == 1);
    CHECK(st.len == big.size());
    s.admin({"SET", "st:odd", std::string("a\0b", 3)});
    char buf[16];
    size_t len = 0;
    REQUIRE(redlock_lock_status(l.get(), nullptr, buf, sizeof buf, &len) == 1);
    CHECK(len == 3);
    CHECK(std::string(buf, 3) == std::string("a\0b", 3));
    s.admin({"DEL", "st:odd"});
    s.admin({"HSET", "st:odd", "f", "v"});
    CHECK(redlock_lock_status(l.get(), nullptr, nullptr, 0, nullptr) == REDLOCK_ESERVER);
    CHECK_THAT(redlock_last_error(), Contains("WRONGTYPE"));
    s.admin({"DEL", "st:odd"});
    CHECK(redlock_lock_status(nullptr, nullptr, nullptr, 0, nullptr) == REDLOCK_EINVAL);
    CHECK(redlock_lock_status(l.get(), nullptr, nullptr, 4, nullptr) == REDLOCK_EINVAL);
}

TEST_CASE("release_token: deletes only with the right token, wakes waiters, leaves the handle's own token", "[status]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto crashed = make_lock(c.get(), "st:recover", lock_options(60000), REDLOCK_SHARED);
    REQUIRE(redlock_lock_acquire(crashed.get()) == REDLOCK_OK);
    const std::string token = token_of(crashed.get());
    auto op = make_lock(c.get(), "st:recover", lock_options(60000));
    CHECK(redlock_lock_release_token(op.get(), "wrong", 5) == REDLOCK_ENOTOWNED);
    CHECK(value_on(s, "st:recover") == token);
    // A waiter (60 s of TTL left on the holder) wakes when the key is released by token.
    auto waiter = make_lock(c.get(), "st:recover", lock_options(10000, 5000, 1, 20000), REDLOCK_SHARED);
    std::atomic<int> got{99};
    const auto t0 = std::chrono::steady_clock::now();
    std::thread t([&] { got = redlock_lock_acquire(waiter.get()); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(redlock_lock_release_token(op.get(), token.data(), token.size()) == REDLOCK_OK);
    t.join();
    CHECK(got == REDLOCK_OK);
    CHECK(seconds_since(t0) < 3.0);  // woken, not after its 5 s sleep
    CHECK(redlock_lock_release_token(op.get(), token.data(), token.size()) == REDLOCK_ENOTOWNED);
    CHECK(redlock_lock_owned(op.get()) == 0);
    REQUIRE(redlock_lock_release(waiter.get()) == REDLOCK_OK);
    CHECK(redlock_lock_release_token(op.get(), "", 0) == REDLOCK_EINVAL);
    std::string huge(REDLOCK_MAX_TOKEN_LEN + 1, 't');
    CHECK(redlock_lock_release_token(op.get(), huge.data(), huge.size()) == REDLOCK_EINVAL);
    CHECK(redlock_lock_release_token(op.get(), nullptr, 3) == REDLOCK_EINVAL);
    CHECK(redlock_lock_release_token(op.get(), "x", SIZE_MAX) == REDLOCK_EINVAL);  // bounded before any copy
    CHECK(redlock_lock_release_token(nullptr, "x", 1) == REDLOCK_EINVAL);
    // The crashed handle still has its token: its release finds the key gone.
    CHECK(redlock_lock_release(crashed.get()) == REDLOCK_ENOTOWNED);
}

TEST_CASE("status and release_token on a dead server: connection errors", "[status]") {
    auto c = make_client("redis://127.0.0.1:1");
    auto l = make_lock(c.get(), "st:dead", lock_options());
    CHECK(redlock_lock_status(l.get(), nullptr, nullptr, 0, nullptr) == REDLOCK_ECONN);
    CHECK(redlock_lock_release_token(l.get(), "abc", 3) == REDLOCK_ECONN);
}

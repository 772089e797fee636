// Small owners for C API handles in tests; the API itself is called as users call it.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "redis_server.hpp"
#include "redlock/redlock.h"

namespace testing {

struct ClientDeleter {
    void operator()(redlock_client *c) const { redlock_client_free(c); }
};
struct LockDeleter {
    void operator()(redlock_lock *l) const { redlock_lock_free(l); }
};
using Client = std::unique_ptr<redlock_client, ClientDeleter>;
using Lock = std::unique_ptr<redlock_lock, LockDeleter>;

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Polls `cond` every 20 ms until it holds or `within` has passed; the last answer.
inline bool eventually(const std::function<bool()> &cond, std::chrono::milliseconds within) {
    const auto end = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < end) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return cond();
}

inline Client make_client(const std::string &url, const redlock_client_options *opts = nullptr) {
    redlock_client *c = nullptr;
    int rc = redlock_client_new(&c, url.c_str(), opts);
    INFO(redlock_last_error());
    REQUIRE(rc == REDLOCK_OK);
    return Client(c);
}

inline redlock_lock_options lock_options(int64_t timeout_ms = 0, int64_t sleep_ms = 100, int blocking = 1,
                                         int64_t blocking_timeout_ms = -1) {
    redlock_lock_options o;
    redlock_lock_options_init(&o);
    o.timeout_ms = timeout_ms;
    o.sleep_ms = sleep_ms;
    o.blocking = blocking;
    o.blocking_timeout_ms = blocking_timeout_ms;
    return o;
}

inline Lock make_lock(redlock_client *c, const std::string &name, const redlock_lock_options &o,
                      unsigned flags = REDLOCK_THREAD_LOCAL) {
    redlock_lock *l = nullptr;
    int rc = redlock_lock_new(&l, c, name.c_str(), &o, flags);
    INFO(redlock_last_error());
    REQUIRE(rc == REDLOCK_OK);
    return Lock(l);
}

inline std::string token_of(redlock_lock *l) {
    char buf[REDLOCK_MAX_TOKEN_LEN + 1];
    size_t needed = 0;
    int rc = redlock_lock_token(l, buf, sizeof buf, &needed);
    INFO(redlock_last_error());
    REQUIRE(rc == REDLOCK_OK);
    return std::string(buf, needed - 1);
}

// Catch2's assertion macros are not thread-safe: worker threads use these and report results to the main thread.
inline std::string token_or_empty(redlock_lock *l) {
    char buf[REDLOCK_MAX_TOKEN_LEN + 1];
    size_t needed = 0;
    if (redlock_lock_token(l, buf, sizeof buf, &needed) != REDLOCK_OK) return std::string();
    return std::string(buf, needed - 1);
}

inline Lock new_lock_or_null(redlock_client *c, const std::string &name, const redlock_lock_options &o,
                             unsigned flags = REDLOCK_THREAD_LOCAL) {
    redlock_lock *l = nullptr;
    redlock_lock_new(&l, c, name.c_str(), &o, flags);
    return Lock(l);
}

// One non-blocking attempt with the lock's other defaults.
inline int try_acquire(redlock_lock *l) {
    redlock_acquire_options a;
    redlock_acquire_options_init(&a);
    a.set = REDLOCK_ACQ_BLOCKING;
    a.blocking = 0;
    return redlock_lock_acquire_ex(l, &a);
}

inline long long pttl(const RedisServer &s, const std::string &key) { return s.admin({"PTTL", key}).integer; }

// The key's value on that server, as its admin connection reads it ("(nil)" when absent).
inline std::string value_on(const RedisServer &s, const std::string &key) {
    AdminReply r = s.admin({"GET", key});
    return r.is_nil() ? std::string("(nil)") : r.str;
}

inline redlock_client_options client_options(int64_t connect_ms, int64_t command_ms) {
    redlock_client_options o;
    redlock_client_options_init(&o);
    o.connect_timeout_ms = connect_ms;
    o.command_timeout_ms = command_ms;
    return o;
}

// A holder releases `name` 300 ms after a waiter (polling every 5 s) starts to wait: seconds until the waiter had
// it, so a wake-up by the release shows as well under 5; negative if a lock call failed.
inline double wake_seconds(redlock_client *c, const std::string &name) {
    Lock holder = make_lock(c, name, lock_options(60000), REDLOCK_SHARED);
    if (redlock_lock_acquire(holder.get()) != REDLOCK_OK) return -1;
    Lock waiter = make_lock(c, name, lock_options(60000, 5000, 1, 20000));
    std::thread releaser([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        redlock_lock_release(holder.get());
    });
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = redlock_lock_acquire(waiter.get());
    releaser.join();
    const double took = seconds_since(t0);
    return rc == REDLOCK_OK && redlock_lock_release(waiter.get()) == REDLOCK_OK ? took : -1;
}

}  // namespace testing

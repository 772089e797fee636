// Faults against real servers: unreachable, killed and restarted, slow, script cache flushed, auth, unix sockets.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <chrono>
#include <thread>
#include <vector>

#include <hiredis/hiredis.h>

#include "support/fault_proxy.hpp"
#include "support/handles.hpp"
#include "support/loopback.hpp"

using namespace testing;
using Catch::Matchers::Contains;

namespace {
bool eventually_exists(const RedisServer &s, const std::string &key) {
    for (int i = 0; i < 100; ++i) {
        if (s.admin({"EXISTS", key}).integer == 1) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}
}  // namespace

TEST_CASE("server unreachable: ECONN, promptly", "[faults]") {
    auto c = make_client("redis://127.0.0.1:" + std::to_string(unused_port()));
    auto l = make_lock(c.get(), "fault:unreachable", lock_options(1000));
    auto t0 = std::chrono::steady_clock::now();
    CHECK(redlock_client_ping(c.get()) == REDLOCK_ECONN);
    CHECK_THAT(redlock_last_error(), Contains("cannot connect"));
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_ECONN);
    CHECK_THAT(redlock_last_error(), Contains("cannot connect"));
    CHECK(redlock_lock_locked(l.get()) == REDLOCK_ECONN);
    CHECK(seconds_since(t0) < 2.0);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTHELD);  // nothing was stored
}

TEST_CASE("server that never accepts: ECONN within the connect timeout", "[faults][timing]") {
    BlackHole hole;
    auto co = client_options(300, 1000);
    auto c = make_client("redis://127.0.0.1:" + std::to_string(hole.port()), &co);
    auto l = make_lock(c.get(), "fault:blackhole", lock_options(1000));
    auto t0 = std::chrono::steady_clock::now();
    int rc = redlock_lock_acquire(l.get());
    double took = seconds_since(t0);
    CHECK(rc == REDLOCK_ECONN);
    INFO(redlock_last_error());
    CHECK(took >= 0.25);
    CHECK(took < 3.0);
}

TEST_CASE("server killed and restarted: errors, then recovery with no leaked state", "[faults]") {
    RedisServer s;
    auto co = client_options(1000, 1000);
    auto c = make_client(s.url(), &co);
    auto l = make_lock(c.get(), "fault:restart", lock_options(10000), REDLOCK_SHARED);
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    s.kill();
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ECONN);  // token kept: the release can be retried
    CHECK(redlock_lock_token(l.get(), nullptr, 0, nullptr) == REDLOCK_OK);
    CHECK(redlock_lock_locked(l.get()) == REDLOCK_ECONN);
    auto other = make_lock(c.get(), "fault:restart-2", lock_options(10000));
    CHECK(redlock_lock_acquire(other.get()) == REDLOCK_ECONN);
    s.restart();  // empty: no persistence
    CHECK(redlock_lock_locked(l.get()) == 0);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTOWNED);  // the retried release: the key is gone
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTHELD);
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    REQUIRE(redlock_lock_acquire(other.get()) == REDLOCK_OK);
    CHECK(redlock_lock_release(other.get()) == REDLOCK_OK);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("server restarted between uses: pooled connections are replaced without an error", "[faults]") {
    RedisServer s;
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "fault:stale", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
    s.restart();
    std::this_thread::sleep_for(std::chrono::milliseconds(150));  // idle long enough to be probed
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("a server slower than the command timeout: ETIMEDOUT, and no orphaned lock", "[faults][timing]") {
    RedisServer s;
    auto co = client_options(1000, 300);
    auto c = make_client(s.url(), &co);
    auto l = make_lock(c.get(), "fault:slow", lock_options(0));  // no TTL: an orphan would stay forever
    REQUIRE(redlock_lock_locked(l.get()) == 0);  // warm connection
    std::thread sleeper([&] { s.admin({"DEBUG", "SLEEP", "1.5"}); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto t0 = std::chrono::steady_clock::now();
    CHECK(redlock_lock_locked(l.get()) == REDLOCK_ETIMEDOUT);
    CHECK(seconds_since(t0) < 1.4);
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_ETIMEDOUT);
    CHECK_THAT(redlock_last_error(), Contains("could not be checked"));
    sleeper.join();
    // The SET may have run after the server woke up. The token was kept, so release settles it either way.
    int rel = redlock_lock_release(l.get());
    CHECK((rel == REDLOCK_OK || rel == REDLOCK_ENOTOWNED));
    CHECK(s.admin({"EXISTS", "fault:slow"}).integer == 0);
}

TEST_CASE("lost replies are settled by GET on a new connection, never guessed or resent", "[faults]") {
    auto &s = default_server();
    FaultProxy proxy(s.port());
    auto c = make_client(proxy.url());
    auto l = make_lock(c.get(), "fault:lost-reply", lock_options(10000));
    auto other = make_lock(c.get(), "fault:lost-reply", lock_options(10000, 100, 0));
    // Warm the script cache, so the cut requests below run their scripts rather than answer NOSCRIPT.
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    REQUIRE(redlock_lock_extend(l.get(), 1000, 0) == REDLOCK_OK);
    REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);

    // SET ran but its reply was lost: the check finds our token, so the acquire succeeds.
    proxy.add({"", FaultProxy::Fault::cut});
    int rc = redlock_lock_acquire(l.get());
    INFO(redlock_last_error());
    REQUIRE(proxy.idle());
    REQUIRE(rc == REDLOCK_OK);
    CHECK(s.admin({"GET", "fault:lost-reply"}).str == token_of(l.get()));

    // Extend ran but its reply was lost: still ours, TTL change unknown: an error that says so.
    proxy.add({"", FaultProxy::Fault::cut});
    CHECK(redlock_lock_extend(l.get(), 5000, 0) == REDLOCK_ECONN);
    CHECK_THAT(redlock_last_error(), Contains("still held by this owner"));

    // Release ran but its reply was lost: the key is gone, so the release succeeded.
    proxy.add({"", FaultProxy::Fault::cut});
    rc = redlock_lock_release(l.get());
    INFO(redlock_last_error());
    CHECK(rc == REDLOCK_OK);
    CHECK(s.admin({"EXISTS", "fault:lost-reply"}).integer == 0);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTHELD);

    // A SET that did not take (the lock was busy) and lost its reply is an error, not a false "not acquired", and
    // the token is kept (the check cannot prove the SET will not land later); releasing it is harmless.
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    proxy.add({"", FaultProxy::Fault::cut});
    CHECK(redlock_lock_acquire(other.get()) == REDLOCK_ECONN);
    CHECK_THAT(redlock_last_error(), Contains("not held by this owner") && Contains("token is kept"));
    CHECK(redlock_lock_release(other.get()) == REDLOCK_ENOTOWNED);
    CHECK(redlock_lock_owned(l.get()) == 1);  // the other owner's clean-up left ours alone
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("a late SET does not orphan the lock: the token is kept and release cleans up", "[faults][timing]") {
    auto &s = default_server();
    FaultProxy proxy(s.port());
    auto co = client_options(1000, 200);
    auto c = make_client(proxy.url(), &co);
    auto l = make_lock(c.get(), "fault:late-set", lock_options(0));  // no TTL: an orphan would be held forever
    // The SET reaches Redis 700 ms late: after the command timeout and after the GET check on a new connection.
    proxy.add({"SET", FaultProxy::Fault::delay_request, 700});
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_ETIMEDOUT);
    CHECK_THAT(redlock_last_error(), Contains("may still land") && Contains("token is kept"));
    CHECK(s.admin({"EXISTS", "fault:late-set"}).integer == 0);  // not yet
    std::string kept = token_of(l.get());
    for (int i = 0; i < 100 && s.admin({"EXISTS", "fault:late-set"}).integer == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE(s.admin({"GET", "fault:late-set"}).str == kept);  // it landed, holding our kept token
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);        // so release frees it
    CHECK(s.admin({"EXISTS", "fault:late-set"}).integer == 0);
}

TEST_CASE("a retried acquire reuses the kept token: a late SET that landed meanwhile makes it succeed", "[faults][timing]") {
    auto &s = default_server();
    FaultProxy proxy(s.port());
    auto co = client_options(1000, 100);
    auto c = make_client(proxy.url(), &co);
    auto l = make_lock(c.get(), "fault:retry-kept", lock_options(0));  // no TTL
    proxy.add({"SET", FaultProxy::Fault::delay_request, 300});
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_ETIMEDOUT);
    const std::string kept = token_of(l.get());
    for (int i = 0; i < 100 && s.admin({"EXISTS", "fault:retry-kept"}).integer == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE(s.admin({"GET", "fault:retry-kept"}).str == kept);  // the late SET landed
    // The retry does not make a new token (which would wait for, and then orphan, the kept one's key): it finds the
    // key holding its own token, so the lock is simply held.
    CHECK(try_acquire(l.get()) == REDLOCK_OK);
    CHECK(token_of(l.get()) == kept);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
    CHECK(s.admin({"EXISTS", "fault:retry-kept"}).integer == 0);
}

TEST_CASE("SHARED: a thread's kept token never replaces the token another thread acquired with", "[faults][timing]") {
    auto &s = default_server();
    FaultProxy proxy(s.port());
    auto co = client_options(1000, 200);
    auto c = make_client(proxy.url(), &co);
    auto l = make_lock(c.get(), "fault:shared-kept", lock_options(0), REDLOCK_SHARED);
    proxy.add({"SET", FaultProxy::Fault::drop_request});  // thread A's SET never arrives
    int a_rc = 0, b_rc = 0;
    std::thread a([&] { a_rc = redlock_lock_acquire(l.get()); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::thread b([&] { b_rc = redlock_lock_acquire(l.get()); });  // B's SET goes through: B holds the lock
    b.join();
    a.join();
    CHECK(b_rc == REDLOCK_OK);
    CHECK(a_rc == REDLOCK_ETIMEDOUT);
    CHECK(s.admin({"GET", "fault:shared-kept"}).str == token_of(l.get()));  // still B's token in the handle
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
    CHECK(s.admin({"EXISTS", "fault:shared-kept"}).integer == 0);
}

TEST_CASE("SHARED: threads retrying a kept token never hold the lock together", "[faults][timing]") {
    auto &s = default_server();
    FaultProxy proxy(s.port());
    auto co = client_options(1000, 200);
    auto c = make_client(proxy.url(), &co);
    auto l = make_lock(c.get(), "fault:shared-retry", lock_options(10000), REDLOCK_SHARED);
    proxy.add({"SET", FaultProxy::Fault::delay_request, 300});  // lands late: the key holds the kept token
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_ETIMEDOUT);
    REQUIRE(eventually_exists(s, "fault:shared-retry"));
    std::atomic<int> inside{0}, most{0}, granted{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 8; ++i)
        ts.emplace_back([&] {
            if (try_acquire(l.get()) != REDLOCK_OK) return;  // one attempt each: only one may win
            ++granted;
            int now = ++inside;
            int seen = most.load();
            while (now > seen && !most.compare_exchange_weak(seen, now)) {
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            --inside;
        });
    for (auto &t : ts) t.join();
    CHECK(granted.load() == 1);  // the one that retried the kept token and found it in the key
    CHECK(most.load() == 1);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("a late SET found by a retry gets a fresh TTL, as any acquire", "[faults][timing]") {
    auto &s = default_server();
    FaultProxy proxy(s.port());
    auto co = client_options(1000, 100);
    auto c = make_client(proxy.url(), &co);
    auto l = make_lock(c.get(), "fault:late-ttl", lock_options(1000));
    proxy.add({"SET", FaultProxy::Fault::delay_request, 200});
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_ETIMEDOUT);
    REQUIRE(eventually_exists(s, "fault:late-ttl"));
    std::this_thread::sleep_for(std::chrono::milliseconds(700));  // most of its TTL is gone
    REQUIRE(try_acquire(l.get()) == REDLOCK_OK);
    CHECK(pttl(s, "fault:late-ttl") > 800);  // restarted, not the late SET's leftover
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("a SET that never lands: the kept token's release is a harmless ENOTOWNED", "[faults][timing]") {
    auto &s = default_server();
    FaultProxy proxy(s.port());
    auto co = client_options(1000, 200);
    auto c = make_client(proxy.url(), &co);
    auto l = make_lock(c.get(), "fault:lost-set", lock_options(10000));
    proxy.add({"SET", FaultProxy::Fault::drop_request});
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_ETIMEDOUT);
    CHECK(redlock_lock_token(l.get(), nullptr, 0, nullptr) == REDLOCK_OK);  // kept
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTOWNED);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTHELD);
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);  // the connection was replaced: all is well again
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("a connection reset before or after the command: never a wrong answer", "[faults]") {
    auto &s = default_server();
    FaultProxy proxy(s.port());
    auto c = make_client(proxy.url());
    auto l = make_lock(c.get(), "fault:reset", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);  // warm the script cache and the pool
    REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);

    proxy.add({"SET", FaultProxy::Fault::reset_before});  // never reached Redis
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_ECONN);
    CHECK(s.admin({"EXISTS", "fault:reset"}).integer == 0);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTOWNED);  // the kept token, cleaned up harmlessly

    proxy.add({"SET", FaultProxy::Fault::reset});  // ran, then RST instead of the reply
    int rc = redlock_lock_acquire(l.get());
    INFO(redlock_last_error());
    CHECK(rc == REDLOCK_OK);  // settled by the check: it is ours
    CHECK(s.admin({"GET", "fault:reset"}).str == token_of(l.get()));

    proxy.add({"EVALSHA", FaultProxy::Fault::reset});  // the release ran, its reply was lost
    rc = redlock_lock_release(l.get());
    INFO(redlock_last_error());
    CHECK(rc == REDLOCK_OK);
    CHECK(s.admin({"EXISTS", "fault:reset"}).integer == 0);
}

TEST_CASE("a swallowed or late reply times out, and the late reply is never taken for the next one",
          "[faults][timing]") {
    auto &s = default_server();
    FaultProxy proxy(s.port());
    auto co = client_options(1000, 200);
    auto c = make_client(proxy.url(), &co);
    auto l = make_lock(c.get(), "fault:late-reply", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);

    proxy.add({"SET", FaultProxy::Fault::swallow_reply});
    int rc = redlock_lock_acquire(l.get());
    INFO(redlock_last_error());
    CHECK(rc == REDLOCK_OK);  // ran; the check on a new connection finds our token
    REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);

    proxy.add({"GET", FaultProxy::Fault::delay_reply, 400});  // locked(): times out, the reply arrives later
    CHECK(redlock_lock_locked(l.get()) == REDLOCK_ETIMEDOUT);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    CHECK(redlock_lock_owned(l.get()) == 1);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("a lock held with a value longer than any token (redis-py allows it) is seen as held", "[faults]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "fault:big-value", lock_options(10000));
    for (size_t size : {size_t{9000}, size_t{64} << 20}) {
        INFO(size);
        s.admin({"SET", "fault:big-value", std::string(size, 't'), "PX", "10000"});
        CHECK(redlock_lock_locked(l.get()) == 1);  // not a protocol error on a healthy server
        CHECK(redlock_lock_owned(l.get()) == 0);
        CHECK(try_acquire(l.get()) == REDLOCK_NOT_ACQUIRED);
        s.admin({"DEL", "fault:big-value"});
    }
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);  // the connection stayed in step
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("SCRIPT FLUSH: release, extend and reacquire still work", "[faults]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "fault:flush", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    s.admin({"SCRIPT", "FLUSH"});
    CHECK(redlock_lock_extend(l.get(), 1000, 0) == REDLOCK_OK);
    s.admin({"SCRIPT", "FLUSH"});
    CHECK(redlock_lock_reacquire(l.get()) == REDLOCK_OK);
    s.admin({"SCRIPT", "FLUSH"});
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
    CHECK(s.admin({"EXISTS", "fault:flush"}).integer == 0);
}

TEST_CASE("password: right one works, wrong or missing one is EAUTH with the server's words", "[faults]") {
    RedisServer s({{"--requirepass", "s3cret"}});
    s.admin_password = "s3cret";
    {
        auto c = make_client("redis://:s3cret@127.0.0.1:" + std::to_string(s.port()));
        CHECK(redlock_client_ping(c.get()) == REDLOCK_OK);
        auto l = make_lock(c.get(), "fault:auth", lock_options(10000));
        REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
    }
    {
        redlock_client_options o;
        redlock_client_options_init(&o);
        o.password = "s3cret";  // options override the URL
        auto c = make_client("redis://:wrong@127.0.0.1:" + std::to_string(s.port()), &o);
        auto l = make_lock(c.get(), "fault:auth", lock_options(10000));
        CHECK(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
    }
    {
        auto c = make_client("redis://:wrong@127.0.0.1:" + std::to_string(s.port()));
        CHECK(redlock_client_ping(c.get()) == REDLOCK_EAUTH);
        CHECK_THAT(redlock_last_error(), Contains("WRONGPASS"));
        auto l = make_lock(c.get(), "fault:auth", lock_options(10000));
        CHECK(redlock_lock_acquire(l.get()) == REDLOCK_EAUTH);
        CHECK_THAT(redlock_last_error(), Contains("WRONGPASS"));
    }
    {
        auto c = make_client("redis://127.0.0.1:" + std::to_string(s.port()));
        auto l = make_lock(c.get(), "fault:auth", lock_options(10000));
        CHECK(redlock_lock_acquire(l.get()) == REDLOCK_EAUTH);
        CHECK_THAT(redlock_last_error(), Contains("NOAUTH"));
        CHECK(redlock_lock_locked(l.get()) == REDLOCK_EAUTH);
    }
}

TEST_CASE("a refused AUTH never shows the password, even when Redis quotes its arguments", "[faults]") {
    RedisServer s({{"--rename-command", "AUTH", ""}});  // "unknown command 'AUTH', with args beginning with: ..."
    redlock_client_options o;
    redlock_client_options_init(&o);
    o.username = "admin";
    o.password = "S3cretPassw0rd";
    auto c = make_client(s.url(), &o);
    CHECK(redlock_client_ping(c.get()) == REDLOCK_ESERVER);
    const std::string msg = redlock_last_error();
    INFO(msg);
    CHECK_THAT(msg, Contains("authentication failed") && Contains("unknown command"));
    CHECK(msg.find("S3cret") == std::string::npos);
    CHECK(msg.find("admin") == std::string::npos);
}

TEST_CASE("a wrong password spelled like part of the server's words is still EAUTH, and the words stay readable",
          "[faults]") {
    auto &s = default_server();
    s.admin({"ACL", "SETUSER", "carol", "on", ">right-one", "~*", "+@all"});
    for (std::string wrong : {"PASS", "W", "e", "WRONGPASS", "invalid"}) {
        INFO(wrong);
        auto c = make_client("redis://carol:" + wrong + "@127.0.0.1:" + std::to_string(s.port()));
        CHECK(redlock_client_ping(c.get()) == REDLOCK_EAUTH);
        const std::string msg = redlock_last_error();
        INFO(msg);
        if (wrong.size() < 5) CHECK_THAT(msg, Contains("WRONGPASS invalid username-password pair"));
        else CHECK_THAT(msg, Contains("*** ") && !Contains(wrong + " "));  // the password itself, standing alone: cut
    }
    s.admin({"ACL", "DELUSER", "carol"});
}

TEST_CASE("ACL user: works with its permissions, NOPERM without them", "[faults]") {
    auto &s = default_server();
    s.admin({"ACL", "SETUSER", "locker", "on", ">pw1", "~lock:*", "+set", "+get", "+evalsha", "+eval", "+del", "+pttl",
             "+pexpire"});
    s.admin({"ACL", "SETUSER", "reader", "on", ">pw2", "~*", "+get"});
    {
        auto c = make_client("redis://locker:pw1@127.0.0.1:" + std::to_string(s.port()));
        auto l = make_lock(c.get(), "lock:acl", lock_options(10000));
        REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
        auto outside = make_lock(c.get(), "other:acl", lock_options(10000));
        CHECK(redlock_lock_acquire(outside.get()) == REDLOCK_EAUTH);
        CHECK_THAT(redlock_last_error(), Contains("NOPERM"));
    }
    {
        auto c = make_client("redis://reader:pw2@127.0.0.1:" + std::to_string(s.port()));
        auto l = make_lock(c.get(), "lock:acl", lock_options(10000));
        CHECK(redlock_lock_locked(l.get()) == 0);
        CHECK(redlock_lock_acquire(l.get()) == REDLOCK_EAUTH);
        CHECK_THAT(redlock_last_error(), Contains("NOPERM"));
    }
    {
        auto c = make_client("redis://locker:nope@127.0.0.1:" + std::to_string(s.port()));
        auto l = make_lock(c.get(), "lock:acl", lock_options(10000));
        CHECK(redlock_lock_acquire(l.get()) == REDLOCK_EAUTH);
        CHECK_THAT(redlock_last_error(), Contains("WRONGPASS"));
    }
}

TEST_CASE("ACL refusals inside the lock scripts are EAUTH too, and leave the lock as it was", "[faults]") {
    auto &s = default_server();
    // May run the scripts but not DEL (release) or PEXPIRE (extend, reacquire), on lock:* keys only.
    s.admin({"ACL", "SETUSER", "scripter", "on", ">pw3", "~lock:*", "+set", "+get", "+evalsha", "+eval", "+pttl"});
    auto c = make_client("redis://scripter:pw3@127.0.0.1:" + std::to_string(s.port()));
    auto l = make_lock(c.get(), "lock:acl-script", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_EAUTH);
    CHECK_THAT(redlock_last_error(), Contains("can't run this command"));
    CHECK(redlock_lock_extend(l.get(), 1000, 0) == REDLOCK_EAUTH);
    CHECK(redlock_lock_reacquire(l.get()) == REDLOCK_EAUTH);
    CHECK(redlock_lock_owned(l.get()) == 1);  // nothing changed; the token is still this owner's
    CHECK(s.admin({"GET", "lock:acl-script"}).str == token_of(l.get()));
    s.admin({"DEL", "lock:acl-script"});
}

TEST_CASE("a server at maxclients: its refusal is the error, and nothing is left half-done", "[faults]") {
    RedisServer s({{"--maxclients", "1"}});
    redisContext *holder = redisConnect("127.0.0.1", s.port());  // takes the only slot
    REQUIRE(holder);
    REQUIRE(!holder->err);
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "fault:maxclients", lock_options(10000));
    // Redis writes its refusal and closes. Usually the client reads it; when the client's first command reaches the
    // closed socket first, the peer's reset discards the unread refusal and the client sees the connection drop.
    auto refused = [](int rc) {
        const std::string msg = redlock_last_error();
        return (rc == REDLOCK_ESERVER && msg.find("max number of clients") != std::string::npos) ||
               rc == REDLOCK_ECONN;
    };
    int rc = redlock_client_ping(c.get());
    CHECK(refused(rc));
    rc = redlock_lock_acquire(l.get());
    CHECK(refused(rc));
    redisFree(holder);
    for (int i = 0; i < 50 && redlock_client_ping(c.get()) != REDLOCK_OK; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(redlock_client_ping(c.get()) == REDLOCK_OK);
    rc = redlock_lock_release(l.get());  // nothing ran: no token, or a kept one whose release touches nothing
    CHECK((rc == REDLOCK_ENOTHELD || rc == REDLOCK_ENOTOWNED));
    CHECK(s.admin({"EXISTS", "fault:maxclients"}).integer == 0);
}

TEST_CASE("unix socket and database selection", "[faults]") {
    RedisServer::Options so;
    so.unix_socket = true;
    RedisServer s(so);
    auto c = make_client("unix://" + s.unix_path() + "?db=3");
    auto l = make_lock(c.get(), "fault:unix", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    CHECK(s.admin({"EXISTS", "fault:unix"}).integer == 0);  // db 0
    // The admin connection is on db 0; look in db 3 through a TCP client with /3.
    auto c3 = make_client(s.url(3));
    auto probe = make_lock(c3.get(), "fault:unix", lock_options(10000));
    CHECK(redlock_lock_locked(probe.get()) == 1);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
    CHECK(redlock_lock_locked(probe.get()) == 0);

    auto bad = make_client("unix://" + s.dir() + "/missing.sock");
    auto bl = make_lock(bad.get(), "fault:unix", lock_options(10000));
    CHECK(redlock_lock_acquire(bl.get()) == REDLOCK_ECONN);
    auto baddb = make_client(s.url(100000));
    auto bdl = make_lock(baddb.get(), "fault:unix", lock_options(10000));
    CHECK(redlock_lock_acquire(bdl.get()) == REDLOCK_ESERVER);
    CHECK_THAT(redlock_last_error(), Contains("SELECT"));
}

TEST_CASE("after fork() the child opens its own connections and both processes work", "[faults]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "fault:fork-parent", lock_options(10000));
    REQUIRE(redlock_lock_locked(l.get()) == 0);  // the parent has a pooled connection now
    auto connections_received = [&] {
        auto info = s.admin({"INFO", "stats"}).str;
        return std::stoll(info.substr(info.find("total_connections_received:") + 27));
    };
    long long before = connections_received();  // counts its own admin connection
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        redlock_lock *cl = nullptr;
        auto o = lock_options(10000);
        int ok = redlock_lock_new(&cl, c.get(), "fault:fork-child", &o, 0) == REDLOCK_OK &&
                 redlock_lock_acquire(cl) == REDLOCK_OK && redlock_lock_release(cl) == REDLOCK_OK &&
                 redlock_lock_locked(l.get()) == 0;
        redlock_lock_free(cl);
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
    // The child connected on its own (at least once) besides the next admin connection: it did not write on the
    // parent's socket.
    CHECK(connections_received() - before >= 2);
    // The parent's pooled connection was not disturbed by the child.
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("URL options survive an options struct that leaves them unset", "[faults][timing]") {
    RedisServer s;
    redlock_client_options o;
    redlock_client_options_init(&o);  // the caller only wants to set a field the URL does not have
    o.keepalive_s = 30;
    auto c = make_client(s.url() + "?command_timeout=200", &o);
    auto l = make_lock(c.get(), "fault:url-options", lock_options(10000));
    REQUIRE(redlock_lock_locked(l.get()) == 0);  // connected
    std::thread sleeper([&] { s.admin({"DEBUG", "SLEEP", "1.2"}); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto t0 = std::chrono::steady_clock::now();
    CHECK(redlock_lock_locked(l.get()) == REDLOCK_ETIMEDOUT);  // the URL's 200 ms, not a default 5 s
    CHECK(seconds_since(t0) < 0.9);
    sleeper.join();
}

TEST_CASE("a holder stopped (SIGSTOP) past its TTL: the next owner is safe from its late release", "[faults][timing]") {
    auto &s = default_server();
    int go[2];
    REQUIRE(::pipe(go) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // the holder: acquire with a 300 ms TTL, tell the parent, then (after SIGCONT) release
        redlock_client *c = nullptr;
        redlock_lock *l = nullptr;
        auto o = lock_options(300);
        int rc = redlock_client_new(&c, s.url().c_str(), nullptr) == REDLOCK_OK &&
                         redlock_lock_new(&l, c, "fault:sigstop", &o, 0) == REDLOCK_OK
                     ? redlock_lock_acquire(l)
                     : -100;
        char b = 1;
        (void)!::write(go[1], &b, 1);
        ::raise(SIGSTOP);                                  // paused here, past the TTL
        rc = rc == REDLOCK_OK ? redlock_lock_release(l) : rc;  // the late release
        _exit(rc == REDLOCK_ENOTOWNED ? 0 : 1);
    }
    char b = 0;
    REQUIRE(::read(go[0], &b, 1) == 1);
    int st = 0;
    REQUIRE(::waitpid(pid, &st, WUNTRACED) == pid);  // stopped
    REQUIRE(WIFSTOPPED(st));
    auto c = make_client(s.url());
    auto next = make_lock(c.get(), "fault:sigstop", lock_options(10000, 20, 1, 2000));
    REQUIRE(redlock_lock_acquire(next.get()) == REDLOCK_OK);  // after the stopped holder's key expired
    ::kill(pid, SIGCONT);
    REQUIRE(::waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);                       // its release was ENOTOWNED ...
    CHECK(redlock_lock_owned(next.get()) == 1);        // ... and did not touch the new owner's key
    CHECK(redlock_lock_release(next.get()) == REDLOCK_OK);
    ::close(go[0]);
    ::close(go[1]);
}

TEST_CASE("CLIENT PAUSE past the command timeout: ETIMEDOUT, the token kept, its clean-up harmless", "[faults][timing]") {
    RedisServer s;
    auto co = client_options(1000, 200);
    auto c = make_client(s.url(), &co);
    auto l = make_lock(c.get(), "fault:paused", lock_options(0));  // no TTL: an orphan would stay forever
    REQUIRE(redlock_lock_locked(l.get()) == 0);                    // connected
    s.admin({"CLIENT", "PAUSE", "600", "WRITE"});  // writes wait; reads (the GET check) are served
    auto t0 = std::chrono::steady_clock::now();
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_ETIMEDOUT);
    CHECK(seconds_since(t0) < 0.55);  // the SET's 200 ms and the check's round trip, not the pause
    CHECK_THAT(redlock_last_error(), Contains("token is kept"));
    std::this_thread::sleep_for(std::chrono::milliseconds(700));  // the pause is over
    // Redis dropped the paused SET with the connection we closed: the kept token's release is a harmless ENOTOWNED.
    CHECK(s.admin({"EXISTS", "fault:paused"}).integer == 0);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTOWNED);
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("eviction of the lock key (allkeys policy): owned() says 0 and release is ENOTOWNED", "[faults]") {
    RedisServer s({{"--maxmemory", "4mb", "--maxmemory-policy", "allkeys-random"}});
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "fault:evicted", lock_options(60000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    const std::string filler(64 * 1024, 'x');
    for (int i = 0; i < 2000 && s.admin({"EXISTS", "fault:evicted"}).integer == 1; ++i)
        s.admin({"SET", "filler:" + std::to_string(i), filler});
    REQUIRE(s.admin({"EXISTS", "fault:evicted"}).integer == 0);  // evicted: the documented non-guarantee
    CHECK(redlock_lock_owned(l.get()) == 0);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTOWNED);
}

TEST_CASE("fork() while other threads use the client: the child never inherits a locked mutex", "[faults]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    std::atomic<bool> stop{false};
    std::vector<std::thread> busy;
    for (int t = 0; t < 4; ++t)
        busy.emplace_back([&, t] {  // the pool's and the SHARED token store's mutexes are taken all the time
            auto o = lock_options(10000, 1);
            Lock l = new_lock_or_null(c.get(), "fault:forkstorm:" + std::to_string(t), o, REDLOCK_SHARED);
            while (!stop)
                if (redlock_lock_acquire(l.get()) == REDLOCK_OK) redlock_lock_release(l.get());
        });
    int hung = 0, failed = 0;
    for (int i = 0; i < 300; ++i) {
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::alarm(5);  // a child stuck on an inherited mutex dies of SIGALRM
            _exit(redlock_client_ping(c.get()) == REDLOCK_OK ? 0 : 1);
        }
        int st = 0;
        ::waitpid(pid, &st, 0);
        hung += WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM;
        failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    stop = true;
    for (auto &t : busy) t.join();
    CHECK(hung == 0);
    CHECK(failed == 0);
}

TEST_CASE("a connect interrupted by signals still connects, or times out on time (unix socket, full backlog)",
          "[faults][timing]") {
    char dir[] = "/tmp/redlock-eintr-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    const std::string path = std::string(dir) + "/s.sock";
    int lfd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
    REQUIRE(::bind(lfd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) == 0);
    REQUIRE(::listen(lfd, 0) == 0);
    std::vector<int> fillers;  // the backlog is full: a connect blocks until the listener accepts
    for (int i = 0; i < 4; ++i) {
        int f = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (::connect(f, reinterpret_cast<sockaddr *>(&sa), sizeof sa) != 0) {
            ::close(f);
            break;
        }
        fillers.push_back(f);
    }
    // A signal every millisecond, without SA_RESTART: connect() returns EINTR again and again.
    struct sigaction act{}, old{};
    act.sa_handler = [](int) {};
    ::sigaction(SIGALRM, &act, &old);
    itimerval every{{0, 1000}, {0, 1000}}, off{};
    ::setitimer(ITIMER_REAL, &every, nullptr);
    auto o = client_options(1500, 500);
    auto t0 = std::chrono::steady_clock::now();
    redlock_client *c = nullptr;
    REQUIRE(redlock_client_new(&c, ("unix://" + path).c_str(), &o) == REDLOCK_OK);
    CHECK(redlock_client_ping(c) == REDLOCK_ECONN);  // nobody accepts: the connect timeout, not an early error
    CHECK_THAT(redlock_last_error(), Contains("timed out"));
    CHECK(seconds_since(t0) >= 1.3);
    CHECK(seconds_since(t0) < 3.0);
    ::setitimer(ITIMER_REAL, &off, nullptr);
    ::sigaction(SIGALRM, &old, nullptr);
    redlock_client_free(c);
    for (int f : fillers) ::close(f);
    ::close(lfd);
    ::unlink(path.c_str());
    ::rmdir(dir);
}

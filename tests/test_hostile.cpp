// A hostile or broken server (tests/support/fake_server.hpp): whatever it sends, every call ends within its deadline
// with a clear error, memory stays bounded, and no reply is ever taken for another command's.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "support/fake_server.hpp"
#include "support/handles.hpp"

using namespace testing;
using Catch::Matchers::Contains;

namespace {
long peak_rss_kib() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}
Client client_for(const FakeServer &f, int64_t command_ms = 500) {
    redlock_client_options o;
    redlock_client_options_init(&o);
    o.connect_timeout_ms = 1000;
    o.command_timeout_ms = command_ms;
    return make_client(f.url(), &o);
}
// Answers PING with `bytes` (then `stream` more bytes), everything else as Redis would.
FakeServer ping_answered_with(std::string bytes, size_t stream = 0) {
    auto mini = std::make_shared<MiniRedis>();
    return FakeServer([=](const std::vector<std::string> &argv) {
        if (argv.at(0) != "PING") return (*mini)(argv);
        FakeServer::Answer a{bytes};
        a.stream = stream;
        return a;
    });
}
}  // namespace

TEST_CASE("a 1 GB bulk reply is refused at its header: no memory, no wait, and the client recovers", "[hostile]") {
    auto fake = ping_answered_with("$1000000000\r\n", size_t(256) << 20);  // and starts streaming the body
    auto c = client_for(fake);
    const long before = peak_rss_kib();
    auto t0 = std::chrono::steady_clock::now();
    CHECK(redlock_client_ping(c.get()) == REDLOCK_ECONN);
    CHECK_THAT(redlock_last_error(), Contains("1000000000 bytes") && Contains("limit"));
    CHECK(seconds_since(t0) < 0.5);
    CHECK(peak_rss_kib() - before < 16 * 1024);
    auto l = make_lock(c.get(), "hostile:bulk", lock_options(10000));  // the next call uses a new connection
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("huge array headers are refused at once: 2^31-1 and 100M elements", "[hostile]") {
    for (const char *header : {"*2147483647\r\n", "*100000000\r\n"}) {
        INFO(header);
        auto fake = ping_answered_with(header, size_t(64) << 20);
        auto c = client_for(fake);
        const long before = peak_rss_kib();
        auto t0 = std::chrono::steady_clock::now();
        CHECK(redlock_client_ping(c.get()) == REDLOCK_ECONN);
        CHECK_THAT(redlock_last_error(), Contains("elements"));
        CHECK(seconds_since(t0) < 0.5);  // the 13-byte reply used to cost 5.6 s
        CHECK(peak_rss_kib() - before < 16 * 1024);
    }
}

TEST_CASE("a reply that never ends, or never comes, ends at the command deadline", "[hostile][timing]") {
    auto drip = ping_answered_with("$5\r\nab");  // then nothing
    auto c = client_for(drip, 300);
    auto t0 = std::chrono::steady_clock::now();
    CHECK(redlock_client_ping(c.get()) == REDLOCK_ETIMEDOUT);
    CHECK(seconds_since(t0) < 1.0);

    auto mini = std::make_shared<MiniRedis>();
    FakeServer slow([=](const std::vector<std::string> &argv) {
        if (argv.at(0) != "PING") return (*mini)(argv);
        FakeServer::Answer a{"+PONG\r\n"};
        a.drip_ms = 200;  // one byte every 200 ms
        return a;
    });
    auto cs = client_for(slow, 300);
    t0 = std::chrono::steady_clock::now();
    CHECK(redlock_client_ping(cs.get()) == REDLOCK_ETIMEDOUT);
    CHECK(seconds_since(t0) < 1.0);
}

TEST_CASE("two replies to one command: the connection is dropped, the stale reply never answers the next command",
          "[hostile]") {
    MiniRedis mini;
    std::atomic<int> extends{0};
    FakeServer fake([&](const std::vector<std::string> &argv) {
        auto a = mini(argv);
        if (argv.at(0) == "EVALSHA" && argv.size() == 7 && extends++ == 0) a.bytes += ":0\r\n";  // stale, same write
        return a;
    });
    auto c = client_for(fake);
    auto l = make_lock(c.get(), "hostile:twice", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    CHECK(redlock_lock_extend(l.get(), 1000, 0) == REDLOCK_ECONN);  // out of step: it ran, the TTL change is unknown
    CHECK_THAT(redlock_last_error(), Contains("out of step") && Contains("still held by this owner"));
    // The bug was: this extend read the stale ":0" and said ENOTOWNED.
    int rc = redlock_lock_extend(l.get(), 1000, 0);
    INFO(redlock_last_error());
    CHECK(rc == REDLOCK_OK);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("a second reply that arrives later is found before the connection is reused", "[hostile][timing]") {
    MiniRedis mini;
    std::atomic<int> extends{0};
    FakeServer fake([&](const std::vector<std::string> &argv) {
        auto a = mini(argv);
        if (argv.at(0) == "EVALSHA" && argv.size() == 7 && extends++ == 0) {
            a.later = ":0\r\n";  // unasked, 50 ms after the real reply
            a.later_ms = 50;
        }
        return a;
    });
    auto c = client_for(fake);
    auto l = make_lock(c.get(), "hostile:late-second", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    REQUIRE(redlock_lock_extend(l.get(), 1000, 0) == REDLOCK_OK);  // clean at the time
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const int conns = fake.connections();
    int rc = redlock_lock_extend(l.get(), 1000, 0);  // would read the stale ":0" (ENOTOWNED) on the old connection
    INFO(redlock_last_error());
    CHECK(rc == REDLOCK_OK);
    CHECK(fake.connections() == conns + 1);  // the probe found the unasked bytes and replaced the connection
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("a reply of the wrong type is an out-of-step connection, settled like a lost reply", "[hostile]") {
    MiniRedis mini;
    FakeServer fake([&](const std::vector<std::string> &argv) {
        auto a = mini(argv);
        if (argv.at(0) == "SET") a.bytes = ":0\r\n";  // SET ran, but the client sees an integer
        return a;
    });
    auto c = client_for(fake);
    auto l = make_lock(c.get(), "hostile:shape", lock_options(10000));
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_OK);  // not ESERVER with an orphaned key: the check finds it
    CHECK(mini.has("hostile:shape"));
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("a server that is not Redis is named as such, with no ambiguous outcome", "[hostile]") {
    FakeServer http([](const std::vector<std::string> &) {
        FakeServer::Answer a{"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"};
        a.close = true;
        return a;
    });
    auto c = client_for(http);
    const std::string where = "127.0.0.1:" + std::to_string(http.port()) + " is not a Redis server";
    CHECK(redlock_client_ping(c.get()) == REDLOCK_ECONN);
    CHECK_THAT(redlock_last_error(), Contains(where));
    auto l = make_lock(c.get(), "hostile:http", lock_options(10000));
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_ECONN);
    CHECK_THAT(redlock_last_error(), Contains(where));
    CHECK_THAT(redlock_last_error(), !Contains("could not be checked") && !Contains("TLS"));
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTHELD);  // nothing ran: no token kept

    FakeServer tls([](const std::vector<std::string> &) {
        FakeServer::Answer a{std::string("\x15\x03\x03\x00\x02\x02\x46", 7)};  // a TLS alert record
        a.close = true;
        return a;
    });
    auto ct = client_for(tls);
    CHECK(redlock_client_ping(ct.get()) == REDLOCK_ECONN);
    CHECK_THAT(redlock_last_error(), Contains("is not a Redis server") && Contains("TLS"));

    // Behind a password, the first reply is AUTH's: the same diagnosis.
    redlock_client_options o;
    redlock_client_options_init(&o);
    o.password = "pw";
    auto ca = make_client(http.url(), &o);
    CHECK(redlock_client_ping(ca.get()) == REDLOCK_ECONN);
    CHECK_THAT(redlock_last_error(), Contains(where));
}

TEST_CASE("a server that hangs up at once, or never answers: clear errors within the deadlines", "[hostile][timing]") {
    FakeServer hangup([](const std::vector<std::string> &) {
        FakeServer::Answer a;
        a.close = true;
        return a;
    });
    auto c = client_for(hangup);
    auto l = make_lock(c.get(), "hostile:hangup", lock_options(10000));
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_ECONN);
    CHECK_THAT(redlock_last_error(), Contains("closed") && Contains("before any reply") && Contains("rediss://"));

    FakeServer silent([](const std::vector<std::string> &) { return FakeServer::Answer{}; });
    auto cs = client_for(silent, 300);
    auto ls = make_lock(cs.get(), "hostile:silent", lock_options(10000));
    auto t0 = std::chrono::steady_clock::now();
    CHECK(redlock_lock_acquire(ls.get()) == REDLOCK_ETIMEDOUT);
    CHECK(seconds_since(t0) < 1.5);  // the SET and its check on a new connection, 300 ms each
    CHECK_THAT(redlock_last_error(), Contains("token is kept"));
}

TEST_CASE("a connection broken with an unknown outcome is closed with a reset, a healthy one with FIN", "[hostile]") {
    MiniRedis mini;
    FakeServer healthy([&](const std::vector<std::string> &argv) { return mini(argv); });
    {
        auto c = client_for(healthy);
        CHECK(redlock_client_ping(c.get()) == REDLOCK_OK);
    }  // freed: its connection closes normally
    for (int i = 0; i < 50 && healthy.connections() > 0 && healthy.resets() == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(healthy.resets() == 0);

    // The SET's reply never comes: the client gives up, and the kernel must not retransmit the SET later.
    FakeServer silent([](const std::vector<std::string> &) { return FakeServer::Answer{}; });
    auto c = client_for(silent, 200);
    auto l = make_lock(c.get(), "hostile:rst", lock_options(10000));
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_ETIMEDOUT);
    for (int i = 0; i < 100 && silent.resets() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(silent.resets() == 2);  // the SET's connection and the check's
}

TEST_CASE("a fork()ed child does not keep the parent's sockets open, so the reset still goes out", "[hostile][fork]") {
    // The pooled connection exists before the fork. If the child kept its copy, the parent's close after the lost
    // SET would not be the last close of the socket, and neither RST nor FIN would reach the server while the child
    // lives (the kernel would go on retransmitting the SET).
    FakeServer fake([](const std::vector<std::string> &argv) {
        return argv.at(0) == "PING" ? FakeServer::Answer{"+PONG\r\n"} : FakeServer::Answer{};
    });
    auto c = client_for(fake, 200);
    REQUIRE(redlock_client_ping(c.get()) == REDLOCK_OK);
    int gate[2];
    REQUIRE(::pipe(gate) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {  // async-signal-safe only: wait until the parent is done, then leave
        char b;
        ::close(gate[1]);
        (void)!::read(gate[0], &b, 1);
        ::_exit(0);
    }
    ::close(gate[0]);
    auto l = make_lock(c.get(), "hostile:fork-rst", lock_options(10000));
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_ETIMEDOUT);
    for (int i = 0; i < 100 && fake.resets() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(fake.resets() == 2);  // with the child still alive
    ::close(gate[1]);
    int status = 0;
    CHECK(::waitpid(child, &status, 0) == child);
}

TEST_CASE("server error text reaches messages bounded and printable", "[hostile]") {
    auto mini = std::make_shared<MiniRedis>();
    FakeServer fake([=](const std::vector<std::string> &argv) {
        if (argv.at(0) != "PING") return (*mini)(argv);
        return FakeServer::Answer{"-ERR bell\x07 escape\x1b[31m " + std::string(4000, 'x') + "\r\n"};
    });
    auto c = client_for(fake);
    CHECK(redlock_client_ping(c.get()) == REDLOCK_ESERVER);
    const std::string msg = redlock_last_error();
    CHECK_THAT(msg, Contains("bell\\x07 escape\\x1b[31m") && Contains("bytes)"));
    CHECK(msg.find('\x1b') == std::string::npos);
    CHECK(msg.size() < 1024);
}

TEST_CASE("a busy key's PTTL from the server cannot stretch or overflow a waiter's wait", "[hostile][timing]") {
    for (const char *pttl : {":9223372036854775807\r\n", ":-9223372036854775808\r\n", ":0\r\n"}) {
        INFO(pttl);
        FakeServer fake([=](const std::vector<std::string> &argv) {
            if (argv.at(0) == "SET") return FakeServer::Answer{"$-1\r\n"};  // busy
            if (argv.at(0) == "EVALSHA") return FakeServer::Answer{pttl};  // the retry script's PTTL
            return FakeServer::Answer{};                                     // SUBSCRIBE: no subscriber, so polls
        });
        auto c = client_for(fake, 200);
        auto l = make_lock(c.get(), "hostile:pttl", lock_options(10000, 50, 1, 300));
        const auto t0 = std::chrono::steady_clock::now();
        CHECK(redlock_lock_acquire(l.get()) == REDLOCK_NOT_ACQUIRED);
        CHECK(seconds_since(t0) >= 0.25);
        CHECK(seconds_since(t0) < 1.5);  // by the blocking timeout, whatever the server says
    }
}

// Bad input gets a clear code and message and changes nothing.
#include <cctype>
#include <cstring>
#include <thread>

#include "support/handles.hpp"

using namespace testing;
using Catch::Matchers::Contains;

namespace {
std::string fmt_pct(char ch) {
    static const char hex[] = "0123456789ABCDEF";
    const auto u = static_cast<unsigned char>(ch);
    return std::string{'%', hex[u >> 4], hex[u & 15]};
}
}  // namespace

TEST_CASE("version and error texts", "[api]") {
    CHECK(std::string(redlock_version()) == REDLOCK_VERSION_STRING);
    CHECK(redlock_version_number() == REDLOCK_VERSION_NUMBER);
    CHECK(REDLOCK_VERSION_CHECK(0, 1, 0));
    CHECK_FALSE(REDLOCK_VERSION_CHECK(REDLOCK_VERSION_MAJOR + 1, 0, 0));
    for (int code = REDLOCK_NOT_ACQUIRED; code > REDLOCK_ERESULT_SENTINEL_; --code) {
        INFO(code);
        CHECK(std::string(redlock_strerror(code)) != "unknown result code");
    }
    CHECK(std::string(redlock_strerror(REDLOCK_ERESULT_SENTINEL_)) == "unknown result code");
    CHECK(std::string(redlock_strerror(12345)) == "unknown result code");
}

TEST_CASE("the detail message is per thread, set on failure and cleared by the next call", "[api]") {
    redlock_client *c = nullptr;
    CHECK(redlock_client_new(&c, "nope://x", nullptr) == REDLOCK_EINVAL);
    CHECK(c == nullptr);
    CHECK_THAT(redlock_last_error(), Contains("unsupported scheme"));
    std::string other;
    std::thread([&] { other = redlock_last_error(); }).join();
    CHECK(other.empty());
    REQUIRE(redlock_client_new(&c, "redis://127.0.0.1:1", nullptr) == REDLOCK_OK);
    CHECK(std::string(redlock_last_error()).empty());
    redlock_client_free(c);
}

TEST_CASE("NULL everywhere is EINVAL, never a crash", "[api]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "bad:null", lock_options());
    redlock_client *cout = nullptr;
    redlock_lock *lout = nullptr;
    auto o = lock_options();
    CHECK(redlock_client_new(nullptr, "redis://127.0.0.1", nullptr) == REDLOCK_EINVAL);
    CHECK(redlock_client_new(&cout, nullptr, nullptr) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("url is NULL"));
    CHECK(redlock_lock_new(nullptr, c.get(), "x", &o, 0) == REDLOCK_EINVAL);
    CHECK(redlock_lock_new(&lout, nullptr, "x", &o, 0) == REDLOCK_EINVAL);
    CHECK(redlock_lock_new(&lout, c.get(), nullptr, &o, 0) == REDLOCK_EINVAL);
    CHECK(lout == nullptr);
    CHECK(redlock_client_ping(nullptr) == REDLOCK_EINVAL);
    CHECK(redlock_lock_acquire(nullptr) == REDLOCK_EINVAL);
    CHECK(redlock_lock_acquire_ex(nullptr, nullptr) == REDLOCK_EINVAL);
    CHECK(redlock_lock_release(nullptr) == REDLOCK_EINVAL);
    CHECK(redlock_lock_extend(nullptr, 1, 0) == REDLOCK_EINVAL);
    CHECK(redlock_lock_reacquire(nullptr) == REDLOCK_EINVAL);
    CHECK(redlock_lock_locked(nullptr) == REDLOCK_EINVAL);
    CHECK(redlock_lock_owned(nullptr) == REDLOCK_EINVAL);
    CHECK(redlock_lock_token(nullptr, nullptr, 0, nullptr) == REDLOCK_EINVAL);
    char buf[4];
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    CHECK(redlock_lock_token(l.get(), nullptr, 10, nullptr) == REDLOCK_EINVAL);
    CHECK(redlock_lock_token(l.get(), buf, 0, nullptr) == REDLOCK_OK);  // size query with nowhere to put it
    redlock_client_options_init(nullptr);
    CHECK_THAT(redlock_last_error(), Contains("NULL"));
    redlock_lock_options_init(nullptr);
    redlock_acquire_options_init(nullptr);
    redlock_client_free(nullptr);
    redlock_lock_free(nullptr);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);  // nothing above disturbed the lock
}

TEST_CASE("bad names: empty and too long", "[api]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto o = lock_options();
    redlock_lock *l = nullptr;
    CHECK(redlock_lock_new(&l, c.get(), "", &o, 0) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("empty"));
    std::string huge(1 << 20, 'x');  // 1 MiB
    CHECK(redlock_lock_new(&l, c.get(), huge.c_str(), &o, 0) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("REDLOCK_MAX_NAME_LEN"));
    CHECK(l == nullptr);
}

TEST_CASE("unknown flag bits and option versions are EINVAL", "[api]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto o = lock_options();
    redlock_lock *l = nullptr;
    CHECK(redlock_lock_new(&l, c.get(), "x", &o, 2) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("unknown flag bits 0x2"));
    CHECK(redlock_lock_new(&l, c.get(), "x", &o, 0x80000001u) == REDLOCK_EINVAL);
    o.version = 99;
    CHECK(redlock_lock_new(&l, c.get(), "x", &o, 0) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("redlock_lock_options_init"));
    redlock_client_options co;
    redlock_client_options_init(&co);
    co.version = 0;
    redlock_client *cl = nullptr;
    CHECK(redlock_client_new(&cl, s.url().c_str(), &co) == REDLOCK_EINVAL);

    auto lk = make_lock(c.get(), "bad:acqopts", lock_options());
    redlock_acquire_options a;
    redlock_acquire_options_init(&a);
    a.set = 32;  // the first bit after REDLOCK_ACQ_LEAVE_QUEUE
    CHECK(redlock_lock_acquire_ex(lk.get(), &a) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("unknown bits"));
    redlock_acquire_options_init(&a);
    a.version = 2;
    CHECK(redlock_lock_acquire_ex(lk.get(), &a) == REDLOCK_EINVAL);
    CHECK(s.admin({"EXISTS", "bad:acqopts"}).integer == 0);
}

TEST_CASE("version-2 lock options: each flag is 0 or 1, on_lost needs auto_renew, auto_renew needs a TTL", "[api]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    redlock_lock *l = nullptr;
    for (int which = 0; which < 3; ++which) {
        auto o = lock_options(1000);
        (which == 0 ? o.auto_renew : which == 1 ? o.fencing : o.fair) = 2;
        CHECK(redlock_lock_new(&l, c.get(), "x", &o, 0) == REDLOCK_EINVAL);
        CHECK_THAT(redlock_last_error(), Contains("must be 0 or 1"));
    }
    auto o = lock_options(1000);
    o.on_lost = [](redlock_lock *, int, void *) {};
    CHECK(redlock_lock_new(&l, c.get(), "x", &o, 0) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("on_lost needs auto_renew"));
    o = lock_options(0);
    o.auto_renew = 1;
    CHECK(redlock_lock_new(&l, c.get(), "x", &o, 0) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("auto_renew needs a TTL"));
    o = lock_options(1000);
    o.version = 3;
    CHECK(redlock_lock_new(&l, c.get(), "x", &o, 0) == REDLOCK_EINVAL);
    CHECK(l == nullptr);
}

TEST_CASE("negative and zero times", "[api]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    redlock_lock *l = nullptr;
    auto o = lock_options(-1);
    CHECK(redlock_lock_new(&l, c.get(), "x", &o, 0) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("timeout_ms"));
    o = lock_options(1000, -5);
    CHECK(redlock_lock_new(&l, c.get(), "x", &o, 0) == REDLOCK_EINVAL);
    o = lock_options(1000, 100, 2);
    CHECK(redlock_lock_new(&l, c.get(), "x", &o, 0) == REDLOCK_EINVAL);

    redlock_client_options co;
    redlock_client_options_init(&co);
    co.max_connections = 5000;
    redlock_client *cl = nullptr;
    CHECK(redlock_client_new(&cl, s.url().c_str(), &co) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("max_connections"));
    redlock_client_options_init(&co);
    co.keepalive_s = -2;
    CHECK(redlock_client_new(&cl, s.url().c_str(), &co) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("keepalive_s"));
    redlock_client_options_init(&co);
    co.db = -7;
    CHECK(redlock_client_new(&cl, s.url().c_str(), &co) == REDLOCK_EINVAL);
    CHECK(cl == nullptr);

    auto lk = make_lock(c.get(), "bad:times", lock_options(10000));
    redlock_acquire_options a;
    redlock_acquire_options_init(&a);
    a.set = REDLOCK_ACQ_SLEEP;
    a.sleep_ms = -1;
    CHECK(redlock_lock_acquire_ex(lk.get(), &a) == REDLOCK_EINVAL);
    redlock_acquire_options_init(&a);
    a.token = "t";
    a.token_len = 0;
    CHECK(redlock_lock_acquire_ex(lk.get(), &a) == REDLOCK_EINVAL);
    REQUIRE(redlock_lock_acquire(lk.get()) == REDLOCK_OK);
    CHECK(redlock_lock_extend(lk.get(), -1, 0) == REDLOCK_EINVAL);
    CHECK(redlock_lock_extend(lk.get(), 0, 1) == REDLOCK_EINVAL);
    CHECK(redlock_lock_extend(lk.get(), 100, 2) == REDLOCK_EINVAL);
    CHECK(redlock_lock_owned(lk.get()) == 1);  // still held, TTL untouched
    long long t = pttl(s, "bad:times");
    CHECK(t > 8000);
    CHECK(redlock_lock_extend(lk.get(), 0, 0) == REDLOCK_OK);  // adding nothing is fine
    CHECK(redlock_lock_release(lk.get()) == REDLOCK_OK);
}

TEST_CASE("malformed URLs are EINVAL with the reason", "[api]") {
    struct Case {
        const char *url;
        const char *why;
    };
    for (auto [url, why] : {Case{"", "expected redis://"}, Case{"localhost:6379", "expected redis://"},
                            Case{"http://localhost", "unsupported scheme 'http'"},
                            Case{"redis://localhost?tls_ca_file=/x", "TLS options need a rediss://"}, Case{"redis://", "missing host"},
                            Case{"unix:///tmp/s?tls_verify=1", "TLS over a unix socket"},
                            Case{"rediss://h?tls_verify=2", "tls_verify"}, Case{"rediss://h?tls_server_name=", "empty"},
                            Case{"redis://host:0", "port"}, Case{"redis://host:65536", "port"},
                            Case{"redis://host:abc", "port"}, Case{"redis://host:", "empty port"},
                            Case{"redis://host/abc", "db"}, Case{"redis://host/-1", "db"},
                            Case{"redis://user@host", "credentials"}, Case{"redis://[::1", "unterminated"},
                            Case{"redis://::1:6379", "brackets"}, Case{"redis://host?foo=1", "unknown query parameter"},
                            Case{"redis://host?db", "no '=value'"}, Case{"redis://host?command_timeout=0", "> 0"},
                            Case{"redis://host?connect_timeout=x", "connect_timeout"},
                            Case{"redis://host?max_connections=0", "max_connections"},
                            Case{"redis://:p%zz@host", "percent-escape"}, Case{"unix://relative.sock", "absolute"},
                            Case{"unix://", "absolute"}, Case{"redis://u:p/w@host", "percent-encode"},
                            Case{"redis://u:p?w@host", "%3F"}}) {
        INFO(url);
        redlock_client *c = nullptr;
        CHECK(redlock_client_new(&c, url, nullptr) == REDLOCK_EINVAL);
        CHECK_THAT(redlock_last_error(), Contains(why));
        CHECK(c == nullptr);
    }
}

TEST_CASE("a unix socket path too long for the kernel is EINVAL at client_new, not at first use", "[api]") {
    const std::string url = "unix:///tmp/" + std::string(200, 's') + ".sock";
    redlock_client *c = nullptr;
    CHECK(redlock_client_new(&c, url.c_str(), nullptr) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("longer than 107 bytes"));
    CHECK(c == nullptr);
}

TEST_CASE("well-formed URLs are accepted", "[api]") {
    for (const char *url : {"redis://localhost", "REDIS://localhost:6380/1", "Unix:///tmp/r.sock", "redis://127.0.0.1:6380/3", "redis://:secret@h:1/0",
                            "redis://user:p%40ss@h", "redis://[::1]:6379/2?command_timeout=100&connect_timeout=-1",
                            "unix:///tmp/r.sock?db=2&password=x", "unix://user:pw@/tmp/r.sock",
                            "redis://h?max_connections=4&keepalive=0&username=u&password=p"}) {
        INFO(url);
        redlock_client *c = nullptr;
        CHECK(redlock_client_new(&c, url, nullptr) == REDLOCK_OK);
        redlock_client_free(c);
    }
}

TEST_CASE("freeing the client before its locks is safe - freeing a held lock leaves Redis alone", "[api]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "bad:free-order", lock_options(10000));
    c.reset();  // the lock keeps the client's core alive
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    std::string tok = token_of(l.get());
    l.reset();  // never touches Redis
    CHECK(s.admin({"GET", "bad:free-order"}).str == tok);
    CHECK(pttl(s, "bad:free-order") > 0);
}

TEST_CASE("no URL error message contains any part of the password", "[api][url]") {
    // A password-shaped secret with the characters that push it into other URL components when not percent-encoded.
    const std::string secret = "Hunter2/Zq9?Kx7#Wm4@Pv8";
    const std::string pieces[] = {"Hunter", "Zq9", "Kx7", "Wm4", "Pv8"};
    std::string enc;  // the same secret, correctly percent-encoded
    for (char ch : secret) {
        if (std::isalnum(static_cast<unsigned char>(ch))) enc += ch;
        else enc += fmt_pct(ch);
    }
    // Every error path of the parser, each reached with the secret in the userinfo (raw or encoded) or the query.
    const std::string urls[] = {
        "redis://user:" + secret + "@host",                     // raw: '/' splits the authority: port/db errors
        "redis://:" + secret + "@host:6379/0",
        "redis://user:" + secret,
        "redis://" + secret,
        "redis://user:" + enc + "@host:99999",                   // port out of range
        "redis://user:" + enc + "@host:abc",                     // port not a number
        "redis://user:" + enc + "@host:",                        // empty port
        "redis://user:" + enc + "@host/abc",                     // db
        "redis://user:" + enc + "@[::1",                         // unterminated [
        "redis://user:" + enc + "@[::1]x",                       // text after ]
        "redis://user:" + enc + "@::1:6379",                     // IPv6 without brackets
        "redis://user:" + enc + "@",                             // missing host
        "redis://user:" + enc + "%zz@host",                      // bad percent-escape
        "redis://" + enc + "@host",                              // user alone
        "redis://u:" + enc + "@host?command_timeout=0",          // query: a timeout of 0
        "redis://u:" + enc + "@host?bogus=1",                    // unknown key
        "redis://u:" + enc + "@host?db",                         // no value
        "redis://h?password=" + enc + "&" + secret,              // a secret that looks like a key
        "redis://h?" + secret + "=1",
        "redis://h?db=1&password=" + enc + "%g0",
        "redis://u:" + secret + "@host?tls_ca_file=x",           // TLS options without rediss://
        "rediss://u:" + secret + "@host?tls_verify=7",           // TLS option out of range
        "unix://u:" + secret + "@relative.sock",                 // unix: not absolute
        "unix://u:" + enc + "%@/tmp/s",                          // unix: bad escape in the password
        secret + "://host",                                      // nonsense scheme
        "redis:/" + secret + "://host",
        "u:" + secret + "@host:6379",                            // no scheme at all
        std::string("redis://u:") + secret + std::string("\0@h", 3),  // NUL
    };
    for (const std::string &url : urls) {
        INFO(url);
        redlock_client *c = nullptr;
        int rc = redlock_client_new(&c, url.c_str(), nullptr);
        if (url.find('\0') != std::string::npos) continue;  // the C string ends at the NUL: nothing to leak
        CHECK(rc == REDLOCK_EINVAL);
        const std::string msg = redlock_last_error();
        INFO(msg);
        CHECK_FALSE(msg.empty());
        for (const std::string &p : pieces) CHECK(msg.find(p) == std::string::npos);
        redlock_client_free(c);
    }
}

TEST_CASE("topology options out of place are EINVAL: sentinel credentials without Sentinel, a cluster database",
          "[api]") {
    redlock_client_options o;
    redlock_client_options_init(&o);
    o.sentinel_password = "x";
    redlock_client *c = nullptr;
    CHECK(redlock_client_new(&c, "redis://localhost", &o) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("need a redis+sentinel:// URL"));
    CHECK(redlock_client_new(&c, "redis+sentinel://localhost/mymaster", &o) == REDLOCK_OK);
    redlock_client_free(c);
    redlock_client_options_init(&o);
    o.db = 2;
    CHECK(redlock_client_new(&c, "redis+cluster://localhost", &o) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("only database 0"));
    CHECK(c == nullptr);
}

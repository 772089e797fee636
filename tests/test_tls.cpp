// TLS (rediss://) against redis-server's own TLS port, with a CA and certificates made here by the openssl command.
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "redlock/redlock.hpp"
#include "support/handles.hpp"

using namespace testing;
using Catch::Matchers::Contains;

namespace {

// A temp dir with: ca (trusts server and client), other-ca (trusts nothing here), server (localhost, 127.0.0.1),
// expired (the server's key, expired), client (for mutual TLS). Removed at the end of the run.
struct Certs {
    std::string dir;
    Certs() {
        char tmpl[] = "/tmp/redlock-tls-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        const std::string d = dir + "/";
        const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        auto sh = [](const std::string &cmd) {
            int status = -1;
            std::string out = run_capture(cmd + " 2>&1", &status);
            INFO(cmd << "\n" << out);
            REQUIRE(status == 0);
        };
        std::ofstream(d + "ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
        for (const char *ca : {"ca", "other-ca"})
            sh("openssl req -x509 " + ec + " -keyout " + d + ca + ".key -out " + d + ca + ".crt -days 2 -subj /CN=" + ca);
        for (const char *who : {"server", "client"}) {
            sh("openssl req " + ec + " -keyout " + d + who + ".key -out " + d + who + ".csr -subj /CN=" + who);
            sh("openssl x509 -req -in " + d + who + ".csr -CA " + d + "ca.crt -CAkey " + d + "ca.key -CAcreateserial -out " +
               d + who + ".crt -days 2 -extfile " + d + "ext");
        }
        sh("openssl x509 -req -in " + d + "server.csr -CA " + d + "ca.crt -CAkey " + d + "ca.key -CAcreateserial -out " +
           d + "expired.crt -days -1 -extfile " + d + "ext");
        sh("openssl ec -in " + d + "client.key -aes256 -passout pass:secret -out " + d + "client-encrypted.key");
    }
    ~Certs() { (void)std::system(("rm -rf '" + dir + "'").c_str()); }
    std::string path(const std::string &name) const { return dir + "/" + name; }
};

const Certs &certs() {
    static Certs c;
    return c;
}

// A redis-server with a plain port (the harness's admin) and a TLS port.
struct TlsServer {
    int tls_port = unused_port();
    std::unique_ptr<RedisServer> server;
    explicit TlsServer(bool client_certs = false, const std::string &cert = "server.crt") {
        RedisServer::Options o;
        o.extra_args = {"--tls-port", std::to_string(tls_port), "--tls-cert-file", certs().path(cert),
                        "--tls-key-file", certs().path("server.key"), "--tls-ca-cert-file", certs().path("ca.crt"),
                        "--tls-auth-clients", client_certs ? "yes" : "no"};
        server = std::make_unique<RedisServer>(o);
    }
    std::string url(const std::string &host = "127.0.0.1", const std::string &query = "") const {
        return "rediss://" + host + ":" + std::to_string(tls_port) + "?tls_ca_file=" + certs().path("ca.crt") + query;
    }
};

int new_client(redlock_client **c, const std::string &url) {
    redlock_client_options o;
    redlock_client_options_init(&o);
    o.connect_timeout_ms = 2000;
    o.command_timeout_ms = 2000;
    return redlock_client_new(c, url.c_str(), &o);
}

}  // namespace

TEST_CASE("TLS: locks over rediss:// with the server verified by its CA, by IP and by name", "[tls]") {
    TlsServer s;
    for (const std::string host : {"127.0.0.1", "localhost"}) {
        INFO(host);
        redlock_client *raw = nullptr;
        REQUIRE(new_client(&raw, s.url(host)) == REDLOCK_OK);
        Client c(raw);
        CHECK(redlock_client_ping(c.get()) == REDLOCK_OK);
        auto l = make_lock(c.get(), "tls:lock", lock_options(10000));
        auto other = make_lock(c.get(), "tls:lock", lock_options(10000, 100, 0));
        REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        CHECK(s.server->admin({"GET", "tls:lock"}).str == token_of(l.get()));  // the same key, seen in plain
        CHECK(redlock_lock_acquire(other.get()) == REDLOCK_NOT_ACQUIRED);
        CHECK(redlock_lock_extend(l.get(), 1000, 0) == REDLOCK_OK);
        CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
        for (int i = 0; i < 50; ++i) {  // pooled TLS connections are reused (TLS 1.3 session tickets are no reply)
            REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
            REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
        }
    }
}

TEST_CASE("TLS: mutual TLS with a client certificate, and its absence refused", "[tls]") {
    TlsServer s(true);
    redlock_client *raw = nullptr;
    REQUIRE(new_client(&raw, s.url("127.0.0.1", "&tls_cert_file=" + certs().path("client.crt") +
                                                     "&tls_key_file=" + certs().path("client.key"))) == REDLOCK_OK);
    Client with(raw);
    CHECK(redlock_client_ping(with.get()) == REDLOCK_OK);
    REQUIRE(new_client(&raw, s.url()) == REDLOCK_OK);
    Client without(raw);
    CHECK(redlock_client_ping(without.get()) == REDLOCK_ECONN);  // the server hangs up on a client without one
}

TEST_CASE("TLS: an untrusted, mismatched or expired certificate is ECONN saying which", "[tls]") {
    TlsServer s;
    redlock_client *raw = nullptr;
    SECTION("another CA") {
        REQUIRE(new_client(&raw, "rediss://127.0.0.1:" + std::to_string(s.tls_port) + "?tls_ca_file=" +
                                     certs().path("other-ca.crt")) == REDLOCK_OK);
        Client c(raw);
        CHECK(redlock_client_ping(c.get()) == REDLOCK_ECONN);
        CHECK_THAT(redlock_last_error(), Contains("not trusted"));
    }
    SECTION("a name the certificate is not for") {
        REQUIRE(new_client(&raw, s.url("127.0.0.1", "&tls_server_name=redis.example.com")) == REDLOCK_OK);
        Client c(raw);
        CHECK(redlock_client_ping(c.get()) == REDLOCK_ECONN);
        CHECK_THAT(redlock_last_error(), Contains("is not for 'redis.example.com'"));
    }
    SECTION("verification off (unsafe) accepts the same server") {
        REQUIRE(new_client(&raw, "rediss://127.0.0.1:" + std::to_string(s.tls_port) + "?tls_verify=0") == REDLOCK_OK);
        Client c(raw);
        CHECK(redlock_client_ping(c.get()) == REDLOCK_OK);
    }
    SECTION("expired") {
        TlsServer old(false, "expired.crt");
        REQUIRE(new_client(&raw, old.url()) == REDLOCK_OK);
        Client c(raw);
        CHECK(redlock_client_ping(c.get()) == REDLOCK_ECONN);
        CHECK_THAT(redlock_last_error(), Contains("expired"));
    }
}

TEST_CASE("TLS: a plain port on rediss://, a TLS port on redis://, bad files: clear errors, nothing hangs", "[tls]") {
    TlsServer s;
    redlock_client *raw = nullptr;
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(new_client(&raw, "rediss://127.0.0.1:" + std::to_string(s.server->port()) + "?tls_ca_file=" +
                                 certs().path("ca.crt")) == REDLOCK_OK);
    Client plain_port(raw);
    CHECK(redlock_client_ping(plain_port.get()) == REDLOCK_ECONN);
    CHECK_THAT(redlock_last_error(), Contains("did not answer with TLS") || Contains("needs redis://"));
    REQUIRE(new_client(&raw, "redis://127.0.0.1:" + std::to_string(s.tls_port)) == REDLOCK_OK);
    Client tls_port(raw);
    CHECK(redlock_client_ping(tls_port.get()) == REDLOCK_ECONN);
    CHECK_THAT(redlock_last_error(), Contains("rediss://"));
    CHECK(seconds_since(t0) < 3.0);
    CHECK(new_client(&raw, "rediss://127.0.0.1:1?tls_ca_file=/nonexistent/ca.pem") == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("cannot load the CA file"));
    CHECK(new_client(&raw, "rediss://127.0.0.1:1?tls_cert_file=" + certs().path("client.crt")) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("both tls_cert_file and tls_key_file"));
    CHECK(new_client(&raw, "rediss://127.0.0.1:1?tls_cert_file=" + certs().path("client.crt") +
                               "&tls_key_file=" + certs().path("server.key")) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("does not match"));
    CHECK(new_client(&raw, "unix:///tmp/x.sock?tls_ca_file=" + certs().path("ca.crt")) == REDLOCK_EINVAL);
}

TEST_CASE("TLS: waiting, renewal and fork work over TLS too", "[tls][timing]") {
    TlsServer s;
    redlock_client *raw = nullptr;
    REQUIRE(new_client(&raw, s.url()) == REDLOCK_OK);
    Client c(raw);
    auto holder = make_lock(c.get(), "tls:wait", lock_options(10000), REDLOCK_SHARED);
    auto waiter = make_lock(c.get(), "tls:wait", lock_options(10000, 5000), REDLOCK_SHARED);
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    std::thread later([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        redlock_lock_release(holder.get());
    });
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(redlock_lock_acquire(waiter.get()) == REDLOCK_OK);  // woken through the TLS subscriber, not a 5 s poll
    CHECK(seconds_since(t0) < 1.5);
    later.join();
    CHECK(redlock_lock_release(waiter.get()) == REDLOCK_OK);
    auto o = lock_options(300);
    o.auto_renew = 1;
    auto renewed = make_lock(c.get(), "tls:renew", o);
    REQUIRE(redlock_lock_acquire(renewed.get()) == REDLOCK_OK);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    CHECK(redlock_lock_owned(renewed.get()) == 1);
    CHECK(redlock_lock_release(renewed.get()) == REDLOCK_OK);
}

TEST_CASE("TLS through redlock_client_options version 2, overriding the URL, and refused where it cannot apply", "[tls]") {
    TlsServer s;
    redlock_client_options o;
    redlock_client_options_init(&o);
    CHECK(o.version == 2);
    CHECK(o.tls_verify == -1);
    const std::string ca = certs().path("ca.crt"), other = certs().path("other-ca.crt");
    const std::string url = "rediss://127.0.0.1:" + std::to_string(s.tls_port) + "?tls_ca_file=" + other;
    o.tls_ca_file = ca.c_str();  // overrides the URL's (untrusted) CA
    redlock_client *raw = nullptr;
    REQUIRE(redlock_client_new(&raw, url.c_str(), &o) == REDLOCK_OK);
    Client c(raw);
    CHECK(redlock_client_ping(c.get()) == REDLOCK_OK);
    CHECK(redlock_client_new(&raw, "redis://127.0.0.1:1", &o) == REDLOCK_EINVAL);  // TLS fields without rediss://
    CHECK_THAT(redlock_last_error(), Contains("rediss://"));
    redlock_client_options_init(&o);
    o.tls_verify = 2;
    CHECK(redlock_client_new(&raw, url.c_str(), &o) == REDLOCK_EINVAL);
    redlock_client_options_init(&o);
    o.sentinel_username = "u";
    CHECK(redlock_client_new(&raw, url.c_str(), &o) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("sentinel"));
    CHECK(raw == nullptr);
}

TEST_CASE("C++: TLS through ClientOptions, which keeps its strings when copied", "[tls][cpp]") {
    TlsServer s;
    redlock::ClientOptions opts;
    {
        redlock::ClientOptions temp = redlock::ClientOptions{}.tls_ca_file(certs().path("ca.crt")).db(0);
        opts = temp;  // the copy must not point at temp's strings
    }
    redlock::Client client("rediss://localhost:" + std::to_string(s.tls_port), opts);
    CHECK_NOTHROW(client.ping());
    redlock::Lock l(client, "tls:cpp", redlock::LockOptions{}.timeout(std::chrono::seconds(10)));
    l.lock();
    l.unlock();
    CHECK_THROWS_AS(redlock::Client("rediss://localhost:" + std::to_string(s.tls_port),
                                    redlock::ClientOptions{}.tls_ca_file(certs().path("other-ca.crt")))
                        .ping(),
                    redlock::ConnectionError);
}

TEST_CASE("TLS: a host program's own OpenSSL use is undisturbed, before, during and after", "[tls]") {
    // The host makes and uses its own context; the library initialises OpenSSL once and changes no global state.
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> mine(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
    REQUIRE(mine);
    REQUIRE(SSL_CTX_set_min_proto_version(mine.get(), TLS1_3_VERSION) == 1);
    TlsServer s;
    std::vector<std::thread> threads;  // several clients made at once: the one-time initialisation is thread-safe
    std::atomic<int> ok{0};
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&] {
            redlock_client *raw = nullptr;
            if (new_client(&raw, s.url()) != REDLOCK_OK) return;
            if (redlock_client_ping(raw) == REDLOCK_OK) ++ok;
            redlock_client_free(raw);
        });
    for (auto &t : threads) t.join();
    CHECK(ok == 4);
    CHECK(SSL_CTX_get_min_proto_version(mine.get()) == TLS1_3_VERSION);  // the host's setting, as it left it
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(mine.get()), &SSL_free);
    CHECK(ssl != nullptr);
    CHECK(ERR_peek_error() == 0);  // no error left in this thread's queue by the library
}

TEST_CASE("TLS: a NUL in a TLS URL value, an encrypted key, a missing CA directory: EINVAL, never a prompt", "[tls]") {
    redlock_client *raw = nullptr;
    // A NUL would cut the name to "" and so switch the name check off: refused.
    CHECK(new_client(&raw, "rediss://127.0.0.1:1?tls_server_name=%00evil") == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("NUL"));
    CHECK(new_client(&raw, "rediss://127.0.0.1:1?tls_ca_file=%00x") == REDLOCK_EINVAL);
    CHECK(new_client(&raw, "rediss://127.0.0.1:1?tls_cert_file=" + certs().path("client.crt") +
                               "&tls_key_file=" + certs().path("client-encrypted.key")) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("encrypted"));
    CHECK(new_client(&raw, "rediss://127.0.0.1:1?tls_ca_dir=/nonexistent/certs") == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("CA directory"));
    CHECK(raw == nullptr);
}

TEST_CASE("TLS: a release message that shares a TLS record with a large one still wakes the waiter at once",
          "[tls][timing]") {
    TlsServer s;
    redlock_client *raw = nullptr;
    REQUIRE(new_client(&raw, s.url()) == REDLOCK_OK);
    Client c(raw);
    s.server->admin({"SET", "tls:record", "someone", "PX", "30000"});
    auto waiter = make_lock(c.get(), "tls:record", lock_options(10000, 5000), REDLOCK_SHARED);
    std::atomic<int> rc{99};
    std::thread t([&] { rc = redlock_lock_acquire(waiter.get()); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // subscribed and waiting
    const auto t0 = std::chrono::steady_clock::now();
    // One write from the server: a 10 kB message, then the release's: decrypted together, read in pieces.
    s.server->admin({"EVAL",
                     "redis.call('publish', ARGV[1], string.rep('x', 10000)) redis.call('del', KEYS[1]) "
                     "redis.call('publish', ARGV[1], '') return 1",
                     "1", "tls:record", "redlock:released:0:tls:record"});
    t.join();
    CHECK(rc == REDLOCK_OK);
    CHECK(seconds_since(t0) < 1.0);  // not the 5 s poll
    CHECK(redlock_lock_release(waiter.get()) == REDLOCK_OK);
}

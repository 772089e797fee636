// Redlock over independent masters (redlock_client_new_quorum) against five real redis-servers started by the
// harness, with kills, stopped and slowed masters, fault proxies and a restart without persistence.
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <hiredis/hiredis.h>

#include "support/fake_server.hpp"
#include "support/fault_proxy.hpp"
#include "support/handles.hpp"
#include "support/loopback.hpp"

using namespace testing;
using Catch::Matchers::Contains;
using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

namespace {

// N private masters, booted side by side.
struct Masters {
    std::vector<std::unique_ptr<RedisServer>> servers;
    explicit Masters(size_t n) {
        RedisServer::Options o;
        o.wait_up = false;
        for (size_t i = 0; i < n; ++i) servers.push_back(std::make_unique<RedisServer>(o));
        for (auto &s : servers) s->wait_up();
    }
    std::vector<std::string> urls() const {
        std::vector<std::string> out;
        for (auto &s : servers) out.push_back(s->url());
        return out;
    }
    RedisServer &operator[](size_t i) { return *servers[i]; }
    size_t holding(const std::string &key, const std::string &value) const {
        size_t n = 0;
        for (auto &s : servers)
            if (s->alive() && value_on(*s, key) == value) ++n;
        return n;
    }
    size_t with_key(const std::string &key) const {
        size_t n = 0;
        for (auto &s : servers)
            if (s->alive() && value_on(*s, key) != "(nil)") ++n;
        return n;
    }
};

int new_quorum(redlock_client **out, const std::vector<std::string> &urls, const redlock_client_options *o) {
    std::vector<const char *> p;
    for (const std::string &u : urls) p.push_back(u.c_str());
    return redlock_client_new_quorum(out, p.data(), p.size(), o);
}

Client quorum_client(const std::vector<std::string> &urls, int64_t command_ms = 1000) {
    auto o = client_options(500, command_ms);
    redlock_client *c = nullptr;
    const int rc = new_quorum(&c, urls, &o);
    INFO(redlock_last_error());
    REQUIRE(rc == REDLOCK_OK);
    return Client(c);
}

std::vector<int> outcomes() {
    size_t n = 0;
    REQUIRE(redlock_quorum_outcomes(nullptr, 0, &n) == REDLOCK_OK);
    std::vector<int> codes(n);
    REQUIRE(redlock_quorum_outcomes(codes.data(), codes.size(), &n) == REDLOCK_OK);
    return codes;
}

size_t count(const std::vector<int> &v, int code) { return static_cast<size_t>(std::count(v.begin(), v.end(), code)); }

// Until every master answers the client's PING: one found down is reconnected in the background, every 100 ms.
bool all_answer(redlock_client *c) {
    return eventually(
        [&] {
            if (redlock_client_ping(c) != REDLOCK_OK) return false;
            size_t n = 0;
            int codes[REDLOCK_MAX_MASTERS];
            redlock_quorum_outcomes(codes, REDLOCK_MAX_MASTERS, &n);
            return std::count(codes, codes + n, REDLOCK_OK) == static_cast<long>(n);
        },
        milliseconds(3000));
}

// MONITOR on one server, read by a thread: the lines that contain `needle` (each starts with the server's time).
class Monitor {
public:
    Monitor(int port, std::string needle) : needle_(std::move(needle)), ctx_(redisConnect("127.0.0.1", port)) {
        REQUIRE((ctx_ && !ctx_->err));
        freeReplyObject(redisCommand(ctx_, "MONITOR"));
        timeval tv{0, 100000};
        redisSetTimeout(ctx_, tv);
        reader_ = std::thread([this] {
            while (!done_.load()) {
                void *r = nullptr;
                if (redisGetReply(ctx_, &r) != REDIS_OK) {
                    if (ctx_->err != REDIS_ERR_IO || (errno != EAGAIN && errno != EWOULDBLOCK)) return;
                    ctx_->err = 0;  // the read timeout: look at done_, then read on
                    continue;
                }
                auto *reply = static_cast<redisReply *>(r);
                std::string line(reply->str ? reply->str : "", reply->str ? reply->len : 0);
                if (line.find(needle_) != std::string::npos) {
                    std::lock_guard<std::mutex> lk(mu_);
                    lines_.push_back(std::move(line));
                }
                freeReplyObject(reply);
            }
        });
    }
    ~Monitor() {
        done_ = true;
        reader_.join();
        redisFree(ctx_);
    }
    // What it has seen, once what was sent by now has had 300 ms to show.
    std::vector<std::string> lines() {
        std::this_thread::sleep_for(milliseconds(300));
        std::lock_guard<std::mutex> lk(mu_);
        return lines_;
    }

private:
    const std::string needle_;
    redisContext *ctx_;
    std::atomic<bool> done_{false};
    std::mutex mu_;
    std::vector<std::string> lines_;
    std::thread reader_;
};

int64_t validity_of(redlock_lock *l) {
    int64_t ms = -1;
    const int rc = redlock_lock_validity(l, &ms);
    return rc == REDLOCK_OK ? ms : rc;
}

}  // namespace

TEST_CASE("quorum: one token on every master, a validity, and a release that frees them all", "[quorum]") {
    Masters m(5);
    Client c = quorum_client(m.urls());
    REQUIRE(redlock_client_ping(c.get()) == REDLOCK_OK);
    CHECK(outcomes() == std::vector<int>(5, REDLOCK_OK));

    Lock a = make_lock(c.get(), "q:basic", lock_options(10000));
    const auto t0 = Steady::now();
    REQUIRE(redlock_lock_acquire(a.get()) == REDLOCK_OK);
    const std::string token = token_of(a.get());
    CHECK(m.holding("q:basic", token) >= 3);  // the slowest may not have answered yet
    CHECK(eventually([&] { return m.holding("q:basic", token) == 5; }, milliseconds(2000)));
    for (size_t i = 0; i < 5; ++i) CHECK(pttl(m[i], "q:basic") > 9000);
    // TTL − elapsed − drift (100 + 2 ms), at most
    const int64_t v = validity_of(a.get());
    CHECK(v <= 10000 - 102);
    CHECK(v >= 10000 - 102 - 1000 - static_cast<int64_t>(seconds_since(t0) * 1000));
    CHECK(redlock_lock_owned(a.get()) == 1);
    CHECK(redlock_lock_locked(a.get()) == 1);

    // another owner is told it is busy by every master
    Lock b = make_lock(c.get(), "q:basic", lock_options(10000, 100, 0));
    CHECK(redlock_lock_acquire(b.get()) == REDLOCK_NOT_ACQUIRED);
    std::vector<int> o = outcomes();
    CHECK(count(o, REDLOCK_NOT_ACQUIRED) >= 3);
    CHECK(count(o, REDLOCK_OK) == 0);
    CHECK(redlock_lock_owned(b.get()) == 0);
    CHECK(validity_of(b.get()) == REDLOCK_ENOTHELD);
    CHECK(m.holding("q:basic", token) == 5);  // its failed attempt removed nothing of ours

    REQUIRE(redlock_lock_release(a.get()) == REDLOCK_OK);
    CHECK(count(outcomes(), REDLOCK_OK) >= 3);  // decided by a majority; the others get it all the same
    CHECK(eventually([&] { return m.with_key("q:basic") == 0; }, milliseconds(2000)));
    CHECK(redlock_lock_locked(a.get()) == 0);
    CHECK(redlock_lock_release(a.get()) == REDLOCK_ENOTHELD);
    CHECK(redlock_lock_acquire(b.get()) == REDLOCK_OK);
    CHECK(redlock_lock_release(b.get()) == REDLOCK_OK);
}

TEST_CASE("quorum: extend and reacquire need a majority and move the validity", "[quorum]") {
    Masters m(5);
    Client c = quorum_client(m.urls());
    Lock l = make_lock(c.get(), "q:extend", lock_options(2000), REDLOCK_SHARED);
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    const std::string token = token_of(l.get());
    CHECK(validity_of(l.get()) <= 2000 - 22);
    REQUIRE(redlock_lock_extend(l.get(), 5000, 0) == REDLOCK_OK);  // added: ~7 s left
    CHECK(validity_of(l.get()) > 6000);
    REQUIRE(redlock_lock_extend(l.get(), 3000, 1) == REDLOCK_OK);  // replaced: 3 s − 32 ms
    CHECK(validity_of(l.get()) <= 3000 - 32);
    CHECK(validity_of(l.get()) > 2000);
    REQUIRE(redlock_lock_reacquire(l.get()) == REDLOCK_OK);  // back to the lock's 2 s
    CHECK(validity_of(l.get()) <= 2000 - 22);

    // two of five lost the key: a majority still holds it
    m[0].admin({"DEL", "q:extend"});
    m[1].admin({"DEL", "q:extend"});
    CHECK(redlock_lock_extend(l.get(), 1000, 0) == REDLOCK_OK);
    std::vector<int> o = outcomes();
    CHECK(count(o, REDLOCK_OK) >= 3);
    CHECK(o[0] != REDLOCK_OK);  // ENOTOWNED, or not waited for (ETIMEDOUT) once the other three had it
    CHECK(o[1] != REDLOCK_OK);
    CHECK(redlock_lock_owned(l.get()) == 1);

    // a third: no majority holds it any more
    m[2].admin({"DEL", "q:extend"});
    CHECK(redlock_lock_owned(l.get()) == 0);
    CHECK(redlock_lock_extend(l.get(), 1000, 0) == REDLOCK_ENOTOWNED);
    CHECK(redlock_lock_reacquire(l.get()) == REDLOCK_ENOTOWNED);
    CHECK_THAT(redlock_last_error(), Contains("127.0.0.1:" + std::to_string(m[0].port())));
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTOWNED);  // the two that had it released it all the same
    CHECK(eventually([&] { return m.with_key("q:extend") == 0; }, milliseconds(2000)));
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTHELD);
    CHECK(outcomes().empty());  // nothing asked: no outcomes left from the call before
}

TEST_CASE("quorum: two of five masters down, locks work, and three down, a clear error and no key left", "[quorum]") {
    Masters m(5);
    Client c = quorum_client(m.urls(), 500);
    m[3].kill();
    m[4].kill();
    Lock l = make_lock(c.get(), "q:down", lock_options(10000, 50, 1, 1000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    std::vector<int> o = outcomes();
    CHECK(count(o, REDLOCK_OK) == 3);
    for (size_t i : {3, 4})  // refused, or (a loaded machine) not yet when the three had answered
        CHECK((o[i] == REDLOCK_ECONN || o[i] == REDLOCK_ETIMEDOUT));
    CHECK(validity_of(l.get()) > 8000);
    CHECK(redlock_client_ping(c.get()) == REDLOCK_OK);  // a majority answers
    REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);

    m[2].kill();
    const auto t0 = Steady::now();
    const int rc = redlock_lock_acquire(l.get());
    CHECK((rc == REDLOCK_ECONN || rc == REDLOCK_NOT_ACQUIRED));
    CHECK(rc == REDLOCK_ECONN);  // refused connections: the servers are down, not the lock taken
    CHECK_THAT(redlock_last_error(), Contains("of 5 masters granted, 3 needed"));
    CHECK_THAT(redlock_last_error(), Contains("Connection refused"));
    CHECK(seconds_since(t0) < 1.0 + 1.0);  // within the blocking timeout (it fails at once), with slack
    CHECK(validity_of(l.get()) == REDLOCK_ENOTHELD);
    // the two alive were sent the SET (not waited for: three refusals decided it) and the release behind it
    CHECK(eventually([&] { return m.with_key("q:down") == 0; }, milliseconds(2000)));
    CHECK(redlock_client_ping(c.get()) == REDLOCK_ECONN);

    m[2].restart();  // back to a majority
    m[2].wait_up();
    REQUIRE(all_answer(c.get()) == false);  // 3 and 4 are still down
    CHECK(eventually([&] { return redlock_client_ping(c.get()) == REDLOCK_OK; }, milliseconds(3000)));
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("quorum: a master whose host is gone (connect hangs) never holds up a call", "[quorum]") {
    Masters m(4);
    BlackHole hole;
    // first in the list: connections are not opened one master after another
    std::vector<std::string> urls{"redis://127.0.0.1:" + std::to_string(hole.port())};
    for (const std::string &u : m.urls()) urls.push_back(u);
    Client c = quorum_client(urls, 1000);  // connect timeout 500 ms
    Lock l = make_lock(c.get(), "q:hole", lock_options(10000));
    const auto t0 = Steady::now();
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);  // a new client: four connect at once, the fifth never
    CHECK(seconds_since(t0) < 0.4);
    std::vector<int> o = outcomes();
    CHECK(o[0] == REDLOCK_ETIMEDOUT);  // still connecting
    CHECK(count(o, REDLOCK_OK) >= 3);  // (a fourth may not have answered yet when three had)
    REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
    const auto t1 = Steady::now();
    for (int i = 0; i < 20; ++i) {
        REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
    }
    CHECK(seconds_since(t1) < 1.0);
    // once its connect timed out in the background, it is down: not asked, its error the answer
    CHECK(eventually(
        [&] {
            redlock_lock_acquire(l.get());
            redlock_lock_release(l.get());
            return outcomes()[0] == REDLOCK_ECONN;
        },
        milliseconds(3000)));
    CHECK(count(outcomes(), REDLOCK_OK) >= 3);
}

TEST_CASE("quorum: a new client connects to every master at once and marks none down for its own deadline", "[quorum]") {
    Masters m(3);
    std::vector<std::string> urls = m.urls();
    Client c = quorum_client(urls, 1000);
    // a TTL so short that the validity is gone at once is refused: it could never be acquired
    redlock_lock *bad = nullptr;
    auto tiny = lock_options(2);
    CHECK(redlock_lock_new(&bad, c.get(), "q:tiny", &tiny, 0) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("drift"));
    // a short one that runs out while connecting leaves the masters usable
    Lock shortl = make_lock(c.get(), "q:short", lock_options(3, 0, 0));
    (void)redlock_lock_acquire(shortl.get());
    Lock l = make_lock(c.get(), "q:short", lock_options(10000));
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    CHECK(count(outcomes(), REDLOCK_ECONN) == 0);  // none was marked down
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("quorum: a slow master does not slow the acquire", "[quorum]") {
    Masters m(5);
    Client c = quorum_client(m.urls(), 5000);
    Lock warm = make_lock(c.get(), "q:warm", lock_options(10000));
    REQUIRE(redlock_lock_acquire(warm.get()) == REDLOCK_OK);  // pooled connections to all five
    REQUIRE(redlock_lock_release(warm.get()) == REDLOCK_OK);

    std::thread sleeper([&] { m[1].admin({"DEBUG", "SLEEP", "3"}); });
    std::this_thread::sleep_for(milliseconds(200));
    Lock l = make_lock(c.get(), "q:slow", lock_options(10000));
    const auto t0 = Steady::now();
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    const double took = seconds_since(t0);
    CHECK(took < 1.0);  // the fastest majority, not the 3 s master
    std::vector<int> o = outcomes();
    CHECK(count(o, REDLOCK_OK) >= 3);
    CHECK(o[1] == REDLOCK_ETIMEDOUT);  // not waited for
    sleeper.join();
    // its SET ran once it woke (our token: the release covers it)
    REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
    CHECK(eventually([&] { return m.with_key("q:slow") == 0; }, milliseconds(4000)));
}

TEST_CASE("quorum: retries wait a random part (half to all) of sleep", "[quorum]") {
    Masters m(3);
    Client c = quorum_client(m.urls());
    Lock holder = make_lock(c.get(), "q:jitter", lock_options(10000));
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    Monitor mon(m[0].port(), "\"SET\" \"q:jitter\"");  // the waiter's SETs as master 0 sees them
    Lock waiter = make_lock(c.get(), "q:jitter", lock_options(10000, 200, 1, 2500));
    CHECK(redlock_lock_acquire(waiter.get()) == REDLOCK_NOT_ACQUIRED);
    std::vector<double> at;
    for (const std::string &line : mon.lines()) at.push_back(std::stod(line));  // the server's timestamps (µs)
    REQUIRE(at.size() >= 10);  // 2.5 s at 100 to 200 ms
    std::vector<double> gaps;
    for (size_t i = 1; i < at.size(); ++i) gaps.push_back(at[i] - at[i - 1]);
    const auto [lo, hi] = std::minmax_element(gaps.begin(), gaps.end());
    INFO("gaps from " << *lo << " to " << *hi << " s over " << gaps.size());
    CHECK(*lo >= 0.095);         // never under half of sleep
    CHECK(*lo < 0.18);           // and not always all of it
    CHECK(*hi - *lo > 0.02);     // not in lockstep
    CHECK(redlock_lock_release(holder.get()) == REDLOCK_OK);
}

TEST_CASE("quorum: a client that reaches only a minority never believes it holds the lock", "[quorum]") {
    Masters m(5);
    // masters 0 and 1 direct; 2, 3 and 4 behind proxies that black-hole every command
    std::vector<std::unique_ptr<FaultProxy>> holes;
    std::vector<std::string> urls{m[0].url(), m[1].url()};
    for (size_t i = 2; i < 5; ++i) {
        holes.push_back(std::make_unique<FaultProxy>(m[i].port()));
        holes.back()->add({"", FaultProxy::Fault::drop_request, 0, 1 << 30});
        urls.push_back(holes.back()->url());
    }
    Client c = quorum_client(urls, 300);
    Lock l = make_lock(c.get(), "q:minority", lock_options(10000, 50, 1, 1000));
    for (int i = 0; i < 3; ++i) {
        const int rc = redlock_lock_acquire(l.get());
        CHECK(rc == REDLOCK_ETIMEDOUT);
        CHECK(validity_of(l.get()) == REDLOCK_ENOTHELD);
        CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTHELD);
    }
    CHECK(eventually([&] { return m.with_key("q:minority") == 0; }, milliseconds(2000)));  // the reachable two were sent the release
    // the majority side is free for a client that reaches it
    Client other = quorum_client({m[0].url(), m[1].url(), m[2].url(), m[3].url(), m[4].url()});
    Lock l2 = make_lock(other.get(), "q:minority", lock_options(10000, 50, 0));
    CHECK(redlock_lock_acquire(l2.get()) == REDLOCK_OK);
    CHECK(redlock_lock_release(l2.get()) == REDLOCK_OK);
}

TEST_CASE("quorum: two clients racing for 1000 rounds with random delays never overlap", "[quorum]") {
    Masters m(5);
    struct Interval {
        Steady::time_point from, to;
    };
    std::mutex mu;
    std::vector<Interval> held[2];
    std::vector<std::unique_ptr<FaultProxy>> proxies;
    std::vector<std::string> urls[2];
    std::mt19937 rng(12345);
    for (int who = 0; who < 2; ++who)
        for (size_t i = 0; i < 5; ++i) {
            proxies.push_back(std::make_unique<FaultProxy>(m[i].port()));
            for (int k = 0; k < 1200; ++k) {  // each SET (and release) of this client on this master: 0..3 ms late
                const int ms = static_cast<int>(rng() % 4);
                const auto fault = rng() % 2 ? FaultProxy::Fault::delay_request : FaultProxy::Fault::delay_reply;
                proxies.back()->add({"SET", fault, ms, 1});
            }
            urls[who].push_back(proxies.back()->url());
        }
    std::atomic<int> round{0}, ready{0}, errors{0};
    const int rounds = 1000;
    auto racer = [&](int who) {
        redlock_client *raw = nullptr;
        auto o = client_options(1000, 2000);
        std::vector<const char *> p;
        for (auto &u : urls[who]) p.push_back(u.c_str());
        if (redlock_client_new_quorum(&raw, p.data(), p.size(), &o) != REDLOCK_OK) {
            ++errors;
            return;
        }
        Client c(raw);
        Lock l = new_lock_or_null(c.get(), "q:race", lock_options(5000, 0, 0));
        for (int r = 0; r < rounds; ++r) {
            ready.fetch_add(1);
            while (ready.load() < 2 * (r + 1)) std::this_thread::yield();  // both start each round together
            const int rc = redlock_lock_acquire(l.get());
            if (rc == REDLOCK_OK) {
                const auto from = Steady::now();
                int64_t v = 0;
                redlock_lock_validity(l.get(), &v);
                std::this_thread::sleep_for(std::chrono::microseconds(500));
                const auto to = std::min(Steady::now(), from + milliseconds(v));
                {
                    std::lock_guard<std::mutex> lk(mu);
                    held[who].push_back({from, to});
                }
                if (redlock_lock_release(l.get()) != REDLOCK_OK) ++errors;
            } else if (rc != REDLOCK_NOT_ACQUIRED) {
                ++errors;
                fprintf(stderr, "%d %s\n", rc, redlock_last_error());
            }
            round.fetch_add(1);
        }
    };
    std::thread a(racer, 0), b(racer, 1);
    a.join();
    b.join();
    CHECK(errors.load() == 0);
    size_t overlaps = 0;
    for (const Interval &x : held[0])
        for (const Interval &y : held[1])
            if (x.from < y.to && y.from < x.to) ++overlaps;
    CHECK(overlaps == 0);
    INFO("won: " << held[0].size() << " and " << held[1].size() << " of " << rounds);
    CHECK(held[0].size() + held[1].size() > rounds / 2);  // split votes were cleaned up: most rounds had a winner
    CHECK(held[0].size() > 50);
    CHECK(held[1].size() > 50);
    // Released: at most a minority may keep a key that a late SET set after its release went on another connection
    // (redlock.md), and only until its TTL.
    const bool clean = eventually([&] { return m.with_key("q:race") < 3; }, milliseconds(2000));
    for (size_t i = 0; i < 5 && !clean; ++i)
        UNSCOPED_INFO("master " << i << ": " << value_on(m[i], "q:race") << " PTTL " << pttl(m[i], "q:race"));
    CHECK(clean);
}

TEST_CASE("quorum: a master restarted without persistence must stay down for a TTL (delayed restart)", "[quorum]") {
    Masters m(3);
    Client c = quorum_client(m.urls(), 500);
    // A holds the lock on masters 0 and 1 (master 2 was down when it took it)
    m[2].kill();
    Lock a = make_lock(c.get(), "q:restart", lock_options(3000, 50, 0));
    REQUIRE(redlock_lock_acquire(a.get()) == REDLOCK_OK);
    m[2].restart();
    m[2].wait_up();
    REQUIRE(all_answer(c.get()));

    SECTION("restarted at once: its lost key lets a second owner in (the unsafe case)") {
        m[0].kill();
        m[0].restart();  // no persistence: A's key on it is gone
        m[0].wait_up();
        REQUIRE(all_answer(c.get()));
        Lock b = make_lock(c.get(), "q:restart", lock_options(3000, 50, 0));
        const int rc = redlock_lock_acquire(b.get());
        INFO(redlock_last_error());
        CHECK(rc == REDLOCK_OK);  // masters 0 and 2
        CHECK(validity_of(a.get()) > 0);                      // and A still believes it holds the lock
        CHECK(validity_of(b.get()) > 0);
    }
    SECTION("restarted after the longest TTL: the old owner's validity is over before anyone else can get in") {
        m[0].kill();
        const auto killed = Steady::now();
        Lock b = make_lock(c.get(), "q:restart", lock_options(3000, 50, 0));
        const int rc = redlock_lock_acquire(b.get());
        INFO(redlock_last_error());
        CHECK(rc == REDLOCK_NOT_ACQUIRED);  // master 1 still holds A's key
        std::this_thread::sleep_until(killed + milliseconds(3000));   // the delayed restart
        m[0].restart();
        m[0].wait_up();
        REQUIRE(all_answer(c.get()));
        CHECK(validity_of(a.get()) == 0);
        CHECK(redlock_lock_acquire(b.get()) == REDLOCK_OK);
        CHECK(redlock_lock_release(b.get()) == REDLOCK_OK);
    }
}

TEST_CASE("quorum: auto_renew keeps a quorum lock past its TTL and reports it lost without a majority", "[quorum]") {
    Masters m(3);
    Client c = quorum_client(m.urls(), 300);
    std::atomic<int> lost{0};
    auto o = lock_options(600);
    o.auto_renew = 1;
    o.on_lost = [](redlock_lock *, int reason, void *arg) { static_cast<std::atomic<int> *>(arg)->store(reason); };
    o.on_lost_arg = &lost;
    Lock l = make_lock(c.get(), "q:renew", o, REDLOCK_SHARED);
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    std::this_thread::sleep_for(milliseconds(1500));
    CHECK(validity_of(l.get()) > 0);
    CHECK(m.holding("q:renew", token_of(l.get())) == 3);
    CHECK(lost.load() == 0);
    m[1].signal(SIGSTOP);
    m[2].signal(SIGSTOP);
    CHECK(eventually([&] { return lost.load() != 0; }, milliseconds(3000)));
    CHECK(validity_of(l.get()) == 0);
    m[1].signal(SIGCONT);
    m[2].signal(SIGCONT);
}

TEST_CASE("quorum: bad arguments are refused with a reason", "[quorum]") {
    Masters m(2);
    redlock_client *c = reinterpret_cast<redlock_client *>(1);
    const std::string u0 = m[0].url(), u1 = m[1].url();
    const char *two[] = {u0.c_str(), u1.c_str()};
    CHECK(redlock_client_new_quorum(nullptr, two, 2, nullptr) == REDLOCK_EINVAL);
    CHECK(redlock_client_new_quorum(&c, nullptr, 2, nullptr) == REDLOCK_EINVAL);
    CHECK(c == nullptr);
    CHECK(redlock_client_new_quorum(&c, two, 0, nullptr) == REDLOCK_EINVAL);
    std::vector<std::string> many;
    for (int i = 0; i < 65; ++i) many.push_back("redis://127.0.0.1:" + std::to_string(10000 + i));
    CHECK(new_quorum(&c, many, nullptr) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("1 to 64"));
    many.resize(64);
    REQUIRE(new_quorum(&c, many, nullptr) == REDLOCK_OK);
    redlock_client_free(c);
    CHECK(new_quorum(&c, {u0, u1, m[0].url(1)}, nullptr) == REDLOCK_EINVAL);  // another db, the same server
    CHECK_THAT(redlock_last_error(), Contains("urls[0] and urls[2] are the same server"));
    CHECK(new_quorum(&c, {u0, "redis://nohost:99999"}, nullptr) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("urls[1]"));
    CHECK(new_quorum(&c, {u0, "redis+sentinel://127.0.0.1/mymaster"}, nullptr) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("one server"));
    const char *with_null[] = {u0.c_str(), nullptr};
    CHECK(redlock_client_new_quorum(&c, with_null, 2, nullptr) == REDLOCK_EINVAL);
    CHECK(c == nullptr);

    Client q = quorum_client({u0, u1});
    redlock_lock *l = nullptr;
    auto no_ttl = lock_options(0);
    CHECK(redlock_lock_new(&l, q.get(), "q:bad", &no_ttl, 0) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("TTL"));
    auto fenced = lock_options(1000);
    fenced.fencing = 1;
    CHECK(redlock_lock_new(&l, q.get(), "q:bad", &fenced, 0) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("fencing"));
    auto fair = lock_options(1000);
    fair.fair = 1;
    CHECK(redlock_lock_new(&l, q.get(), "q:bad", &fair, 0) == REDLOCK_EINVAL);
    CHECK(l == nullptr);

    size_t n = 0;
    CHECK(redlock_quorum_outcomes(nullptr, 0, nullptr) == REDLOCK_EINVAL);
    CHECK(redlock_quorum_outcomes(nullptr, 3, &n) == REDLOCK_EINVAL);
    int64_t ms = 0;
    CHECK(redlock_lock_validity(nullptr, &ms) == REDLOCK_EINVAL);
    Lock ok = make_lock(q.get(), "q:bad", lock_options(1000));
    CHECK(redlock_lock_validity(ok.get(), nullptr) == REDLOCK_EINVAL);
    CHECK(redlock_lock_validity(ok.get(), &ms) == REDLOCK_ENOTHELD);

    // a single-server lock has the same validity rule; without a TTL it has none
    Client single = make_client(u0);
    Lock forever = make_lock(single.get(), "q:forever", lock_options(0));
    REQUIRE(redlock_lock_acquire(forever.get()) == REDLOCK_OK);
    CHECK(redlock_lock_validity(forever.get(), &ms) == REDLOCK_ENOTTL);
    REQUIRE(redlock_lock_release(forever.get()) == REDLOCK_OK);
    Lock timed = make_lock(single.get(), "q:timed", lock_options(1000));
    REQUIRE(redlock_lock_acquire(timed.get()) == REDLOCK_OK);
    CHECK(validity_of(timed.get()) <= 1000 - 12);
    CHECK(validity_of(timed.get()) > 500);
    REQUIRE(redlock_lock_release(timed.get()) == REDLOCK_OK);
}

TEST_CASE("quorum: ping says EAUTH only when every failure is a refused credential, and hides passwords", "[quorum]") {
    RedisServer open_server, locked_a(RedisServer::Options({"--requirepass", "right"})),
        locked_b(RedisServer::Options({"--requirepass", "right"}));
    const std::string wrong_a = "redis://:wrong-secret@127.0.0.1:" + std::to_string(locked_a.port());
    const std::string wrong_b = "redis://:wrong-secret@127.0.0.1:" + std::to_string(locked_b.port());
    Client c = quorum_client({open_server.url(), wrong_a, wrong_b});
    CHECK(redlock_client_ping(c.get()) == REDLOCK_EAUTH);
    CHECK_THAT(redlock_last_error(), !Contains("wrong-secret"));
    CHECK(outcomes() == std::vector<int>{REDLOCK_OK, REDLOCK_EAUTH, REDLOCK_EAUTH});
    Client mixed = quorum_client({open_server.url(), wrong_a, "redis://127.0.0.1:" + std::to_string(unused_port())});
    CHECK(redlock_client_ping(mixed.get()) == REDLOCK_ECONN);
    Lock l = make_lock(c.get(), "q:auth", lock_options(1000));
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_EAUTH);
    CHECK_THAT(redlock_last_error(), !Contains("wrong-secret"));
    CHECK(open_server.admin({"EXISTS", "q:auth"}).integer == 0);  // the one that granted was cleaned up
}

TEST_CASE("quorum: each attempt of a blocking acquire has a token of its own", "[quorum]") {
    // A failed attempt's clean-up can be delayed in the network past the next attempt: with one token for all
    // attempts, it would delete the key the next one took (found by an outside attack through a delaying proxy).
    Masters m(3);
    Client c = quorum_client(m.urls());
    Lock holder = make_lock(c.get(), "q:tokens", lock_options(10000));
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    const std::string head = "\"SET\" \"q:tokens\" \"";
    Monitor mon(m[1].port(), head);
    Lock waiter = make_lock(c.get(), "q:tokens", lock_options(10000, 50, 1, 600));
    CHECK(redlock_lock_acquire(waiter.get()) == REDLOCK_NOT_ACQUIRED);
    REQUIRE(redlock_lock_release(holder.get()) == REDLOCK_OK);
    std::vector<std::string> tokens;
    for (const std::string &line : mon.lines()) tokens.push_back(line.substr(line.find(head) + head.size(), 32));
    REQUIRE(tokens.size() >= 4);  // 600 ms at 25 to 50 ms
    std::vector<std::string> distinct = tokens;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    CHECK(distinct.size() == tokens.size());
}

TEST_CASE("validity never exceeds the key's TTL when renewals undo an extend", "[quorum][renewal]") {
    // auto_renew resets the TTL to the lock's (PEXPIRE): an extend by a minute lasts until the next renewal.
    Masters m(3);
    Client quorum = quorum_client(m.urls());
    Client single = make_client(m[0].url());
    for (redlock_client *c : {quorum.get(), single.get()}) {
        auto o = lock_options(900);
        o.auto_renew = 1;
        Lock l = make_lock(c, c == quorum.get() ? "q:ext-renew" : "s:ext-renew", o);
        REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        REQUIRE(redlock_lock_extend(l.get(), 60000, 0) == REDLOCK_OK);
        const std::string key = c == quorum.get() ? "q:ext-renew" : "s:ext-renew";
        for (int i = 0; i < 12; ++i) {  // through several renewals (every 300 ms)
            const int64_t v = validity_of(l.get());
            const long long left = pttl(m[0], key);
            INFO("validity " << v << " ms, PTTL " << left << " ms, sample " << i);
            CHECK(v <= left);
            CHECK(v > 0);
            std::this_thread::sleep_for(milliseconds(100));
        }
        REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
    }
}

TEST_CASE("quorum: a stopped master holds up no call: busy, lost and released at the speed of the others", "[quorum]") {
    Masters m(3);
    Client c = quorum_client(m.urls(), 3000);
    Lock holder = make_lock(c.get(), "q:stopped", lock_options(10000));
    REQUIRE(redlock_lock_acquire(holder.get()) == REDLOCK_OK);
    m[0].signal(SIGSTOP);
    struct Cont {
        RedisServer &s;
        ~Cont() { s.signal(SIGCONT); }
    } cont{m[0]};
    Lock other = make_lock(c.get(), "q:stopped", lock_options(10000, 50, 0));
    auto t0 = Steady::now();
    CHECK(redlock_lock_acquire(other.get()) == REDLOCK_NOT_ACQUIRED);  // two said busy: its clean-up is not awaited
    CHECK(seconds_since(t0) < 1.0);
    t0 = Steady::now();
    CHECK(redlock_lock_release(holder.get()) == REDLOCK_OK);  // two released it
    CHECK(seconds_since(t0) < 1.0);
    t0 = Steady::now();
    CHECK(redlock_lock_acquire(other.get()) == REDLOCK_OK);
    CHECK(redlock_lock_extend(other.get(), 1000, 0) == REDLOCK_OK);
    CHECK(redlock_lock_release(other.get()) == REDLOCK_OK);
    CHECK(seconds_since(t0) < 1.0);
    // the stopped one plus two refusing: lost at once, without waiting for the stopped one
    Client c2 = quorum_client({m[0].url(), "redis://127.0.0.1:" + std::to_string(unused_port()),
                               "redis://127.0.0.1:" + std::to_string(unused_port())},
                              3000);
    Lock l2 = make_lock(c2.get(), "q:stopped2", lock_options(10000, 50, 0));
    t0 = Steady::now();
    CHECK(redlock_lock_acquire(l2.get()) == REDLOCK_ECONN);
    CHECK(seconds_since(t0) < 1.0);
}

TEST_CASE("quorum: a busy pool is not a master down", "[quorum]") {
    Masters m(3);
    auto o = client_options(100, 500);
    o.max_connections = 2;  // for 4 threads: they wait for each other's connections
    redlock_client *raw = nullptr;
    const std::vector<std::string> urls = m.urls();
    REQUIRE(new_quorum(&raw, urls, &o) == REDLOCK_OK);
    Client c(raw);
    m[2].signal(SIGSTOP);  // rounds end without it: its one connection owes replies, then is replaced
    struct Cont {
        RedisServer &s;
        ~Cont() { s.signal(SIGCONT); }
    } cont{m[2]};
    std::atomic<int> ok{0}, healthy_called_down{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            Lock l = new_lock_or_null(c.get(), "q:busy" + std::to_string(t), lock_options(5000, 10, 0));
            const auto end = Steady::now() + milliseconds(1500);
            while (Steady::now() < end) {
                if (redlock_lock_acquire(l.get()) == REDLOCK_OK) {
                    ++ok;
                    redlock_lock_release(l.get());
                }
                if (std::strstr(redlock_last_error(), "unreachable") &&
                    (std::strstr(redlock_last_error(), (":" + std::to_string(m[0].port()) + ": ").c_str()) ||
                     std::strstr(redlock_last_error(), (":" + std::to_string(m[1].port()) + ": ").c_str())))
                    ++healthy_called_down;
            }
        });
    for (auto &t : threads) t.join();
    CHECK(healthy_called_down.load() == 0);
    CHECK(ok.load() > 0);  // and they take turns
}

TEST_CASE("quorum: a reply beyond the one asked for is never taken as the next answer", "[quorum][hostile]") {
    int sets = 0;
    FakeServer fake([&](const std::vector<std::string> &argv) -> FakeServer::Answer {
        if (!argv.empty() && argv[0] == "SET") return std::string(++sets == 1 ? "+OK\r\n+OK\r\n" : "$-1\r\n");
        if (!argv.empty() && argv[0] == "EVAL") return std::string(":0\r\n");
        if (argv.size() == 2 && argv[0] == "PING")  // PING with a payload echoes it (a fence behind owed replies)
            return "$" + std::to_string(argv[1].size()) + "\r\n" + argv[1] + "\r\n";
        return std::string("+OK\r\n");
    });
    Client c = quorum_client({fake.url()});
    Lock a = make_lock(c.get(), "q:double-a", lock_options(10000, 50, 0));
    CHECK(redlock_lock_acquire(a.get()) != REDLOCK_OK);  // out of step: its outcome is unknown
    Lock b = make_lock(c.get(), "q:double-b", lock_options(10000, 50, 0));
    CHECK(redlock_lock_acquire(b.get()) == REDLOCK_NOT_ACQUIRED);  // the server said busy; never the stray +OK
}

TEST_CASE("quorum: a key holding more than any token is seen as held", "[quorum]") {
    Masters m(3);
    for (size_t i = 0; i < 3; ++i) m[i].admin({"SET", "q:big", std::string(20000, 'v')});
    Client c = quorum_client(m.urls());
    Lock l = make_lock(c.get(), "q:big", lock_options(1000, 50, 0));
    CHECK(redlock_lock_locked(l.get()) == 1);
    CHECK(redlock_lock_acquire(l.get()) == REDLOCK_NOT_ACQUIRED);
}

TEST_CASE("quorum: one server spelled two ways is still one server", "[quorum]") {
    RedisServer s;
    const std::string port = std::to_string(s.port());
    for (const std::string &other : {"redis://LOCALHOST:" + port, "redis://127.1:" + port,
                                     "redis://2130706433:" + port, "redis://[::ffff:127.0.0.1]:" + port}) {
        INFO(other);
        redlock_client *c = nullptr;
        const std::string first = other.find("LOCALHOST") != std::string::npos ? "redis://localhost:" + port : s.url();
        CHECK(new_quorum(&c, {first, other}, nullptr) == REDLOCK_EINVAL);
        CHECK_THAT(redlock_last_error(), Contains("same server"));
    }
}

TEST_CASE("quorum: an extend whose outcome is unknown counts on the shorter TTL it may have set", "[quorum]") {
    Masters m(3);
    std::vector<std::unique_ptr<FaultProxy>> slow;
    std::vector<std::string> urls{m[0].url()};
    for (size_t i = 1; i < 3; ++i) {
        slow.push_back(std::make_unique<FaultProxy>(m[i].port()));
        urls.push_back(slow.back()->url());
    }
    Client c = quorum_client(urls, 300);
    Lock l = make_lock(c.get(), "q:ext-unknown", lock_options(10000), REDLOCK_SHARED);
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    for (auto &p : slow) p->add({"EVAL", FaultProxy::Fault::delay_reply, 800, 1});  // it runs; its answer is late
    CHECK(redlock_lock_extend(l.get(), 200, 1) == REDLOCK_ETIMEDOUT);
    CHECK(validity_of(l.get()) <= 200);  // not the 10 s it had: the 200 ms TTL ran on every master
    std::this_thread::sleep_for(milliseconds(400));
    CHECK(validity_of(l.get()) == 0);
    CHECK(m.with_key("q:ext-unknown") == 0);
}

TEST_CASE("quorum: a release that cannot tell keeps the token, whatever the first master said", "[quorum]") {
    Masters m(3);
    FaultProxy hole(m[1].port());
    Client c = quorum_client({m[0].url(), hole.url(), m[2].url()}, 300);
    Lock l = make_lock(c.get(), "q:rel-unknown", lock_options(10000), REDLOCK_SHARED);
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    const std::string token = token_of(l.get());
    m[0].admin({"DEL", "q:rel-unknown"});
    hole.add({"EVAL", FaultProxy::Fault::drop_request, 0, 1});
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ETIMEDOUT);  // one no, one yes, one unknown: not ENOTOWNED
    CHECK_THAT(redlock_last_error(), Contains("retry the release"));
    CHECK(token_or_empty(l.get()) == token);  // kept
    CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTOWNED);  // now two say no: master 1 released it this time
    CHECK(m.with_key("q:rel-unknown") == 0);
}

TEST_CASE("quorum: a server that answers an owed command twice cannot slip the extra reply in", "[quorum][hostile]") {
    Masters m(2);
    FakeServer fake([&](const std::vector<std::string> &argv) -> FakeServer::Answer {
        if (argv.size() >= 2 && argv[0] == "SET" && argv[1] == "q:warm") {
            FakeServer::Answer a(std::string("+OK\r\n+OK\r\n"));  // late, and twice
            a.delay_ms = 300;
            return a;
        }
        if (argv.size() >= 2 && argv[0] == "SET") return std::string("$-1\r\n");  // busy
        if (argv.size() == 2 && argv[0] == "PING")
            return "$" + std::to_string(argv[1].size()) + "\r\n" + argv[1] + "\r\n";
        return std::string(":0\r\n");
    });
    Client c = quorum_client({m[0].url(), m[1].url(), fake.url()}, 2000);
    Lock warm = make_lock(c.get(), "q:warm", lock_options(10000, 50, 0));
    REQUIRE(redlock_lock_acquire(warm.get()) == REDLOCK_OK);  // decided by the two: the fake's SET is owed
    m[1].admin({"SET", "q:k", "another-owner"});
    Lock k = make_lock(c.get(), "q:k", lock_options(10000, 50, 0));
    CHECK(redlock_lock_acquire(k.get()) == REDLOCK_NOT_ACQUIRED);  // 0 says OK, 1 and the fake say busy
    std::vector<int> o = outcomes();
    CHECK(o[2] == REDLOCK_NOT_ACQUIRED);  // its own answer, not the stray +OK
}

TEST_CASE("quorum: more threads than connections take turns instead of holding each other up", "[quorum]") {
    // Each call needs a connection per master: threads holding some while waiting for the others' would wait for
    // each other until their deadlines (found by an outside attack: 8 threads on max_connections 1).
    Masters m(3);
    auto o = client_options(1000, 3000);
    o.max_connections = 1;
    redlock_client *raw = nullptr;
    REQUIRE(new_quorum(&raw, m.urls(), &o) == REDLOCK_OK);
    Client c(raw);
    std::atomic<int> ok{0}, failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            Lock l = new_lock_or_null(c.get(), "q:turns" + std::to_string(t), lock_options(5000, 10, 0));
            for (int i = 0; i < 25; ++i) {
                if (redlock_lock_acquire(l.get()) == REDLOCK_OK && redlock_lock_release(l.get()) == REDLOCK_OK) ++ok;
                else ++failed;
            }
        });
    for (auto &t : threads) t.join();
    CHECK(failed.load() == 0);
    CHECK(ok.load() == 200);
}

TEST_CASE("an extend of unknown outcome caps the validity for the rest of the hold", "[quorum]") {
    // It may land later still, after a later extend that succeeds on another connection (an outside attack held it
    // in the network): the validity never again counts past what it could have set.
    RedisServer s;
    FaultProxy p(s.port());
    for (bool quorum : {false, true}) {
        INFO((quorum ? "quorum" : "single server"));
        Client c = quorum ? quorum_client({p.url()}, 300) : [&] {
            auto o = client_options(500, 300);
            return make_client(p.url(), &o);
        }();
        Lock l = make_lock(c.get(), quorum ? "cap:q" : "cap:s", lock_options(10000), REDLOCK_SHARED);
        REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        p.add({quorum ? "EVAL" : "EVALSHA", FaultProxy::Fault::swallow_reply, 0, 1});  // it runs; no reply
        CHECK(redlock_lock_extend(l.get(), 2000, 1) == REDLOCK_ETIMEDOUT);  // (2 s: longer than its 300 ms wait)
        REQUIRE(redlock_lock_extend(l.get(), 60000, 1) == REDLOCK_OK);
        CHECK(validity_of(l.get()) <= 2000);
        CHECK(p.idle());
        REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
    }
}

TEST_CASE("quorum: status is the majority's value and how long a majority keeps it, release_token on all", "[quorum]") {
    Masters m(5);
    auto c = quorum_client(m.urls());
    auto l = make_lock(c.get(), "qs", lock_options(30000));
    int64_t ttl = 0;
    size_t len = 99;
    char v[64];
    CHECK(redlock_lock_status(l.get(), &ttl, v, sizeof v, &len) == 0);
    CHECK(ttl == -2);
    // On 3 of 5 masters, with TTLs 10, 20 and 30 s: a majority holds it until the shortest of the three runs out.
    for (int i = 0; i < 3; ++i) m[i].admin({"SET", "qs", "tok", "PX", std::to_string(10000 * (i + 1))});
    m[3].admin({"SET", "qs", "other", "PX", "50000"});
    REQUIRE(redlock_lock_status(l.get(), &ttl, v, sizeof v, &len) == 1);
    CHECK(std::string(v) == "tok");
    CHECK(len == 3);
    CHECK(ttl > 9000);
    CHECK(ttl <= 10000);
    // On 4 of 5 (two TTLs of 40 s): the third longest, 20 s.
    m[4].admin({"SET", "qs", "tok", "PX", "40000"});
    REQUIRE(redlock_lock_status(l.get(), &ttl, v, sizeof v, &len) == 1);
    CHECK(ttl > 19000);
    CHECK(ttl <= 20000);
    // Keys on a majority, but no one value on one: held, no value.
    m[1].admin({"SET", "qs", "third"});
    m[2].admin({"SET", "qs", "fourth"});
    REQUIRE(redlock_lock_status(l.get(), &ttl, v, sizeof v, &len) == 2);
    CHECK(len == 0);
    CHECK(std::string(v).empty());
    // A minority of masters down changes nothing; a majority down cannot tell.
    for (int i = 1; i < 3; ++i) m[i].admin({"SET", "qs", "tok", "PX", "30000"});
    m[3].kill();
    REQUIRE(redlock_lock_status(l.get(), &ttl, v, sizeof v, &len) == 1);
    CHECK(std::string(v) == "tok");
    CHECK(redlock_lock_release_token(l.get(), "nope", 4) == REDLOCK_ENOTOWNED);
    CHECK(redlock_lock_release_token(l.get(), "tok", 3) == REDLOCK_OK);
    CHECK(m.with_key("qs") == 0);
    CHECK(redlock_lock_status(l.get(), &ttl, v, sizeof v, &len) == 0);
    m[0].kill();
    m[1].kill();
    CHECK(redlock_lock_status(l.get(), &ttl, v, sizeof v, &len) == REDLOCK_ECONN);
    CHECK_THAT(redlock_last_error(), Contains("status of 'qs' over a quorum"));
}

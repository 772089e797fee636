// The C++ core's pure logic, with fakes where a server is not the point; plus token-slot bounds on a real server.
#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "net/config.hpp"
#include "base/error.hpp"
#include "lock/lock.hpp"
#include "net/resp.hpp"
#include "lock/token.hpp"
#include "topology/cluster.hpp"
#include "quorum/fanout.hpp"
#include "base/fork_safety.hpp"
#include "../support/fault_proxy.hpp"
#include "../support/redis_server.hpp"

using namespace redlock::core;
using namespace std::string_literals;

namespace {
void feed(ReplyReader &r, std::string_view s) { r.feed(s.data(), s.size()); }
}  // namespace

TEST_CASE("URL parsing fills every field", "[core][url]") {
    ClientConfig c = parse_url("redis://us%3Aer:p%40ss@example.com:7000/5?command_timeout=250&connect_timeout=-1"
                               "&max_connections=3&keepalive=0");
    CHECK(c.kind == ClientConfig::Kind::tcp);
    CHECK(c.host == "example.com");
    CHECK(c.port == 7000);
    CHECK(c.username == std::optional<std::string>("us:er"));
    CHECK(c.password == std::optional<std::string>("p@ss"));
    CHECK(c.db == 5);
    CHECK(c.command_timeout == std::optional<Millis>(Millis(250)));
    CHECK_FALSE(c.connect_timeout.has_value());
    CHECK(c.max_connections == 3);
    CHECK(c.keepalive_s == 0);

    ClientConfig d = parse_url("redis://localhost");
    CHECK(d.port == 6379);
    CHECK(d.db == 0);
    CHECK_FALSE(d.password.has_value());
    CHECK(d.connect_timeout == std::optional<Millis>(Millis(5000)));

    ClientConfig v6 = parse_url("redis://[::1]:6390");
    CHECK(v6.host == "::1");
    CHECK(v6.port == 6390);
    CHECK(v6.describe() == "[::1]:6390");

    ClientConfig pw_only = parse_url("redis://:only@h");
    CHECK_FALSE(pw_only.username.has_value());
    CHECK(pw_only.password == std::optional<std::string>("only"));

    ClientConfig u = parse_url("unix://user:pw@/run/redis/redis.sock?db=2");
    CHECK(u.kind == ClientConfig::Kind::unix_socket);
    CHECK(u.path == "/run/redis/redis.sock");
    CHECK(u.username == std::optional<std::string>("user"));
    CHECK(u.db == 2);
}

TEST_CASE("Sentinel and Cluster URLs: hosts, service, database and both sets of credentials", "[core][url]") {
    ClientConfig s = parse_url("redis+sentinel://u:p%40ss@s1,s2:26380,[::1]:26381/my%20master/3?sentinel_password=sp"
                               "&sentinel_username=su&command_timeout=700");
    CHECK(s.topology == ClientConfig::Topology::sentinel);
    REQUIRE(s.seeds.size() == 3);
    CHECK(s.seeds[0].describe() == "s1:26379");  // Sentinel's default port
    CHECK(s.seeds[1].describe() == "s2:26380");
    CHECK(s.seeds[2].describe() == "[::1]:26381");
    CHECK(s.service == "my master");
    CHECK(s.db == 3);
    CHECK(s.username == std::optional<std::string>("u"));  // the data nodes'
    CHECK(s.password == std::optional<std::string>("p@ss"));
    CHECK(s.sentinel_username == std::optional<std::string>("su"));  // the sentinels' own
    CHECK(s.sentinel_password == std::optional<std::string>("sp"));
    CHECK(s.require_master);
    CHECK_FALSE(s.tls);
    CHECK(parse_url("rediss+sentinel://h/m?tls_verify=0").tls);
    CHECK(parse_url("REDIS+SENTINEL://h/m/").db == 0);
    CHECK(parse_url("redis+sentinel://h,h:26379/m").seeds.size() == 1);  // the same host once

    ClientConfig c = parse_url("redis+cluster://:pw@n1:7000,n2,n3:7002/0?max_connections=8");
    CHECK(c.topology == ClientConfig::Topology::cluster);
    REQUIRE(c.seeds.size() == 3);
    CHECK(c.seeds[1].describe() == "n2:6379");
    CHECK(c.password == std::optional<std::string>("pw"));
    CHECK(c.max_connections == 8);
    CHECK(parse_url("rediss+cluster://n1").tls);

    // What the node configs look like: the same settings, one address, no topology of their own.
    ClientConfig n = c.node(Endpoint{"10.0.0.9", 7009});
    CHECK(n.topology == ClientConfig::Topology::single);
    CHECK(n.describe() == "10.0.0.9:7009");
    CHECK(n.password == c.password);

    std::string many = "redis+cluster://";
    for (int i = 0; i < 65; ++i) many += (i ? ",h" : "h") + std::to_string(i);
    for (const auto &[url, why] : std::vector<std::pair<std::string, std::string>>{
             {"redis+sentinel://h", "service name"},
             {"redis+sentinel://h/", "service name"},
             {"redis+sentinel://h/m/x", "db"},
             {"redis+sentinel://h,,k/m", "missing host"},
             {"redis+sentinel://h:0/m", "port"},
             {"redis+cluster://h/1", "only database 0"},
             {"redis+cluster://h?db=2", "only database 0"},
             {"redis://h?sentinel_password=x", "need a redis+sentinel:// URL"},
             {"redis+cluster://h?sentinel_username=x", "need a redis+sentinel:// URL"},
             {"redis+cluster://h?tls_verify=0", "TLS options need a rediss://"},
             {many, "more than 64 hosts"},
             {"redis+sentinl://h/m", "unsupported scheme 'redis+sentinl'"},
             {"redis+sentinel://a:1;b:2/m", "separated by ','"},
             {"redis+sentinel://a:1, b:2/m", "no spaces"},
             {"redis+cluster://127.0.0.1:18000:18001", "one :port"},
             {"redis+cluster://h/mymaster", "takes no path"},
             {"redis://ho st", "space"}}) {
        INFO(url);
        try {
            parse_url(url);
            FAIL("accepted");
        } catch (const Error &e) {
            CHECK(e.code() == Errc::invalid);
            CHECK_THAT(e.what(), Catch::Matchers::Contains(why));
        }
    }
}

TEST_CASE("cluster key slots: CRC16 mod 16384, hash tags as Redis reads them", "[core][cluster]") {
    CHECK(key_slot("123456789") == 0x31C3);  // CRC16/XMODEM's check value
    CHECK(key_slot("foo") == 12182);         // CLUSTER KEYSLOT foo
    CHECK(key_slot("") == 0);
    CHECK(key_slot("{user1000}.following") == key_slot("user1000"));
    CHECK(key_slot("{user1000}.followers") == key_slot("user1000"));
    CHECK(key_slot("foo{}{bar}") != key_slot("bar"));  // an empty first tag: the whole key is hashed
    CHECK(key_slot("foo{{bar}}zap") == key_slot("{bar"));
    CHECK(key_slot("foo{bar}{zap}") == key_slot("bar"));
    CHECK(key_slot("a}b{c") == key_slot("a}b{c"));
    // The companion keys of fencing and fair mode land in the lock's slot, so each script runs on one node.
    for (const char *name : {"jobs", "a{x}b", "{x}", "report:2024"}) {
        INFO(name);
        CHECK(key_slot(*fence_key_for(name)) == key_slot(name));
        CHECK(key_slot(*fair_key(name, "queue")) == key_slot(name));
        CHECK(key_slot(*fair_key(name, "alive")) == key_slot(name));
    }
}

TEST_CASE("URL query keys of redis-py: socket_timeout and socket_connect_timeout in float seconds", "[core][url]") {
    ClientConfig c = parse_url("redis://h?socket_timeout=2.5&socket_connect_timeout=0.25");
    CHECK(c.command_timeout == std::optional<Millis>(Millis(2500)));
    CHECK(c.connect_timeout == std::optional<Millis>(Millis(250)));
    CHECK_FALSE(parse_url("redis://h?socket_timeout=inf").command_timeout.has_value());
    CHECK_FALSE(parse_url("redis://h?socket_timeout=1e300").command_timeout.has_value());
    for (const char *bad : {"0", "-1", "nan", "abc", "", "0.0001", "1s"})
        CHECK_THROWS_AS(parse_url(std::string("redis://h?socket_timeout=") + bad), Error);
}

TEST_CASE("URL parsing of random input: a config or Error(invalid), nothing else", "[core][url]") {
    // A cheap fuzz (the sanitizer builds run it too): every input either parses or is rejected cleanly.
    const std::string alphabet = "redis:/unix?&=@[]%0123456789abcdefxyzAF.-_ \r\n\0"s;
    const std::string prefixes[] = {"", "redis://", "unix://", "redis://u:p@h:1/2?", "unix:///s?"};
    std::mt19937 rng(12345);  // fixed seed: the same inputs every run
    int parsed = 0, rejected = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string url = prefixes[rng() % 5];
        size_t len = rng() % 24;
        for (size_t k = 0; k < len; ++k) url += alphabet[rng() % alphabet.size()];
        try {
            ClientConfig c = parse_url(url);
            CHECK((c.kind == ClientConfig::Kind::unix_socket ? !c.path.empty() : !c.host.empty()));
            ++parsed;
        } catch (const Error &e) {
            REQUIRE(e.code() == Errc::invalid);
            ++rejected;
        }
    }
    CHECK(parsed > 100);  // the generator reaches both outcomes
    CHECK(rejected > 100);
}

TEST_CASE("RESP encoding is binary-safe argv with lengths", "[core][resp]") {
    std::string out;
    encode_command(out, {"SET", std::string_view("a\0b", 3), "", "\r\n"});
    CHECK(out == "*4\r\n$3\r\nSET\r\n$3\r\na\0b\r\n$0\r\n\r\n$2\r\n\r\n\r\n"s);

    ReplyReader r;
    Reply rep;
    feed(r, "+OK\r\n$3\r\nab");
    REQUIRE(r.next(rep));
    CHECK(rep.is_status("OK"));
    CHECK_FALSE(r.next(rep));  // the bulk string is incomplete
    feed(r, "c\r\n:-7\r\n$-1\r\n-ERR x\r\n");
    REQUIRE(r.next(rep));
    CHECK(rep.type == Reply::Type::string);
    CHECK(rep.str == "abc");
    REQUIRE(r.next(rep));
    CHECK(rep.integer == -7);
    REQUIRE(r.next(rep));
    CHECK(rep.is_nil());
    REQUIRE(r.next(rep));
    CHECK(rep.is_error());
    CHECK(rep.str == "ERR x");
    feed(r, "?bad\r\n");
    CHECK_THROWS_AS(r.next(rep), Error);
}

TEST_CASE("random tokens: 32 hex chars, no repeats", "[core][token]") {
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) {
        std::string t = random_token();
        REQUIRE(t.size() == 32);
        REQUIRE(t.find_first_not_of("0123456789abcdef") == std::string::npos);
        seen.insert(t);
    }
    CHECK(seen.size() == 10000);
}

TEST_CASE("shared store: one token for all threads, and clear_if spares what was stored since", "[core][token]") {
    SharedTokenStore s;
    s.set(Held{"a"});
    const uint64_t first = s.held()->serial;
    std::optional<std::string> seen;
    std::thread([&] { seen = s.get(); }).join();
    CHECK(seen == std::optional<std::string>("a"));
    s.set(Held{"a"});  // the same token, stored again (another thread's acquire): a different storing
    s.clear_if(first);
    CHECK(s.get() == std::optional<std::string>("a"));
    s.clear_if(s.held()->serial);
    CHECK_FALSE(s.get().has_value());
}

TEST_CASE("uncertain tokens: never over a settled one, taken out by one retry at a time", "[core][token]") {
    SharedTokenStore s;
    s.keep_uncertain("u");
    CHECK(s.held()->uncertain);
    std::optional<std::string> taken[4];
    std::vector<std::thread> ts;
    for (auto &t : taken) ts.emplace_back([&] { t = s.take_uncertain(); });
    for (auto &t : ts) t.join();
    CHECK(std::count_if(std::begin(taken), std::end(taken), [](const auto &t) { return t.has_value(); }) == 1);
    CHECK_FALSE(s.get().has_value());
    s.set(Held{"settled"});
    s.keep_uncertain("u2");
    CHECK(s.get() == std::optional<std::string>("settled"));
    CHECK_FALSE(s.take_uncertain().has_value());
}

TEST_CASE("thread-local store: each thread its own slot, and slots die with their thread", "[core][token]") {
    const size_t base = ThreadLocalTokenStore::live_slots();
    ThreadLocalTokenStore s, other;
    s.set(Held{"main"});
    CHECK(ThreadLocalTokenStore::live_slots() == base + 1);
    CHECK_FALSE(other.get().has_value());  // two stores never share
    int saw_main = 0;
    for (int i = 0; i < 500; ++i) {
        std::thread([&] {
            saw_main += s.get().has_value();
            s.set(Held{"worker"});
            other.set(Held{"worker"});
        }).join();  // exits without clearing
    }
    CHECK(saw_main == 0);
    CHECK(ThreadLocalTokenStore::live_slots() == base + 1);
    CHECK(s.get() == std::optional<std::string>("main"));
    s.clear_if(s.held()->serial + 1000);
    CHECK(s.get().has_value());
    s.clear_if(s.held()->serial);
    CHECK(ThreadLocalTokenStore::live_slots() == base);
}

TEST_CASE("many short-lived threads acquiring on one THREAD_LOCAL lock leave no state behind", "[core][token]") {
    auto &srv = testing::default_server();
    auto client = std::make_shared<Client>(parse_url(srv.url()));
    LockOptions o;
    o.ttl = Millis(10000);
    Lock lock(client, "core:short-lived", o, TokenScope::per_thread);
    const size_t base = ThreadLocalTokenStore::live_slots();
    int acquired = 0, one_slot = 0;
    for (int i = 0; i < 200; ++i) {
        std::thread([&] {
            acquired += lock.acquire();
            one_slot += ThreadLocalTokenStore::live_slots() == base + 1;
            if (i % 2) lock.release();  // the others exit holding it
        }).join();
        srv.admin({"DEL", "core:short-lived"});
    }
    CHECK(acquired == 200);
    CHECK(one_slot == 200);
    CHECK(ThreadLocalTokenStore::live_slots() == base);
}

TEST_CASE("deadlines are monotonic and clamp at zero", "[core]") {
    Deadline never = Deadline::never();
    CHECK(never.is_never());
    CHECK_FALSE(never.passed());
    Deadline past = Deadline::after(Millis(0));
    CHECK(past.passed());
    CHECK(past.remaining() == std::optional<Millis>(Millis(0)));
    Deadline later = Deadline::after(Millis(10000));
    CHECK(later.remaining()->count() > 9000);
    CHECK_FALSE(later.passed_after(Millis(5000)));
    CHECK(later.passed_after(Millis(10001)));
    CHECK_FALSE(never.passed_after(Millis(1000000)));
}

TEST_CASE("deadline arithmetic saturates instead of overflowing", "[core]") {
    const auto now = Clock::now();
    CHECK(Deadline::after(Millis::max(), now).is_never());
    CHECK(Deadline::after(Millis(kMaxDurationMs), now).remaining(now) == std::optional<Millis>(Millis(kMaxDurationMs)));
    Deadline soon = Deadline::after(Millis(500), now);
    CHECK(soon.passed_after(Millis::max(), now));
    CHECK(soon.passed_after(Millis(501), now));
    CHECK_FALSE(soon.passed_after(Millis(500), now));
    CHECK(soon.passed_after(Millis(1), now + Millis(600)));  // already past
    CHECK(Deadline::after(Millis::min(), now).passed(now));
    CHECK_FALSE(Deadline::never().passed_after(Millis::max(), now));
}

TEST_CASE("duration rules: exact durations are checked, wait limits saturate to none", "[core]") {
    CHECK(checked_duration(0, "x") == Millis(0));
    CHECK(checked_duration(kMaxDurationMs, "x") == Millis(kMaxDurationMs));
    CHECK_THROWS_AS(checked_duration(kMaxDurationMs + 1, "x"), Error);
    CHECK_THROWS_AS(checked_duration(0, "x", 1), Error);
    CHECK_THROWS_AS(checked_duration(std::numeric_limits<int64_t>::min(), "x"), Error);
    CHECK(wait_limit(-1) == std::nullopt);
    CHECK(wait_limit(std::numeric_limits<int64_t>::max()) == std::nullopt);
    CHECK(wait_limit(kMaxDurationMs) == std::optional<Millis>(Millis(kMaxDurationMs)));
    CHECK(wait_limit(0) == std::optional<Millis>(Millis(0)));
}

namespace {
ProtocolError::Kind protocol_error_of(std::string_view bytes, ReplyLimits limits = {}) {
    ReplyReader r(limits);
    feed(r, bytes);
    Reply rep;
    try {
        while (r.next(rep)) {
        }
    } catch (const ProtocolError &e) {
        return e.kind();
    }
    FAIL("no protocol error for " << bytes);
    return ProtocolError::Kind::malformed;
}
}  // namespace

TEST_CASE("replies beyond the limits are refused at their header, before any allocation or wait", "[core][resp]") {
    using K = ProtocolError::Kind;
    CHECK(protocol_error_of("$1000000000\r\n") == K::too_large);     // a 1 GB bulk: no need to see its bytes
    CHECK(protocol_error_of("*2147483647\r\n") == K::too_large);     // the 13-byte array header
    CHECK(protocol_error_of("*100000000\r\n") == K::too_large);
    CHECK(protocol_error_of("$8193\r\n") == K::too_large);
    CHECK(protocol_error_of(std::string(8200, '+')) == K::too_large);  // a status line that never ends
    CHECK(protocol_error_of("*3\r\n*1\r\n*1\r\n:1\r\n") == K::too_large);  // nested deeper than 2
    CHECK(protocol_error_of("*9\r\n*9\r\n") == K::too_large);              // 18 elements in one reply
    CHECK(protocol_error_of("$99999999999999999999\r\n") == K::malformed);  // overflows
    CHECK(protocol_error_of("$-2\r\n") == K::malformed);
    CHECK(protocol_error_of("$3\r\nabcde\r\n") == K::malformed);  // length lies
    CHECK(protocol_error_of(":1x\r\n") == K::malformed);
    CHECK(protocol_error_of(":+1\r\n") == K::malformed);
    CHECK(protocol_error_of("+OK\n") == K::malformed);
    CHECK(protocol_error_of("HTTP/1.1 400 Bad Request\r\n") == K::not_resp);
    CHECK(protocol_error_of(std::string("\x15\x03\x03\x00\x02", 5)) == K::not_resp);  // a TLS alert
    CHECK(protocol_error_of("+OK\r\nHTTP") == K::malformed);  // only the first byte of the stream can be "not RESP"

    ReplyLimits big;
    big.max_bulk = 1 << 20;
    ReplyReader r(big);
    const std::string payload(100000, 'x');
    feed(r, "$100000\r\n" + payload + "\r\n");
    Reply rep;
    REQUIRE(r.next(rep));
    CHECK(rep.str == payload);
}

TEST_CASE("replies split at every byte parse the same - arrays nest - nothing is left over", "[core][resp]") {
    const std::string stream = "*2\r\n*2\r\n:1\r\n$-1\r\n$2\r\nhi\r\n*0\r\n*-1\r\n-ERR a b\r\n+OK\r\n";
    ReplyReader r;
    std::vector<Reply> got;
    for (char c : stream) {
        feed(r, std::string_view(&c, 1));
        Reply rep;
        while (r.next(rep)) got.push_back(std::move(rep));
    }
    REQUIRE(got.size() == 5);
    REQUIRE(got[0].type == Reply::Type::array);
    REQUIRE(got[0].elements.size() == 2);
    REQUIRE(got[0].elements[0].elements.size() == 2);
    CHECK(got[0].elements[0].elements[0].integer == 1);
    CHECK(got[0].elements[0].elements[1].is_nil());
    CHECK(got[0].elements[1].str == "hi");
    CHECK(got[1].type == Reply::Type::array);
    CHECK(got[1].elements.empty());
    CHECK(got[2].is_nil());
    CHECK(got[3].str == "ERR a b");
    CHECK(got[4].is_status("OK"));
    CHECK(r.buffered() == 0);
}

TEST_CASE("a bulk beyond the limit but within the skip limit is read through, not kept", "[core][resp]") {
    ReplyLimits lim;
    lim.max_skipped_bulk = 1 << 20;
    ReplyReader r(lim);
    const std::string body(100000, 'v');
    const std::string stream = "$100000\r\n" + body + "\r\n:1\r\n";
    std::vector<Reply> got;
    size_t most_buffered = 0;
    for (size_t off = 0; off < stream.size(); off += 1000) {  // as reads of 1000 bytes would bring it
        feed(r, std::string_view(stream).substr(off, 1000));
        most_buffered = std::max(most_buffered, r.buffered());
        Reply rep;
        while (r.next(rep)) got.push_back(std::move(rep));
    }
    REQUIRE(got.size() == 2);
    CHECK(got[0].type == Reply::Type::string);
    CHECK(got[0].oversize);
    CHECK(got[0].integer == 100000);
    CHECK(got[0].str.empty());
    CHECK(got[1].integer == 1);
    CHECK(most_buffered <= 1000);  // never the whole value

    ReplyReader bad(lim);
    feed(bad, "$9000\r\n" + std::string(9000, 'v') + "XY");
    Reply rep;
    CHECK_THROWS_AS(bad.next(rep), ProtocolError);  // its last two bytes must be CRLF
    ReplyReader huge(lim);
    feed(huge, "$2000000\r\n");
    CHECK_THROWS_AS(huge.next(rep), ProtocolError);  // beyond the skip limit: refused at the header
}

TEST_CASE("the fence counter's key shares the lock key's cluster slot", "[core][fencing]") {
    CHECK(fence_key_for("jobs") == std::optional<std::string>("{jobs}:fence"));  // hashes like "jobs"
    CHECK(fence_key_for("a{x}b") == std::optional<std::string>("a{x}b:fence"));  // the name's own tag, kept
    CHECK(fence_key_for("{x}") == std::optional<std::string>("{x}:fence"));
    CHECK(fence_key_for("a}b}{c}") == std::optional<std::string>("a}b}{c}:fence"));  // a stray "}" before the tag
    CHECK(fence_key_for("a}b") == std::nullopt);
    CHECK(fence_key_for("a{b") == std::nullopt);
    CHECK(fence_key_for("a{}b") == std::nullopt);
}

TEST_CASE("fair mode's queue keys share the slot, and 'foo' and '{foo}' never share a queue", "[core][fair]") {
    CHECK(fair_key("foo", "queue") == std::optional<std::string>("{foo}:queue"));
    CHECK(fair_key("{foo}", "queue") == std::optional<std::string>("{foo}::queue"));
    CHECK(fair_key("a{x}b", "alive") == std::optional<std::string>("a{x}b::alive"));
    CHECK(fair_key("a{b", "queue") == std::nullopt);
}

TEST_CASE("fan-out: one command to five servers at once, decided at the fastest majority", "[core][quorum]") {
    std::vector<std::unique_ptr<testing::RedisServer>> servers;
    for (int i = 0; i < 5; ++i) servers.push_back(std::make_unique<testing::RedisServer>());
    auto connect = [&] {
        std::vector<std::unique_ptr<Connection>> conns;
        for (auto &s : servers) conns.push_back(std::make_unique<Connection>(parse_url(s->url()), current_pid()));
        return conns;
    };
    auto pointers = [](const std::vector<std::unique_ptr<Connection>> &conns) {
        std::vector<Connection *> out;
        for (auto &c : conns) out.push_back(c.get());
        return out;
    };
    auto oks = [](const std::vector<std::optional<Reply>> &r) {
        return std::count_if(r.begin(), r.end(), [](const std::optional<Reply> &x) { return x && x->is_status("OK"); });
    };
    const auto majority = [&](const std::vector<std::optional<Reply>> &r) { return oks(r) >= 3; };
    // GET on one connection, every reply awaited: what the server has now, after everything sent before on it.
    auto get_on = [](Connection *c, const std::string &key) {
        FanOut f = fan_out({c}, {"GET", key}, expect::string_or_nil, Deadline::after(Millis(3000)), nullptr);
        return f.replies[0] ? f.replies[0]->str : std::string("(no reply)");
    };
    // The first `k` servers asleep for a second (DEBUG SLEEP, each on a thread of its own), then `key` SET on all five
    // until a majority has it or `deadline`: what came, on which connections, and how long it took.
    struct Run {
        std::vector<std::unique_ptr<Connection>> conns;
        FanOut f;
        Clock::duration took;
    };
    auto set_while_asleep = [&](int k, const std::string &key, Millis deadline) {
        Run run{connect(), {}, {}};
        std::vector<std::thread> sleepers;
        for (int i = 0; i < k; ++i) sleepers.emplace_back([&, i] { (void)servers[i]->admin({"DEBUG", "SLEEP", "1"}); });
        std::this_thread::sleep_for(Millis(100));
        const auto t0 = Clock::now();
        run.f = fan_out(pointers(run.conns), {"SET", key, "t", "NX", "PX", "10000"}, expect::ok_or_nil,
                        Deadline::after(deadline), majority);
        run.took = Clock::now() - t0;
        for (auto &t : sleepers) t.join();
        return run;
    };

    SECTION("all answer: a majority is enough, and a SET not waited for still runs before the next command") {
        auto conns = connect();
        FanOut f = fan_out(pointers(conns), {"SET", "fan:a", "t", "NX", "PX", "10000"}, expect::ok_or_nil,
                           Deadline::after(Millis(2000)), majority);
        CHECK(oks(f.replies) >= 3);
        for (size_t i = 0; i < 5; ++i) {
            CHECK_FALSE(conns[i]->broken());
            CHECK(get_on(conns[i].get(), "fan:a") == "t");  // its owed OK skipped, then the GET's own reply
        }
        int held = 0;
        for (auto &s : servers) held += s->admin({"EXISTS", "fan:a"}).integer == 1;
        CHECK(held >= 3);
    }
    SECTION("two servers asleep: the outcome comes at the speed of the three others") {
        const Run run = set_while_asleep(2, "fan:b", Millis(5000));
        CHECK(oks(run.f.replies) == 3);
        CHECK(run.took < Millis(500));
        for (int i = 0; i < 2; ++i) {
            CHECK_FALSE(run.f.replies[i].has_value());  // unknown: the SET may run when the server wakes
            CHECK_FALSE(run.conns[i]->broken());        // the connection owes its reply
            // a command sent next runs after the SET (a release can never overtake the SET it undoes)
            CHECK(get_on(run.conns[i].get(), "fan:b") == "t");
        }
    }
    SECTION("no majority by the deadline: what came, and the rest unknown") {
        const Run run = set_while_asleep(3, "fan:c", Millis(300));
        CHECK(oks(run.f.replies) == 2);
        CHECK(run.took >= Millis(290));
        CHECK(run.took < Millis(900));
    }
    SECTION("a command given up on behind a fence is still owed after the fence comes back") {
        testing::FaultProxy proxy(servers[0]->port());
        Connection c(parse_url(proxy.url()), current_pid());
        proxy.add({"GET", testing::FaultProxy::Fault::delay_reply, 300, 1});
        proxy.add({"SET", testing::FaultProxy::Fault::delay_reply, 800, 1});
        (void)fan_out({&c}, {"GET", "fan:x"}, expect::string_or_nil, Deadline::after(Millis(50)), nullptr);  // owed
        (void)fan_out({&c}, {"SET", "fan:f", "v1"}, expect::ok_or_nil, Deadline::after(Millis(50)), nullptr);
        std::this_thread::sleep_for(Millis(500));  // the GET's reply and the fence's echo are here, not the SET's
        CHECK_FALSE(c.looks_dead());
        CHECK(get_on(&c, "fan:f") == "v1");  // never the SET's late +OK
    }
    SECTION("a connection that keeps owing replies is given up after a few") {
        auto conns = connect();
        std::thread sleeper([&] { (void)servers[0]->admin({"DEBUG", "SLEEP", "1"}); });
        std::this_thread::sleep_for(Millis(100));
        int rounds = 0;
        while (!conns[0]->broken() && rounds < 20) {
            (void)fan_out({conns[0].get()}, {"PING"}, expect::status, Deadline::after(Millis(20)), nullptr);
            ++rounds;
        }
        sleeper.join();
        CHECK(rounds == 9);  // eight owed replies are kept; the ninth abandons the connection
    }
    SECTION("a server without a connection is not sent to; a reply of the wrong type is unknown") {
        auto conns = connect();
        std::vector<Connection *> p = pointers(conns);
        p[4] = nullptr;
        FanOut f = fan_out(p, {"GET", "fan:none"}, expect::status, Deadline::after(Millis(2000)),
                           [](const std::vector<std::optional<Reply>> &) { return false; });
        CHECK(f.not_sent[4]);
        for (int i = 0; i < 4; ++i) {
            CHECK_FALSE(f.not_sent[i]);
            CHECK_FALSE(f.replies[i].has_value());  // nil is not a status: out of step, abandoned
            CHECK(conns[i]->broken());
        }
    }
}

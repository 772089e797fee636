// What goes over the wire: redis-py's key, value and scripts, binary-safe names, and no command more than needed.
#include <map>
#include <sstream>

#include "lock/scripts.hpp"
#include "support/handles.hpp"

using namespace testing;

namespace {
std::map<std::string, long long> command_calls(const RedisServer &s) {
    std::map<std::string, long long> out;
    std::istringstream in(s.admin({"INFO", "commandstats"}).str);
    std::string line;
    while (std::getline(in, line)) {
        // cmdstat_set:calls=3,usec=...
        auto colon = line.find(':');
        if (line.rfind("cmdstat_", 0) != 0 || colon == std::string::npos) continue;
        out[line.substr(8, colon - 8)] = std::stoll(line.substr(line.find("calls=") + 6));
    }
    return out;
}
}  // namespace

TEST_CASE("our scripts are redis-py's: the server computes the same SHA-1", "[wire]") {
    auto &s = default_server();
    // redis-py 4.3.4's, as its Lock registers them (LUA_RELEASE_SCRIPT etc.): the text is the same byte for byte.
    CHECK(redlock::core::kReleaseScript.sha1 == "c3f8721cbb97f72bc19e972846bd7aaf91901658");
    CHECK(redlock::core::kExtendScript.sha1 == "a4e8783852e6b949f9ef3a97212805108459a890");
    CHECK(redlock::core::kReacquireScript.sha1 == "1cac51482acf5858da00f6d685d68f886cd6b6b2");
    for (const redlock::core::Script *sc :
         {&redlock::core::kReleaseScript, &redlock::core::kExtendScript, &redlock::core::kReacquireScript,
          &redlock::core::kReleasePublishScript, &redlock::core::kAcquireOrPttlScript,
          &redlock::core::kFencedAcquireScript, &redlock::core::kFairAcquireScript,
          &redlock::core::kFairLeaveScript, &redlock::core::kStatusScript}) {
        auto r = s.admin({"SCRIPT", "LOAD", std::string(sc->source)});
        CHECK(r.str == sc->sha1);
    }
}

TEST_CASE("an uncontended acquire + release sends exactly one SET and one EVALSHA", "[wire]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "wire:economy", lock_options(10000));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);  // warm: connection open, script cached
    REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
    s.admin({"CONFIG", "RESETSTAT"});
    for (int i = 0; i < 10; ++i) {
        REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
    }
    auto calls = command_calls(s);
    calls.erase("config|resetstat");
    calls.erase("info");
    CHECK(calls["set"] == 10);
    CHECK(calls["evalsha"] == 10);
    // commandstats also counts the calls a script makes: the release script's GET, DEL and PUBLISH, once each.
    CHECK(calls["get"] == 10);
    CHECK(calls["del"] == 10);
    CHECK(calls["publish"] == 10);
    for (const char *cmd : {"set", "evalsha", "get", "del", "publish"}) calls.erase(cmd);
    long long others = 0;
    for (auto &[name, n] : calls) others += n;
    CHECK(others == 0);
}

TEST_CASE("names with spaces, CR/LF and non-UTF-8 bytes are keys verbatim", "[wire]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    for (std::string name : {std::string("name with spaces"), std::string("crlf\r\nSET injected 1\r\n"),
                             std::string("bytes\xff\xfe\x80"), std::string(REDLOCK_MAX_NAME_LEN, 'n')}) {
        auto l = make_lock(c.get(), name, lock_options(10000));
        REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        CHECK(s.admin({"GET", name}).str == token_of(l.get()));
        CHECK(redlock_lock_locked(l.get()) == 1);
        REQUIRE(redlock_lock_extend(l.get(), 1000, 0) == REDLOCK_OK);
        REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
        CHECK(s.admin({"EXISTS", name}).integer == 0);
    }
    CHECK(s.admin({"EXISTS", "injected"}).integer == 0);
}

TEST_CASE("acquire without timeout sends SET NX without PX - with timeout, PX in ms", "[wire]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto forever = make_lock(c.get(), "wire:nx", lock_options(0));
    REQUIRE(redlock_lock_acquire(forever.get()) == REDLOCK_OK);
    CHECK(pttl(s, "wire:nx") == -1);
    REQUIRE(redlock_lock_release(forever.get()) == REDLOCK_OK);
    auto timed = make_lock(c.get(), "wire:px", lock_options(1234));
    REQUIRE(redlock_lock_acquire(timed.get()) == REDLOCK_OK);
    long long t = pttl(s, "wire:px");
    CHECK(t > 1000);
    CHECK(t <= 1234);
    REQUIRE(redlock_lock_release(timed.get()) == REDLOCK_OK);
}

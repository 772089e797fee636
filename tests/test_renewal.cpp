// auto_renew: one watchdog thread per client keeps held locks alive and reports the ones it finds lost.
#include <dirent.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "support/fault_proxy.hpp"
#include "support/handles.hpp"

using namespace testing;
using namespace std::chrono_literals;

namespace {
struct Lost {
    std::mutex mu;
    std::condition_variable cv;
    int calls = 0;
    int reason = 0;
    redlock_lock *lock = nullptr;
    std::chrono::milliseconds linger{0};  // the callback takes this long (to test a free during it)
    static void callback(redlock_lock *lock, int reason, void *arg) {
        auto *self = static_cast<Lost *>(arg);
        std::this_thread::sleep_for(self->linger);
        std::lock_guard<std::mutex> lk(self->mu);
        ++self->calls;
        self->reason = reason;
        self->lock = lock;
        self->cv.notify_all();
    }
    bool wait(std::chrono::milliseconds within) {
        std::unique_lock<std::mutex> lk(mu);
        return cv.wait_for(lk, within, [&] { return calls > 0; });
    }
};
redlock_lock_options renewing(int64_t ttl_ms, Lost *lost = nullptr) {
    auto o = lock_options(ttl_ms, 10);
    o.auto_renew = 1;
    if (lost) {
        o.on_lost = &Lost::callback;
        o.on_lost_arg = lost;
    }
    return o;
}
// The library's renewal threads in this process, by their name (other threads come and go: sanitizers have theirs).
int renewal_threads() {
    int n = 0;
    if (DIR *d = ::opendir("/proc/self/task")) {
        while (dirent *e = ::readdir(d)) {
            if (e->d_name[0] == '.') continue;
            std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
            std::string name;
            std::getline(comm, name);
            n += name == "redlock-renew";
        }
        ::closedir(d);
    }
    return n;
}
long long evalsha_calls(const RedisServer &s) {
    const std::string info = s.admin({"INFO", "commandstats"}).str;
    const size_t at = info.find("cmdstat_evalsha:calls=");
    return at == std::string::npos ? 0 : std::stoll(info.substr(at + 22));
}
}  // namespace

TEST_CASE("auto_renew keeps a 300 ms lock alive for 3 s, and release ends it", "[renewal][timing]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "renew:alive", renewing(300));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    for (int i = 0; i < 30; ++i) {
        std::this_thread::sleep_for(100ms);
        INFO(i);
        REQUIRE(pttl(s, "renew:alive") > 0);
    }
    CHECK(redlock_lock_owned(l.get()) == 1);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
    CHECK(s.admin({"EXISTS", "renew:alive"}).integer == 0);
}

TEST_CASE("the callback fires when the key is deleted or overwritten behind the owner's back", "[renewal][timing]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    for (bool overwrite : {false, true}) {
        INFO(overwrite);
        Lost lost;
        auto l = make_lock(c.get(), "renew:stolen", renewing(300, &lost));
        REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        if (overwrite) s.admin({"SET", "renew:stolen", "someone-else", "PX", "10000"});
        else s.admin({"DEL", "renew:stolen"});
        REQUIRE(lost.wait(1500ms));
        CHECK(lost.reason == REDLOCK_ENOTOWNED);
        CHECK(lost.lock == l.get());
        CHECK(redlock_lock_owned(l.get()) == 0);
        CHECK(redlock_lock_release(l.get()) == REDLOCK_ENOTOWNED);
        if (overwrite) CHECK(s.admin({"GET", "renew:stolen"}).str == "someone-else");  // the new owner's key stays
        std::this_thread::sleep_for(300ms);
        CHECK(lost.calls == 1);  // once
        s.admin({"DEL", "renew:stolen"});
    }
}

TEST_CASE("the callback fires when the server dies, once the TTL has certainly run out", "[renewal][timing]") {
    RedisServer s;
    redlock_client_options co;
    redlock_client_options_init(&co);
    co.connect_timeout_ms = 100;
    co.command_timeout_ms = 100;
    auto c = make_client(s.url(), &co);
    Lost lost;
    auto l = make_lock(c.get(), "renew:dead", renewing(600, &lost));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    std::this_thread::sleep_for(250ms);  // renewed at least once
    const auto killed = std::chrono::steady_clock::now();
    s.kill();
    REQUIRE(lost.wait(3000ms));
    const double after = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
    CHECK(lost.reason == REDLOCK_ECONN);
    CHECK(after >= 0.3);  // not before the last renewal's TTL could have run out
    CHECK(after < 2.5);
}

TEST_CASE("no renewal after release, after free, or after the owning thread exits", "[renewal][timing]") {
    RedisServer s;
    auto c = make_client(s.url());
    {
        auto l = make_lock(c.get(), "renew:released", renewing(300));
        REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        std::this_thread::sleep_for(350ms);
        REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
        const long long calls = evalsha_calls(s);
        std::this_thread::sleep_for(500ms);
        CHECK(evalsha_calls(s) == calls);
    }
    {
        auto l = make_lock(c.get(), "renew:freed", renewing(300));
        REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        l.reset();  // never touches Redis, and ends the renewals: the TTL runs out
        CHECK(eventually([&] { return s.admin({"EXISTS", "renew:freed"}).integer == 0; }, 1000ms));
    }
    {
        auto l = make_lock(c.get(), "renew:thread", renewing(300), REDLOCK_THREAD_LOCAL);
        int rc = -100;
        std::thread([&] { rc = redlock_lock_acquire(l.get()); }).join();  // the owning thread acquires and exits
        REQUIRE(rc == REDLOCK_OK);
        CHECK(eventually([&] { return s.admin({"EXISTS", "renew:thread"}).integer == 0; }, 1000ms));
    }
}

TEST_CASE("a fork()ed child never renews its parent's lock", "[renewal][timing]") {
    RedisServer s;
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "renew:parent", renewing(300));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    int gate[2];
    REQUIRE(::pipe(gate) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // starts its own renewals (its own watchdog thread), then stays around for a while
        redlock_lock *mine = nullptr;
        auto o = renewing(600);  // renewed every 200 ms: a loaded machine (ASan, fuzzers beside) still keeps it
        int ok = redlock_lock_new(&mine, c.get(), "renew:child", &o, 0) == REDLOCK_OK &&
                 redlock_lock_acquire(mine) == REDLOCK_OK;
        char b = static_cast<char>(ok);
        (void)!::write(gate[1], &b, 1);
        ::usleep(3000 * 1000);
        _exit(0);
    }
    char b = 0;
    REQUIRE(::read(gate[0], &b, 1) == 1);
    const auto acquired = std::chrono::steady_clock::now();
    CHECK(b == 1);
    l.reset();  // the parent stops renewing: only the child could keep the key alive now
    CHECK(eventually([&] { return s.admin({"EXISTS", "renew:parent"}).integer == 0; }, 1000ms));
    std::this_thread::sleep_until(acquired + 1500ms);  // more than two of the child's TTLs
    CHECK(s.admin({"EXISTS", "renew:child"}).integer == 1);  // the child's own lock is renewed
    int st = 0;
    ::waitpid(pid, &st, 0);
    ::close(gate[0]);
    ::close(gate[1]);
}

TEST_CASE("2000 held locks are renewed by one thread, over shared connections", "[renewal][timing]") {
    RedisServer s;
    auto c = make_client(s.url());
    const int before = renewal_threads();
    std::vector<Lock> locks;
    std::vector<std::string> exists{"EXISTS"};
    for (int i = 0; i < 2000; ++i) {
        const std::string name = "renew:many:" + std::to_string(i);
        locks.push_back(make_lock(c.get(), name, renewing(600)));
        REQUIRE(redlock_lock_acquire(locks.back().get()) == REDLOCK_OK);
        exists.push_back(name);
    }
    CHECK(renewal_threads() == before + 1);  // one watchdog thread for the client
    std::this_thread::sleep_for(700ms);
    s.admin({"SCRIPT", "FLUSH"});  // renewals are pipelined EVALSHAs: NOSCRIPT for each, then EVAL
    std::this_thread::sleep_for(800ms);  // 2.5 TTLs in all
    CHECK(s.admin(exists).integer == 2000);
    const std::string clients = s.admin({"INFO", "clients"}).str;
    CHECK(std::stoi(clients.substr(clients.find("connected_clients:") + 18)) <= 3);  // pool + admin
    for (auto &l : locks) CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
    locks.clear();
    c.reset();  // the last lock and the client are gone: the thread stops
    CHECK(eventually([&] { return renewal_threads() == before; }, 1000ms));
}

TEST_CASE("freeing a lock while its callback runs waits for the callback", "[renewal][timing]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    Lost lost;
    lost.linger = 400ms;
    auto l = make_lock(c.get(), "renew:callback", renewing(300, &lost));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    s.admin({"DEL", "renew:callback"});
    std::this_thread::sleep_for(250ms);  // the callback has started (the renewal is due within 100 ms)
    const auto t0 = std::chrono::steady_clock::now();
    l.reset();
    CHECK(std::chrono::steady_clock::now() - t0 >= 100ms);  // it waited for the callback ...
    CHECK(lost.calls == 1);                                    // ... which finished
}

TEST_CASE("a callback may free its lock, the last handle of its client (as a binding's garbage collector does)",
          "[renewal][timing]") {
    auto &s = default_server();
    const int before = renewal_threads();
    struct Freer {
        std::atomic<redlock_lock *> lock{nullptr};
        std::atomic<int> calls{0};
        static void callback(redlock_lock *l, int, void *arg) {
            auto *self = static_cast<Freer *>(arg);
            redlock_lock_free(self->lock.exchange(nullptr));  // the client handle is gone: this ends the client
            (void)l;
            ++self->calls;
        }
    } freer;
    {
        auto c = make_client(s.url());
        auto o = renewing(300);
        o.on_lost = &Freer::callback;
        o.on_lost_arg = &freer;
        redlock_lock *l = nullptr;
        REQUIRE(redlock_lock_new(&l, c.get(), "renew:self-free", &o, REDLOCK_THREAD_LOCAL) == REDLOCK_OK);
        freer.lock = l;
        REQUIRE(redlock_lock_acquire(l) == REDLOCK_OK);
    }  // the client handle is freed; the lock keeps the client's core alive
    s.admin({"DEL", "renew:self-free"});
    CHECK(eventually([&] { return freer.calls.load() == 1; }, 1500ms));
    CHECK(eventually([&] { return renewal_threads() == before; }, 1000ms));  // the thread ended with its client
}

TEST_CASE("a callback that ends its thread (pthread_exit, as a finalizing interpreter does) aborts nothing",
          "[renewal][timing]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    static std::atomic<int> entered{0};
    auto o = renewing(300);
    o.on_lost = [](redlock_lock *, int, void *) {
        ++entered;
        ::pthread_exit(nullptr);
    };
    auto l = make_lock(c.get(), "renew:exit", o);
    // Held all along by the same client, acquired around the exiting lock: their renewals fall due in the same
    // pipelined batch as its fatal one, before and after it.
    std::vector<Lock> others;
    for (int i = 0; i < 30; ++i) {
        others.push_back(make_lock(c.get(), "renew:exit-other:" + std::to_string(i), renewing(300)));
        REQUIRE(redlock_lock_acquire(others.back().get()) == REDLOCK_OK);
        if (i == 14) REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    }
    s.admin({"DEL", "renew:exit"});
    CHECK(eventually([&] { return entered.load() == 1; }, 1500ms));
    std::this_thread::sleep_for(1000ms);  // more than three TTLs: a new renewal thread took over at once
    int held = 0;
    for (auto &other : others) held += redlock_lock_owned(other.get()) == 1;
    CHECK(held == 30);
    auto again = make_lock(c.get(), "renew:exit-again", renewing(300));
    REQUIRE(redlock_lock_acquire(again.get()) == REDLOCK_OK);
    std::this_thread::sleep_for(600ms);
    CHECK(redlock_lock_owned(again.get()) == 1);
    CHECK(renewal_threads() >= 1);
    others.clear();
    const auto t0 = std::chrono::steady_clock::now();
    l.reset();  // does not wait for a callback that will never return
    again.reset();
    c.reset();
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);
}

TEST_CASE("a release never reports its own deletion as a lost lock, and no callback comes before acquire returns",
          "[renewal][timing]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    struct Seen {
        std::atomic<int> calls{0}, without_token{0};
        static void callback(redlock_lock *l, int, void *arg) {
            auto *self = static_cast<Seen *>(arg);
            ++self->calls;
            if (redlock_lock_token(l, nullptr, 0, nullptr) != REDLOCK_OK) ++self->without_token;
        }
    } seen;
    auto o = renewing(30);  // renewals every 10 ms: they race with the releases (a loaded CI machine still keeps up)
    o.on_lost = &Seen::callback;
    o.on_lost_arg = &seen;
    auto l = make_lock(c.get(), "renew:race", o, REDLOCK_SHARED);
    for (int i = 0; i < 300; ++i) {
        REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        std::this_thread::sleep_for(std::chrono::microseconds(i % 7 * 700));
        REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
    }
    std::this_thread::sleep_for(50ms);
    CHECK(seen.calls == 0);
    // A key deleted right after the acquire (the first renewal is due within 10 ms): the callback comes, but only
    // once the token is stored.
    for (int i = 0; i < 30; ++i) {
        REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
        s.admin({"DEL", "renew:race"});
        std::this_thread::sleep_for(25ms);
        (void)redlock_lock_release(l.get());
    }
    CHECK(seen.calls > 0);
    CHECK(seen.without_token == 0);
}

TEST_CASE("a partitioned owner hears on_lost by its TTL, not after its command timeouts", "[renewal][timing]") {
    auto &s = default_server();
    FaultProxy proxy(s.port());
    auto c = make_client(proxy.url());  // default timeouts: 5 s per command and connect
    Lost lost;
    auto l = make_lock(c.get(), "renew:partition", renewing(600, &lost));
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    std::this_thread::sleep_for(250ms);  // renewed at least once
    const auto cut = std::chrono::steady_clock::now();
    FaultProxy::Rule black;
    black.fault = FaultProxy::Fault::drop_request;
    black.times = 1000000;
    proxy.add(black);  // from now on nothing reaches Redis
    REQUIRE(lost.wait(3000ms));
    const double after = std::chrono::duration<double>(std::chrono::steady_clock::now() - cut).count();
    CHECK(after < 0.6 + 0.4);  // by its TTL (from the last renewal that got through), not 5 s or more
    CHECK(lost.reason == REDLOCK_ETIMEDOUT);
}

TEST_CASE("a fork() inside a callback never leaves the child renewing its parent's locks", "[renewal][timing][fork]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    static std::atomic<pid_t> child{0};
    auto o = renewing(300);
    o.on_lost = [](redlock_lock *, int, void *) {
        pid_t p = ::fork();
        if (p == 0) {
            // The child goes back into the library's renewal loop, which must end there (the child has its own
            // thread, which leaves with _exit: no exit handlers of this test program run in the child).
            std::thread([] {
                std::this_thread::sleep_for(1500ms);
                ::_exit(0);
            }).detach();
            return;
        }
        child = p;
    };
    auto forking = make_lock(c.get(), "renew:fork-cb", o);
    auto other = make_lock(c.get(), "renew:fork-other", renewing(300));
    REQUIRE(redlock_lock_acquire(other.get()) == REDLOCK_OK);
    REQUIRE(redlock_lock_acquire(forking.get()) == REDLOCK_OK);
    s.admin({"DEL", "renew:fork-cb"});
    REQUIRE(eventually([&] { return child.load() != 0; }, 1500ms));
    int status = 0;
    CHECK(::waitpid(child.load(), &status, 0) == child.load());  // the child ended on its own
    other.reset();  // the parent stops renewing it; nobody else may
    std::this_thread::sleep_for(600ms);
    CHECK(s.admin({"EXISTS", "renew:fork-other"}).integer == 0);
}

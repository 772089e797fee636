// Fencing tokens: every acquire of a fencing lock takes a number that strictly increases per name, across handles,
// threads and processes; a resource that keeps the highest fence it has seen refuses a paused ex-holder's write.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>
#include <vector>

#include "support/fault_proxy.hpp"
#include "support/handles.hpp"

using namespace testing;
using Catch::Matchers::Contains;

namespace {
redlock_lock_options fencing_options(int64_t ttl_ms = 10000) {
    auto o = lock_options(ttl_ms, 5);
    o.fencing = 1;
    return o;
}
uint64_t fence_of(redlock_lock *l) {
    uint64_t f = 0;
    int rc = redlock_lock_fence(l, &f);
    INFO(redlock_last_error());
    REQUIRE(rc == REDLOCK_OK);
    return f;
}
// The protected resource: accepts a write only with a fence at least as high as any it has seen.
struct Resource {
    std::atomic<uint64_t> highest{0};
    std::atomic<int> writes{0};
    bool write(uint64_t fence) {
        uint64_t seen = highest.load();
        while (fence >= seen)
            if (highest.compare_exchange_weak(seen, fence)) {
                ++writes;
                return true;
            }
        return false;
    }
};
}  // namespace

TEST_CASE("fences strictly increase across handles - the counter key never expires", "[fencing]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto a = make_lock(c.get(), "fence:basic", fencing_options());
    auto b = make_lock(c.get(), "fence:basic", fencing_options(), REDLOCK_SHARED);
    uint64_t last = 0;
    for (int i = 0; i < 5; ++i) {
        redlock_lock *l = i % 2 ? b.get() : a.get();
        REQUIRE(redlock_lock_acquire(l) == REDLOCK_OK);
        const uint64_t f = fence_of(l);
        CHECK(f > last);
        last = f;
        CHECK(s.admin({"GET", "fence:basic"}).str == token_of(l));  // the key is a plain lock key
        CHECK(redlock_lock_release(l) == REDLOCK_OK);
        CHECK(redlock_lock_fence(l, &last) == REDLOCK_ENOTHELD);  // released: no fence
        last = f;
    }
    CHECK(s.admin({"GET", "{fence:basic}:fence"}).str == std::to_string(last));
    CHECK(pttl(s, "{fence:basic}:fence") == -1);
}

TEST_CASE("fence errors: a lock without fencing, NULLs, names that cannot share a slot", "[fencing]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto plain = make_lock(c.get(), "fence:plain", lock_options(10000));
    REQUIRE(redlock_lock_acquire(plain.get()) == REDLOCK_OK);
    uint64_t f = 0;
    CHECK(redlock_lock_fence(plain.get(), &f) == REDLOCK_EINVAL);
    CHECK_THAT(redlock_last_error(), Contains("without fencing"));
    CHECK(redlock_lock_release(plain.get()) == REDLOCK_OK);
    auto fenced = make_lock(c.get(), "fence:nulls", fencing_options());
    CHECK(redlock_lock_fence(nullptr, &f) == REDLOCK_EINVAL);
    CHECK(redlock_lock_fence(fenced.get(), nullptr) == REDLOCK_EINVAL);
    CHECK(redlock_lock_fence(fenced.get(), &f) == REDLOCK_ENOTHELD);
    for (const char *name : {"a}b", "a{b", "a{}b"}) {
        INFO(name);
        redlock_lock *l = nullptr;
        auto o = fencing_options();
        CHECK(redlock_lock_new(&l, c.get(), name, &o, 0) == REDLOCK_EINVAL);
        CHECK_THAT(redlock_last_error(), Contains("hash tag"));
    }
    auto tagged = make_lock(c.get(), "fence:{user42}:job", fencing_options());  // its own tag: name + ":fence"
    REQUIRE(redlock_lock_acquire(tagged.get()) == REDLOCK_OK);
    CHECK(s.admin({"GET", "fence:{user42}:job:fence"}).str == std::to_string(fence_of(tagged.get())));
    CHECK(redlock_lock_release(tagged.get()) == REDLOCK_OK);
}

TEST_CASE("a fenced acquire whose reply is lost still learns its fence", "[fencing][faults]") {
    auto &s = default_server();
    FaultProxy proxy(s.port());
    auto c = make_client(proxy.url());
    auto l = make_lock(c.get(), "fence:lost", fencing_options());
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);  // loads the script
    const uint64_t first = fence_of(l.get());
    REQUIRE(redlock_lock_release(l.get()) == REDLOCK_OK);
    proxy.add({"EVALSHA", FaultProxy::Fault::cut});  // the script ran; its reply never comes
    int rc = redlock_lock_acquire(l.get());
    INFO(redlock_last_error());
    REQUIRE(rc == REDLOCK_OK);
    CHECK(fence_of(l.get()) == first + 1);
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("fencing locks and redis-py's locks exclude each other", "[fencing][interop]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "fence:interop", fencing_options());
    s.admin({"SET", "fence:interop", "redis-py-token", "PX", "10000"});  // what redis-py's acquire does
    CHECK(try_acquire(l.get()) == REDLOCK_NOT_ACQUIRED);
    s.admin({"DEL", "fence:interop"});
    REQUIRE(redlock_lock_acquire(l.get()) == REDLOCK_OK);
    CHECK(s.admin({"SET", "fence:interop", "redis-py-token", "NX", "PX", "10000"}).is_nil());
    CHECK(redlock_lock_release(l.get()) == REDLOCK_OK);
}

TEST_CASE("fences strictly increase in grant order across 2 processes x 8 threads", "[fencing][concurrency]") {
    auto &s = default_server();
    constexpr int kProcs = 2, kThreads = 8, kEach = 6, kGrants = kProcs * kThreads * kEach;
    // A log of the fences in the order the lock granted them, appended inside the critical section.
    struct Log {
        std::atomic<int> n;
        uint64_t fence[kGrants];
    };
    auto *log = static_cast<Log *>(
        ::mmap(nullptr, sizeof(Log), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    REQUIRE(log != MAP_FAILED);
    log->n = 0;
    std::vector<pid_t> kids;
    for (int p = 0; p < kProcs; ++p) {
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            redlock_client *c = nullptr;
            if (redlock_client_new(&c, s.url().c_str(), nullptr) != REDLOCK_OK) _exit(1);
            std::atomic<int> bad{0};
            std::vector<std::thread> ts;
            for (int t = 0; t < kThreads; ++t)
                ts.emplace_back([&] {
                    redlock_lock *l = nullptr;
                    auto o = fencing_options();
                    if (redlock_lock_new(&l, c, "fence:procs", &o, REDLOCK_THREAD_LOCAL) != REDLOCK_OK) {
                        ++bad;
                        return;
                    }
                    for (int i = 0; i < kEach; ++i) {
                        uint64_t f = 0;
                        if (redlock_lock_acquire(l) != REDLOCK_OK || redlock_lock_fence(l, &f) != REDLOCK_OK) {
                            ++bad;
                            break;
                        }
                        log->fence[log->n.fetch_add(1)] = f;
                        if (redlock_lock_release(l) != REDLOCK_OK) ++bad;
                    }
                    redlock_lock_free(l);
                });
            for (auto &t : ts) t.join();
            redlock_client_free(c);
            _exit(bad ? 1 : 0);
        }
        kids.push_back(pid);
    }
    for (pid_t k : kids) {
        int st = 0;
        ::waitpid(k, &st, 0);
        CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 0));
    }
    REQUIRE(log->n.load() == kGrants);
    for (int i = 1; i < kGrants; ++i) {
        INFO(i);
        CHECK(log->fence[i] > log->fence[i - 1]);
    }
    ::munmap(log, sizeof(Log));
}

TEST_CASE("a holder stopped past its TTL writes late with an old fence: the resource refuses it", "[fencing][timing]") {
    auto &s = default_server();
    auto *res = static_cast<Resource *>(
        ::mmap(nullptr, sizeof(Resource), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    REQUIRE(res != MAP_FAILED);
    new (res) Resource();
    int go[2];
    REQUIRE(::pipe(go) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // the first holder: acquires with a 300 ms TTL, is stopped, then writes with its old fence
        redlock_client *c = nullptr;
        redlock_lock *l = nullptr;
        auto o = fencing_options(300);
        uint64_t f = 0;
        if (redlock_client_new(&c, s.url().c_str(), nullptr) != REDLOCK_OK ||
            redlock_lock_new(&l, c, "fence:stopped", &o, 0) != REDLOCK_OK || redlock_lock_acquire(l) != REDLOCK_OK ||
            redlock_lock_fence(l, &f) != REDLOCK_OK)
            _exit(2);
        char b = 1;
        (void)!::write(go[1], &b, 1);
        ::raise(SIGSTOP);                  // a GC pause, swap, SIGSTOP: past the TTL
        _exit(res->write(f) ? 1 : 0);      // 0: the resource refused the stale write, as it must
    }
    char b = 0;
    REQUIRE(::read(go[0], &b, 1) == 1);
    int st = 0;
    REQUIRE(::waitpid(pid, &st, WUNTRACED) == pid);
    auto c = make_client(s.url());
    auto next_fenced = make_lock(c.get(), "fence:stopped", fencing_options());
    REQUIRE(redlock_lock_acquire(next_fenced.get()) == REDLOCK_OK);  // after the stopped holder's key expired
    CHECK(res->write(fence_of(next_fenced.get())));
    ::kill(pid, SIGCONT);
    REQUIRE(::waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
    CHECK(res->writes.load() == 1);
    CHECK(redlock_lock_release(next_fenced.get()) == REDLOCK_OK);
    ::munmap(res, sizeof(Resource));
    ::close(go[0]);
    ::close(go[1]);
}

// Many threads on one client: never two holders at once, no lost grants.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "support/handles.hpp"

using namespace testing;

namespace {
constexpr int kThreads = 16;
constexpr int kRounds = 15;

struct Census {
    std::atomic<int> inside{0}, max_inside{0}, grants{0}, errors{0};
    void enter() {
        int now = ++inside;
        int seen = max_inside.load();
        while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
        }
        ++grants;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        --inside;
    }
};

template <typename F>
void run_threads(int n, F f) {
    std::vector<std::thread> ts;
    for (int i = 0; i < n; ++i) ts.emplace_back([&f, i] { f(i); });
    for (auto &t : ts) t.join();
}

void work(redlock_lock *l, Census &census) {
    for (int i = 0; i < kRounds; ++i) {
        if (redlock_lock_acquire(l) != REDLOCK_OK) {
            ++census.errors;
            continue;
        }
        census.enter();
        if (redlock_lock_release(l) != REDLOCK_OK) ++census.errors;
    }
}
}  // namespace

TEST_CASE("16 threads on one SHARED handle", "[concurrency]") {
    auto &s = default_server();
    redlock_client_options co;
    redlock_client_options_init(&co);
    co.max_connections = 4;  // fewer connections than threads: the pool makes them wait
    auto c = make_client(s.url(), &co);
    auto l = make_lock(c.get(), "conc:shared", lock_options(10000, 1), REDLOCK_SHARED);
    Census census;
    run_threads(kThreads, [&](int) { work(l.get(), census); });
    CHECK(census.errors == 0);
    CHECK(census.max_inside == 1);
    CHECK(census.grants == kThreads * kRounds);
    CHECK(s.admin({"EXISTS", "conc:shared"}).integer == 0);
}

TEST_CASE("16 threads on one THREAD_LOCAL handle", "[concurrency]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    auto l = make_lock(c.get(), "conc:tl", lock_options(10000, 1));
    Census census;
    run_threads(kThreads, [&](int) { work(l.get(), census); });
    CHECK(census.errors == 0);
    CHECK(census.max_inside == 1);
    CHECK(census.grants == kThreads * kRounds);
}

TEST_CASE("16 threads with a handle each, SHARED and THREAD_LOCAL mixed", "[concurrency]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    Census census;
    std::vector<Lock> locks;
    for (int i = 0; i < kThreads; ++i)
        locks.push_back(make_lock(c.get(), "conc:per-thread", lock_options(10000, 1),
                                  i % 2 ? REDLOCK_SHARED : REDLOCK_THREAD_LOCAL));
    run_threads(kThreads, [&](int i) { work(locks[static_cast<size_t>(i)].get(), census); });
    CHECK(census.errors == 0);
    CHECK(census.max_inside == 1);
    CHECK(census.grants == kThreads * kRounds);
}

TEST_CASE("16 threads, one client, 16 different locks at once", "[concurrency]") {
    auto &s = default_server();
    auto c = make_client(s.url());
    std::atomic<int> ok{0};
    run_threads(kThreads, [&](int i) {
        auto l = new_lock_or_null(c.get(), "conc:many:" + std::to_string(i), lock_options(10000));
        if (!l) return;
        for (int r = 0; r < 50; ++r)
            if (redlock_lock_acquire(l.get()) == REDLOCK_OK && redlock_lock_release(l.get()) == REDLOCK_OK) ++ok;
    });
    CHECK(ok == kThreads * 50);
}

TEST_CASE("16 processes on one lock: one holder at a time, every grant counted", "[concurrency]") {
    auto &s = default_server();
    // Shared between the processes: who is inside, the most ever inside, and the grants.
    auto *shared = static_cast<std::atomic<int> *>(
        ::mmap(nullptr, 3 * sizeof(std::atomic<int>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    REQUIRE(shared != MAP_FAILED);
    new (shared) std::atomic<int>[3]{};
    constexpr int kProcs = 16, kEach = 10;
    std::vector<pid_t> kids;
    for (int p = 0; p < kProcs; ++p) {
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {  // a process of its own: its own client, lock and connections
            redlock_client *c = nullptr;
            redlock_lock *l = nullptr;
            auto o = lock_options(10000, 5);
            int bad = redlock_client_new(&c, s.url().c_str(), nullptr) != REDLOCK_OK ||
                      redlock_lock_new(&l, c, "conc:procs", &o, REDLOCK_THREAD_LOCAL) != REDLOCK_OK;
            for (int i = 0; i < kEach && !bad; ++i) {
                if (redlock_lock_acquire(l) != REDLOCK_OK) {
                    bad = 1;
                    break;
                }
                int now = ++shared[0];
                int seen = shared[1].load();
                while (now > seen && !shared[1].compare_exchange_weak(seen, now)) {
                }
                ++shared[2];
                ::usleep(300);
                --shared[0];
                bad = redlock_lock_release(l) != REDLOCK_OK;
            }
            redlock_lock_free(l);
            redlock_client_free(c);
            _exit(bad);
        }
        kids.push_back(pid);
    }
    int failed = 0;
    for (pid_t k : kids) {
        int st = 0;
        ::waitpid(k, &st, 0);
        failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK(failed == 0);
    CHECK(shared[1].load() == 1);  // never two holders
    CHECK(shared[2].load() == kProcs * kEach);
    CHECK(s.admin({"EXISTS", "conc:procs"}).integer == 0);
    ::munmap(shared, 3 * sizeof(std::atomic<int>));
}

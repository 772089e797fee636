// A stream of acquire/release pairs on fresh names, on a thread of its own, for failover and resharding tests: what
// each pair answered and when, so the test (on the main thread: Catch2 is not thread-safe) can judge the outcome.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <map>

#include "handles.hpp"
#include "redlock/redlock.h"

namespace testing {

class PairStream {
public:
    struct Pair {
        std::chrono::steady_clock::time_point at;  // when the pair ended
        int acquire = 0, release = 0;
    };
    // `names(i)`: the lock name of pair i (fresh each time, so an acquire can only succeed or fail outright).
    template <class Names>
    PairStream(redlock_client *c, Names names) {
        thread_ = std::thread([this, c, names] {
            redlock_lock_options o;
            redlock_lock_options_init(&o);
            o.timeout_ms = 30000;
            o.blocking = 0;
            for (long i = 0; !stop_.load(); ++i) {
                redlock_lock *l = nullptr;
                Pair p;
                if (redlock_lock_new(&l, c, names(i).c_str(), &o, REDLOCK_THREAD_LOCAL) != REDLOCK_OK) {
                    p.acquire = -100;
                } else {
                    p.acquire = redlock_lock_acquire(l);
                    p.release = p.acquire == REDLOCK_OK ? redlock_lock_release(l) : 0;
                    redlock_lock_free(l);
                }
                p.at = std::chrono::steady_clock::now();
                std::lock_guard<std::mutex> lk(mu_);
                pairs_.push_back(p);
                if (p.acquire != REDLOCK_OK || p.release != REDLOCK_OK) std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
        });
    }
    ~PairStream() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    std::vector<Pair> pairs() {
        std::lock_guard<std::mutex> lk(mu_);
        return pairs_;
    }
    // Whole pairs (both OK) that ended after `t`.
    size_t ok_after(std::chrono::steady_clock::time_point t) {
        size_t n = 0;
        for (const Pair &p : pairs())
            if (p.at > t && p.acquire == REDLOCK_OK && p.release == REDLOCK_OK) ++n;
        return n;
    }
    // The longest stretch without a whole pair, in seconds.
    double longest_gap() {
        double gap = 0;
        std::chrono::steady_clock::time_point last{};
        for (const Pair &p : pairs()) {
            if (p.acquire != REDLOCK_OK || p.release != REDLOCK_OK) continue;
            if (last != std::chrono::steady_clock::time_point{})
                gap = std::max(gap, std::chrono::duration<double>(p.at - last).count());
            last = p.at;
        }
        return gap;
    }

private:
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::vector<Pair> pairs_;
    std::thread thread_;
};

// What a stream of pairs across a failover answered, judged: pairs resumed, nothing but transport errors and the
// replication gap (a release finding its token gone) on the way.
inline void judge(PairStream &stream, std::chrono::steady_clock::time_point failover_done, const char *what) {
    REQUIRE(eventually([&] { return stream.ok_after(failover_done) >= 50; }, std::chrono::seconds(20)));
    stream.stop();
    std::map<int, int> acquire_codes, release_codes;
    for (const auto &p : stream.pairs()) {
        ++acquire_codes[p.acquire];
        if (p.acquire == REDLOCK_OK) ++release_codes[p.release];
    }
    const double gap = stream.longest_gap();
    WARN(what << ": " << stream.pairs().size() << " pairs, longest stretch without a whole pair " << gap
              << " s; acquire OK " << acquire_codes[REDLOCK_OK] << ", ECONN " << acquire_codes[REDLOCK_ECONN]
              << ", ETIMEDOUT " << acquire_codes[REDLOCK_ETIMEDOUT] << ", ESERVER " << acquire_codes[REDLOCK_ESERVER]
              << "; release ENOTOWNED (replication gap) " << release_codes[REDLOCK_ENOTOWNED]);
    for (const auto &[code, n] : acquire_codes) {
        INFO("acquire answered " << code << " " << n << " times");
        // A fresh name is never found taken: that would be a resent SET whose first copy ran.
        CHECK((code == REDLOCK_OK || code == REDLOCK_ECONN || code == REDLOCK_ETIMEDOUT || code == REDLOCK_ESERVER));
    }
    for (const auto &[code, n] : release_codes) {
        INFO("release answered " << code << " " << n << " times");
        CHECK((code == REDLOCK_OK || code == REDLOCK_ECONN || code == REDLOCK_ETIMEDOUT || code == REDLOCK_ENOTOWNED));
    }
    CHECK(release_codes[REDLOCK_ENOTOWNED] <= 3);  // only the pairs in flight at the switch
    CHECK(gap < 15.0);
}

}  // namespace testing

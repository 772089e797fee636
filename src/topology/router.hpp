// Which server a command goes to. A lock never knows: its client routes each command by the lock's key to one
// server, the master Sentinel names, or the cluster node that owns the key's slot, and follows what the servers say
// when that changes (a failover, a resharding).
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <algorithm>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "base/fork_safety.hpp"
#include "net/config.hpp"
#include "net/pool.hpp"

namespace redlock::core {

// A node's pool for one command. `keep` holds it alive meanwhile where a failover may replace it (Sentinel,
// Cluster); one server's pool lives as long as its router, so that path copies no reference count. `asking`: the
// command must be preceded by ASKING (a cluster slot being migrated to this node).
struct Route {
    Pool *pool = nullptr;
    bool asking = false;
    std::shared_ptr<Pool> keep;
    static Route of(std::shared_ptr<Pool> p, bool asking = false) {
        Pool *raw = p.get();
        return {raw, asking, std::move(p)};
    }
};

class Router {
public:
    virtual ~Router() = default;

    // The node for `key`, discovering the topology first if it is not known (giving up at `until`). Throws Error.
    virtual Route route(std::string_view key, const Deadline &until) = 0;

    // What an error reply from r's node means for the command (which did not run there when it is a redirection).
    enum class Next {
        answer,  // none of our business: the caller's answer
        reroute,  // route() again now (the map was updated)
        follow,   // send to r again, as it now stands (ASK)
        wait,     // route() again after a pause (a failover or a migration in progress)
    };
    virtual Next redirected(const std::string &error, Route &r) = 0;

    // r's node could not be reached or is no longer the right one, before anything was sent: true if another
    // route() may find the right one.
    virtual bool unreachable(const Route &r) = 0;

    // A command's outcome on r is unknown (its connection broke): the topology may have changed.
    virtual void suspect(const Route &r) = 0;

    // True when every key goes to the same node (pipelines need not be split).
    virtual bool one_node() const noexcept = 0;

    // Settings for the subscriber connection (release messages reach it from the whole topology).
    virtual ClientConfig subscriber_config(const Deadline &until) = 0;

    // Checks every part of the topology; throws Error that says what is wrong.
    virtual void ping(const Deadline &until) = 0;
};

// One discovery at a time (asking the sentinels, reading a cluster's slot map): the others wait for its result, until
// their own deadline. Not a mutex held across the I/O: fork() must not wait for a discovery, and a child must not
// inherit one that nobody in it will finish. `mu` is the router's mutex; guard it and `cv` with a ForkGuard.
class OneAtATime {
public:
    explicit OneAtATime(std::mutex &mu) noexcept : mu_(mu) {}
    // With `lk` (on mu) held: until no other thread of this process is at it, or `until`.
    void wait(std::unique_lock<std::mutex> &lk, const Deadline &until) {
        while (busy_ && pid_ == current_pid() && !until.passed()) {
            if (auto rem = until.remaining()) cv.wait_for(lk, *rem);
            else cv.wait(lk);
        }
    }
    // This thread's turn: made with mu held, it ends (taking mu) when it goes.
    class Turn {
    public:
        explicit Turn(OneAtATime &o) noexcept : o_(o) {
            o_.busy_ = true;
            o_.pid_ = current_pid();
        }
        ~Turn() {
            std::lock_guard<std::mutex> lk(o_.mu_);
            o_.busy_ = false;
            o_.cv.notify_all();
        }
        Turn(const Turn &) = delete;
        Turn &operator=(const Turn &) = delete;

    private:
        OneAtATime &o_;
    };
    std::condition_variable cv;

private:
    std::mutex &mu_;
    bool busy_ = false;
    pid_t pid_ = 0;
};

// Several servers' failures, for one message ("who: what; who: what"): Errc::auth when every one was a refused
// credential, else Errc::connection.
struct Failures {
    std::string text;
    bool all_auth = true;
    void add(std::string_view who, std::string_view what, Errc code) {
        if (!text.empty()) text += "; ";
        if (!who.empty()) text.append(who).append(": ");
        text.append(what);
        all_auth = all_auth && code == Errc::auth;
    }
    void add(std::string_view who, const Error &e) { add(who, e.what(), e.code()); }
    bool empty() const noexcept { return text.empty(); }
    Errc code() const noexcept { return all_auth && !text.empty() ? Errc::auth : Errc::connection; }
};

// The share of `until` that one of `hosts_left` hosts (sentinels, seed nodes) may use, so that a silent one leaves
// time for those after it: the time left divided among them, at least kMinHostSlice. Without a deadline (no command
// timeout) each host still gets at most kHostLimit: a silent one must not stop the others being asked.
inline constexpr Millis kMinHostSlice{100};
inline constexpr Millis kHostLimit{5000};
inline Deadline host_slice(const Deadline &until, size_t hosts_left) {
    const std::optional<Millis> left = until.remaining();
    if (!left) return Deadline::after(kHostLimit);
    if (hosts_left <= 1) return until;
    return Deadline::after(std::max(*left / static_cast<Millis::rep>(hosts_left), kMinHostSlice)).earlier(until);
}

// A host name or address as a server named it (a sentinel, CLUSTER SLOTS, MOVED): 1..255 bytes, nothing that is
// not printable ASCII, no space. Anything else is refused, not connected to or quoted.
inline bool valid_host(std::string_view h) {
    return !h.empty() && h.size() <= 255 &&
           std::all_of(h.begin(), h.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// PING on one pool's node: Error unless PONG.
void ping_node(Pool &pool, const Deadline &until);

// The Router for `cfg.topology`.
std::unique_ptr<Router> make_router(const ClientConfig &cfg);

}  // namespace redlock::core

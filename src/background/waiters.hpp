// Wake-on-release: a release by a libredlock owner publishes on the lock's channel (inside the release script), and
// every acquire waiting for that lock, in any process, is woken at once. One subscriber connection per client, shared
// by all its waiting threads, read by a thread of its own; opened when some acquire has to wait, closed when nothing
// has waited for a while. Without it (connection lost, SUBSCRIBE refused) waiters poll, as before: a wake-up is an
// optimisation of the wait, never what ends it.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/clock.hpp"
#include "base/fork_safety.hpp"
#include "net/config.hpp"

namespace redlock::core {

// The channel a release of `name` publishes on: per database, since pub/sub is not.
std::string release_channel(int db, std::string_view name);

class Waiters {
    struct State;

public:
    // `find_node`: where the subscriber connects (the current master, any cluster node: a release's PUBLISH reaches
    // every node of a cluster, and a replica too); it may throw Error.
    using NodeFinder = std::function<ClientConfig(const Deadline &until)>;
    Waiters(ClientConfig cfg, NodeFinder find_node);
    ~Waiters();  // closes the subscriber connection and stops its thread
    Waiters(const Waiters &) = delete;
    Waiters &operator=(const Waiters &) = delete;

    // One acquire's interest in releases of one name, for as long as it lives.
    class Watch {
    public:
        Watch(std::shared_ptr<State> s, std::string channel, uint64_t epoch);
        ~Watch();
        Watch(const Watch &) = delete;
        Watch &operator=(const Watch &) = delete;

        // False once the subscription is gone (connection lost): the waiter polls, and may watch again.
        bool active() const;
        // Releases seen on the channel so far; read it before an attempt, then wait() for a change.
        uint64_t seen() const;
        // Waits for a release after `seen`, or for the subscription to end (true: try again now; a lost subscriber
        // must never leave a waiter waiting for a wake-up that cannot come), or until `until` (false).
        bool wait(uint64_t seen, Clock::time_point until) const;

    private:
        std::shared_ptr<State> s_;
        const std::string channel_;
        const uint64_t epoch_;  // the subscriber connection this watch was confirmed on
    };

    // Where `name`'s channel stands when it is already subscribed (an earlier wait left it lingering): read before an
    // attempt, it lets a later watch() pick up every release since, with no retry of its own.
    struct Mark {
        uint64_t epoch = 0;
        uint64_t subscription = 0;  // which SUBSCRIBE of the channel is in force
        uint64_t releases = 0;
    };
    std::optional<Mark> mark(std::string_view name) const;

    // Subscribes to `name`'s channel (once, however many wait for it) and waits for the server's confirmation until
    // `deadline`. nullptr when that cannot be had now (no subscriber: connection refused, SUBSCRIBE not permitted,
    // or in the pause after such a failure): the caller polls. With `since` (a mark() taken before the caller's last
    // attempt) still on the same subscription, *`covered` is set: waiting for a change from since->releases misses
    // no release after that attempt. Otherwise the caller must attempt once more before waiting.
    std::unique_ptr<Watch> watch(std::string_view name, const Deadline &deadline,
                                 const std::optional<Mark> &since = std::nullopt, bool *covered = nullptr);

    // While no new subscriber may be tried (after one failed): when one may. A waiter polling meanwhile comes back
    // then to watch again, rather than after its whole `sleep`.
    std::optional<Clock::time_point> retry_at() const;


private:
    std::shared_ptr<State> s_;
};

}  // namespace redlock::core

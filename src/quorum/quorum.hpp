// Redlock over independent masters (redis.io, "Distributed Locks with Redis"): N redis-servers that do not replicate
// to each other, one pool each, and the rules that turn their N answers into one. Each command goes to every master
// at once (fan_out: one poll() on the caller's thread) and a majority decides, as soon as it can.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "lock/scripts.hpp"
#include "net/client.hpp"
#include "net/config.hpp"
#include "net/pool.hpp"

namespace redlock::core {

// REDLOCK_MAX_MASTERS (capi/ checks they agree).
inline constexpr size_t kMaxMasters = 64;

// The reference algorithm's allowance for clocks running at different rates: 1% of the TTL plus 2 ms.
inline Clock::duration drift_for(Millis ttl) { return ttl / 100 + Millis(2); }

// Per master, what this thread's last quorum call found (REDLOCK_OK: it did what was asked; REDLOCK_NOT_ACQUIRED:
// the key is another owner's; REDLOCK_ENOTOWNED: our token was not there; else why it failed), in the order the
// masters were given. Empty before any quorum call on this thread.
const std::vector<int> &last_outcomes() noexcept;
// At the start of each lock call on a quorum client: a call that fails before asking (no token held) leaves none.
void forget_outcomes() noexcept;

class Quorum {
public:
    // Each a single server (plain, TLS or unix socket); 1 to kMaxMasters of them, no server twice: Error(invalid).
    explicit Quorum(std::vector<ClientConfig> masters);
    ~Quorum();

    size_t size() const noexcept { return masters_.size(); }
    size_t majority() const noexcept { return size() / 2 + 1; }
    const ClientConfig &master(size_t i) const noexcept;

    // One attempt: SET NX PX on every master. true: a majority took it with time left, which ends at `valid_until`
    // (sent + TTL − drift). false: another owner holds it on too many masters, or the majority came too late; every
    // master that may have taken it was sent the release first. Throws Error when failures alone leave no majority
    // (no master is left to say "busy": the server is down, not the lock taken).
    bool acquire(std::string_view name, const std::string &token, Millis ttl, Clock::time_point &valid_until);

    // The release script on every master, decided by a majority. Error(not_owned) when a majority no longer held
    // the token; Error(connection...) when too few answered to tell (the caller keeps the token, to try again).
    void release(std::string_view name, const std::string &token, std::string_view channel);

    // A TTL script (extend, reacquire: `ms`, then `mode` unless empty, after the token) on every master; returns
    // when a majority ran it on our token. Error(not_owned) when a majority no longer holds the token; else
    // Error(failure code).
    void ttl_script(const Script &s, std::string_view name, const std::string &token, std::string_view ms,
                    std::string_view mode, const char *verb, const Deadline &cap);

    // GET on every master: true when a majority hold the key (any value, or `token` when given). Throws Error when
    // too few answer to tell.
    bool majority_holds(std::string_view name, const std::string *token);

    // The status script on every master (waiting for each, within the command timeout): the key as a majority has
    // it (KeyStatus). Throws Error when too few answer to tell.
    KeyStatus status(std::string_view name);

    // PING on every master: Error unless a majority answer (each master's outcome is in last_outcomes()).
    void ping();

    // A master's answer, as one vote (unknown: no answer; it may have run the command).
    enum class Vote { yes, no, failed, unknown };

private:
    // How long a round waits (never past its deadline): for every master asked; until a majority says yes or no
    // longer can; until a majority says yes, or one says no, or neither can any more (a release, whose "no" is an
    // answer too: ENOTOWNED, rather than "too few answered"); or until the masters in `awaited` have answered.
    enum class Wait { every, majority, verdict, awaited };
    struct Round;
    // argv on each master with `only[i]` (all when empty), on pooled connections, waiting as `wait` says.
    Round run(Argv argv, unsigned accept, const Deadline &until, Wait wait,
              const std::function<Vote(const Reply &)> &vote, const std::vector<bool> &only = {},
              const std::vector<bool> &awaited = {});
    Round run_script(const Script &s, std::string_view name, ArgList args,
                     const Deadline &until, Wait wait, const std::function<Vote(const Reply &)> &vote,
                     unsigned accept = expect::integer);
    // Each master's outcome, for last_outcomes(); a "no" is `no_code`.
    void record(const Round &r, int no_code) const;
    // For messages: "2 of 5 masters <did>, 3 needed: a:1 <no_means>; b:2 <why>...".
    std::string summary(const Round &r, const char *did, const char *no_means) const;
    Deadline command_deadline() const { return Deadline::after(timeout_); }

    struct Master;
    struct Shared;
    // A connection to each master in `asked`, into `leases`: idle ones at once, the others from the masters'
    // connecting threads, in parallel, waiting until all are connected, or a majority and a grace period, or
    // `until`. Masters without one get their reason in `r`.
    void connect(const std::vector<bool> &asked, const Deadline &until,
                 std::vector<std::optional<Pool::Lease>> &leases, Round &r);
    // When a pool is full (as many threads as connections): all connections again, one master after another.
    void take_in_order(const std::vector<bool> &asked, const Deadline &until,
                       std::vector<std::optional<Pool::Lease>> &leases, Round &r);
    std::shared_ptr<Shared> shared_;
    std::vector<std::shared_ptr<Master>> masters_;  // shared with their connecting threads
    std::optional<Millis> timeout_;  // one wait for all: the longest of the masters' command timeouts
};

}  // namespace redlock::core

// The core of a redlock_lock: redis-py's Lock, with token state per thread or per handle.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "net/client.hpp"
#include "net/connection.hpp"
#include "base/clock.hpp"
#include "lock/token.hpp"

namespace redlock::core {

struct LockOptions {
    std::optional<Millis> ttl;  // nullopt: the key never expires
    Millis sleep{100};
    std::optional<Millis> blocking_timeout;  // nullopt: wait forever
    bool blocking = true;
    bool auto_renew = false;
    bool fencing = false;
    bool fair = false;
    // With auto_renew, called from the watchdog thread. Shared, not inline: every handle carries the options, and
    // most have no callback (idle handles' size is in bench/).
    std::shared_ptr<const std::function<void(int reason)>> on_lost;
};

// The fence counter's key for a lock name: in the name's Redis Cluster slot. A name with a hash tag of its own keeps
// it ("a{x}" -> "a{x}:fence"); a name without braces becomes the tag ("jobs" -> "{jobs}:fence", which hashes like
// "jobs"). Any other name has no such key: nullopt.
std::optional<std::string> fence_key_for(std::string_view name);
// The same rule for any companion key: `name` + ":" + suffix, in the name's slot.
std::optional<std::string> companion_key(std::string_view name, std::string_view suffix);
// Fair mode's keys: "{name}:suffix", or "name::suffix" for a name with a hash tag of its own, so that "foo" and
// "{foo}" never share a queue.
std::optional<std::string> fair_key(std::string_view name, std::string_view suffix);

// Per-call overrides of acquire(); unset fields take the lock's options.
struct AcquireArgs {
    std::optional<bool> blocking;
    std::optional<std::optional<Millis>> blocking_timeout;
    std::optional<Millis> sleep;
    std::optional<std::string> token;
    bool stay_queued = false;  // fair mode: another call with the same token follows; keep the place in the queue
    bool leave_queue = false;  // fair mode: no attempt; the token leaves the queue
};

enum class TokenScope { per_thread, shared };


// REDLOCK_MAX_NAME_LEN and REDLOCK_MAX_TOKEN_LEN (capi/ checks they agree).
inline constexpr size_t kMaxNameLen = 65536;
inline constexpr size_t kMaxTokenLen = 4096;
// Fair mode: the longest gap between a waiter's attempts, which are also its heartbeats in the queue.
inline constexpr Millis kFairGap{2000};

class Lock {
public:
    // Validates the name (1..REDLOCK_MAX_NAME_LEN bytes) and options; throws Error(invalid).
    Lock(std::shared_ptr<Client> client, std::string name, LockOptions opts, TokenScope scope);
    ~Lock();
    Lock(const Lock &) = delete;
    Lock &operator=(const Lock &) = delete;

    // true: acquired and stored; false: busy until the wait ran out. Throws Error.
    bool acquire(const AcquireArgs &args = {});
    void release();
    void extend(Millis additional, bool replace_ttl);
    void reacquire();
    bool locked();
    bool owned();
    // The key as it is, whoever holds it (for operators: `redlock status`). Throws Error.
    KeyStatus status();
    // Compare-and-delete with a token given by the caller (recovery of a crashed owner's lock), as a release would
    // with it, waking waiters; this handle's own tokens are not touched. Error(not_owned) when the key does not hold
    // that token.
    void release_token(const std::string &token);
    std::optional<std::string> current_token() const { return tokens_->get(); }
    // This owner's fencing token; Error(not_held) without a token, Error(invalid) on a lock without fencing.
    uint64_t fence() const;
    // How long this owner can still rely on the lock: TTL − time since the acquire (or the last extend, reacquire or
    // renewal) was sent − drift (quorum/), never below 0. Error(not_held) without a token, Error(no_ttl) without a TTL.
    Millis validity() const;

    const std::string &name() const noexcept { return name_; }

private:
    // One SET NX attempt: true if it took. `may_have_landed`: the token was kept after an unknown outcome, so a busy
    // key may be holding it (checked with GET). `pttl` (retries and fenced attempts): the busy key's PTTL when told
    // (-1: no TTL).
    // `queue_up` (fair mode): join the waiters' queue when busy.
    bool try_set(const std::string &token, bool may_have_landed, bool retry, bool queue_up,
                 std::optional<uint64_t> &fence, std::optional<int64_t> &pttl, Clock::time_point &valid_until);
    // Between attempts: `sleep`, but on a quorum client a random part of it (from half to all), so that clients
    // that collided on a split vote do not collide again in lockstep.
    Millis next_gap(Millis gap) const;
    void leave_queue(const std::string &token) noexcept;  // fair mode: a waiter that gives up
    uint64_t read_fence();  // the counter's value, while this owner holds the lock (so it is this owner's fence)
    // The key was found holding `token` after all: restart its TTL (read the fence); false if it expired meanwhile.
    bool settle_found(const std::string &token, std::optional<uint64_t> &fence);
    // The PX argument (empty without a TTL): made when needed, within std::string's inline buffer (no allocation),
    // rather than kept: every handle would carry it.
    std::string ttl_ms() const { return opts_.ttl ? std::to_string(opts_.ttl->count()) : std::string(); }
    // Names this lock's renewals (the watchdog forgets them in ~Lock, before the address can be reused).
    uint64_t id() const noexcept { return reinterpret_cast<uintptr_t>(this); }
    // After a lost reply: the key's value, read on a new connection. If that read fails too, throws `lost`'s code
    // with both reasons and `advice`, first storing `keep` (when given) as this owner's token.
    KeyValue value_after(const OutcomeUnknown &lost, const char *verb, std::string_view advice,
                         const std::string *keep = nullptr);
    // The release script (compare-and-delete, waking waiters) on one server: true when it deleted `token`'s key, or
    // after a lost reply the key no longer holds it; false when the key held another token or none. After a lost
    // reply with the key still holding it, throws the connection's error with `still_held` added (`advice`: for a
    // check that fails too).
    bool delete_if_holds(const std::string &token, std::string_view advice, std::string_view still_held);
    // Returns when the TTL restarted (sent); `ttl` is the TTL it restarted with (nullopt: added to the TTL).
    void run_ttl_script(const Script &s, const char *verb, std::string_view ms, std::string_view mode,
                        std::optional<Millis> ttl, Millis added);

    std::shared_ptr<Client> client_;
    const std::string name_;
    const LockOptions opts_;
    // Companion keys, only for locks that use them (most handles stay small: 100k idle handles are in bench/).
    struct Companions {
        std::string fence_key;             // with fencing
        std::string queue_key, alive_key;  // with fair: the waiters' queue and their heartbeats
        std::string alive_ms;              // with fair: how long a waiter stays queued without another attempt
    };
    std::unique_ptr<Companions> keys_;
    std::unique_ptr<TokenStore> tokens_;
    const TokenScope scope_;
};

}  // namespace redlock::core

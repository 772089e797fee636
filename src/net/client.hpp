// The core of a redlock_client: configuration and pool, and the three ways lock code talks to Redis.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/pool.hpp"
#include "topology/router.hpp"
#include "lock/scripts.hpp"

namespace redlock::core {

// A lock key as GET saw it. A value longer than the reply limit (no token is: someone else's data, or redis-py's
// token of any length) is read through and only its existence kept.
struct KeyValue {
    std::optional<std::string> value;
    bool oversize = false;
    bool exists() const noexcept { return value.has_value() || oversize; }
    bool holds(std::string_view token) const noexcept { return value && *value == token; }
};

// A lock key as an operator sees it (Lock::status, Quorum::status).
struct KeyStatus {
    bool held = false;   // the key exists (quorum: on a majority of the masters)
    int64_t pttl = -2;   // ms left; -1: no TTL; -2: not held
    bool split = false;  // quorum: held on a majority, but no one value is (value and length unknown: empty, 0)
    size_t length = 0;   // the value's length in bytes
    std::string value;   // its first 4096 bytes (kStatusScript; no token is longer)
};
// The status script's reply (kStatusScript) for `name`; throws Error(server) for anything else.
KeyStatus parse_key_status(const Reply &r, std::string_view name);

class Watchdog;
class Waiters;
class Quorum;

class Client {
public:
    explicit Client(ClientConfig cfg);
    // Redlock over independent masters (quorum/): locks on it take their keys on a majority. Only the quorum,
    // config (the first master's settings) and watchdog of such a client are used; its single-server calls throw.
    explicit Client(std::vector<ClientConfig> masters);
    ~Client();

    Quorum *quorum() const noexcept { return quorum_.get(); }

    // A read that is safe to repeat: retried once on a new connection after a broken connection. `accept`: the
    // reply types it may answer with besides an error (expect::); any other breaks the connection.
    Reply read(ArgList argv, unsigned accept);

    // A command with effects: sent once. Throws OutcomeUnknown if it may have run without its reply arriving, or if
    // its reply is not of a type in `accept` (then it may have run too).
    Reply write(ArgList argv, unsigned accept);

    // A lock script as EVALSHA (by default answering an integer); on NOSCRIPT (cache flushed, server restarted) as
    // EVAL on the same connection, which also caches it again. Throws like write().
    // `cap` (here and below): no wait, connect or command goes past it (a renewal must end before its TTL does).
    Reply script(const Script &s, ArgList keys, ArgList args, unsigned accept = expect::integer,
                 const Deadline &cap = Deadline::never());

    // Several commands in one round trip on one connection (sent once, as write()); replies in order.
    std::vector<Reply> pipeline(const std::vector<std::vector<std::string_view>> &commands, unsigned accept,
                                const Deadline &cap = Deadline::never());

    // GET as a read (retried once after a dropped connection). Throws Error.
    KeyValue get(std::string_view key);

    // GET on a newly opened connection, to settle an ambiguous outcome. Throws Error if that fails too.
    KeyValue get_on_fresh_connection(std::string_view key, const Deadline &cap = Deadline::never());

    // PING, on every node of the topology (and each sentinel answers); throws Error saying what is wrong.
    void ping();

    const ClientConfig &config() const noexcept { return cfg_; }

    // Settings for a subscriber connection: the current master, or any cluster node.
    ClientConfig subscriber_config(const Deadline &until) { return topology().subscriber_config(until); }

    // The renewals of this client's auto-renewed locks (its thread starts with the first).
    Watchdog &watchdog();
    // The subscriber that wakes this client's waiting acquires on releases (its thread starts with the first wait).
    Waiters &waiters();
    bool has_waiters() const noexcept { return has_waiters_.load(std::memory_order_acquire); }

private:
    Router &topology() const;  // the router: Error(internal) on a quorum client
    Deadline command_deadline(const Deadline &cap = Deadline::never()) const {
        return Deadline::after(cfg_.command_timeout).earlier(cap);
    }
    // Runs op(pool, asking) on the node serving `key`, following redirections (MOVED, ASK, a failover) and trying
    // again while the right node cannot be reached, until `until`. A command whose outcome is unknown is not resent.
    template <class Op>
    Reply routed(std::string_view key, const Deadline &until, Op &&op);

    const ClientConfig cfg_;
    std::unique_ptr<Router> router_;  // null on a quorum client
    std::unique_ptr<Quorum> quorum_;
    std::once_flag watchdog_once_;
    std::unique_ptr<Watchdog> watchdog_;  // after router_: stopped (and joined) before the pool goes
    std::once_flag waiters_once_;
    std::unique_ptr<Waiters> waiters_;
    std::atomic<bool> has_waiters_{false};
};

}  // namespace redlock::core

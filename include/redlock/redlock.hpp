// libredlock for C++: a header-only RAII wrapper over the C API (so C++ programs keep the stable C ABI).
//
//   redlock::Client client("redis://127.0.0.1:6379/0");
//   redlock::Lock lock(client, "jobs:nightly", redlock::LockOptions{}.timeout(std::chrono::seconds(10)));
//   {
//       std::lock_guard<redlock::Lock> guard(lock);   // lock() waits; throws redlock::LockError if it cannot
//       ...
//   }                                                // unlock(): release, errors kept in lock.unlock_error()
//   if (redlock::Guard g{lock}) { ...; g.release(); }  // or a guard whose release() throws
//
// Errors are exceptions derived from redlock::Error, one class per C result code (see redlock_error_class()).
// Requires C++17. Thread safety: as the C handles (a Client and a Lock may be used by many threads at once).
#ifndef REDLOCK_REDLOCK_HPP
#define REDLOCK_REDLOCK_HPP

#if __cplusplus < 201703L && !(defined(_MSVC_LANG) && _MSVC_LANG >= 201703L)
#error "redlock.hpp needs C++17 (-std=c++17); from older C++, include redlock.h, the C API"
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "redlock.h"

namespace redlock {

using Millis = std::chrono::milliseconds;

/** Base of every libredlock exception: the C result code and the library's detail message. */
class Error : public std::runtime_error {
public:
    Error(int code, const std::string &message) : std::runtime_error(message), code_(code) {}
    /** The REDLOCK_E* code. */
    int code() const noexcept { return code_; }

private:
    int code_;
};

/** The lock is not held by this owner (REDLOCK_ENOTHELD), has no timeout (REDLOCK_ENOTTL), or could not be acquired
 *  by lock() (code REDLOCK_NOT_ACQUIRED). redis-py's LockError. */
class LockError : public Error {
    using Error::Error;
};
/** The token is no longer in Redis: expired or taken (REDLOCK_ENOTOWNED). redis-py's LockNotOwnedError. */
class LockNotOwnedError : public LockError {
    using LockError::LockError;
};
/** REDLOCK_EINVAL. */
class InvalidArgument : public Error {
    using Error::Error;
};
/** REDLOCK_ECONN. */
class ConnectionError : public Error {
    using Error::Error;
};
/** REDLOCK_ETIMEDOUT. */
class TimeoutError : public Error {
    using Error::Error;
};
/** REDLOCK_ESERVER. */
class ServerError : public Error {
    using Error::Error;
};
/** REDLOCK_EAUTH. */
class AuthError : public ServerError {
    using ServerError::ServerError;
};

namespace detail {

[[noreturn]] inline void throw_code(int code, const char *message) {
    std::string msg = message && *message ? message : redlock_strerror(code);
    switch (code) {
    case REDLOCK_NOT_ACQUIRED:
    case REDLOCK_ENOTHELD:
    case REDLOCK_ENOTTL: throw LockError(code, msg);
    case REDLOCK_ENOTOWNED: throw LockNotOwnedError(code, msg);
    case REDLOCK_EINVAL: throw InvalidArgument(code, msg);
    case REDLOCK_ECONN: throw ConnectionError(code, msg);
    case REDLOCK_ETIMEDOUT: throw TimeoutError(code, msg);
    case REDLOCK_EAUTH: throw AuthError(code, msg);
    case REDLOCK_ESERVER: throw ServerError(code, msg);
    case REDLOCK_ENOMEM: throw std::bad_alloc();
    default: throw Error(code, msg);
    }
}

// Throws for negative codes; returns the code otherwise (OK, NOT_ACQUIRED, or a predicate's 0/1).
inline int check(int rc) {
    if (rc < 0) throw_code(rc, redlock_last_error());
    return rc;
}

// Any std::chrono duration to whole milliseconds, saturating at the int64_t range instead of overflowing (the C
// library then applies each field's rule: REDLOCK_EINVAL for exact durations, "no limit" for waits).
template <class Rep, class Period>
int64_t to_ms(const std::chrono::duration<Rep, Period> &d) {
    const double ms = std::chrono::duration<double, std::milli>(d).count();
    if (ms != ms) throw InvalidArgument(REDLOCK_EINVAL, "a duration is NaN");
    if (ms >= 9.2e18) return INT64_MAX;
    if (ms <= -9.2e18) return INT64_MIN;
    return static_cast<int64_t>(std::chrono::duration_cast<Millis>(d).count());
}

}  // namespace detail

/** Client options (see redlock_client_options). Chainable setters. */
class ClientOptions {
public:
    ClientOptions() { redlock_client_options_init(&o_); }
    ClientOptions &max_connections(uint32_t n) { o_.max_connections = n; return *this; }
    /** std::nullopt, or more than REDLOCK_MAX_DURATION_MS: no limit. */
    ClientOptions &connect_timeout(std::optional<Millis> t) { o_.connect_timeout_ms = t ? detail::to_ms(*t) : -1; return *this; }
    template <class Rep, class Period>
    ClientOptions &connect_timeout(std::chrono::duration<Rep, Period> t) { o_.connect_timeout_ms = detail::to_ms(t); return *this; }
    ClientOptions &command_timeout(std::optional<Millis> t) { o_.command_timeout_ms = t ? detail::to_ms(*t) : -1; return *this; }
    template <class Rep, class Period>
    ClientOptions &command_timeout(std::chrono::duration<Rep, Period> t) { o_.command_timeout_ms = detail::to_ms(t); return *this; }
    ClientOptions &keepalive(std::chrono::seconds s) { o_.keepalive_s = s.count(); return *this; }
    ClientOptions &username(std::string u) { user_ = std::move(u); return *this; }
    ClientOptions &password(std::string p) { pass_ = std::move(p); return *this; }
    ClientOptions &db(int32_t n) { o_.db = n; return *this; }
    /** rediss:// only (docs/tls.md): trusted CAs (a PEM file, or a directory), a client certificate and its key
     *  (mutual TLS), the name to check (default: the URL's host), and verification (false: unsafe). */
    ClientOptions &tls_ca_file(std::string f) { ca_file_ = std::move(f); return *this; }
    ClientOptions &tls_ca_dir(std::string d) { ca_dir_ = std::move(d); return *this; }
    ClientOptions &tls_cert_file(std::string f) { cert_file_ = std::move(f); return *this; }
    ClientOptions &tls_key_file(std::string f) { key_file_ = std::move(f); return *this; }
    ClientOptions &tls_server_name(std::string n) { server_name_ = std::move(n); return *this; }
    ClientOptions &tls_verify(bool on) { o_.tls_verify = on ? 1 : 0; return *this; }
    /** redis+sentinel:// only (docs/sentinel.md): the sentinels' own credentials (the URL's are the data nodes'). */
    ClientOptions &sentinel_username(std::string u) { sentinel_user_ = std::move(u); return *this; }
    ClientOptions &sentinel_password(std::string p) { sentinel_pass_ = std::move(p); return *this; }
    /** Valid while this object lives and is not changed. */
    const redlock_client_options *get() const noexcept {
        // The strings' addresses are taken now, not when set: a copied ClientOptions points at its own copies.
        auto c = [](const std::optional<std::string> &s) { return s ? s->c_str() : nullptr; };
        o_.username = c(user_);
        o_.password = c(pass_);
        o_.tls_ca_file = c(ca_file_);
        o_.tls_ca_dir = c(ca_dir_);
        o_.tls_cert_file = c(cert_file_);
        o_.tls_key_file = c(key_file_);
        o_.tls_server_name = c(server_name_);
        o_.sentinel_username = c(sentinel_user_);
        o_.sentinel_password = c(sentinel_pass_);
        return &o_;
    }

private:
    mutable redlock_client_options o_;
    std::optional<std::string> user_, pass_, ca_file_, ca_dir_, cert_file_, key_file_, server_name_, sentinel_user_,
        sentinel_pass_;
};

/** Connections to Redis (one server, a master through Sentinel, a cluster, or a quorum of independent masters:
 *  pools). Copies share the client. */
class Client {
public:
    explicit Client(const std::string &url, const ClientOptions &opts = ClientOptions()) {
        redlock_client *c = nullptr;
        detail::check(redlock_client_new(&c, url.c_str(), opts.get()));
        c_.reset(c, &redlock_client_free);
    }
    /** Redlock over 1 to 64 independent masters (single-server URLs): see redlock_client_new_quorum(). */
    static Client quorum(const std::vector<std::string> &urls, const ClientOptions &opts = ClientOptions()) {
        std::vector<const char *> p;
        p.reserve(urls.size());
        for (const std::string &u : urls) p.push_back(u.c_str());
        redlock_client *c = nullptr;
        detail::check(redlock_client_new_quorum(&c, p.data(), p.size(), opts.get()));
        return Client(c);
    }
    /** Per master, what this thread's last call on a quorum client answered (redlock_quorum_outcomes()). */
    static std::vector<int> quorum_outcomes() {
        int codes[REDLOCK_MAX_MASTERS];
        size_t n = 0;
        detail::check(redlock_quorum_outcomes(codes, REDLOCK_MAX_MASTERS, &n));
        return std::vector<int>(codes, codes + n);
    }
    /** Throws unless the server answers (connect, AUTH, SELECT, PING). */
    void ping() const { detail::check(redlock_client_ping(c_.get())); }
    redlock_client *native() const noexcept { return c_.get(); }

private:
    explicit Client(redlock_client *c) : c_(c, &redlock_client_free) {}
    std::shared_ptr<redlock_client> c_;
};

/** Lock options (see redlock_lock_options). Chainable setters; defaults as redis-py. */
class LockOptions {
public:
    LockOptions() { redlock_lock_options_init(&o_); }
    /** The TTL; std::nullopt or zero: never expires; at most REDLOCK_MAX_DURATION_MS. */
    LockOptions &timeout(std::optional<Millis> t) { o_.timeout_ms = t ? detail::to_ms(*t) : 0; return *this; }
    template <class Rep, class Period>
    LockOptions &timeout(std::chrono::duration<Rep, Period> t) { o_.timeout_ms = detail::to_ms(t); return *this; }
    template <class Rep, class Period>
    LockOptions &sleep(std::chrono::duration<Rep, Period> t) { o_.sleep_ms = detail::to_ms(t); return *this; }
    LockOptions &blocking(bool b) { o_.blocking = b ? 1 : 0; return *this; }
    /** std::nullopt, or more than REDLOCK_MAX_DURATION_MS: wait forever. */
    LockOptions &blocking_timeout(std::optional<Millis> t) { o_.blocking_timeout_ms = t ? detail::to_ms(*t) : -1; return *this; }
    template <class Rep, class Period>
    LockOptions &blocking_timeout(std::chrono::duration<Rep, Period> t) { o_.blocking_timeout_ms = detail::to_ms(t); return *this; }
    /** Each acquire also takes a fencing token (Lock::fence()). */
    LockOptions &fencing(bool on) { o_.fencing = on ? 1 : 0; return *this; }
    /** Waiters get the lock in the order they asked, across processes (a queue beside the key). */
    LockOptions &fair(bool on) { o_.fair = on ? 1 : 0; return *this; }
    /** While held, the client renews the TTL every timeout / 3 in the background (needs a timeout). */
    LockOptions &auto_renew(bool on) { o_.auto_renew = on ? 1 : 0; return *this; }
    /** With auto_renew: called once, on the library's renewal thread, when the lock is lost; `reason` is
     *  REDLOCK_ENOTOWNED (token found gone) or the code of the renewals that failed until the TTL ran out. It must
     *  return soon and must not destroy the Lock; an exception it throws is dropped. */
    LockOptions &on_lost(std::function<void(int reason)> fn) { on_lost_ = std::move(fn); return *this; }
    /** true: redis-py thread_local=True (the default); false: REDLOCK_SHARED. */
    LockOptions &thread_local_tokens(bool tl) { flags_ = tl ? REDLOCK_THREAD_LOCAL : REDLOCK_SHARED; return *this; }
    const redlock_lock_options *get() const noexcept { return &o_; }
    unsigned flags() const noexcept { return flags_; }

private:
    friend class Lock;
    redlock_lock_options o_;
    unsigned flags_ = REDLOCK_THREAD_LOCAL;
    std::function<void(int)> on_lost_;
};

/** Per-call arguments of Lock::acquire (redis-py's acquire(blocking, blocking_timeout, sleep, token)). */
struct AcquireArgs {
    std::optional<bool> blocking;
    std::optional<std::optional<Millis>> blocking_timeout;  // inner nullopt: wait forever
    std::optional<Millis> sleep;
    std::optional<std::string> token;
};

/**
 * One named lock. Satisfies TimedLockable: usable with std::lock_guard, std::unique_lock and std::scoped_lock.
 * lock() and try_lock*() throw on errors; unlock() cannot throw (the standard requires it), so a failed release is
 * kept in unlock_error() for this thread. Use release() or redlock::Guard to see release errors as exceptions.
 * Not copyable; movable. The lock keeps its client alive.
 */
class Lock {
public:
    Lock(const Client &client, const std::string &name, const LockOptions &opts = LockOptions()) {
        redlock_lock_options o = *opts.get();
        if (opts.on_lost_) {
            // Heap-held so its address survives moves of this Lock; destroyed after l_ (declared before it), and
            // redlock_lock_free waits for a running callback.
            on_lost_ = std::make_unique<std::function<void(int)>>(opts.on_lost_);
            o.on_lost = [](redlock_lock *, int reason, void *arg) {
                try {
                    (*static_cast<std::function<void(int)> *>(arg))(reason);
                } catch (...) {  // nowhere to report it: the renewal thread is the library's
                }
            };
            o.on_lost_arg = on_lost_.get();
        }
        redlock_lock *l = nullptr;
        detail::check(redlock_lock_new(&l, client.native(), name.c_str(), &o, opts.flags()));
        l_.reset(l);
    }
    Lock(Lock &&) noexcept = default;
    Lock &operator=(Lock &&o) noexcept {
        if (this != &o) {
            l_.reset();  // first: its renewals may still call the callback being replaced
            on_lost_ = std::move(o.on_lost_);
            l_ = std::move(o.l_);
        }
        return *this;
    }

    /** true: acquired; false: busy until the wait ran out (redis-py's acquire()). */
    bool acquire(const AcquireArgs &args = {}) {
        redlock_acquire_options a;
        redlock_acquire_options_init(&a);
        if (args.blocking) {
            a.set |= REDLOCK_ACQ_BLOCKING;
            a.blocking = *args.blocking ? 1 : 0;
        }
        if (args.blocking_timeout) {
            a.set |= REDLOCK_ACQ_BLOCKING_TIMEOUT;
            a.blocking_timeout_ms = *args.blocking_timeout ? detail::to_ms(**args.blocking_timeout) : -1;
        }
        if (args.sleep) {
            a.set |= REDLOCK_ACQ_SLEEP;
            a.sleep_ms = detail::to_ms(*args.sleep);
        }
        if (args.token) {
            a.token = args.token->data();
            a.token_len = args.token->size();
        }
        return detail::check(redlock_lock_acquire_ex(l_.get(), &a)) == REDLOCK_OK;
    }
    void release() { detail::check(redlock_lock_release(l_.get())); }
    template <class Rep, class Period>
    void extend(std::chrono::duration<Rep, Period> additional, bool replace_ttl = false) {
        detail::check(redlock_lock_extend(l_.get(), detail::to_ms(additional), replace_ttl ? 1 : 0));
    }
    void reacquire() { detail::check(redlock_lock_reacquire(l_.get())); }
    bool locked() const { return detail::check(redlock_lock_locked(l_.get())) == 1; }
    bool owned() const { return detail::check(redlock_lock_owned(l_.get())) == 1; }
    /** This owner's fencing token (a lock with LockOptions::fencing), or std::nullopt when it holds none; throws
     *  InvalidArgument for a lock without fencing. */
    std::optional<uint64_t> fence() const {
        uint64_t out = 0;
        int rc = redlock_lock_fence(l_.get(), &out);
        if (rc == REDLOCK_ENOTHELD) return std::nullopt;
        detail::check(rc);
        return out;
    }
    /** How long this owner can still rely on the lock (redlock_lock_validity(); zero once expired or lost), or
     *  std::nullopt when it holds none; Millis::max() for a lock without a timeout. */
    std::optional<Millis> validity() const {
        int64_t ms = 0;
        int rc = redlock_lock_validity(l_.get(), &ms);
        if (rc == REDLOCK_ENOTHELD) return std::nullopt;
        if (rc == REDLOCK_ENOTTL) return Millis::max();
        detail::check(rc);
        return Millis(ms);
    }
    /** This owner's token, or std::nullopt when it holds none. */
    std::optional<std::string> token() const {
        // One call into room for the longest token: a size query first would race with another thread of a SHARED
        // handle releasing or re-acquiring in between.
        std::string out(REDLOCK_MAX_TOKEN_LEN + 1, '\0');
        size_t needed = 0;
        int rc = redlock_lock_token(l_.get(), out.data(), out.size(), &needed);
        if (rc == REDLOCK_ENOTHELD) return std::nullopt;
        detail::check(rc);
        out.resize(needed - 1);
        return out;
    }

    /** The key as it is now, whoever holds it (redlock_lock_status()): for operators' tools. */
    struct Status {
        bool held = false;
        bool split = false;         // a quorum's majority holds the key, but no one value: `value` unknown
        std::optional<Millis> ttl;  // std::nullopt: no TTL, or not held
        std::string value;          // its first 4096 bytes
        size_t value_bytes = 0;     // its whole length
    };
    Status status() const {
        Status s;
        int64_t ttl = -2;
        s.value.assign(REDLOCK_MAX_TOKEN_LEN + 1, '\0');
        const int rc = detail::check(redlock_lock_status(l_.get(), &ttl, s.value.data(), s.value.size(), &s.value_bytes));
        s.held = rc != 0;
        s.split = rc == 2;
        s.value.resize(std::min(s.value_bytes, static_cast<size_t>(REDLOCK_MAX_TOKEN_LEN)));
        if (ttl >= 0) s.ttl = Millis(ttl);
        return s;
    }
    /** Delete the key only if it holds `token` (redlock_lock_release_token(): recovery); LockNotOwnedError if not. */
    void release_token(const std::string &token) {
        detail::check(redlock_lock_release_token(l_.get(), token.data(), token.size()));
    }

    // Lockable / TimedLockable
    /** Acquire with the lock's defaults; throws LockError if that returns "not acquired". */
    void lock() {
        if (!acquire())
            throw LockError(REDLOCK_NOT_ACQUIRED, "Unable to acquire lock within the time specified");
    }
    bool try_lock() { return acquire(AcquireArgs{false, std::nullopt, std::nullopt, std::nullopt}); }
    /** As std::timed_mutex: a zero or negative duration is one attempt. */
    template <class Rep, class Period>
    bool try_lock_for(const std::chrono::duration<Rep, Period> &d) {
        redlock_acquire_options a;
        redlock_acquire_options_init(&a);
        a.set = REDLOCK_ACQ_BLOCKING | REDLOCK_ACQ_BLOCKING_TIMEOUT;
        a.blocking = 1;
        const int64_t ms = detail::to_ms(d);
        a.blocking_timeout_ms = ms < 0 ? 0 : ms;  // negative would mean "forever" to the C API
        return detail::check(redlock_lock_acquire_ex(l_.get(), &a)) == REDLOCK_OK;
    }
    template <class Clock, class Duration>
    bool try_lock_until(const std::chrono::time_point<Clock, Duration> &t) {
        const auto now = Clock::now();
        return try_lock_for(t > now ? t - now : decltype(t - now)::zero());  // t - now overflows for t far in the past
    }
    void unlock() noexcept {
        int rc = redlock_lock_release(l_.get());
        unlock_error_slot() = rc == REDLOCK_OK ? std::string() : std::string(redlock_last_error());
        unlock_code_slot() = rc;
    }
    /** The result code of this thread's last unlock() (REDLOCK_OK if it succeeded) and its message. */
    static int unlock_code() noexcept { return unlock_code_slot(); }
    static const std::string &unlock_error() noexcept { return unlock_error_slot(); }

    redlock_lock *native() const noexcept { return l_.get(); }

private:
    struct Free {
        void operator()(redlock_lock *l) const noexcept { redlock_lock_free(l); }
    };
    static int &unlock_code_slot() noexcept {
        static thread_local int code = REDLOCK_OK;
        return code;
    }
    static std::string &unlock_error_slot() noexcept {
        static thread_local std::string msg;
        return msg;
    }

    std::unique_ptr<std::function<void(int)>> on_lost_;  // before l_: outlives the C lock
    std::unique_ptr<redlock_lock, Free> l_;              // the C lock keeps its client alive
};

/**
 * Scoped ownership, like std::unique_lock but with a release() that throws: acquires in the constructor (throws
 * LockError when the lock's wait runs out), releases in the destructor if still held (errors there are swallowed:
 * call release() to see them). `std::defer_lock` / `std::try_to_lock` work as for std::unique_lock.
 */
class Guard {
public:
    explicit Guard(Lock &lock) : lock_(&lock) {
        lock.lock();
        held_ = true;
    }
    Guard(Lock &lock, std::try_to_lock_t) : lock_(&lock), held_(lock.try_lock()) {}
    Guard(Lock &lock, std::defer_lock_t) noexcept : lock_(&lock) {}
    Guard(const Guard &) = delete;
    Guard &operator=(const Guard &) = delete;
    Guard(Guard &&o) noexcept : lock_(o.lock_), held_(std::exchange(o.held_, false)) {}
    ~Guard() {
        if (held_) lock_->unlock();
    }
    void lock() {
        lock_->lock();
        held_ = true;
    }
    /** Releases now; throws LockNotOwnedError etc. The guard no longer owns the lock either way, unless the error was
     *  a connection error (then the token is kept and release() may be retried). */
    void release() {
        try {
            lock_->release();
            held_ = false;
        } catch (const LockError &) {
            held_ = false;
            throw;
        }
    }
    bool owns_lock() const noexcept { return held_; }
    explicit operator bool() const noexcept { return held_; }

private:
    Lock *lock_;
    bool held_ = false;
};

}  // namespace redlock

#endif  // REDLOCK_REDLOCK_HPP

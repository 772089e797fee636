/*
 * libredlock: Redis locks with redis-py's semantics behind a stable C ABI.
 *
 * The lock is wire-compatible with redis-py's `redis.lock.Lock`: one string key named exactly like the lock, holding
 * the owner's token, set with `SET name token NX [PX ttl]` and released, extended and reacquired with redis-py's own
 * Lua scripts. A libredlock process and a redis-py process therefore exclude each other on the same name.
 *
 * Conventions (every function):
 *  - Functions return `int`: REDLOCK_OK (0) on success, REDLOCK_NOT_ACQUIRED (positive, not an error) when a lock was
 *    busy, a negative REDLOCK_E* code on failure. Predicates return 1 / 0 / negative code.
 *  - Every call clears this thread's detail message on entry; every error and REDLOCK_NOT_ACQUIRED set it (a
 *    predicate's 1 or 0 leaves it empty; see redlock_last_error()).
 *  - No C++ exception ever crosses this interface; out-of-memory is reported as REDLOCK_ENOMEM.
 *  - Durations are int64_t milliseconds. Options are structs whose first field is a version, filled by an `_init`
 *    function; passing NULL options means "defaults".
 *  - Every duration has one of two rules, named at its field: an *exact* duration (a TTL, a pause, an extension) must
 *    lie within its range, at most REDLOCK_MAX_DURATION_MS, or the call fails with REDLOCK_EINVAL naming the limit; a
 *    *limit on a wait* (blocking, connect and command timeouts) means "no limit" when negative or above
 *    REDLOCK_MAX_DURATION_MS. No value of any int64_t field can overflow inside the library.
 *  - How long a call can take: a command waits at most the command timeout for its reply, plus the connect timeout
 *    when it has to open a connection. A lock call whose reply was lost checks the outcome with a GET on a new
 *    connection (one more connect and command timeout), and a script may be sent twice (EVALSHA, then EVAL after
 *    NOSCRIPT). So one acquire attempt takes at most 2 command + 2 connect timeouts; acquire at most its
 *    blocking_timeout_ms plus one attempt; release, extend and reacquire at most 3 command + 2 connect timeouts.
 *  - No call can be cancelled: bound waits with blocking_timeout_ms, and hangs with the connect and command timeouts.
 */
#ifndef REDLOCK_REDLOCK_H
#define REDLOCK_REDLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Compile-time version. CMake reads these three lines; keep their form. */
#define REDLOCK_VERSION_MAJOR 0
#define REDLOCK_VERSION_MINOR 5
#define REDLOCK_VERSION_PATCH 0
#define REDLOCK_VERSION_STRING "0.5.0"
/** The version as one number: major * 10000 + minor * 100 + patch. */
#define REDLOCK_VERSION_NUMBER (REDLOCK_VERSION_MAJOR * 10000 + REDLOCK_VERSION_MINOR * 100 + REDLOCK_VERSION_PATCH)
/** True when the headers are at least version major.minor.patch. */
#define REDLOCK_VERSION_CHECK(major, minor, patch) \
    (REDLOCK_VERSION_NUMBER >= ((major) * 10000 + (minor) * 100 + (patch)))

#if defined(_WIN32)
#  define REDLOCK_API
#elif defined(REDLOCK_BUILDING_LIBRARY)
#  define REDLOCK_API __attribute__((visibility("default")))
#else
#  define REDLOCK_API
#endif

/* `noexcept` in C++ (the library guarantees it), nothing in C. */
#if defined(__cplusplus)
#  define REDLOCK_NOEXCEPT noexcept
#else
#  define REDLOCK_NOEXCEPT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Result codes. Values are part of the ABI: they are never renumbered, new codes are added before the sentinel.
 */
typedef enum redlock_result {
    REDLOCK_OK = 0,            /**< Success. */
    REDLOCK_NOT_ACQUIRED = 1,  /**< The lock is held by another owner and the wait (if any) ran out. Not an error. */
    REDLOCK_EINVAL = -1,       /**< Invalid argument: NULL pointer, bad name, bad URL, bad option or flag. */
    REDLOCK_ENOTHELD = -2,     /**< This owner holds no token for the lock (redis-py's LockError). */
    REDLOCK_ENOTOWNED = -3,    /**< The owner's token is no longer in Redis: expired or taken (LockNotOwnedError). */
    REDLOCK_ENOTTL = -4,       /**< extend/reacquire on a lock created without a timeout. */
    REDLOCK_ECONN = -5,        /**< Could not connect, or the connection broke. */
    REDLOCK_ETIMEDOUT = -6,    /**< The server did not answer within the command timeout. */
    REDLOCK_ESERVER = -7,      /**< Redis answered with an error (the message carries it). */
    REDLOCK_EAUTH = -8,        /**< Redis refused the credentials (WRONGPASS, NOAUTH) or a permission (NOPERM, also
                                    inside the lock scripts). */
    REDLOCK_ENOMEM = -9,       /**< Out of memory. */
    REDLOCK_EINTERNAL = -10,   /**< A bug in libredlock; please report it with the message. */
    REDLOCK_ERESULT_SENTINEL_ = -11 /**< One past the last code; never returned. */
} redlock_result;

/** Flags for redlock_lock_new(). */
#define REDLOCK_THREAD_LOCAL 0u /**< Default: each OS thread sees only the token it acquired (redis-py thread_local=True). */
#define REDLOCK_SHARED 1u       /**< Every thread using this handle shares one token (redis-py thread_local=False). */

/** Longest lock name accepted, in bytes. Longer names get REDLOCK_EINVAL. */
#define REDLOCK_MAX_NAME_LEN 65536

/** Longest caller-supplied token accepted, in bytes. */
#define REDLOCK_MAX_TOKEN_LEN 4096

/** Longest duration in milliseconds (10^12 ms, about 31.7 years); see the conventions above for what lies beyond. */
#define REDLOCK_MAX_DURATION_MS INT64_C(1000000000000)

/* ------------------------------------------------------------------------------------------------------------------ */
/* Errors and version                                                                                                   */
/* ------------------------------------------------------------------------------------------------------------------ */

/**
 * A fixed, static description of a result code ("lock is not held by this owner", ...).
 * @return never NULL; unknown codes give "unknown result code".
 */
REDLOCK_API const char *redlock_strerror(int code) REDLOCK_NOEXCEPT;

/**
 * The calling thread's detail message for its last call that did not return REDLOCK_OK, or "" after a call that did.
 * @return never NULL. Owned by the library and valid until this thread's next libredlock call.
 *
 * Thread safety: per thread. Messages are not stored per handle because handles are shared between threads.
 */
REDLOCK_API const char *redlock_last_error(void) REDLOCK_NOEXCEPT;

/** The library's version at run time, e.g. "0.1.0" (compare with REDLOCK_VERSION_STRING). Never NULL. */
REDLOCK_API const char *redlock_version(void) REDLOCK_NOEXCEPT;

/** The library's version at run time as REDLOCK_VERSION_NUMBER computes it. */
REDLOCK_API int redlock_version_number(void) REDLOCK_NOEXCEPT;

/* ------------------------------------------------------------------------------------------------------------------ */
/* Client: connections to one Redis server                                                                              */
/* ------------------------------------------------------------------------------------------------------------------ */

/**
 * A pool of connections to one Redis server.
 *
 * Thread safety: one client may be used by any number of threads at once. Connections are opened on demand up to
 * `max_connections`; a thread that finds them all busy waits for one (up to the connect timeout).
 * After fork(), the child never uses the parent's sockets: it opens its own on first use.
 */
typedef struct redlock_client redlock_client;

#define REDLOCK_CLIENT_OPTIONS_VERSION 2

/**
 * Options for redlock_client_new(). Fill with redlock_client_options_init(), then set the fields you want: a field
 * left unset keeps the URL's value (query parameter or path), else the library default. The struct grows by version,
 * appending fields: a program built against version 1 (the fields up to `db`) passes version 1 and keeps working,
 * and its calls to redlock_client_options_init reach the version-1 implementation (ELF symbol versions).
 */
typedef struct redlock_client_options {
    uint32_t version;           /**< REDLOCK_CLIENT_OPTIONS_VERSION (set by _init). */
    uint32_t max_connections;   /**< Pool size, 1..4096; 0 = unset (default 64). */
    int64_t connect_timeout_ms; /**< Per connection attempt, with AUTH/SELECT; a limit on a wait: negative or
                                     above REDLOCK_MAX_DURATION_MS = no limit; 0 = unset (default 5000). */
    int64_t command_timeout_ms; /**< Per command round trip; a limit on a wait: negative or above
                                     REDLOCK_MAX_DURATION_MS = no limit; 0 = unset (default 5000). */
    int64_t keepalive_s;        /**< TCP keepalive idle seconds, 0..32767 (the kernel's limit), 0 = off; -1 = unset
                                     (default 60). */
    const char *username;       /**< ACL user; NULL = unset. Copied. */
    const char *password;       /**< Password; NULL = unset. Copied. */
    int32_t db;                 /**< Database number; -1 = unset (default 0). */
    /* version 2: TLS (rediss:// URLs only; docs/tls.md). Strings are copied; NULL = unset. */
    const char *tls_ca_file;      /**< PEM file of trusted CA certificates (default: the system's trust store). */
    const char *tls_ca_dir;       /**< Directory of trusted CA certificates (OpenSSL's hashed layout). */
    const char *tls_cert_file;    /**< Client certificate (PEM) for mutual TLS; needs tls_key_file. */
    const char *tls_key_file;     /**< Its private key (PEM). */
    const char *tls_server_name;  /**< Name for SNI and verification (default: the URL's host). */
    int32_t tls_verify;           /**< -1 = unset (verify), 1 = verify, 0 = do not verify the server (unsafe). */
    const char *sentinel_username; /**< The sentinels' own ACL user (redis+sentinel:// only; else EINVAL). */
    const char *sentinel_password; /**< The sentinels' password (URL credentials are the data nodes'). */
} redlock_client_options;

/** Fill `opts` with the version and every field unset. NULL is ignored (and sets the detail message). Programs built
 *  against version 1 of this struct call the version-1 implementation, which writes only version 1's fields. */
REDLOCK_API void redlock_client_options_init(redlock_client_options *opts) REDLOCK_NOEXCEPT;

/**
 * Create a client for the server at `url`. No connection is opened until the first command, so a dead server is
 * reported by the first lock operation, not here.
 *
 * URLs:
 *  - `redis://[[user]:password@]host[:port][/db][?query]` (host may be `[ipv6]`; user and password percent-decoded)
 *  - `rediss://...`: the same over TLS (OpenSSL, TLS 1.2 or later, the server's certificate verified; docs/tls.md)
 *  - `unix:///path/to.sock[?query]`
 *  - `redis+sentinel://[[user]:password@]host1[:port1][,host2[:port2]...]/service_name[/db][?query]`: the master
 *    that the sentinels (default port 26379) name for `service_name`, followed across failovers; the credentials
 *    are the data nodes'; the sentinels' own are the query keys or options `sentinel_username`/`sentinel_password`
 *    (docs/sentinel.md). `rediss+sentinel://`: TLS to both.
 *  - `redis+cluster://[[user]:password@]host1[:port1][,host2[:port2]...][?query]`: a Redis Cluster from these seed
 *    nodes (default port 6379); each lock's commands go to its key's slot owner (docs/cluster.md).
 *    `rediss+cluster://`: over TLS.
 *  Query keys: `db`, `connect_timeout` and `command_timeout` (ms), redis-py's `socket_connect_timeout` and
 *  `socket_timeout` (the same two, in float seconds), `max_connections`, `keepalive` (s), `username`, `password`;
 *  with rediss:// `tls_ca_file`, `tls_ca_dir`, `tls_cert_file`, `tls_key_file`, `tls_server_name`, `tls_verify`
 *  (0 = off, unsafe) and redis-py's `ssl_ca_certs`, `ssl_ca_path`, `ssl_certfile`, `ssl_keyfile`, `ssl_cert_reqs`;
 *  with redis+sentinel:// `sentinel_username`, `sentinel_password`. Unknown keys are REDLOCK_EINVAL. Schemes are case-insensitive.
 *  Fields set in `opts` override the URL; unset fields keep it.
 *
 * @param out  receives the client on REDLOCK_OK, NULL otherwise. Free with redlock_client_free().
 * @param url  the server address; copied.
 * @param opts NULL for defaults.
 * @return REDLOCK_OK, REDLOCK_EINVAL (NULL out or url, malformed URL, invalid option), REDLOCK_ENOMEM.
 */
REDLOCK_API int redlock_client_new(redlock_client **out, const char *url, const redlock_client_options *opts)
    REDLOCK_NOEXCEPT;

/** Most masters one quorum client may have (redlock_client_new_quorum). */
#define REDLOCK_MAX_MASTERS 64

/**
 * Create a client over `n_urls` independent Redis masters (the Redlock algorithm; docs/redlock.md). Locks made from
 * it work through the same redlock_lock_* calls, with these differences:
 *  - acquire sends `SET name token NX PX ttl` to every master at once (one token for all) and succeeds when a
 *    majority (n/2+1) took it before its validity ran out (validity = TTL − time spent − drift, drift = TTL/100 +
 *    2 ms); it returns as soon as the outcome is decided, without waiting for slow masters. A failed attempt first
 *    releases the key on every master that may have taken it. Retries wait a random part (half to all) of `sleep_ms`.
 *    If failures alone (masters down, refusing, too slow) leave no majority, the attempt fails with their code
 *    (REDLOCK_ECONN, ...), not REDLOCK_NOT_ACQUIRED.
 *  - extend, reacquire and auto_renew renewals need a majority each time; release goes to every master (returning
 *    once a majority has answered) and succeeds when a majority released it (REDLOCK_ENOTOWNED when a majority did not hold it; another code, the token kept
 *    for a retry, when too few answered to tell). locked / owned: a majority holds the key / our token.
 *  - redlock_lock_validity() says how long the owner can rely on the lock; redlock_quorum_outcomes() what each master
 *    answered.
 *  - a lock needs a TTL longer than the drift allowance (timeout_ms >= 3); `fencing` and `fair` are REDLOCK_EINVAL
 *    (a counter or a queue lives on one server); a waiting acquire polls (no wake-on-release).
 *  - each attempt of a blocking acquire uses a new token, unless the caller gives one (redlock_acquire_options.token):
 *    then a failed attempt's clean-up, delayed in the network, could remove a later attempt's key on a master.
 *  - connections are opened by one thread per master (`redlock-connect`), all at once: a master whose host is gone
 *    never holds up a call; one that cannot be reached is not asked while its thread reconnects (every 100 ms).
 * Each URL is a single server as for redlock_client_new() (redis://, rediss://, unix://, each with its own
 * credentials and query keys; no Sentinel or Cluster URL); `opts`, when given, applies to every master.
 *
 * @return REDLOCK_OK; REDLOCK_EINVAL (NULL out or urls, a NULL or bad URL, n_urls not 1..REDLOCK_MAX_MASTERS, the same
 *         server twice (as written: host:port or socket path), a Sentinel or Cluster URL); REDLOCK_ENOMEM.
 */
REDLOCK_API int redlock_client_new_quorum(redlock_client **out, const char *const *urls, size_t n_urls,
                                          const redlock_client_options *opts) REDLOCK_NOEXCEPT;

/**
 * Per master, what this thread's last call on a quorum client answered, in the order of the URLs: REDLOCK_OK (it did
 * what was asked: granted, released, extended, holds the key, answered PING), REDLOCK_NOT_ACQUIRED (another owner's
 * key is there), REDLOCK_ENOTOWNED (our token was not there), or why it failed (REDLOCK_ECONN, REDLOCK_ETIMEDOUT:
 * no reply in time, or none yet when the majority had decided, which is no failure; REDLOCK_EAUTH, REDLOCK_ESERVER).
 * The error message of a failed call names each master that did not say yes and why. A call that asks no master
 * (a release without a token) leaves none (n_masters 0).
 *
 * @param codes     receives up to `cap` codes (may be NULL when `cap` is 0).
 * @param cap       room in `codes`.
 * @param n_masters receives the number of masters of that call (0: no quorum call yet on this thread).
 * @return REDLOCK_OK; REDLOCK_EINVAL (NULL n_masters, or NULL codes with cap > 0).
 */
REDLOCK_API int redlock_quorum_outcomes(int *codes, size_t cap, size_t *n_masters) REDLOCK_NOEXCEPT;

/**
 * Check that the server answers: opens (or reuses) a connection, authenticates, selects the database and sends PING.
 * Useful at startup, since redlock_client_new() does not connect. Through Sentinel: every sentinel answers and they
 * agree on the master, which answers PING; in a cluster: every slot is served and every master answers PING; on a
 * quorum client: a majority of the masters answer PING (each one's answer in redlock_quorum_outcomes()).
 * The error message says what is wrong; the code is REDLOCK_EAUTH when every failure was a refused credential, else
 * REDLOCK_ECONN (one code for a topology that is not whole, whatever each part answered).
 * @return REDLOCK_OK, REDLOCK_EINVAL (NULL client), REDLOCK_ECONN, REDLOCK_ETIMEDOUT, REDLOCK_EAUTH, REDLOCK_ESERVER.
 */
REDLOCK_API int redlock_client_ping(redlock_client *client) REDLOCK_NOEXCEPT;

/**
 * Release the caller's reference to the client. Locks created from it keep the connections alive until they are
 * freed too, so the order in which clients and locks are freed does not matter. NULL is accepted.
 * Must not be called while another thread is using this same handle.
 */
REDLOCK_API void redlock_client_free(redlock_client *client) REDLOCK_NOEXCEPT;

/* ------------------------------------------------------------------------------------------------------------------ */
/* Lock: one named lock and its token state                                                                             */
/* ------------------------------------------------------------------------------------------------------------------ */

/**
 * One named lock and the token(s) of its owners.
 *
 * Thread safety: a lock handle may be used by any number of threads at once. What a thread can see depends on the
 * flags given to redlock_lock_new():
 *  - REDLOCK_THREAD_LOCAL: each OS thread has its own token slot; only the thread that acquired can release, extend,
 *    reacquire or read the token. Another thread's release gets REDLOCK_ENOTHELD and the lock stays held.
 *    A thread's slot is freed when the token is released or the thread exits.
 *  - REDLOCK_SHARED: one token per handle, seen by every thread using this handle.
 *  Two handles never share a token, whatever their flags and names.
 */
typedef struct redlock_lock redlock_lock;

#define REDLOCK_LOCK_OPTIONS_VERSION 2

/**
 * Called once, from the library's renewal thread, when an auto-renewed lock is lost: `reason` is REDLOCK_ENOTOWNED
 * when a renewal found the token gone (expired, deleted or overwritten behind the owner's back), or the connection or
 * timeout code of the renewals that kept failing until the TTL may have run out (counted from when the last renewal
 * that got through was sent: another owner may already hold the lock). Never for the owner's own release. After a
 * token found gone, redlock_lock_owned() answers 0 and redlock_lock_release() reports REDLOCK_ENOTOWNED without
 * touching whoever holds the key now; after failed renewals, Redis may still hold the token for a while (docs/c-api.md).
 * The callback may call any function on this lock and redlock_strerror/last_error (on a THREAD_LOCAL handle the
 * renewal thread has no token: token, fence and release answer REDLOCK_ENOTHELD there), and may free the lock, even
 * when it is the last reference to its client (a binding's garbage collector does that); it should return soon:
 * renewals of this client's other locks wait for it. redlock_lock_free from another thread waits for a running
 * callback of that lock to return.
 */
typedef void (*redlock_lost_fn)(redlock_lock *lock, int reason, void *arg);

/**
 * Options for redlock_lock_new(). Fill with redlock_lock_options_init(), then change fields. The struct grows by
 * version, appending fields: a program built against version 1 (the fields up to blocking_timeout_ms) passes
 * version 1 and keeps working unchanged.
 */
typedef struct redlock_lock_options {
    uint32_t version;             /**< REDLOCK_LOCK_OPTIONS_VERSION (set by _init). */
    int32_t blocking;             /**< 1 (default): acquire waits for the lock; 0: one attempt. */
    int64_t timeout_ms;           /**< The lock's TTL, exact: 1..REDLOCK_MAX_DURATION_MS, or 0 (default) = the key
                                       never expires (redis-py timeout=None); anything else is REDLOCK_EINVAL. */
    int64_t sleep_ms;             /**< Pause between attempts while waiting, exact: 0..REDLOCK_MAX_DURATION_MS;
                                       default 100. */
    int64_t blocking_timeout_ms;  /**< Longest wait for acquire, a limit on a wait: negative (default -1) or above
                                       REDLOCK_MAX_DURATION_MS = wait forever; 0 = exactly one attempt. */
    /* version 2 */
    int32_t auto_renew;           /**< 1: while held, renew the TTL every timeout_ms / 3 in the background (needs a
                                       TTL); 0 (default). */
    int32_t fencing;              /**< 1: each acquire also takes a fencing token, a number that strictly increases
                                       per lock name across all clients (redlock_lock_fence()); 0 (default). */
    int32_t fair;                 /**< 1: waiters get the lock in the order they asked (across processes); 0. */
    redlock_lost_fn on_lost;      /**< With auto_renew: called when the lock is lost (see redlock_lost_fn); NULL. */
    void *on_lost_arg;            /**< Passed to on_lost as `arg`. */
} redlock_lock_options;

/**
 * Fill `opts` with the defaults above, for REDLOCK_LOCK_OPTIONS_VERSION. NULL is ignored (and sets the detail
 * message). Programs built against version 1 of this header call the version-1 implementation of this function
 * (ELF symbol versions), which writes only the version-1 fields.
 */
REDLOCK_API void redlock_lock_options_init(redlock_lock_options *opts) REDLOCK_NOEXCEPT;

/**
 * Create a lock handle named `name` on `client`. Does not talk to Redis.
 *
 * @param out    receives the lock on REDLOCK_OK, NULL otherwise. Free with redlock_lock_free().
 * @param client the client to use; the lock keeps it alive (the caller may free its client handle first).
 * @param name   the Redis key, used verbatim (no prefix): 1 to REDLOCK_MAX_NAME_LEN bytes, any bytes but NUL.
 * @param opts   NULL for defaults.
 * @param flags  REDLOCK_THREAD_LOCAL (0) or REDLOCK_SHARED; any other bit is REDLOCK_EINVAL.
 * @return REDLOCK_OK, REDLOCK_EINVAL, REDLOCK_ENOMEM.
 */
REDLOCK_API int redlock_lock_new(redlock_lock **out, redlock_client *client, const char *name,
                                 const redlock_lock_options *opts, unsigned flags) REDLOCK_NOEXCEPT;

/**
 * Free the handle. Never touches Redis: a lock still held stays held until its TTL expires (or forever without one).
 * NULL is accepted. Must not be called while another thread is using this same handle.
 */
REDLOCK_API void redlock_lock_free(redlock_lock *lock) REDLOCK_NOEXCEPT;

/**
 * Acquire with the lock's defaults (redis-py `acquire()`): a fresh random token, the first attempt immediate (a plain
 * SET NX), then, while `blocking`, an attempt at least every `sleep_ms`, and at once when a libredlock owner (any
 * process, any binding) releases the lock or the holder's key expires; no wait goes past `blocking_timeout_ms`.
 * Waiting acquires of one client share one subscriber connection (docs/c-api.md, "Waiting"). Not reentrant: an owner
 * that already holds the lock waits like anyone else.
 *
 * If a reply is lost (connection broken or timed out after the SET was sent, or a reply that breaks the protocol),
 * the library asks Redis on a fresh connection whether the key now holds this token: if so the call succeeds.
 * Otherwise the error is returned and the token is kept, because a SET still in flight (a retransmitted segment) can
 * land after the check and would hold the key for nobody: call redlock_lock_release() to clean up. It deletes the key
 * only if it holds this token, and reports REDLOCK_ENOTOWNED, harmlessly, if the SET never landed. A new acquire by
 * the same owner retries with the kept token rather than a fresh one: if the late SET has landed meanwhile, the lock
 * is simply held (its TTL restarted); on a SHARED handle only one thread at a time retries it. A caller-supplied
 * token (redlock_lock_acquire_ex) replaces the kept one.
 *
 * @return REDLOCK_OK (token stored for this owner), REDLOCK_NOT_ACQUIRED, or a negative error.
 */
REDLOCK_API int redlock_lock_acquire(redlock_lock *lock) REDLOCK_NOEXCEPT;

#define REDLOCK_ACQUIRE_OPTIONS_VERSION 1

/** Bits of redlock_acquire_options.set: which fields override the lock's defaults. */
#define REDLOCK_ACQ_BLOCKING 1u
#define REDLOCK_ACQ_BLOCKING_TIMEOUT 2u
#define REDLOCK_ACQ_SLEEP 4u
/** Not a field: for callers that cut a long wait into several calls (an FFI binding that must stay interruptible).
 *  With a `fair` lock and a caller-supplied token that every call of the wait repeats, a call that ends without the
 *  lock keeps the waiter's place in the queue for the next call, instead of leaving it. If no call follows, the
 *  place is dropped once the waiter's heartbeat runs out (2 x min(sleep, 2 s) + 2 s). No effect on other locks. */
#define REDLOCK_ACQ_STAY_QUEUED 8u
/** Not a field either: with a `fair` lock and the caller's token, make no attempt, only take that token out of the
 *  queue (waking the next waiter) and return REDLOCK_NOT_ACQUIRED: how a caller that waited with
 *  REDLOCK_ACQ_STAY_QUEUED gives up between two calls (an interrupted wait). On other locks, nothing happens. */
#define REDLOCK_ACQ_LEAVE_QUEUE 16u

/**
 * Per-call arguments of redlock_lock_acquire_ex() (redis-py's `acquire(blocking, blocking_timeout, sleep, token)`).
 * Fill with redlock_acquire_options_init(), which sets nothing to override and no token.
 */
typedef struct redlock_acquire_options {
    uint32_t version;            /**< REDLOCK_ACQUIRE_OPTIONS_VERSION (set by _init). */
    uint32_t set;                /**< OR of REDLOCK_ACQ_* bits naming the fields below that apply. */
    int32_t blocking;            /**< With REDLOCK_ACQ_BLOCKING: 1 or 0. */
    int64_t blocking_timeout_ms; /**< With REDLOCK_ACQ_BLOCKING_TIMEOUT: as redlock_lock_options (negative or above
                                      REDLOCK_MAX_DURATION_MS = forever, 0 = one attempt). */
    int64_t sleep_ms;            /**< With REDLOCK_ACQ_SLEEP: 0..REDLOCK_MAX_DURATION_MS. */
    const char *token;           /**< NULL: a random token. Otherwise the token to store, `token_len` bytes
                                      (1..REDLOCK_MAX_TOKEN_LEN, any bytes), copied. */
    size_t token_len;
} redlock_acquire_options;

/** Fill `opts`: version set, no overrides, no token. NULL is ignored (and sets the detail message). */
REDLOCK_API void redlock_acquire_options_init(redlock_acquire_options *opts) REDLOCK_NOEXCEPT;

/** redlock_lock_acquire() with per-call overrides; `opts` NULL = no overrides. Same results. */
REDLOCK_API int redlock_lock_acquire_ex(redlock_lock *lock, const redlock_acquire_options *opts) REDLOCK_NOEXCEPT;

/**
 * Release the lock held by this owner (the calling thread, or the handle with REDLOCK_SHARED).
 *
 * @return REDLOCK_OK (key deleted, token cleared; when the reply was lost, the check found the key no longer holding
 *         the token: deleted by this release, or possibly expired just before it); REDLOCK_ENOTHELD (this owner holds
 *         no token, nothing sent);
 *         REDLOCK_ENOTOWNED (Redis no longer holds this token: expired or taken; token cleared);
 *         a connection or server error: the token is kept so the release can be retried.
 */
REDLOCK_API int redlock_lock_release(redlock_lock *lock) REDLOCK_NOEXCEPT;

/**
 * Extend the TTL of the lock held by this owner: add `additional_ms` to the remaining TTL, or with `replace_ttl` = 1
 * set the TTL to `additional_ms`.
 *
 * @param additional_ms exact: 0..REDLOCK_MAX_DURATION_MS; 1..REDLOCK_MAX_DURATION_MS when replace_ttl is 1.
 * @param replace_ttl   0 or 1.
 * @return REDLOCK_OK; REDLOCK_ENOTHELD; REDLOCK_ENOTTL (lock created with timeout 0); REDLOCK_ENOTOWNED (token no
 *         longer in Redis, or the key has no TTL); REDLOCK_EINVAL; connection or server errors.
 */
REDLOCK_API int redlock_lock_extend(redlock_lock *lock, int64_t additional_ms, int replace_ttl) REDLOCK_NOEXCEPT;

/**
 * Reset the TTL of the lock held by this owner to the lock's timeout.
 * @return as redlock_lock_extend().
 */
REDLOCK_API int redlock_lock_reacquire(redlock_lock *lock) REDLOCK_NOEXCEPT;

/** 1 if anyone holds the lock (the key exists), 0 if not, negative on error. */
REDLOCK_API int redlock_lock_locked(redlock_lock *lock) REDLOCK_NOEXCEPT;

/** 1 if this owner's token is the key's value, 0 if not (or no token held), negative on error. */
REDLOCK_API int redlock_lock_owned(redlock_lock *lock) REDLOCK_NOEXCEPT;

/**
 * This owner's fencing token: the number its acquire took (lock created with `fencing`), strictly greater than every
 * fence taken before on this lock name, by any client. Hand it to the protected resource with each write, and have
 * the resource refuse a write whose fence is lower than one it has seen: an owner paused past its TTL can then no
 * longer write after the next owner did. The counter lives in a companion key, `{name}:fence` (or `name:fence` when
 * the name has a hash tag of its own), in the same Redis Cluster slot; it never expires and must not be deleted.
 *
 * @param out receives the fence.
 * @return REDLOCK_OK; REDLOCK_ENOTHELD (this owner holds no token); REDLOCK_EINVAL (NULL arguments, or a lock created
 *         without `fencing`).
 */
REDLOCK_API int redlock_lock_fence(redlock_lock *lock, uint64_t *out) REDLOCK_NOEXCEPT;

/**
 * Copy this owner's token into `buf`, followed by a NUL byte, so it can be handed to another client (for example
 * redis-py, or redlock_lock_acquire_ex() elsewhere). Tokens generated by the library are 32 lowercase hex characters.
 *
 * @param buf    destination; may be NULL when `buflen` is 0 to ask for the size only.
 * @param buflen size of `buf` in bytes.
 * @param needed if not NULL, receives the token length + 1 (whenever a token is held).
 * @return REDLOCK_OK (copied, or size query answered); REDLOCK_ENOTHELD; REDLOCK_EINVAL (NULL lock, NULL buf with
 *         buflen > 0, or buflen smaller than *needed: nothing copied).
 */
REDLOCK_API int redlock_lock_token(redlock_lock *lock, char *buf, size_t buflen, size_t *needed) REDLOCK_NOEXCEPT;

/**
 * How long this owner can still rely on the lock, in ms: the TTL minus the time since the acquire (or the last
 * extend, reacquire or renewal that got through) was sent, minus the clock drift allowance (TTL/100 + 2 ms), never
 * below 0; it decreases on the monotonic clock. With auto_renew, each renewal sets the TTL back to the lock's, so an
 * extend counts for no more than the renewals give. After an extend or reacquire whose outcome is unknown, the
 * validity never again counts past what that one could have set (it may land later), for the rest of the hold.
 * The same rule on every client; on a quorum client it is Redlock's validity time. Work that must finish under the lock should check it (and a fencing token, where one exists).
 *
 * @param ms_left receives the time left (0: expired, lost, or kept after an acquire whose outcome is unknown).
 * @return REDLOCK_OK; REDLOCK_ENOTHELD (this owner holds no token); REDLOCK_ENOTTL (a lock with no timeout);
 *         REDLOCK_EINVAL (NULL arguments).
 */
REDLOCK_API int redlock_lock_validity(redlock_lock *lock, int64_t *ms_left) REDLOCK_NOEXCEPT;

/* ------------------------------------------------------------------------------------------------------------------ */
/* For operators: whoever holds the lock (the redlock command's status and release)                                    */
/* ------------------------------------------------------------------------------------------------------------------ */

/**
 * The lock's key as it is now, whoever holds it: its TTL and value, read in one step (a script: GET and PTTL). This
 * owner's token state is not involved. On a quorum client every master is asked and the answer is the majority's:
 * the value a majority of masters hold, and how long a majority will still hold it.
 *
 * @param ttl_ms    if not NULL, receives the ms left, -1 when the key has no TTL, -2 when it is not held.
 * @param value     if not NULL, receives the value's first min(*value_len, 4096, value_cap - 1) bytes, then a NUL
 *                  (values are any bytes: a library token is 32 lowercase hex characters, a redis-py token too).
 * @param value_cap room in `value`, 0 for none.
 * @param value_len if not NULL, receives the value's whole length (0 when not held, or when 2 is returned).
 * @return 1 held, 0 not held, 2 (quorum clients only) held on a majority of the masters but with no one value on a
 *         majority (a split vote being cleaned up): `value` empty, `*value_len` 0; REDLOCK_EINVAL (NULL lock, NULL value with value_cap > 0); REDLOCK_ESERVER (the key
 *         is not a string: not a lock); connection errors; on a quorum client, an error when too few masters answer
 *         to tell.
 */
REDLOCK_API int redlock_lock_status(redlock_lock *lock, int64_t *ttl_ms, char *value, size_t value_cap,
                                    size_t *value_len) REDLOCK_NOEXCEPT;

/**
 * Release the lock for whoever holds `token`: delete the key only if it holds this token (the same compare-and-
 * delete as a release, waking waiters), as recovery for an owner that can no longer release its own (a crashed
 * process's token, from redlock_lock_status()). This handle's tokens are not touched.
 *
 * @param token     the token, `token_len` bytes (1..REDLOCK_MAX_TOKEN_LEN, any bytes).
 * @return REDLOCK_OK (deleted); REDLOCK_ENOTOWNED (the key does not hold that token: nothing deleted);
 *         REDLOCK_EINVAL (NULL arguments, a token of 0 or too many bytes); connection and server errors, as
 *         redlock_lock_release() (on a quorum client, decided by a majority).
 */
REDLOCK_API int redlock_lock_release_token(redlock_lock *lock, const char *token, size_t token_len) REDLOCK_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* REDLOCK_REDLOCK_H */

// The extern "C" API: argument checks and translation to the C++ core, nothing else. Policy lives in src/.
#include "redlock/redlock.h"

#include <fmt/format.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <vector>
#include <algorithm>

#include "net/client.hpp"
#include "lock/lock.hpp"
#include "quorum/quorum.hpp"
#include "guard.hpp"

using redlock::core::Errc;
using redlock::core::Error;
using redlock::core::Millis;
using redlock::capi::fail;
using redlock::capi::guarded;

struct redlock_client {
    std::shared_ptr<redlock::core::Client> impl;
};

struct redlock_lock {
    std::shared_ptr<redlock::core::Lock> impl;
};

namespace {

static_assert(redlock::core::kMaxNameLen == REDLOCK_MAX_NAME_LEN);
static_assert(redlock::core::kMaxTokenLen == REDLOCK_MAX_TOKEN_LEN);
static_assert(redlock::core::kMaxDurationMs == REDLOCK_MAX_DURATION_MS);
static_assert(redlock::core::kMaxMasters == REDLOCK_MAX_MASTERS);

void require(bool ok, const char *what) {
    if (!ok) throw Error(Errc::invalid, what);
}

// Options structs start with a version that their _init function sets.
void require_version(uint32_t got, uint32_t expected, const char *type) {
    if (got != expected)
        throw Error(Errc::invalid, fmt::format("{}.version is {}, expected {}; fill the struct with {}_init()", type,
                                               got, expected, type));
}

// The core's lock defaults in the C API's terms: one source for them.
struct LockDefaults {
    const redlock::core::LockOptions core{};
    const int32_t blocking = core.blocking ? 1 : 0;
    const int64_t timeout_ms = core.ttl ? core.ttl->count() : 0;
    const int64_t sleep_ms = core.sleep.count();
    const int64_t blocking_timeout_ms = core.blocking_timeout ? core.blocking_timeout->count() : -1;
};

// Version 1 of redlock_lock_options: the fields before `auto_renew`. Programs built against it call the version-1
// init (symbol version REDLOCK_0), which must not write past them; new builds bind to the default REDLOCK_0.2.
struct lock_options_v1 {
    uint32_t version;
    int32_t blocking;
    int64_t timeout_ms;
    int64_t sleep_ms;
    int64_t blocking_timeout_ms;
};
static_assert(sizeof(lock_options_v1) == offsetof(redlock_lock_options, auto_renew));

template <typename Options>
void fill_v1_defaults(Options *opts, uint32_t version) {
    const LockDefaults d;
    opts->version = version;
    opts->blocking = d.blocking;
    opts->timeout_ms = d.timeout_ms;
    opts->sleep_ms = d.sleep_ms;
    opts->blocking_timeout_ms = d.blocking_timeout_ms;
}

// Version 1 of redlock_client_options: the fields up to `db` (see lock_options_v1).
struct client_options_v1 {
    uint32_t version;
    uint32_t max_connections;
    int64_t connect_timeout_ms;
    int64_t command_timeout_ms;
    int64_t keepalive_s;
    const char *username;
    const char *password;
    int32_t db;
};
static_assert(offsetof(client_options_v1, db) == offsetof(redlock_client_options, db));
static_assert(sizeof(client_options_v1) <= offsetof(redlock_client_options, tls_ca_file));

template <typename Options>
void fill_client_v1_defaults(Options *opts, uint32_t version) {
    opts->version = version;  // zero fields are unset
    opts->keepalive_s = -1;   // 0 means "off"
    opts->db = -1;            // 0 is a database
}

bool flag01(int32_t v, const char *what) {
    if (v != 0 && v != 1) throw Error(Errc::invalid, fmt::format("{} must be 0 or 1", what));
    return v == 1;
}

}  // namespace

extern "C" {

REDLOCK_API void redlock_client_options_init(redlock_client_options *opts) noexcept {
    guarded([&]() -> int {
        require(opts != nullptr, "redlock_client_options_init: opts is NULL");
        *opts = redlock_client_options{};
        fill_client_v1_defaults(opts, REDLOCK_CLIENT_OPTIONS_VERSION);
        opts->tls_verify = -1;  // 0 means "do not verify"
        return REDLOCK_OK;
    });
}

// Not in the header: reached only through the versioned name, by programs built against version 1.
REDLOCK_API void rl_compat_client_options_init_v1(client_options_v1 *opts) noexcept {
    guarded([&]() -> int {
        require(opts != nullptr, "redlock_client_options_init: opts is NULL");
        *opts = client_options_v1{};
        fill_client_v1_defaults(opts, 1);
        return REDLOCK_OK;
    });
}
__asm__(".symver rl_compat_client_options_init_v1, redlock_client_options_init@REDLOCK_0");

}  // extern "C"

namespace {

// A URL's settings with the fields set in `opts` over them.
redlock::core::ClientConfig config_for(const char *url, const redlock_client_options *opts) {
        redlock::core::ClientConfig cfg = redlock::core::parse_url(url);
        if (opts) {
            if (opts->version != 1)
                require_version(opts->version, REDLOCK_CLIENT_OPTIONS_VERSION, "redlock_client_options");
            // Only the fields the caller set override the URL.
            require(opts->max_connections <= 4096, "max_connections must be from 1 to 4096 (0 = unset)");
            require(opts->keepalive_s >= -1 && opts->keepalive_s <= redlock::core::kMaxKeepaliveS,
                    "keepalive_s must be from 0 to 32767 (the kernel's TCP_KEEPIDLE limit; -1 = unset)");
            require(opts->db >= -1, "db must be >= 0 (-1 = unset)");
            if (opts->max_connections != 0) cfg.max_connections = opts->max_connections;
            if (opts->connect_timeout_ms != 0)
                cfg.connect_timeout = redlock::core::timeout_from_ms(opts->connect_timeout_ms, "connect_timeout_ms");
            if (opts->command_timeout_ms != 0)
                cfg.command_timeout = redlock::core::timeout_from_ms(opts->command_timeout_ms, "command_timeout_ms");
            if (opts->keepalive_s != -1) cfg.keepalive_s = static_cast<int>(opts->keepalive_s);
            if (opts->username) cfg.username = opts->username;
            if (opts->password) cfg.password = opts->password;
            if (opts->db != -1) cfg.db = opts->db;
            if (opts->version >= 2) {  // a version-1 struct ends before these fields: never read them
                redlock::core::TlsOptions &t = cfg.tls_options;
                if (opts->tls_ca_file) t.ca_file = opts->tls_ca_file;
                if (opts->tls_ca_dir) t.ca_dir = opts->tls_ca_dir;
                if (opts->tls_cert_file) t.cert_file = opts->tls_cert_file;
                if (opts->tls_key_file) t.key_file = opts->tls_key_file;
                if (opts->tls_server_name) {
                    require(*opts->tls_server_name != '\0', "tls_server_name is empty");
                    t.server_name = opts->tls_server_name;
                }
                require(opts->tls_verify >= -1 && opts->tls_verify <= 1, "tls_verify must be -1 (unset), 0 or 1");
                if (opts->tls_verify != -1) t.verify = opts->tls_verify == 1;
                if (t.any() && !cfg.tls)
                    throw Error(Errc::invalid, cfg.kind == redlock::core::ClientConfig::Kind::unix_socket
                                                   ? "TLS options on a unix socket: TLS over a unix socket is not "
                                                     "supported (nor needed)"
                                                   : "TLS options need a rediss://, rediss+sentinel:// or rediss+cluster:// URL");
                if (opts->sentinel_username) cfg.sentinel_username = opts->sentinel_username;
                if (opts->sentinel_password) cfg.sentinel_password = opts->sentinel_password;
            }
            redlock::core::check_topology(cfg);
        }
        return cfg;
}

}  // namespace

extern "C" {

REDLOCK_API int redlock_client_new(redlock_client **out, const char *url, const redlock_client_options *opts) noexcept {
    if (out) *out = nullptr;
    return guarded([&]() -> int {
        require(out != nullptr, "redlock_client_new: out is NULL");
        require(url != nullptr, "redlock_client_new: url is NULL");
        auto c = std::make_unique<redlock_client>();
        c->impl = std::make_shared<redlock::core::Client>(config_for(url, opts));
        *out = c.release();
        return REDLOCK_OK;
    });
}

REDLOCK_API int redlock_client_new_quorum(redlock_client **out, const char *const *urls, size_t n_urls,
                                          const redlock_client_options *opts) noexcept {
    if (out) *out = nullptr;
    return guarded([&]() -> int {
        require(out != nullptr, "redlock_client_new_quorum: out is NULL");
        if (n_urls == 0 || n_urls > REDLOCK_MAX_MASTERS)
            throw Error(Errc::invalid, fmt::format("redlock_client_new_quorum: n_urls is {}; a quorum has 1 to {} "
                                                   "masters",
                                                   n_urls, REDLOCK_MAX_MASTERS));
        require(urls != nullptr, "redlock_client_new_quorum: urls is NULL");
        std::vector<redlock::core::ClientConfig> masters;
        masters.reserve(n_urls);
        for (size_t i = 0; i < n_urls; ++i) {
            if (!urls[i]) throw Error(Errc::invalid, fmt::format("redlock_client_new_quorum: urls[{}] is NULL", i));
            try {
                masters.push_back(config_for(urls[i], opts));
            } catch (const Error &e) {
                throw Error(e.code(), fmt::format("urls[{}]: {}", i, e.what()));
            }
        }
        auto c = std::make_unique<redlock_client>();
        c->impl = std::make_shared<redlock::core::Client>(std::move(masters));
        *out = c.release();
        return REDLOCK_OK;
    });
}

REDLOCK_API int redlock_quorum_outcomes(int *codes, size_t cap, size_t *n_masters) noexcept {
    return guarded([&]() -> int {
        require(n_masters != nullptr, "redlock_quorum_outcomes: n_masters is NULL");
        require(codes != nullptr || cap == 0, "redlock_quorum_outcomes: codes is NULL with cap > 0");
        const std::vector<int> &last = redlock::core::last_outcomes();
        *n_masters = last.size();
        std::copy_n(last.begin(), std::min(cap, last.size()), codes);
        return REDLOCK_OK;
    });
}

REDLOCK_API int redlock_client_ping(redlock_client *client) noexcept {
    return guarded([&]() -> int {
        require(client != nullptr, "redlock_client_ping: client is NULL");
        client->impl->ping();
        return REDLOCK_OK;
    });
}

REDLOCK_API void redlock_client_free(redlock_client *client) noexcept { delete client; }

REDLOCK_API void redlock_lock_options_init(redlock_lock_options *opts) noexcept {
    guarded([&]() -> int {
        require(opts != nullptr, "redlock_lock_options_init: opts is NULL");
        *opts = redlock_lock_options{};
        fill_v1_defaults(opts, REDLOCK_LOCK_OPTIONS_VERSION);  // version 2's fields default to 0 / NULL
        return REDLOCK_OK;
    });
}

// Not in the header: reached only through the versioned name, by programs built against version 1.
REDLOCK_API void rl_compat_lock_options_init_v1(lock_options_v1 *opts) noexcept {
    guarded([&]() -> int {
        require(opts != nullptr, "redlock_lock_options_init: opts is NULL");
        *opts = lock_options_v1{};
        fill_v1_defaults(opts, 1);
        return REDLOCK_OK;
    });
}
__asm__(".symver rl_compat_lock_options_init_v1, redlock_lock_options_init@REDLOCK_0");

REDLOCK_API int redlock_lock_new(redlock_lock **out, redlock_client *client, const char *name,
                                 const redlock_lock_options *opts, unsigned flags) noexcept {
    if (out) *out = nullptr;
    return guarded([&]() -> int {
        require(out != nullptr, "redlock_lock_new: out is NULL");
        require(client != nullptr, "redlock_lock_new: client is NULL");
        require(name != nullptr, "redlock_lock_new: name is NULL");
        if (flags & ~REDLOCK_SHARED)
            throw Error(Errc::invalid, fmt::format("redlock_lock_new: unknown flag bits 0x{:x}", flags & ~REDLOCK_SHARED));
        redlock::core::LockOptions lo;
        if (opts) {
            if (opts->version != 1) require_version(opts->version, REDLOCK_LOCK_OPTIONS_VERSION, "redlock_lock_options");
            if (opts->timeout_ms != 0) lo.ttl = Millis(opts->timeout_ms);  // 0: never expires
            lo.sleep = Millis(opts->sleep_ms);  // the core checks the values
            lo.blocking = flag01(opts->blocking, "blocking");
            lo.blocking_timeout = redlock::core::wait_limit(opts->blocking_timeout_ms);
            if (opts->version >= 2) {  // a version-1 struct ends before these fields: never read them
                lo.auto_renew = flag01(opts->auto_renew, "auto_renew");
                lo.fencing = flag01(opts->fencing, "fencing");
                lo.fair = flag01(opts->fair, "fair");
                require(opts->on_lost == nullptr || lo.auto_renew, "on_lost needs auto_renew");
            }
        }
        size_t len = strnlen(name, REDLOCK_MAX_NAME_LEN + 1);  // bounded: never scans a huge name to its end
        if (len > REDLOCK_MAX_NAME_LEN)
            throw Error(Errc::invalid, fmt::format("lock name is longer than REDLOCK_MAX_NAME_LEN ({} bytes)",
                                                   REDLOCK_MAX_NAME_LEN));
        auto l = std::make_unique<redlock_lock>();
        if (opts && opts->version >= 2 && opts->on_lost) {
            // The handle outlives every call of its callback: freeing it ends the renewal, after a running callback.
            lo.on_lost = std::make_shared<const std::function<void(int)>>(
                [fn = opts->on_lost, arg = opts->on_lost_arg, handle = l.get()](int reason) { fn(handle, reason, arg); });
        }
        l->impl = std::make_shared<redlock::core::Lock>(
            client->impl, std::string(name, len), lo,
            (flags & REDLOCK_SHARED) ? redlock::core::TokenScope::shared : redlock::core::TokenScope::per_thread);
        *out = l.release();
        return REDLOCK_OK;
    });
}

REDLOCK_API void redlock_lock_free(redlock_lock *lock) noexcept { delete lock; }

REDLOCK_API void redlock_acquire_options_init(redlock_acquire_options *opts) noexcept {
    guarded([&]() -> int {
        require(opts != nullptr, "redlock_acquire_options_init: opts is NULL");
        *opts = redlock_acquire_options{};
        const LockDefaults d;  // shown as the values an override would start from; `set` decides what applies
        opts->version = REDLOCK_ACQUIRE_OPTIONS_VERSION;
        opts->blocking = d.blocking;
        opts->blocking_timeout_ms = d.blocking_timeout_ms;
        opts->sleep_ms = d.sleep_ms;
        return REDLOCK_OK;
    });
}

REDLOCK_API int redlock_lock_acquire(redlock_lock *lock) noexcept { return redlock_lock_acquire_ex(lock, nullptr); }

REDLOCK_API int redlock_lock_acquire_ex(redlock_lock *lock, const redlock_acquire_options *opts) noexcept {
    return guarded([&]() -> int {
        require(lock != nullptr, "redlock_lock_acquire: lock is NULL");
        redlock::core::AcquireArgs args;
        if (opts) {
            constexpr uint32_t known =
                REDLOCK_ACQ_BLOCKING | REDLOCK_ACQ_BLOCKING_TIMEOUT | REDLOCK_ACQ_SLEEP | REDLOCK_ACQ_STAY_QUEUED |
                REDLOCK_ACQ_LEAVE_QUEUE;
            require_version(opts->version, REDLOCK_ACQUIRE_OPTIONS_VERSION, "redlock_acquire_options");
            if (opts->set & ~known)
                throw Error(Errc::invalid, fmt::format("redlock_acquire_options.set has unknown bits 0x{:x}",
                                                       opts->set & ~known));
            if (opts->set & REDLOCK_ACQ_BLOCKING) args.blocking = flag01(opts->blocking, "blocking");
            if (opts->set & REDLOCK_ACQ_BLOCKING_TIMEOUT) args.blocking_timeout = redlock::core::wait_limit(opts->blocking_timeout_ms);
            if (opts->set & REDLOCK_ACQ_SLEEP) args.sleep = Millis(opts->sleep_ms);  // the core checks the values
            args.stay_queued = (opts->set & REDLOCK_ACQ_STAY_QUEUED) != 0;
            args.leave_queue = (opts->set & REDLOCK_ACQ_LEAVE_QUEUE) != 0;
            if (opts->token) {
                // Bounded before copying: token_len is only as good as the caller's arithmetic.
                require(opts->token_len <= REDLOCK_MAX_TOKEN_LEN, "token is longer than REDLOCK_MAX_TOKEN_LEN");
                args.token.emplace(opts->token, opts->token_len);
            }
        }
        if (lock->impl->acquire(args)) return REDLOCK_OK;
        return fail(REDLOCK_NOT_ACQUIRED, "not acquired: the lock is held by another owner");
    });
}

REDLOCK_API int redlock_lock_release(redlock_lock *lock) noexcept {
    return guarded([&]() -> int {
        require(lock != nullptr, "redlock_lock_release: lock is NULL");
        lock->impl->release();
        return REDLOCK_OK;
    });
}

REDLOCK_API int redlock_lock_extend(redlock_lock *lock, int64_t additional_ms, int replace_ttl) noexcept {
    return guarded([&]() -> int {
        require(lock != nullptr, "redlock_lock_extend: lock is NULL");
        require(replace_ttl == 0 || replace_ttl == 1, "replace_ttl must be 0 or 1");
        lock->impl->extend(Millis(additional_ms), replace_ttl == 1);
        return REDLOCK_OK;
    });
}

REDLOCK_API int redlock_lock_reacquire(redlock_lock *lock) noexcept {
    return guarded([&]() -> int {
        require(lock != nullptr, "redlock_lock_reacquire: lock is NULL");
        lock->impl->reacquire();
        return REDLOCK_OK;
    });
}

REDLOCK_API int redlock_lock_locked(redlock_lock *lock) noexcept {
    return guarded([&]() -> int {
        require(lock != nullptr, "redlock_lock_locked: lock is NULL");
        return lock->impl->locked() ? 1 : 0;
    });
}

REDLOCK_API int redlock_lock_owned(redlock_lock *lock) noexcept {
    return guarded([&]() -> int {
        require(lock != nullptr, "redlock_lock_owned: lock is NULL");
        return lock->impl->owned() ? 1 : 0;
    });
}

REDLOCK_API int redlock_lock_fence(redlock_lock *lock, uint64_t *out) noexcept {
    return guarded([&]() -> int {
        require(lock != nullptr, "redlock_lock_fence: lock is NULL");
        require(out != nullptr, "redlock_lock_fence: out is NULL");
        *out = lock->impl->fence();
        return REDLOCK_OK;
    });
}

REDLOCK_API int redlock_lock_validity(redlock_lock *lock, int64_t *ms_left) noexcept {
    return guarded([&]() -> int {
        require(lock != nullptr, "redlock_lock_validity: lock is NULL");
        require(ms_left != nullptr, "redlock_lock_validity: ms_left is NULL");
        *ms_left = lock->impl->validity().count();
        return REDLOCK_OK;
    });
}

REDLOCK_API int redlock_lock_token(redlock_lock *lock, char *buf, size_t buflen, size_t *needed) noexcept {
    return guarded([&]() -> int {
        require(lock != nullptr, "redlock_lock_token: lock is NULL");
        require(buf != nullptr || buflen == 0, "redlock_lock_token: buf is NULL but buflen is not 0");
        std::optional<std::string> token = lock->impl->current_token();
        if (!token) return fail(REDLOCK_ENOTHELD, "this owner holds no token");
        if (needed) *needed = token->size() + 1;
        if (buflen == 0) return REDLOCK_OK;
        if (buflen < token->size() + 1)
            return fail(REDLOCK_EINVAL, fmt::format("buffer of {} bytes is too small: the token needs {}", buflen,
                                                    token->size() + 1)
                                            .c_str());
        std::memcpy(buf, token->data(), token->size());
        buf[token->size()] = '\0';
        return REDLOCK_OK;
    });
}

REDLOCK_API int redlock_lock_status(redlock_lock *lock, int64_t *ttl_ms, char *value, size_t value_cap,
                                    size_t *value_len) noexcept {
    return guarded([&]() -> int {
        require(lock != nullptr, "redlock_lock_status: lock is NULL");
        require(value != nullptr || value_cap == 0, "redlock_lock_status: value is NULL but value_cap is not 0");
        const redlock::core::KeyStatus k = lock->impl->status();
        if (ttl_ms) *ttl_ms = k.pttl;
        if (value_len) *value_len = k.length;
        if (value_cap > 0) {
            const size_t n = std::min(k.value.size(), value_cap - 1);
            std::memcpy(value, k.value.data(), n);
            value[n] = '\0';
        }
        return k.split ? 2 : k.held ? 1 : 0;
    });
}

REDLOCK_API int redlock_lock_release_token(redlock_lock *lock, const char *token, size_t token_len) noexcept {
    return guarded([&]() -> int {
        require(lock != nullptr, "redlock_lock_release_token: lock is NULL");
        require(token != nullptr, "redlock_lock_release_token: token is NULL");
        // Bounded before copying: token_len is the caller's word, not the buffer's size.
        require(token_len >= 1 && token_len <= REDLOCK_MAX_TOKEN_LEN,
                "redlock_lock_release_token: token_len must be 1..REDLOCK_MAX_TOKEN_LEN");
        lock->impl->release_token(std::string(token, token_len));
        return REDLOCK_OK;
    });
}

}  // extern "C"

// Random sequences of C API calls against a live redis-server (started once, flushed before each input): random
// URLs and options, names, flags, tokens and every duration at its extremes. Checked after every call: the result is
// a known code, the detail message is set exactly when the call did not return OK, and the token state agrees with
// the result. ASan/UBSan/LSan watch the rest.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "../support/redis_server.hpp"
#include "redlock/redlock.h"

namespace {

testing::RedisServer *g_server;

[[noreturn]] void fail(const char *what, int rc) {
    std::fprintf(stderr, "%s (rc %d, message '%s')\n", what, rc, redlock_last_error());
    std::abort();
}

// A result and this thread's message must agree: empty after OK, a reason after anything else.
int checked(int rc, bool predicate = false) {
    if (rc <= REDLOCK_ERESULT_SENTINEL_ || rc > REDLOCK_NOT_ACQUIRED) fail("unknown result code", rc);
    const bool ok = rc == REDLOCK_OK || (predicate && rc == 1);
    if (ok != (redlock_last_error()[0] == '\0')) fail("message and result disagree", rc);
    return rc;
}

class Bytes {
public:
    Bytes(const uint8_t *p, size_t n) : p_(p), n_(n) {}
    bool empty() const { return n_ == 0; }
    uint8_t u8() { return n_ ? (--n_, *p_++) : 0; }
    uint32_t u32() { return uint32_t(u8()) | uint32_t(u8()) << 8 | uint32_t(u8()) << 16 | uint32_t(u8()) << 24; }
    int64_t i64() { return static_cast<int64_t>(uint64_t(u32()) | uint64_t(u32()) << 32); }
    std::string str(size_t max) {
        size_t len = std::min<size_t>(u8() % (max + 1), n_);
        std::string s(reinterpret_cast<const char *>(p_), len);
        p_ += len;
        n_ -= len;
        return s;
    }
    // Durations worth trying: small real ones, the limits, the extremes, and anything.
    int64_t duration() {
        static const int64_t picks[] = {0, 1, 5, 50, 200, -1, std::numeric_limits<int64_t>::max(),
                                        std::numeric_limits<int64_t>::min(), int64_t(1) << 53,
                                        REDLOCK_MAX_DURATION_MS, REDLOCK_MAX_DURATION_MS + 1};
        uint8_t k = u8();
        return k < 2 * std::size(picks) ? picks[k % std::size(picks)] : i64();
    }

private:
    const uint8_t *p_;
    size_t n_;
};

struct LockState {
    redlock_lock *handle;
    std::string name;
    int32_t blocking;
    int64_t blocking_timeout_ms;
};

// Could this acquire wait longer than a fraction of a second? Then the key is deleted first, so it does not.
bool may_wait_long(const LockState &l, const redlock_acquire_options &a) {
    const bool blocking = (a.set & REDLOCK_ACQ_BLOCKING) ? a.blocking == 1 : l.blocking == 1;
    const int64_t wait = (a.set & REDLOCK_ACQ_BLOCKING_TIMEOUT) ? a.blocking_timeout_ms : l.blocking_timeout_ms;
    return blocking && (wait < 0 || wait > 300);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    g_server = new testing::RedisServer();  // lives for the whole run; killed with the process (PDEATHSIG)
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Bytes in(data, size);
    g_server->admin({"FLUSHALL"});
    std::vector<redlock_client *> clients;
    std::vector<LockState> locks;
    const std::string base = g_server->url();
    for (int step = 0; step < 48 && !in.empty(); ++step) {
        switch (in.u8() % 16) {
        case 0: {  // a client: mostly the real server, sometimes a dead port or a random query
            if (clients.size() >= 4) break;
            std::string url;
            std::vector<std::string> quorum;  // a quorum client instead: the server alone, or with a dead or random one
            switch (in.u8() % 5) {
            case 0: url = base; break;
            case 1: url = base + "?command_timeout=300&" + in.str(24); break;
            case 2: url = "redis://127.0.0.1:1"; break;
            case 3: url = base.substr(0, base.size() - 2) + in.str(16); break;
            default:
                quorum.push_back(base + "?command_timeout=300");
                for (uint8_t k = in.u8() % 3; k > 0; --k)
                    quorum.push_back(in.u8() & 1 ? "redis://127.0.0.1:1" : "redis://" + in.str(12));
                break;
            }
            redlock_client_options o;
            redlock_client_options_init(&o);
            if (in.u8() & 1) o.version = in.u8() & 3;
            o.max_connections = in.u8() & 1 ? in.u32() : in.u8() % 4;
            o.connect_timeout_ms = in.duration();
            o.command_timeout_ms = in.u8() & 1 ? 300 : in.duration();
            o.keepalive_s = in.u8() & 1 ? -1 : in.i64();
            o.db = in.u8() & 1 ? -1 : static_cast<int32_t>(in.u8() % 20) - 2;
            redlock_client *c = nullptr;
            const bool with_opts = in.u8() & 1;
            std::vector<const char *> urls;
            for (const std::string &u : quorum) urls.push_back(u.c_str());
            const int rc = quorum.empty() ? redlock_client_new(&c, url.c_str(), with_opts ? &o : nullptr)
                                          : redlock_client_new_quorum(&c, urls.data(), urls.size(), with_opts ? &o : nullptr);
            if (checked(rc) == REDLOCK_OK) {
                if (!c) fail("OK without a client", 0);
                clients.push_back(c);
            } else if (c) {
                fail("a client despite an error", 0);
            }
            break;
        }
        case 1:
            if (!clients.empty()) {
                size_t i = in.u8() % clients.size();
                redlock_client_free(clients[i]);  // its locks keep working (they hold the core)
                clients.erase(clients.begin() + static_cast<long>(i));
            }
            break;
        case 2: {  // a lock
            if (clients.empty() || locks.size() >= 6) break;
            redlock_lock_options o;
            redlock_lock_options_init(&o);
            if (in.u8() % 8 == 0) o.version = in.u8();
            o.timeout_ms = in.duration();
            o.sleep_ms = in.u8() & 1 ? 10 : in.duration();
            o.blocking = static_cast<int32_t>(in.u8() % 3);
            o.blocking_timeout_ms = in.u8() & 1 ? in.u8() % 100 : in.duration();
            o.fencing = static_cast<int32_t>(in.u8() % 3);
            if (in.u8() % 8 == 0) o.auto_renew = static_cast<int32_t>(in.u8() % 3);
            if (in.u8() % 8 == 0) o.fair = static_cast<int32_t>(in.u8() % 3);
            unsigned flags = in.u8() % 4 == 0 ? in.u32() : in.u8() & 1;
            std::string name = "f:" + in.str(12);
            redlock_lock *l = nullptr;
            if (checked(redlock_lock_new(&l, clients[in.u8() % clients.size()], name.c_str(), &o, flags)) ==
                REDLOCK_OK)
                locks.push_back({l, name, o.blocking, o.blocking_timeout_ms});
            break;
        }
        case 3:
            if (!locks.empty()) {
                size_t i = in.u8() % locks.size();
                redlock_lock_free(locks[i].handle);  // never touches Redis
                locks.erase(locks.begin() + static_cast<long>(i));
            }
            break;
        case 4: {  // acquire with random per-call options
            if (locks.empty()) break;
            LockState &l = locks[in.u8() % locks.size()];
            redlock_acquire_options a;
            redlock_acquire_options_init(&a);
            a.set = in.u8() % 8 == 0 ? in.u32() : in.u8() & 7;
            if (in.u8() % 8 == 0) a.version = in.u8();
            a.blocking = static_cast<int32_t>(in.u8() % 3);
            a.blocking_timeout_ms = in.u8() & 1 ? in.u8() % 100 : in.duration();
            a.sleep_ms = in.u8() & 1 ? 10 : in.duration();
            std::string token = in.str(8);
            if (in.u8() & 1) {
                a.token = token.data();
                a.token_len = in.u8() % 4 == 0 ? size_t(in.u32()) : token.size();
                if (a.token_len > token.size() && a.token_len <= REDLOCK_MAX_TOKEN_LEN) a.token_len = token.size();
            }
            if (may_wait_long(l, a)) g_server->admin({"FLUSHALL"});  // every db: the lock's client may use any
            int rc = checked(redlock_lock_acquire_ex(l.handle, &a));
            if (rc == REDLOCK_OK && checked(redlock_lock_token(l.handle, nullptr, 0, nullptr)) != REDLOCK_OK)
                fail("acquired without a token", rc);
            break;
        }
        case 5:
            if (!locks.empty()) {
                redlock_lock *l = locks[in.u8() % locks.size()].handle;
                if (checked(redlock_lock_release(l)) == REDLOCK_OK &&
                    redlock_lock_token(l, nullptr, 0, nullptr) != REDLOCK_ENOTHELD)
                    fail("released but a token is left", 0);
            }
            break;
        case 6:
            if (!locks.empty()) {
                redlock_lock *l = locks[in.u8() % locks.size()].handle;
                int64_t ms = in.duration();
                checked(redlock_lock_extend(l, ms, static_cast<int>(in.u8() % 3)));
            }
            break;
        case 7:
            if (!locks.empty()) checked(redlock_lock_reacquire(locks[in.u8() % locks.size()].handle));
            break;
        case 8:
            if (!locks.empty()) checked(redlock_lock_locked(locks[in.u8() % locks.size()].handle), true);
            break;
        case 9:
            if (!locks.empty()) checked(redlock_lock_owned(locks[in.u8() % locks.size()].handle), true);
            break;
        case 10:
            if (!locks.empty()) {
                char buf[64];
                size_t needed = 0;
                size_t len = in.u8() % (sizeof buf + 1);
                checked(redlock_lock_token(locks[in.u8() % locks.size()].handle, len ? buf : nullptr, len,
                                           in.u8() & 1 ? &needed : nullptr));
            }
            break;
        case 11:
            if (!clients.empty()) checked(redlock_client_ping(clients[in.u8() % clients.size()]));
            break;
        case 12:  // someone else deletes or overwrites a key
            if (!locks.empty()) {
                const std::string &name = locks[in.u8() % locks.size()].name;
                if (in.u8() & 1) g_server->admin({"DEL", name});
                else g_server->admin({"SET", name, in.str(8)});
            }
            break;
        case 13:
            (void)redlock_strerror(static_cast<int>(in.u32()));
            (void)redlock_version();
            if (!locks.empty()) {
                uint64_t f = 0;
                const int rc = checked(redlock_lock_fence(locks[in.u8() % locks.size()].handle, &f));
                if (rc == REDLOCK_OK && f == 0) fail("a fence of 0", rc);
                int64_t left = -1;
                const int v = checked(redlock_lock_validity(locks[in.u8() % locks.size()].handle, &left));
                if (v == REDLOCK_OK && left < 0) fail("a negative validity", v);
                int codes[REDLOCK_MAX_MASTERS];
                size_t n = 0;
                checked(redlock_quorum_outcomes(codes, in.u8() % (REDLOCK_MAX_MASTERS + 1), &n));
                if (n > REDLOCK_MAX_MASTERS) fail("more outcomes than masters", 0);
            }
            break;
        case 14:  // NULLs
            checked(redlock_lock_acquire(nullptr));
            checked(redlock_lock_release(nullptr));
            checked(redlock_client_new(nullptr, nullptr, nullptr));
            break;
        default:  // acquire with the lock's own defaults
            if (!locks.empty()) {
                LockState &l = locks[in.u8() % locks.size()];
                redlock_acquire_options none;
                redlock_acquire_options_init(&none);
                if (may_wait_long(l, none)) g_server->admin({"FLUSHALL"});
                checked(redlock_lock_acquire(l.handle));
            }
            break;
        }
    }
    for (auto &l : locks) redlock_lock_free(l.handle);
    for (auto *c : clients) redlock_client_free(c);
    return 0;
}

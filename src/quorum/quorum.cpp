#include "quorum/quorum.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <condition_variable>
#include <system_error>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>

#include <cctype>
#include <cstring>

#include "base/text.hpp"
#include "net/connection.hpp"
#include "net/tls.hpp"
#include "quorum/fanout.hpp"
#include "redlock/redlock.h"

namespace redlock::core {

namespace {

thread_local std::vector<int> t_outcomes;


// What identifies a server, whatever the database or credentials: two URLs for one server are one master, counted
// twice (a majority of two "masters" would then be one server).
std::string server_of(const ClientConfig &c) {
    return c.kind == ClientConfig::Kind::unix_socket ? "unix:" + c.path : c.describe();
}

// The same, for telling servers apart: host names in lower case, IP addresses in one form whatever the spelling
// (127.1, 2130706433, ::ffff:127.0.0.1 and 127.0.0.1 are one). Names are not resolved.
std::string identity_of(const ClientConfig &c) {
    if (c.kind == ClientConfig::Kind::unix_socket) return "unix:" + c.path;
    std::string host = c.host;
    for (char &ch : host) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    char text[INET6_ADDRSTRLEN] = {};
    in_addr v4{};
    in6_addr v6{};
    if (::inet_aton(host.c_str(), &v4) != 0) {
        host = ::inet_ntop(AF_INET, &v4, text, sizeof text) ? text : host;
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
        if (IN6_IS_ADDR_V4MAPPED(&v6)) {
            std::memcpy(&v4, &v6.s6_addr[12], 4);
            host = ::inet_ntop(AF_INET, &v4, text, sizeof text) ? text : host;
        } else {
            host = ::inet_ntop(AF_INET6, &v6, text, sizeof text) ? text : host;
        }
    }
    return host + ":" + std::to_string(c.port);
}

}  // namespace

const std::vector<int> &last_outcomes() noexcept { return t_outcomes; }

void forget_outcomes() noexcept { t_outcomes.clear(); }

struct Quorum::Round {
    std::vector<Vote> votes;
    std::vector<int> codes;         // for last_outcomes(): 0 for yes and no (record() fills in no's code)
    std::vector<std::string> why;   // failed and unknown: the reason
    size_t yes = 0, no = 0, failed = 0;  // failed includes unknown
    size_t not_waited = 0;               // unknown only because the outcome was decided without them
    std::vector<std::optional<Reply>> replies;  // each master's, where one came
};

// What the masters' connecting threads share with the calls that wait for them.
struct Quorum::Shared {
    std::mutex mu;
    std::condition_variable cv;
    ForkGuard fork_guard{mu, &cv};  // after mu and cv
};

// A master's pool, and its connecting thread. Connections are not opened on the caller's thread, one master after
// another (a master whose host is gone would hold up the others for its connect timeout): a call that finds no idle
// connection to a master asks that master's thread (`redlock-connect`) for one, for all masters at once, and goes on
// once a majority are connected, with a grace period for the rest. A master the thread cannot connect to is down:
// not asked (its last error is its answer) while the thread tries again every 100 ms.
struct Quorum::Master {
    Master(ClientConfig c, std::shared_ptr<Shared> s) : cfg(std::move(c)), pool(cfg), shared(std::move(s)) {}
    const ClientConfig cfg;
    Pool pool;
    const std::shared_ptr<Shared> shared;

    // Under shared->mu:
    // The last failure to connect, while unreachable: code and text, copied (an Error's text is a reference-counted
    // string shared by its copies, which threads must not share).
    struct Failure {
        Errc code;
        std::string what;
    };
    std::optional<Failure> down;
    uint64_t connected = 0;  // connections the thread has put in the pool: waiters look for a change
    std::optional<Failure> busy;  // its last attempt found every connection on loan: not down, but none to give
    pid_t connector = 0;     // the process whose thread is connecting (0: none)
    bool closing = false;    // the quorum is gone: the thread stops

    // With shared->mu held: a connecting thread in this process, unless one is running.
    void connect_locked(const std::shared_ptr<Master> &self) {
        if (connector == current_pid()) return;
        busy.reset();
        try {
            std::thread([self] { self->connect_loop(); }).detach();
            connector = current_pid();
        } catch (const std::system_error &) {
            down = Failure{Errc::internal, "cannot start a thread to connect"};
        }
    }

    void connect_loop() {
        ::pthread_setname_np(::pthread_self(), "redlock-connect");
        const pid_t me = current_pid();
        for (bool first = true;; first = false) {
            if (!first) std::this_thread::sleep_for(Millis(100));
            {
                std::lock_guard<std::mutex> lk(shared->mu);
                if (closing || connector != me) return;
            }
            std::optional<Failure> failed;
            try {
                // Its own connect timeout, whatever the waiting call's deadline: a master is down only when it
                // cannot be reached, never because a call gave up. (The pool bounds a wait for a free slot by
                // the connect timeout too, as PoolBusy; the connect then gets a whole one. Without a connect
                // timeout, 30 s: a thread must end.) The connection goes to the pool at once.
                (void)pool.lease(false, cfg.connect_timeout ? Deadline::never() : Deadline::after(Millis(30000)));
            } catch (const PoolBusy &e) {
                std::lock_guard<std::mutex> lk(shared->mu);
                busy = Failure{e.code(), e.what()};
                connector = 0;
                shared->cv.notify_all();
                return;
            } catch (const Error &e) {
                failed = Failure{e.code(), e.what()};
            }
            std::lock_guard<std::mutex> lk(shared->mu);
            down = failed;
            if (!failed) ++connected;
            shared->cv.notify_all();
            if (!failed || closing) {
                connector = 0;
                return;
            }
        }
    }
};

const ClientConfig &Quorum::master(size_t i) const noexcept { return masters_[i]->cfg; }

void Quorum::take_in_order(const std::vector<bool> &asked, const Deadline &until,
                           std::vector<std::optional<Pool::Lease>> &leases, Round &r) {
    // Threads that each hold some masters' connections while waiting for the others' would wait for each other
    // until their deadlines: everything held is let go, and the connections are taken again in the masters' order,
    // waiting for each (as every thread here does, so none waits for one held by a thread waiting for its own).
    for (std::optional<Pool::Lease> &l : leases) l.reset();
    for (size_t i = 0; i < size(); ++i) {
        if (!asked[i]) continue;
        Master &m = *masters_[i];
        {
            std::lock_guard<std::mutex> lk(shared_->mu);
            if (m.down) {
                r.codes[i] = static_cast<int>(m.down->code);
                r.why[i] = m.down->what + " (not asked: unreachable; reconnecting in the background)";
                m.connect_locked(masters_[i]);
                continue;
            }
        }
        try {
            for (;;) {
                if (std::optional<Pool::Lease> l = m.pool.wait_idle(until)) {
                    leases[i].emplace(std::move(*l));
                    break;
                }
                // Room for a new connection: the master's thread opens it (a connect needs no connection another
                // thread holds, so waiting for it here cannot wait for a thread that waits for us).
                std::unique_lock<std::mutex> lk(shared_->mu);
                const uint64_t seen = m.connected;
                m.connect_locked(masters_[i]);
                auto moved = [&] { return m.connected != seen || m.down || m.busy; };
                // Not longer than a connect (1 s without a connect timeout): the other masters' connections are
                // held meanwhile, and other threads may be waiting for them.
                const Deadline bound = until.earlier(Deadline::after(m.cfg.connect_timeout.value_or(Millis(1000))));
                shared_->cv.wait_for(lk, bound.remaining().value_or(Millis(1000)), moved);
                if (m.down || !moved()) {
                    r.codes[i] = static_cast<int>(m.down ? m.down->code : Errc::timed_out);
                    r.why[i] = m.down ? m.down->what : "not connected in time (connecting in the background)";
                    break;
                }
            }
        } catch (const Error &e) {
            r.codes[i] = static_cast<int>(e.code());
            r.why[i] = e.what();
        }
    }
}

void Quorum::connect(const std::vector<bool> &asked, const Deadline &until, std::vector<std::optional<Pool::Lease>> &leases,
                     Round &r) {
    const size_t n = size();
    size_t ready = 0;
    std::vector<size_t> pending;
    for (size_t i = 0; i < n; ++i) {
        if (!asked[i]) continue;
        if (std::optional<Pool::Lease> l = masters_[i]->pool.lease_idle()) {
            leases[i].emplace(std::move(*l));
            ++ready;
        } else {
            pending.push_back(i);
        }
    }
    if (pending.empty()) return;
    if (std::any_of(pending.begin(), pending.end(), [&](size_t i) { return !masters_[i]->pool.has_room(); })) {
        take_in_order(asked, until, leases, r);
        return;
    }
    std::vector<uint64_t> seen(n);
    std::vector<bool> fresh(n, false);  // the thread has connected since we asked: take it from the pool
    std::vector<bool> again(n, false);  // ... and someone else took it: ask for another
    bool saturated = false;             // a pool is full: take_in_order instead
    const auto t0 = Clock::now();
    std::optional<Clock::time_point> grace_end;  // once a majority is connected: a little longer for the rest
    std::unique_lock<std::mutex> lk(shared_->mu);
    for (size_t i : pending) {
        seen[i] = masters_[i]->connected;
        masters_[i]->connect_locked(masters_[i]);
    }
    for (;;) {
        for (auto it = pending.begin(); it != pending.end();) {
            Master &m = *masters_[*it];
            if (m.connected != seen[*it]) {
                fresh[*it] = true;
                seen[*it] = m.connected;
                ++it;
            } else if (m.down) {
                r.codes[*it] = static_cast<int>(m.down->code);
                r.why[*it] = m.down->what + " (not asked: unreachable; reconnecting in the background)";
                it = pending.erase(it);
            } else if (m.busy) {
                saturated = true;  // its pool is full: every thread waits its turn, in order
                ++it;
            } else {
                ++it;
            }
        }
        lk.unlock();  // pools are not used under shared_->mu (their own mutexes come first)
        for (auto it = pending.begin(); it != pending.end();) {
            if (!fresh[*it]) {
                ++it;
                continue;
            }
            fresh[*it] = false;
            if (std::optional<Pool::Lease> l = masters_[*it]->pool.lease_idle()) {
                leases[*it].emplace(std::move(*l));
                ++ready;
                it = pending.erase(it);
            } else {
                again[*it] = true;  // another thread took it first: one more (unless the pool is full)
                saturated = saturated || !masters_[*it]->pool.has_room();
                ++it;
            }
        }
        if (saturated) {
            take_in_order(asked, until, leases, r);
            return;
        }
        lk.lock();
        for (size_t i : pending)
            if (again[i]) {
                again[i] = false;
                masters_[i]->connect_locked(masters_[i]);
            }
        const auto now = Clock::now();
        if (pending.empty()) break;
        if (ready >= majority() && !grace_end) grace_end = now + std::max<Clock::duration>(Millis(5), now - t0);
        if (until.passed(now) || (grace_end && now >= *grace_end)) break;
        // Woken by any master's thread: a change may also have come while the mutex was let go above.
        auto changed = [&] {
            for (size_t i : pending) {
                const Master &m = *masters_[i];
                if (m.connected != seen[i] || m.down || m.busy) return true;
            }
            return false;
        };
        Deadline wake = grace_end ? until.earlier(Deadline::at(*grace_end)) : until;
        if (std::optional<Millis> left = wake.remaining(now)) shared_->cv.wait_for(lk, *left, changed);
        else shared_->cv.wait(lk, changed);
    }
    for (size_t i : pending) {
        r.codes[i] = static_cast<int>(Errc::timed_out);
        r.why[i] = "not connected yet (the others had answered, or time was up; still connecting in the background)";
    }
}

Quorum::Quorum(std::vector<ClientConfig> masters) {
    if (masters.empty() || masters.size() > kMaxMasters)
        throw Error(Errc::invalid, fmt::format("a quorum needs 1 to {} masters, not {}", kMaxMasters, masters.size()));
    std::map<std::string, size_t> seen;
    for (size_t i = 0; i < masters.size(); ++i) {
        ClientConfig &c = masters[i];
        if (c.topology != ClientConfig::Topology::single)
            throw Error(Errc::invalid,
                        fmt::format("urls[{}] is a {} URL: each quorum master must be one server (redis://, "
                                    "rediss:// or unix://), independent of the others; Redlock's safety comes from that",
                                    i, c.topology == ClientConfig::Topology::sentinel ? "Sentinel" : "Cluster"));
        auto [it, fresh] = seen.emplace(identity_of(c), i);
        if (!fresh)
            throw Error(Errc::invalid, fmt::format("urls[{}] and urls[{}] are the same server ({}): a majority "
                                                   "must be of distinct servers",
                                                   it->second, i, it->first));
    }
    shared_ = std::make_shared<Shared>();
    for (ClientConfig &c : masters) {
        if (c.tls && !c.tls_context) c.tls_context = std::make_shared<const TlsContext>(c.tls_options);
        masters_.push_back(std::make_shared<Master>(std::move(c), shared_));
    }
    timeout_ = Millis(0);
    for (const auto &m : masters_) {  // none if any has none
        if (!m->cfg.command_timeout) {
            timeout_.reset();
            break;
        }
        timeout_ = std::max(timeout_.value_or(Millis(0)), *m->cfg.command_timeout);
    }
}

Quorum::~Quorum() {
    std::lock_guard<std::mutex> lk(shared_->mu);
    for (const auto &m : masters_) m->closing = true;  // a connecting thread ends at its next wake-up
}

Quorum::Round Quorum::run(Argv argv, unsigned accept, const Deadline &until, Wait wait,
                          const std::function<Vote(const Reply &)> &vote, const std::vector<bool> &only,
                          const std::vector<bool> &awaited) {
    const size_t n = size(), need = majority();
    Round r;
    r.votes.assign(n, Vote::failed);
    r.codes.assign(n, 0);
    r.why.assign(n, std::string());
    std::vector<std::optional<Pool::Lease>> leases(n);
    std::vector<Connection *> conns(n, nullptr);
    const std::vector<bool> asked = only.empty() ? std::vector<bool>(n, true) : only;
    connect(asked, until, leases, r);
    // Asked but without a connection: counted against the quorum from the start.
    size_t dead_count = 0;
    for (size_t i = 0; i < n; ++i) {
        if (leases[i]) conns[i] = &**leases[i];
        else if (asked[i]) ++dead_count;
    }
    Decided decided;
    if (wait == Wait::awaited)
        decided = [&](const std::vector<std::optional<Reply>> &replies) {
            for (size_t i = 0; i < n; ++i)
                if (awaited[i] && conns[i] && !replies[i]) return false;
            return true;
        };
    else if (wait == Wait::majority || wait == Wait::verdict)
        decided = [&](const std::vector<std::optional<Reply>> &replies) {
            size_t yes = 0, no = 0, failed = dead_count;
            for (const std::optional<Reply> &reply : replies) {
                if (!reply) continue;
                const Vote v = vote(*reply);
                if (v == Vote::yes) ++yes;
                else if (v == Vote::no) ++no;
                else ++failed;
            }
            if (wait == Wait::majority) return yes >= need || no + failed > n - need;
            return yes >= need || no >= need || (no + failed > n - need && yes + failed > n - need);
        };
    FanOut f = fan_out(conns, argv, accept, until, decided);
    for (size_t i = 0; i < n; ++i) {
        if (!asked[i]) continue;
        if (!conns[i]) {  // its reason is in r (connect)
            ++r.failed;
            continue;
        }
        if (f.replies[i]) {
            const Reply &reply = *f.replies[i];
            r.votes[i] = vote(reply);
            if (r.votes[i] == Vote::yes) ++r.yes;
            else if (r.votes[i] == Vote::no) ++r.no;
            else {
                ++r.failed;
                const Errc c = reply.is_error() ? error_code(reply.str) : Errc::server;
                r.codes[i] = static_cast<int>(c);
                r.why[i] = reply.is_error() ? printable(reply.str, 200) : "an unexpected reply";
            }
            continue;
        }
        ++r.failed;
        r.votes[i] = Vote::unknown;
        if (f.broke[i]) {
            r.codes[i] = static_cast<int>(f.broke[i]->code());
            r.why[i] = f.broke[i]->what();
        } else {
            r.codes[i] = static_cast<int>(Errc::timed_out);
            if (!until.passed()) ++r.not_waited;
            r.why[i] = until.passed() ? "no reply within the command timeout"
                                      : "no reply yet when the majority had decided (not waited for)";
        }
    }
    r.replies = std::move(f.replies);
    return r;
}

Quorum::Round Quorum::run_script(const Script &s, std::string_view name, ArgList args,
                                 const Deadline &until, Wait wait, const std::function<Vote(const Reply &)> &vote,
                                 unsigned accept) {
    // EVAL, not EVALSHA: a master not waited for never shows its NOSCRIPT (after a restart or SCRIPT FLUSH), so
    // the script must not depend on its cache. (Redis hashes the script again for each EVAL: ~1 µs.)
    std::array<std::string_view, 8> argv{"EVAL", s.source, "1", name};
    size_t n = 4;
    for (std::string_view a : args) {
        if (n == argv.size()) throw Error(Errc::internal, "too many script arguments");
        argv[n++] = a;
    }
    return run(Argv(argv.data(), n), accept, until, wait, vote);
}

void Quorum::record(const Round &r, int no_code) const {
    t_outcomes.assign(r.codes.begin(), r.codes.end());
    for (size_t i = 0; i < size(); ++i)
        if (r.votes[i] == Vote::no) t_outcomes[i] = no_code;
}

std::string Quorum::summary(const Round &r, const char *did, const char *no_means) const {
    std::string list;
    for (size_t i = 0; i < size(); ++i) {
        if (r.votes[i] == Vote::yes) continue;
        std::string_view why = r.votes[i] == Vote::no ? std::string_view(no_means) : std::string_view(r.why[i]);
        if (!list.empty()) list += "; ";
        list += fmt::format("{}: {}", server_of(master(i)), why);
    }
    return fmt::format("{} of {} masters {}, {} needed{}{}", r.yes, size(), did, majority(), list.empty() ? "" : ": ",
                       list);
}

namespace {

// The code that explains most of the failures (ties: the first master's); `codes` holds 0 for the masters that
// answered yes or no.
Errc main_failure(const std::vector<int> &codes) {
    std::map<int, size_t> counts;
    int best = 0;
    size_t best_count = 0;
    for (int c : codes) {
        if (c >= 0) continue;
        if (++counts[c] > best_count) {
            best = c;
            best_count = counts[c];
        }
    }
    return best == 0 ? Errc::connection : static_cast<Errc>(best);
}

}  // namespace

bool Quorum::acquire(std::string_view name, const std::string &token, Millis ttl, Clock::time_point &valid_until) {
    const std::string px = std::to_string(ttl.count());
    const std::string_view argv[] = {"SET", name, token, "NX", "PX", px};
    const auto sent = Clock::now();
    valid_until = sent + ttl - drift_for(ttl);
    // Not past the validity: a majority that comes later is worth nothing.
    const Deadline until = command_deadline().earlier(Deadline::at(valid_until));
    Round r = run(Argv(argv, std::size(argv)), expect::ok_or_nil, until, Wait::majority, [](const Reply &x) {
        return x.is_status("OK") ? Vote::yes : x.type == Reply::Type::nil ? Vote::no : Vote::failed;
    });
    record(r, REDLOCK_NOT_ACQUIRED);
    if (r.yes >= majority() && Clock::now() < valid_until) return true;
    // No lock: every master that may have taken it (granted, or the reply is unknown) is sent the release, so that
    // it does not block others for a TTL. Those that answered are waited for; the rest, which did not answer the SET
    // in time either, are not (if a late SET lands after all, its key expires with the TTL).
    std::vector<bool> maybe(size()), responsive(size());
    bool any = false;
    for (size_t i = 0; i < size(); ++i) {
        maybe[i] = r.votes[i] == Vote::yes || r.votes[i] == Vote::unknown;
        responsive[i] = r.votes[i] == Vote::yes;
        any = any || maybe[i];
    }
    if (any) {
        const std::string_view rel[] = {"EVAL", kReleaseScript.source, "1", name, token};  // (EVAL: see run_script)
        // The clean-up's own outcome changes nothing for the caller (nor the outcomes recorded: only record() does).
        (void)run(Argv(rel, std::size(rel)), expect::integer, command_deadline(), Wait::awaited,
                  [](const Reply &) { return Vote::yes; }, maybe, responsive);
    }
    if (r.failed - r.not_waited > size() - majority())
        throw Error(main_failure(r.codes), fmt::format("acquire of '{}' over a quorum: {}", shown(name),
                                                        summary(r, "granted", "held by another owner")));
    return false;
}

namespace {
Quorum::Vote vote_integer(const Reply &x) {
    if (x.is_error()) return Quorum::Vote::failed;
    return x.integer == 1 ? Quorum::Vote::yes : Quorum::Vote::no;
}
}  // namespace

void Quorum::release(std::string_view name, const std::string &token, std::string_view channel) {
    // Decided by a majority, like everything else: a slower master still gets the release (it stays queued on its
    // connection, behind anything sent before), it is just not waited for.
    Round r = run_script(kReleasePublishScript, name, {token, channel}, command_deadline(), Wait::verdict,
                         vote_integer);
    record(r, REDLOCK_ENOTOWNED);
    if (r.yes >= majority()) return;
    const std::string message = summary(r, "released it", "did not hold it (expired, or never granted)");
    if (r.no >= majority())
        throw Error(Errc::not_owned, fmt::format("Cannot release a lock that's no longer owned: {}", message));
    throw Error(main_failure(r.codes),
                fmt::format("release of '{}' over a quorum: {}; too few answered to tell whether a majority still "
                            "holds the token: it is kept, retry the release (REDLOCK_ENOTOWNED then means no majority "
                            "holds it any more, this attempt's included)",
                            shown(name), message));
}

void Quorum::ttl_script(const Script &s, std::string_view name, const std::string &token, std::string_view ms,
                        std::string_view mode, const char *verb, const Deadline &cap) {
    const Deadline until = command_deadline().earlier(cap);
    Round r = mode.empty() ? run_script(s, name, {token, ms}, until, Wait::majority, vote_integer)
                           : run_script(s, name, {token, ms, mode}, until, Wait::majority, vote_integer);
    record(r, REDLOCK_ENOTOWNED);
    if (r.yes >= majority()) return;
    const std::string message = summary(r, "had it", "did not hold it");
    if (r.no > size() - majority())
        throw Error(Errc::not_owned, fmt::format("Cannot {} a lock that's no longer owned: {}", verb, message));
    throw Error(main_failure(r.codes), fmt::format("{} of '{}' over a quorum: {}", verb, shown(name), message));
}

bool Quorum::majority_holds(std::string_view name, const std::string *token) {
    const std::string_view argv[] = {"GET", name};
    Round r = run(Argv(argv, 2), expect::string_or_nil | expect::skip_big_strings, command_deadline(),
                  Wait::majority, [token](const Reply &x) {
                      if (x.is_error()) return Vote::failed;
                      const bool exists = x.oversize || x.type == Reply::Type::string;
                      return exists && (!token || (!x.oversize && x.str == *token)) ? Vote::yes : Vote::no;
                  });
    record(r, REDLOCK_ENOTOWNED);
    if (r.yes >= majority()) return true;
    if (r.no > size() - majority()) return false;
    throw Error(main_failure(r.codes),
                fmt::format("GET of '{}' over a quorum: {}", shown(name),
                            summary(r, token ? "hold our token" : "hold the key", token ? "not our token" : "no key")));
}

KeyStatus Quorum::status(std::string_view name) {
    Round r = run_script(kStatusScript, name, {}, command_deadline(), Wait::every,
                         [](const Reply &x) { return x.is_error() ? Vote::failed : Vote::yes; },
                         type_bit(Reply::Type::array) | type_bit(Reply::Type::nil));
    record(r, 0);
    std::vector<KeyStatus> seen;  // the masters that answered
    for (size_t i = 0; i < size(); ++i)
        if (r.votes[i] == Vote::yes) seen.push_back(parse_key_status(*r.replies[i], name));
    // The key stands while a majority holds it: until the majority-th longest PTTL among its holders runs out (no
    // TTL: never).
    auto standing = [&](auto holds) -> std::optional<int64_t> {
        std::vector<int64_t> ttl;
        for (const KeyStatus &k : seen)
            if (holds(k)) ttl.push_back(k.pttl < 0 ? INT64_MAX : k.pttl);
        if (ttl.size() < majority()) return std::nullopt;
        std::sort(ttl.rbegin(), ttl.rend());
        return ttl[majority() - 1] == INT64_MAX ? -1 : ttl[majority() - 1];
    };
    KeyStatus out;
    for (const KeyStatus &k : seen) {
        if (!k.held) continue;
        auto same = [&](const KeyStatus &o) { return o.held && o.length == k.length && o.value == k.value; };
        if (std::optional<int64_t> pttl = standing(same)) {
            out = k;
            out.pttl = *pttl;
            return out;
        }
    }
    if (std::optional<int64_t> pttl = standing([](const KeyStatus &k) { return k.held; })) {
        out.held = true;  // held, but no one value is on a majority (a split vote still in progress, or a clean-up)
        out.split = true;
        out.pttl = *pttl;
        return out;
    }
    size_t free = 0;
    for (const KeyStatus &k : seen) free += !k.held;
    if (free > size() - majority()) return out;
    throw Error(main_failure(r.codes),
                fmt::format("status of '{}' over a quorum: the masters that answered show neither a majority holding "
                            "it nor a majority free: {}",
                            shown(name), summary(r, "answer", "")));
}

void Quorum::ping() {
    const std::string_view argv[] = {"PING"};
    Round r = run(Argv(argv, 1), expect::status, command_deadline(), Wait::every,
                  [](const Reply &x) { return x.is_status("PONG") ? Vote::yes : Vote::failed; });
    record(r, 0);
    if (r.yes >= majority()) return;
    // As for the other topologies: EAUTH when every failure was a refused credential, else ECONN.
    bool all_auth = true;
    for (int c : last_outcomes()) all_auth = all_auth && (c == 0 || c == static_cast<int>(Errc::auth));
    throw Error(all_auth ? Errc::auth : Errc::connection, fmt::format("ping over a quorum: {}", summary(r, "answer", "")));
}

}  // namespace redlock::core

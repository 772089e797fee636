#include "quorum/quorum.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <system_error>
#include <thread>

#include <pthread.h>

#include "base/text.hpp"
#include "net/connection.hpp"
#include "net/tls.hpp"
#include "quorum/fanout.hpp"
#include "redlock/redlock.h"

namespace redlock::core {

namespace {

thread_local std::vector<int> t_outcomes;

std::string shown(std::string_view name) { return printable(name, 64); }

// What identifies a server, whatever the database or credentials: two URLs for one server are one master, counted
// twice (a majority of two "masters" would then be one server).
std::string server_of(const ClientConfig &c) {
    return c.kind == ClientConfig::Kind::unix_socket ? "unix:" + c.path : c.describe();
}

}  // namespace

const std::vector<int> &last_outcomes() noexcept { return t_outcomes; }

struct Quorum::Round {
    std::vector<Vote> votes;
    std::vector<int> codes;         // for last_outcomes(): 0 for yes and no (record() fills in no's code)
    std::vector<std::string> why;   // failed and unknown: the reason
    size_t yes = 0, no = 0, failed = 0;  // failed includes unknown
    size_t not_waited = 0;               // unknown only because the outcome was decided without them
};

// A master's pool, and whether it is known to be unreachable. After a failed connect the master is not asked (its
// last error is its answer) while a thread of its own tries to connect again every 100 ms: the caller's thread never
// waits on a connect to a master known to be down (a black-holed host would otherwise cost every call its connect
// timeout).
struct Quorum::Master {
    explicit Master(ClientConfig c) : cfg(std::move(c)), pool(cfg) {}
    const ClientConfig cfg;
    Pool pool;
    std::mutex mu;
    std::optional<Error> down;  // the last failure to connect, while unreachable
    pid_t prober = 0;           // the process whose thread is reconnecting (0: none)
    bool closing = false;       // the quorum is gone: the thread stops
    ForkGuard fork_guard{mu};   // after mu

    // With mu held: a reconnecting thread in this process, unless there is one.
    void reconnect_locked(const std::shared_ptr<Master> &self) {
        if (prober == current_pid()) return;
        try {
            std::thread([self] { self->reconnect(); }).detach();
            prober = current_pid();
        } catch (const std::system_error &) {
            down.reset();  // no thread: the callers' threads connect themselves, as before it went down
        }
    }

    void reconnect() {
        ::pthread_setname_np(::pthread_self(), "redlock-reconn");
        const pid_t me = current_pid();
        for (;;) {
            std::this_thread::sleep_for(Millis(100));
            {
                std::lock_guard<std::mutex> lk(mu);
                if (closing || prober != me) return;
            }
            std::optional<Error> failed;
            try {
                // Leased and given back at once: the new connection waits in the pool for the next call.
                (void)pool.lease(false, Deadline::after(cfg.connect_timeout.value_or(Millis(30000))));
            } catch (const Error &e) {
                failed = e;
            }
            std::lock_guard<std::mutex> lk(mu);
            down = failed;
            if (!failed || closing) {
                prober = 0;
                return;
            }
        }
    }
};

const ClientConfig &Quorum::master(size_t i) const noexcept { return masters_[i]->cfg; }

Pool::Lease Quorum::lease(size_t i, const Deadline &until) {
    const std::shared_ptr<Master> &m = masters_[i];
    {
        std::lock_guard<std::mutex> lk(m->mu);
        if (m->down) {
            m->reconnect_locked(m);  // (a fork()ed child starts its own)
            if (m->down)
                throw Error(m->down->code(), fmt::format("{} (not asked: unreachable at the last attempt; "
                                                         "reconnecting in the background)",
                                                         m->down->what()));
        }
    }
    try {
        return m->pool.lease(false, until);
    } catch (const Error &e) {
        if (is_transport_failure(e.code())) {
            std::lock_guard<std::mutex> lk(m->mu);
            m->down = e;
            m->reconnect_locked(m);
        }
        throw;
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
                        fmt::format("quorum master {} is a {} URL: each master must be one server (redis://, rediss:// "
                                    "or unix://), independent of the others; Redlock's safety comes from that",
                                    i + 1, c.topology == ClientConfig::Topology::sentinel ? "Sentinel" : "Cluster"));
        auto [it, fresh] = seen.emplace(server_of(c), i);
        if (!fresh)
            throw Error(Errc::invalid, fmt::format("quorum masters {} and {} are the same server ({}): a majority "
                                                   "must be of distinct servers",
                                                   it->second + 1, i + 1, it->first));
    }
    for (ClientConfig &c : masters) {
        if (c.tls && !c.tls_context) c.tls_context = std::make_shared<const TlsContext>(c.tls_options);
        masters_.push_back(std::make_shared<Master>(std::move(c)));
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
    for (const auto &m : masters_) {
        std::lock_guard<std::mutex> lk(m->mu);
        m->closing = true;  // a reconnecting thread ends at its next wake-up, and frees the master
    }
}

Quorum::Round Quorum::run(Argv argv, const Argv *noscript, unsigned accept, const Deadline &until, Wait wait,
                          const std::function<Vote(const Reply &)> &vote, const std::vector<bool> &only,
                          const std::vector<bool> &awaited) {
    const size_t n = size(), need = majority();
    Round r;
    r.votes.assign(n, Vote::failed);
    r.codes.assign(n, 0);
    r.why.assign(n, std::string());
    std::vector<std::optional<Pool::Lease>> leases(n);
    std::vector<Connection *> conns(n, nullptr);
    std::vector<bool> dead(n, false);  // known before anything is sent: counted against the quorum from the start
    for (size_t i = 0; i < n; ++i) {
        if (!only.empty() && !only[i]) continue;
        try {
            leases[i].emplace(lease(i, until));
            conns[i] = &**leases[i];
        } catch (const Error &e) {
            dead[i] = true;
            r.codes[i] = static_cast<int>(e.code());
            r.why[i] = e.what();
        }
    }
    const size_t dead_count = static_cast<size_t>(std::count(dead.begin(), dead.end(), true));
    Decided decided;
    if (wait == Wait::awaited)
        decided = [&](const std::vector<std::optional<Reply>> &replies) {
            for (size_t i = 0; i < n; ++i)
                if (awaited[i] && conns[i] && !replies[i]) return false;
            return true;
        };
    else if (wait == Wait::majority)
        decided = [&](const std::vector<std::optional<Reply>> &replies) {
            size_t yes = 0, other = dead_count;
            for (const std::optional<Reply> &reply : replies) {
                if (!reply) continue;
                if (vote(*reply) == Vote::yes) ++yes;
                else ++other;
            }
            return yes >= need || other > n - need;
        };
    FanOut f = fan_out(conns, argv, accept, until, decided, noscript);
    for (size_t i = 0; i < n; ++i) {
        if (!only.empty() && !only[i]) continue;
        if (dead[i]) {
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
    return r;
}

Quorum::Round Quorum::run_script(const Script &s, std::string_view name, const std::vector<std::string_view> &args,
                                 const Deadline &until, Wait wait, const std::function<Vote(const Reply &)> &vote) {
    std::array<std::string_view, 8> argv{"EVALSHA", s.sha1, "1", name};
    size_t n = 4;
    for (std::string_view a : args) {
        if (n == argv.size()) throw Error(Errc::internal, "too many script arguments");
        argv[n++] = a;
    }
    std::array<std::string_view, 8> eval = argv;
    eval[0] = "EVAL";
    eval[1] = s.source;
    const Argv fallback(eval.data(), n);
    return run(Argv(argv.data(), n), &fallback, expect::integer, until, wait, vote);
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

// The code that explains most of the failures (ties: the first master's).
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
    Round r = run(Argv(argv, std::size(argv)), nullptr, expect::ok_or_nil, until, Wait::majority, [](const Reply &x) {
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
    const std::vector<int> outcomes = last_outcomes();
    if (any) {
        const std::string_view rel[] = {"EVALSHA", kReleaseScript.sha1, "1", name, token};
        const std::string_view rel_eval[] = {"EVAL", kReleaseScript.source, "1", name, token};
        const Argv fallback(rel_eval, std::size(rel_eval));
        // The clean-up's own outcome changes nothing for the caller; what it reports is the acquire's.
        (void)run(Argv(rel, std::size(rel)), &fallback, expect::integer, command_deadline(), Wait::awaited,
                  [](const Reply &) { return Vote::yes; }, maybe, responsive);
        t_outcomes = outcomes;
    }
    if (r.failed - r.not_waited > size() - majority())
        throw Error(main_failure(outcomes), fmt::format("acquire of '{}' over a quorum: {}", shown(name),
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
    // Every answer is awaited: a master left holding our token blocks others until its TTL.
    Round r = run_script(kReleasePublishScript, name, {token, channel}, command_deadline(), Wait::every, vote_integer);
    record(r, REDLOCK_ENOTOWNED);
    if (r.yes >= majority()) return;
    const std::string message = summary(r, "released it", "did not hold it (expired, or never granted)");
    if (r.no >= majority())
        throw Error(Errc::not_owned, fmt::format("Cannot release a lock that's no longer owned: {}", message));
    throw Error(main_failure(last_outcomes()),
                fmt::format("release of '{}' over a quorum: {}; a majority may still hold the token: it is kept, retry "
                            "the release",
                            shown(name), message));
}

bool Quorum::ttl_script(const Script &s, std::string_view name, const std::string &token,
                        const std::vector<std::string_view> &args, const char *verb, const Deadline &cap,
                        Clock::time_point &sent) {
    std::vector<std::string_view> all{token};
    all.insert(all.end(), args.begin(), args.end());
    sent = Clock::now();
    Round r = run_script(s, name, all, command_deadline().earlier(cap), Wait::majority, vote_integer);
    record(r, REDLOCK_ENOTOWNED);
    if (r.yes >= majority()) return true;
    const std::string message = summary(r, "had it", "did not hold it");
    if (r.no > size() - majority())
        throw Error(Errc::not_owned, fmt::format("Cannot {} a lock that's no longer owned: {}", verb, message));
    throw Error(main_failure(last_outcomes()), fmt::format("{} of '{}' over a quorum: {}", verb, shown(name), message));
}

bool Quorum::majority_holds(std::string_view name, const std::string *token) {
    const std::string_view argv[] = {"GET", name};
    Round r = run(Argv(argv, 2), nullptr, expect::string_or_nil | expect::skip_big_strings, command_deadline(),
                  Wait::majority, [token](const Reply &x) {
                      if (x.is_error()) return Vote::failed;
                      const bool exists = x.oversize || x.type == Reply::Type::string;
                      return exists && (!token || (!x.oversize && x.str == *token)) ? Vote::yes : Vote::no;
                  });
    record(r, REDLOCK_ENOTOWNED);
    if (r.yes >= majority()) return true;
    if (r.no > size() - majority()) return false;
    throw Error(main_failure(last_outcomes()),
                fmt::format("GET of '{}' over a quorum: {}", shown(name),
                            summary(r, token ? "hold our token" : "hold the key", token ? "not our token" : "no key")));
}

void Quorum::ping() {
    const std::string_view argv[] = {"PING"};
    Round r = run(Argv(argv, 1), nullptr, expect::status, command_deadline(), Wait::every,
                  [](const Reply &x) { return x.is_status("PONG") ? Vote::yes : Vote::failed; });
    record(r, 0);
    if (r.yes < majority())
        throw Error(main_failure(last_outcomes()), fmt::format("ping over a quorum: {}", summary(r, "answer", "")));
}

}  // namespace redlock::core

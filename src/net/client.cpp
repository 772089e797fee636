#include "net/client.hpp"

#include "background/waiters.hpp"
#include "background/watchdog.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "base/error.hpp"
#include "base/text.hpp"
#include "net/tls.hpp"
#include "quorum/quorum.hpp"

namespace redlock::core {

namespace {
ClientConfig with_tls_context(ClientConfig cfg) {
    if (cfg.tls && !cfg.tls_context) cfg.tls_context = std::make_shared<const TlsContext>(cfg.tls_options);
    return cfg;
}

// Redirections and waits one command may go through, whatever its deadline (a hostile or broken cluster that keeps
// redirecting a command with no command timeout must still end).
constexpr int kMaxRedirects = 100;

// The key a command routes by: the first key of a script, else its first argument.
std::string_view key_of(const std::vector<std::string_view> &argv) {
    if (argv.size() >= 4 && (argv[0] == "EVALSHA" || argv[0] == "EVAL") && argv[2] != "0") return argv[3];
    return argv.size() >= 2 ? argv[1] : std::string_view();
}
}  // namespace

Client::Client(ClientConfig cfg) : cfg_(with_tls_context(std::move(cfg))), router_(make_router(cfg_)) {}
Client::Client(std::vector<ClientConfig> masters)
    : cfg_(masters.empty() ? ClientConfig() : masters.front()), quorum_(std::make_unique<Quorum>(std::move(masters))) {}
Client::~Client() = default;

Router &Client::topology() const {
    if (!router_) throw Error(Errc::internal, "a single-server call on a quorum client");
    return *router_;
}

Watchdog &Client::watchdog() {
    std::call_once(watchdog_once_, [this] { watchdog_ = std::make_unique<Watchdog>(*this); });
    return *watchdog_;
}

Waiters &Client::waiters() {
    std::call_once(waiters_once_, [this] {
        waiters_ = std::make_unique<Waiters>(cfg_, [this](const Deadline &until) { return subscriber_config(until); });
        has_waiters_.store(true, std::memory_order_release);
    });
    return *waiters_;
}

template <class Op>
Reply Client::routed(std::string_view key, const Deadline &until, Op &&op) {
    Millis pause(10);  // between attempts while a failover or migration settles, doubling to 200 ms
    auto wait = [&] {
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, Millis(200));
    };
    // The node for the key; while none can be named (no sentinel answers, no node serves the slot), asked again
    // after a pause until `until`.
    auto find = [&] {
        for (;;) {
            try {
                return topology().route(key, until);
            } catch (const Error &e) {
                if (!is_transport_failure(e.code()) || until.passed_after(pause)) throw;
            }
            wait();
        }
    };
    Route r = find();
    for (int redirects = 0;;) {
        Router::Next next;
        try {
            Reply reply = op(*r.pool, r.asking);
            if (!reply.is_error()) return reply;
            next = router_->redirected(reply.str, r);
            if (next == Router::Next::answer) return reply;
            // A redirection more than a few times in a row (two nodes that disagree for a moment while a slot's
            // owner changes) is waited out like a migration; the server's refusal is the answer only once the time
            // is up, or after very many.
            if (++redirects > 3 && next == Router::Next::reroute) next = Router::Next::wait;
            if (redirects > kMaxRedirects || until.passed() || (next == Router::Next::wait && until.passed_after(pause)))
                return reply;
        } catch (const OutcomeUnknown &) {
            router_->suspect(r);
            throw;
        } catch (const Error &e) {
            // Nothing was sent: the node could not be reached, or is no longer the master.
            if (!is_transport_failure(e.code()) || !router_->unreachable(r) || until.passed_after(pause)) throw;
            next = Router::Next::wait;
        }
        if (next == Router::Next::wait) wait();
        if (next != Router::Next::follow) r = find();
    }
}

Reply Client::read(ArgList argv, unsigned accept) {
    const Deadline until = command_deadline();
    return routed(argv.size() > 1 ? argv.begin()[1] : std::string_view(), until, [&](Pool &pool, bool asking) {
        return read_on(pool, Argv(argv.begin(), argv.size()), accept, asking);
    });
}

Reply Client::write(ArgList argv, unsigned accept) {
    const Deadline until = command_deadline();
    return routed(argv.size() > 1 ? argv.begin()[1] : std::string_view(), until, [&](Pool &pool, bool asking) {
        Pool::Lease c = pool.lease();
        return c->call(argv, command_deadline(), accept, asking);
    });
}

KeyStatus parse_key_status(const Reply &r, std::string_view name) {
    KeyStatus s;
    if (r.is_nil()) return s;
    if (r.is_error()) throw server_error(r.str, fmt::format("status of '{}'", shown(name)));
    const auto is = [&](size_t i, Reply::Type t) { return r.elements.size() == 3 && r.elements[i].type == t; };
    if (r.type != Reply::Type::array || !is(0, Reply::Type::integer) || !is(1, Reply::Type::integer) ||
        !is(2, Reply::Type::string) || r.elements[1].integer < 0 || r.elements[2].str.size() > 4096)
        throw Error(Errc::server, fmt::format("status of '{}': an unexpected reply", shown(name)));
    s.held = true;
    s.pttl = r.elements[0].integer;
    s.length = static_cast<size_t>(r.elements[1].integer);
    s.value = r.elements[2].str;
    return s;
}

Reply Client::script(const Script &s, ArgList keys, ArgList args, unsigned accept, const Deadline &cap) {
    constexpr size_t kMaxArgs = 8;
    static constexpr std::string_view kCounts[] = {"0", "1", "2", "3", "4"};
    if (keys.size() >= std::size(kCounts) || keys.size() + args.size() > kMaxArgs)
        throw Error(Errc::internal, "too many script arguments");
    std::array<std::string_view, 3 + kMaxArgs> argv{"EVALSHA", s.sha1, kCounts[keys.size()]};
    size_t n = 3;
    for (std::string_view k : keys) argv[n++] = k;
    for (std::string_view a : args) argv[n++] = a;

    return routed(keys.size() > 0 ? *keys.begin() : std::string_view(), command_deadline(cap),
                  [&](Pool &pool, bool asking) {
                      argv[0] = "EVALSHA";
                      argv[1] = s.sha1;
                      Pool::Lease c = pool.lease(false, cap);
                      Reply r = c->call(Argv(argv.data(), n), command_deadline(cap), accept, asking);
                      if (r.is_error() && starts_with(r.str, "NOSCRIPT")) {
                          argv[0] = "EVAL";
                          argv[1] = s.source;
                          r = c->call(Argv(argv.data(), n), command_deadline(cap), accept, asking);
                      }
                      return r;
                  });
}

std::vector<Reply> Client::pipeline(const std::vector<std::vector<std::string_view>> &commands, unsigned accept,
                                   const Deadline &cap) {
    if (commands.empty()) return {};
    const Deadline until = command_deadline(cap);
    auto run = [&](const Route &r, const std::vector<std::vector<std::string_view>> &batch) {
        try {
            Pool::Lease c = r.pool->lease(false, cap);
            return c->call_pipelined(batch, command_deadline(cap), accept);
        } catch (const OutcomeUnknown &) {
            router_->suspect(r);
            throw;
        }
    };
    if (topology().one_node()) return run(router_->route(key_of(commands.front()), until), commands);

    // A cluster: one pipeline per node. Commands of a node that failed come back as errors, for the caller to retry
    // one by one (routed, and settled if their outcome is unknown).
    std::vector<Reply> replies(commands.size());
    std::map<Pool *, std::pair<Route, std::vector<size_t>>> groups;
    for (size_t i = 0; i < commands.size(); ++i) {
        try {
            Route r = router_->route(key_of(commands[i]), until);
            auto &g = groups[r.pool];
            if (!g.first.pool) g.first = std::move(r);
            g.second.push_back(i);
        } catch (const Error &e) {
            replies[i].type = Reply::Type::error;
            replies[i].str = e.what();
        }
    }
    for (auto &[pool, group] : groups) {
        std::vector<std::vector<std::string_view>> batch;
        for (size_t i : group.second) batch.push_back(commands[i]);
        try {
            std::vector<Reply> got = run(group.first, batch);
            for (size_t j = 0; j < got.size(); ++j) replies[group.second[j]] = std::move(got[j]);
        } catch (const Error &e) {
            for (size_t i : group.second) {
                replies[i].type = Reply::Type::error;
                replies[i].str = e.what();
            }
        }
    }
    return replies;
}

void Client::ping() {
    if (quorum_) quorum_->ping();
    else router_->ping(Deadline::never());  // each step has its own connect and command timeouts
}  // each step has its own connect and command timeouts

namespace {
KeyValue key_value(Reply &&r) {
    if (r.is_error()) throw server_error(r.str, "GET failed");
    KeyValue out;
    if (r.oversize) out.oversize = true;
    else if (r.type == Reply::Type::string) out.value = std::move(r.str);  // else nil: no key
    return out;
}
constexpr unsigned kGetReplies = expect::string_or_nil | expect::skip_big_strings;
}  // namespace

KeyValue Client::get(std::string_view key) { return key_value(read({"GET", key}, kGetReplies)); }

KeyValue Client::get_on_fresh_connection(std::string_view key, const Deadline &cap) {
    return key_value(routed(key, command_deadline(cap), [&](Pool &pool, bool asking) {
        Pool::Lease c = pool.lease(true, cap);
        return c->call({"GET", key}, command_deadline(cap), kGetReplies, asking);
    }));
}

}  // namespace redlock::core

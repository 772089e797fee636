#include "net/client.hpp"

#include "background/waiters.hpp"
#include "background/watchdog.hpp"

#include <array>
#include <fmt/format.h>

#include "base/error.hpp"
#include "net/tls.hpp"

namespace redlock::core {

namespace {
ClientConfig with_tls_context(ClientConfig cfg) {
    if (cfg.tls && !cfg.tls_context) cfg.tls_context = std::make_shared<const TlsContext>(cfg.tls_options);
    return cfg;
}
}  // namespace

Client::Client(ClientConfig cfg) : pool_(with_tls_context(std::move(cfg))) {}
Client::~Client() = default;

Watchdog &Client::watchdog() {
    std::call_once(watchdog_once_, [this] { watchdog_ = std::make_unique<Watchdog>(*this); });
    return *watchdog_;
}

Waiters &Client::waiters() {
    std::call_once(waiters_once_, [this] {
        waiters_ = std::make_unique<Waiters>(pool_.config());
        has_waiters_.store(true, std::memory_order_release);
    });
    return *waiters_;
}

Reply Client::read(ArgList argv, unsigned accept) {
    try {
        Pool::Lease c = pool_.lease();
        return c->call(argv, command_deadline(), accept);
    } catch (const OutcomeUnknown &e) {
        // A dropped connection (server restarted, idle socket closed) is worth one retry; a slow server is not.
        if (e.code() != Errc::connection) throw;
        Pool::Lease c = pool_.lease(true);
        return c->call(argv, command_deadline(), accept);
    }
}

Reply Client::write(ArgList argv, unsigned accept) {
    Pool::Lease c = pool_.lease();
    return c->call(argv, command_deadline(), accept);
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

    Pool::Lease c = pool_.lease(false, cap);
    Reply r = c->call(Argv(argv.data(), n), command_deadline(cap), accept);
    if (r.is_error() && r.str.compare(0, 8, "NOSCRIPT") == 0) {
        argv[0] = "EVAL";
        argv[1] = s.source;
        r = c->call(Argv(argv.data(), n), command_deadline(cap), accept);
    }
    return r;
}

std::vector<Reply> Client::pipeline(const std::vector<std::vector<std::string_view>> &commands, unsigned accept,
                                   const Deadline &cap) {
    Pool::Lease c = pool_.lease(false, cap);
    return c->call_pipelined(commands, command_deadline(cap), accept);
}

void Client::ping() {
    Reply r = read({"PING"}, expect::status);
    if (r.is_error()) throw server_error(r.str, "PING failed");
    if (!r.is_status("PONG")) throw Error(Errc::server, "PING: unexpected reply");
}

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
    Pool::Lease c = pool_.lease(true, cap);
    return key_value(c->call({"GET", key}, command_deadline(cap), kGetReplies));
}

}  // namespace redlock::core

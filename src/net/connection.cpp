#include "net/connection.hpp"

#include <fmt/format.h>

#include <cctype>

#include "base/error.hpp"
#include "base/text.hpp"

namespace redlock::core {

Errc error_code(std::string_view reply_text) {
    auto starts = [&](std::string_view p) { return starts_with(reply_text, p); };
    // Inside a script, an ACL refusal comes back as an ERR: "The user executing the script can't run this command or
    // subcommand" / "... can't access at least one of the keys ..." (Redis 7.0); it is a permission error all the same.
    const bool script_acl = reply_text.find("The user executing the script can't") != std::string_view::npos;
    return starts("WRONGPASS") || starts("NOAUTH") || starts("NOPERM") || starts("ERR NOPERM") ||
                   starts("ERR invalid password") || starts("ERR AUTH") || script_acl
               ? Errc::auth
               : Errc::server;
}

Error server_error(const std::string &reply_text, std::string_view context) {
    auto starts = [&](std::string_view p) { return starts_with(reply_text, p); };
    const Errc code = error_code(reply_text);
    // Refusals that say what the server is: a URL of the wrong form (the server answered, but not as a lock server).
    std::string_view hint;
    if (starts("MOVED ") || starts("ASK ") || starts("CLUSTERDOWN"))
        hint = " (this server is a Redis Cluster node: use a redis+cluster:// URL)";
    else if (starts("ERR unknown command 'SET'") || starts("ERR unknown command 'EVALSHA'") ||
             starts("ERR unknown command 'GET'"))
        hint = " (a sentinel? reach the master through it with redis+sentinel://host:26379/service_name)";
    return Error(code, fmt::format("{}: Redis replied: {}{}", context, printable(reply_text, 512), hint));
}

namespace {
// A refused AUTH can quote its arguments ("unknown command 'AUTH', with args beginning with: 'user' 'pass'", when
// AUTH is renamed): cut them, and any other appearance of the credentials, before the text reaches a message. Only
// where they stand alone (not inside a word): a password "PASS" must not turn "WRONGPASS" into "WRONG***", nor a
// password "e" every letter e. The error's kind is read from the reply as it came (the caller's business).
std::string without_credentials(std::string text, const ClientConfig &cfg) {
    const size_t args = text.find(", with args beginning with");
    if (args != std::string::npos) text.erase(args);
    auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
    for (const auto &secret : {cfg.password, cfg.username}) {
        if (!secret || secret->empty()) continue;
        for (size_t at = text.find(*secret); at != std::string::npos; at = text.find(*secret, at + 1)) {
            const size_t end = at + secret->size();
            if ((at > 0 && word(text[at - 1]) && word((*secret)[0])) ||
                (end < text.size() && word(text[end]) && word(secret->back())))
                continue;
            text.replace(at, secret->size(), "***");
        }
    }
    return text;
}
}  // namespace

Connection::Connection(const ClientConfig &cfg, pid_t owner_pid, const Deadline &connect_deadline)
    : transport_(open_socket_transport(cfg, connect_deadline)),
      where_(cfg.describe()),
      owner_pid_(owner_pid),
      tls_(cfg.tls) {
    // Pipelined handshake: one round trip whatever it contains.
    int expected = 0;
    if (cfg.password) {
        if (cfg.username) encode_command(out_, {"AUTH", *cfg.username, *cfg.password});
        else encode_command(out_, {"AUTH", *cfg.password});
        ++expected;
    }
    if (cfg.db != 0) {
        encode_command(out_, {"SELECT", std::to_string(cfg.db)});
        ++expected;
    }
    const ReplyLimits lock_limits = reader_.limits();
    if (cfg.require_master) {  // a master named by Sentinel: is it still one? (its ROLE lists its replicas)
        encode_command(out_, {"ROLE"});
        ++expected;
        ReplyLimits l = lock_limits;
        l.max_depth = 3;
        l.max_elements = 1u << 16;
        reader_.set_limits(l);
    }
    if (expected > 0) {
        send(connect_deadline);
        for (int i = 0; i < expected; ++i) {
            Reply r;
            try {
                r = receive(connect_deadline, i == expected - 1);
            } catch (const ProtocolError &e) {
                if (e.kind() == ProtocolError::Kind::not_resp) throw not_a_redis_server(e);
                throw Error(e.code(), fmt::format("protocol error from {}: {}", where_, e.what()));
            }
            const bool role = cfg.require_master && i == expected - 1;
            if (role) {
                check_role(r);
                continue;
            }
            if (r.is_error()) {
                const Error e = server_error(without_credentials(r.str, cfg),
                                             i == 0 && cfg.password ? fmt::format("authentication failed on {}", where_)
                                                                    : fmt::format("SELECT failed on {}", where_));
                throw Error(error_code(r.str), e.what());  // WRONGPASS is EAUTH whatever the password spells
            }
        }
    }
    reader_.set_limits(lock_limits);
    refuse_unasked_bytes();
}

void Connection::check_role(const Reply &r) const {
    if (r.is_error()) {
        // A user without +role cannot be told from a master here; READONLY still catches a demoted one.
        if (error_code(r.str) == Errc::auth) return;
        throw server_error(r.str, fmt::format("ROLE on {}", where_));
    }
    if (r.type != Reply::Type::array || r.elements.empty() || r.elements[0].type != Reply::Type::string)
        throw Error(Errc::connection, fmt::format("ROLE on {}: unexpected reply", where_));
    if (r.elements[0].str != "master")
        throw Error(Errc::connection, fmt::format("{} is not a master (ROLE: {}): a failover moved the master",
                                                      where_, printable(r.elements[0].str, 32)));
}

void Connection::refuse_unasked_bytes() {
    // Nothing may have arrived that no command asked for: it would be read as the first command's reply. Redis
    // itself does this when it refuses a client (maxclients): an error, then close.
    char *p = reader_.space(512);
    const size_t n = transport_->read_now(p, reader_.space_size());
    if (n == 0) return;
    reader_.commit(n);
    Reply r;
    try {
        if (reader_.next(r) && r.is_error()) throw server_error(r.str, fmt::format("{} refused the connection", where_));
    } catch (const ProtocolError &) {
        // not even RESP: said below
    }
    throw Error(Errc::connection,
                fmt::format("{} sent bytes before any command: not a Redis server, or one out of step", where_));
}

Error Connection::not_a_redis_server(const ProtocolError &e) const {
    // A TLS record (alert 0x15, handshake 0x16) is the usual reason: a TLS port reached with a plain URL.
    const bool tls = e.first_byte() == 0x15 || e.first_byte() == 0x16;
    return Error(Errc::connection, fmt::format("{} is not a Redis server speaking plain RESP ({}){}", where_, e.what(),
                                               tls ? "; it answered with TLS: a TLS port needs rediss://" : ""));
}

Reply Connection::call(Argv argv, const Deadline &deadline, unsigned accept, bool asking) {
    out_.clear();
    if (asking) encode_command(out_, {"ASKING"});  // same write: a cluster node importing the key's slot needs it
    encode_command(out_, argv);
    // Values that cannot matter beyond their existence may be of any size Redis allows: read through, not kept.
    struct SkipBigStrings {
        ReplyReader &r;
        const ReplyLimits saved;
        SkipBigStrings(ReplyReader &reader, bool on) : r(reader), saved(reader.limits()) {
            if (!on) return;
            ReplyLimits l = saved;
            l.max_skipped_bulk = kMaxRedisString;
            r.set_limits(l);
        }
        ~SkipBigStrings() { r.set_limits(saved); }
    } skip(reader_, (accept & expect::skip_big_strings) != 0);
    return exchange(deadline, [&] {
        send(deadline);
        if (asking && !receive(deadline, false).is_status("OK"))
            throw ProtocolError(ProtocolError::Kind::malformed, "ASKING was not answered OK: the connection is out of step");
        Reply r = receive(deadline);
        check_type(r, accept, argv.size() > 0 ? *argv.begin() : std::string_view());
        return r;
    });
}

void Connection::check_type(const Reply &r, unsigned accept, std::string_view command) {
    if (!r.is_error() && ((accept & type_bit(r.type)) == 0 ||
                          ((accept & expect::status_ok_only) && r.type == Reply::Type::status && r.str != "OK")))
        throw ProtocolError(ProtocolError::Kind::malformed,
                            fmt::format("{} reply to {}: the connection is out of step",
                                        r.type == Reply::Type::status ? "a status other than OK in" : type_name(r.type),
                                        command));
}

std::vector<Reply> Connection::call_pipelined(const std::vector<std::vector<std::string_view>> &commands,
                                              const Deadline &deadline, unsigned accept) {
    out_.clear();
    for (const auto &argv : commands) encode_command(out_, Argv(argv.data(), argv.size()));
    return exchange(deadline, [&] {
        send(deadline);
        std::vector<Reply> replies;
        replies.reserve(commands.size());
        for (size_t i = 0; i < commands.size(); ++i) {
            replies.push_back(receive(deadline, i + 1 == commands.size()));
            check_type(replies.back(), accept, commands[i].empty() ? std::string_view() : commands[i][0]);
        }
        return replies;
    });
}

template <class F>
auto Connection::exchange(const Deadline &, F &&io) -> decltype(io()) {
    try {
        return io();
    } catch (const ProtocolError &e) {
        abandon();
        if (e.kind() == ProtocolError::Kind::not_resp) throw not_a_redis_server(e);
        throw OutcomeUnknown(e.code(), fmt::format("protocol error from {}: {}", where_, e.what()));
    } catch (const Error &e) {
        // Even a failed send may have delivered part or all of the command; a reset stops what is left of it.
        abandon();
        if (e.code() == Errc::connection && reader_.nothing_seen())
            throw OutcomeUnknown(e.code(),
                                 tls_ ? fmt::format("{} (closed before any reply on this connection: the server drops "
                                                    "this client, e.g. one without the client certificate it requires)",
                                                    e.what())
                                      : fmt::format("{} (closed before any reply on this connection: a TLS port "
                                                    "needs rediss://; or the server drops this client)",
                                                    e.what()));
        throw OutcomeUnknown(e.code(), e.what());
    }
}

void Connection::post(Argv argv, const Deadline &deadline) {
    out_.clear();
    if (owes()) {  // a new fence each time: an older one, and all given up on before it, are stale
        fence_ = "redlock-fence-" + std::to_string(++fences_);
        owed_ = 0;
        encode_command(out_, {"PING", fence_});
    }
    encode_command(out_, argv);
    try {
        send(deadline);
    } catch (const Error &) {
        broken_ = true;
        throw;
    }
}

bool Connection::take_pushed(Reply &out) {
    try {
        // Until a whole reply, or nothing more has arrived: what is already received must all be taken now, since a
        // poll() on the socket cannot see bytes that TLS has decrypted and holds.
        for (;;) {
            while (!reader_.next(out)) {
                char *p = reader_.space(4096);
                const size_t n = transport_->read_now(p, reader_.space_size());
                if (n == 0) return false;
                reader_.commit(n);
            }
            if (!fence_.empty()) {  // stale until the fence comes back
                if (out.type == Reply::Type::string && out.str == fence_) fence_.clear();
                continue;
            }
            if (owed_ > 0) {  // given up on after the fence (or, with none, before anything else was sent)
                --owed_;
                continue;
            }
            owing_ = 0;  // in step again
            return true;
        }
    } catch (const ProtocolError &e) {
        broken_ = true;
        throw Error(e.code(), fmt::format("protocol error from {}: {}", where_, e.what()));
    } catch (const Error &) {
        broken_ = true;
        throw;
    }
}

void Connection::owe_reply() noexcept {
    constexpr unsigned kMaxOwed = 8;  // a server that stopped answering: no point queueing behind it for ever
    ++owed_;
    if (++owing_ > kMaxOwed) abandon();
}

bool Connection::looks_dead() noexcept {
    if (owes()) {
        try {
            Reply unasked;
            if (take_pushed(unasked)) return true;  // the owed replies (skipped), then one more: out of step
        } catch (...) {
            return true;  // (a closed connection too)
        }
        if (owes()) return broken_;  // still owing: what comes next is skipped anyway
    }
    return reader_.buffered() > 0 || transport_->looks_dead();
}

void Connection::send(const Deadline &deadline) {
    transport_->write_all(out_.data(), out_.size(), deadline);
    if (out_.capacity() > 65536) std::string().swap(out_);  // do not keep a huge command's buffer around
}

Reply Connection::receive(const Deadline &deadline, bool last) {
    Reply r;
    while (!reader_.next(r)) {
        char *p = reader_.space(4096);
        reader_.commit(transport_->read_some(p, reader_.space_size(), deadline));
    }
    if (last && reader_.buffered() != 0)
        throw ProtocolError(ProtocolError::Kind::malformed,
                            "bytes beyond the reply (a second reply to one command?): the connection is out of step");
    return r;
}

}  // namespace redlock::core

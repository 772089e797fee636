#include "connection.hpp"

#include <fmt/format.h>

#include "error.hpp"

namespace redlock::core {

Error server_error(const std::string &reply_text, std::string_view context) {
    auto starts = [&](std::string_view p) { return reply_text.compare(0, p.size(), p) == 0; };
    Errc code = starts("WRONGPASS") || starts("NOAUTH") || starts("NOPERM") || starts("ERR invalid password") ||
                        starts("ERR AUTH")
                    ? Errc::auth
                    : Errc::server;
    return Error(code, fmt::format("{}: Redis replied: {}", context, reply_text));
}

Connection::Connection(const ClientConfig &cfg, pid_t owner_pid, const Deadline &connect_deadline)
    : transport_(open_socket_transport(cfg, connect_deadline)), owner_pid_(owner_pid) {
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
    if (expected > 0) {
        send(connect_deadline);
        for (int i = 0; i < expected; ++i) {
            Reply r = receive(connect_deadline);
            if (r.is_error())
                throw server_error(r.str, i == 0 && cfg.password ? "authentication failed" : "SELECT failed");
        }
    }
    last_used_ = Clock::now();
}

Reply Connection::call(Argv argv, const Deadline &deadline) {
    out_.clear();
    encode_command(out_, argv);
    try {
        send(deadline);
        Reply r = receive(deadline);
        last_used_ = Clock::now();
        return r;
    } catch (const Error &e) {
        // Even a failed send may have delivered part or all of the command.
        broken_ = true;
        throw OutcomeUnknown(e.code(), e.what());
    }
}

void Connection::send(const Deadline &deadline) {
    transport_->write_all(out_.data(), out_.size(), deadline);
    if (out_.capacity() > 65536) std::string().swap(out_);  // do not keep a huge command's buffer around
}

Reply Connection::receive(const Deadline &deadline) {
    Reply r;
    while (!reader_.next(r)) {
        size_t n = transport_->read_some(in_, sizeof in_, deadline);
        reader_.feed(in_, n);
    }
    return r;
}

}  // namespace redlock::core

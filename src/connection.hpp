// One connection: a transport, a RESP reader and reusable buffers. Not thread-safe; the pool hands it to one
// thread at a time.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "clock.hpp"
#include "error.hpp"
#include "config.hpp"
#include "resp.hpp"
#include "transport.hpp"

namespace redlock::core {

class Connection {
public:
    // Connects and authenticates (AUTH, SELECT in one round trip), all within the connect timeout; throws Error.
    Connection(const ClientConfig &cfg, pid_t owner_pid)
        : Connection(cfg, owner_pid, Deadline::after(cfg.connect_timeout)) {}

    // Sends one command and reads its reply. On a transport failure after bytes may have left, throws
    // OutcomeUnknown; before, Error. Either way the connection is marked broken.
    Reply call(Argv argv, const Deadline &deadline);
    Reply call(ArgList argv, const Deadline &deadline) { return call(Argv(argv.begin(), argv.size()), deadline); }

    bool broken() const noexcept { return broken_; }
    bool looks_dead() noexcept { return transport_->looks_dead(); }
    pid_t owner_pid() const noexcept { return owner_pid_; }
    Clock::time_point last_used() const noexcept { return last_used_; }

private:
    Connection(const ClientConfig &cfg, pid_t owner_pid, const Deadline &connect_deadline);
    void send(const Deadline &deadline);
    Reply receive(const Deadline &deadline);

    std::unique_ptr<Transport> transport_;
    ReplyReader reader_;
    std::string out_;
    pid_t owner_pid_;
    Clock::time_point last_used_;
    bool broken_ = false;
    char in_[16384];
};

// A transport failure after a command may have reached the server: whether it ran is unknown.
class OutcomeUnknown : public Error {
public:
    using Error::Error;
};

// Error for a Redis error reply: authentication and permission refusals are Errc::auth, the rest Errc::server.
Error server_error(const std::string &reply_text, std::string_view context);

}  // namespace redlock::core

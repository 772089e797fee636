// One connection: a transport, a RESP reader and reusable buffers. Not thread-safe; the pool hands it to one
// thread at a time.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "net/config.hpp"
#include "net/resp.hpp"
#include "net/transport.hpp"

namespace redlock::core {

class Connection {
public:
    // Connects and authenticates (AUTH, SELECT in one round trip), all within the connect timeout; throws Error.
    Connection(const ClientConfig &cfg, pid_t owner_pid)
        : Connection(cfg, owner_pid, Deadline::after(cfg.connect_timeout)) {}
    // The same, giving up at `connect_deadline`.
    Connection(const ClientConfig &cfg, pid_t owner_pid, const Deadline &connect_deadline);

    // Sends one command and reads its reply. On a transport failure after bytes may have left, throws
    // OutcomeUnknown; before, Error. Either way the connection is marked broken.
    // A reply that breaks the protocol or the reader's limits, or bytes beyond the reply, break the connection too.
    // The one exception is a first reply that is not RESP at all: that peer is not a Redis server, nothing can have
    // run, and the Error says so.
    // A reply of a type outside `accept` (see expect::) is a protocol error too.
    // `asking`: ASKING first, in the same write (a cluster node importing the key's slot runs the command only so).
    Reply call(Argv argv, const Deadline &deadline, unsigned accept = expect::any, bool asking = false);
    Reply call(ArgList argv, const Deadline &deadline, unsigned accept = expect::any, bool asking = false) {
        return call(Argv(argv.begin(), argv.size()), deadline, accept, asking);
    }

    // Several commands in one write, their replies in order (as call(), for each; one failure fails them all, with
    // whether each ran unknown).
    std::vector<Reply> call_pipelined(const std::vector<std::vector<std::string_view>> &commands,
                                      const Deadline &deadline, unsigned accept);

    // A subscriber's side (pub/sub): commands are sent without waiting, replies and messages are taken as they come.
    // Both throw Error and mark the connection broken on any failure.
    void post(Argv argv, const Deadline &deadline);
    void post(ArgList argv, const Deadline &deadline) { post(Argv(argv.begin(), argv.size()), deadline); }
    bool take_pushed(Reply &out);  // the next whole reply already received (reads without waiting), or false
    // Gives up waiting for the reply of the last command posted, without closing (fan-out: a slow server, once the
    // majority has decided): a command sent after it runs after it (a late SET is never overtaken by its own release)
    // and goes with a fence, `PING <unique payload>`, before it: everything that arrives before the fence's echo is
    // skipped, so even a server that answers twice cannot slip a stale reply in as the next answer. Beyond a few
    // owed replies the connection is abandoned.
    void owe_reply() noexcept;
    bool owes() const noexcept { return owed_ > 0 || !fence_.empty(); }
    int poll_fd() const noexcept { return transport_->poll_fd(); }
    void set_reply_limits(const ReplyLimits &limits) noexcept { reader_.set_limits(limits); }
    const ReplyLimits &reply_limits() const noexcept { return reader_.limits(); }
    // Bytes received beyond the replies taken so far (a reply nobody asked for, once every asked one is taken).
    bool has_unread() const noexcept { return reader_.buffered() > 0; }

    bool broken() const noexcept { return broken_; }
    // Closed by the server, or bytes nobody asked for, received or still buffered (owed replies are taken first).
    bool looks_dead() noexcept;
    // Gives up on this connection (a reply still owed, say): never reused, closed with a reset.
    void abandon() noexcept {
        broken_ = true;
        transport_->abort_on_close();
    }
    pid_t owner_pid() const noexcept { return owner_pid_; }

private:
    void send(const Deadline &deadline);
    // The next reply; with `last`, bytes buffered beyond it are a protocol error (a server out of step).
    Reply receive(const Deadline &deadline, bool last = true);
    Error not_a_redis_server(const ProtocolError &e) const;
    void check_role(const Reply &r) const;
    static void check_type(const Reply &r, unsigned accept, std::string_view command);
    // Runs send/receive work, turning failures into OutcomeUnknown and marking the connection broken.
    template <class F>
    auto exchange(const Deadline &deadline, F &&io) -> decltype(io());
    void refuse_unasked_bytes();

    std::unique_ptr<Transport> transport_;
    ReplyReader reader_;
    std::string out_;
    std::string where_;  // for messages
    pid_t owner_pid_;
    bool tls_;  // for messages
    bool broken_ = false;
    // Owed replies (owe_reply): until the next command's fence (PING with a payload of its own) comes back, every
    // reply is stale and skipped, however many a server sends.
    unsigned owed_ = 0;        // replies given up on after the fence awaited (or, with none, not yet skipped)
    unsigned owing_ = 0;       // replies given up on since the connection was last in step (for the limit)
    std::string fence_;        // the payload awaited, once a command has been sent behind owed replies
    uint64_t fences_ = 0;      // payloads used on this connection: each is unique
};

// A transport failure after a command may have reached the server: whether it ran is unknown.
class OutcomeUnknown : public Error {
public:
    using Error::Error;
};

// Error for a Redis error reply: authentication and permission refusals are Errc::auth, the rest Errc::server.
Error server_error(const std::string &reply_text, std::string_view context);
// That code alone.
Errc error_code(std::string_view reply_text);

}  // namespace redlock::core

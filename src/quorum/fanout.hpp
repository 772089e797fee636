// One command to several servers at once, for quorum locks over independent masters (Redlock): sent on one
// connection per server, then the replies taken as they come (one poll() over all of them, on the caller's thread:
// no thread per server), until the caller's rule says the outcome is decided or the deadline passes. A slow server
// never holds up a decided outcome; whether the command ran there is unknown, for the caller to settle. Its
// connection stays open, owing the reply (Connection::owe_reply): a command sent on it later runs after this one,
// so a release always follows the SET it must undo.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "base/clock.hpp"
#include "net/connection.hpp"
#include "net/resp.hpp"

namespace redlock::core {

struct FanOut {
    // Per server, in the order given: the reply (an error reply included), or nothing when its outcome is unknown
    // (no reply before the decision or the deadline, a broken connection, a reply of a type not accepted).
    std::vector<std::optional<Reply>> replies;
    // Per server: the command was surely not sent (the connection failed before any byte left).
    std::vector<bool> not_sent;
    // Per server: why its connection broke (a send or a read failed), when it did.
    std::vector<std::optional<Error>> broke;
};

using Decided = std::function<bool(const std::vector<std::optional<Reply>> &)>;

// Sends argv on every connection (null entries are servers without one: not sent), then waits. `decided` is asked
// before the first reply and after each, with the replies so far; true ends the wait (no rule: every reply is
// awaited). Connections without a reply at the end owe it. A script must go as EVAL: a server not waited for
// never shows a NOSCRIPT. Throws nothing but std::bad_alloc.
FanOut fan_out(const std::vector<Connection *> &conns, Argv argv, unsigned accept, const Deadline &deadline,
               const Decided &decided);
inline FanOut fan_out(const std::vector<Connection *> &conns, ArgList argv, unsigned accept, const Deadline &deadline,
                      const Decided &decided) {
    return fan_out(conns, Argv(argv.begin(), argv.size()), accept, deadline, decided);
}

}  // namespace redlock::core

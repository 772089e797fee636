#include "quorum/fanout.hpp"

#include <poll.h>

#include <cerrno>

#include "base/text.hpp"

namespace redlock::core {

FanOut fan_out(const std::vector<Connection *> &conns, Argv argv, unsigned accept, const Deadline &deadline,
               const Decided &decided, const Argv *noscript) {
    const size_t n = conns.size();
    FanOut out;
    out.replies.resize(n);
    out.not_sent.assign(n, true);
    out.broke.resize(n);
    std::vector<bool> waiting(n, false), resent(n, false);
    for (size_t i = 0; i < n; ++i) {
        if (!conns[i]) continue;
        try {
            conns[i]->post(argv, deadline);
            out.not_sent[i] = false;
            waiting[i] = true;
        } catch (const Error &e) {
            out.not_sent[i] = false;  // part of it may have left: unknown, as for any failed send
            out.broke[i] = e;
            conns[i]->abandon();
        }
    }
    // Replies are read only from connections that poll() says are readable: a connection's bytes are all taken
    // each time (take_pushed), so none can be left decrypted inside TLS, out of poll()'s sight. Once decided, one
    // more look without waiting takes the replies that have come meanwhile (what each server did is then known).
    std::vector<pollfd> fds;
    std::vector<size_t> index;  // fds[k] is connection index[k]
    for (bool over = false, last = false; !last && (over || !deadline.passed());) {
        last = over;
        fds.clear();
        index.clear();
        for (size_t i = 0; i < n; ++i)
            if (waiting[i]) {
                fds.push_back({conns[i]->poll_fd(), POLLIN, 0});
                index.push_back(i);
            }
        if (fds.empty()) break;
        const std::optional<Millis> left = deadline.remaining();
        const int timeout = last ? 0 : !left ? -1 : static_cast<int>(std::min<int64_t>(left->count(), 1 << 30));
        const int ready = ::poll(fds.data(), fds.size(), timeout);
        if (ready < 0 && errno != EINTR) break;
        for (size_t k = 0; k < fds.size() && ready > 0 && (last || !over); ++k) {
            if (fds[k].revents == 0) continue;
            const size_t i = index[k];
            try {
                Reply r;
                if (!conns[i]->take_pushed(r)) continue;  // part of a reply, or an owed one skipped
                if (noscript && !resent[i] && r.is_error() && starts_with(r.str, "NOSCRIPT")) {
                    resent[i] = true;  // once: EVAL never answers NOSCRIPT, but a hostile server might
                    conns[i]->post(*noscript, deadline);
                    continue;
                }
                waiting[i] = false;
                if (r.is_error() || (accept & type_bit(r.type)) != 0) out.replies[i] = std::move(r);
                else conns[i]->abandon();  // out of step: unknown
                if (!last) over = decided && decided(out.replies);
            } catch (const Error &e) {
                waiting[i] = false;  // broken: unknown
                out.broke[i] = e;
                conns[i]->abandon();
            }
        }
    }
    for (size_t i = 0; i < n; ++i)
        if (waiting[i]) conns[i]->owe_reply();  // skipped when it comes; the next command queues behind it
    return out;
}

}  // namespace redlock::core

#include "quorum/fanout.hpp"

#include <poll.h>

#include <cerrno>

namespace redlock::core {

FanOut fan_out(const std::vector<Connection *> &conns, Argv argv, unsigned accept, const Deadline &deadline,
               const Decided &decided) {
    const size_t n = conns.size();
    // A GET's value matters only if it can be a token: longer ones are read through, not kept (as Connection::call).
    struct SkipBigStrings {
        const std::vector<Connection *> &conns;
        std::vector<ReplyLimits> saved;
        SkipBigStrings(const std::vector<Connection *> &c, bool on) : conns(c) {
            if (!on) return;
            for (Connection *x : conns) {
                saved.push_back(x ? x->reply_limits() : ReplyLimits{});
                if (!x) continue;
                ReplyLimits l = x->reply_limits();
                l.max_skipped_bulk = kMaxRedisString;
                x->set_reply_limits(l);
            }
        }
        ~SkipBigStrings() {
            for (size_t i = 0; i < saved.size(); ++i)
                if (conns[i]) conns[i]->set_reply_limits(saved[i]);
        }
    } skip(conns, (accept & expect::skip_big_strings) != 0);
    FanOut out;
    out.replies.resize(n);
    out.not_sent.assign(n, true);
    out.broke.resize(n);
    std::vector<bool> waiting(n, false);
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
    // Decided before any reply (the servers that could not be asked settle it): no wait at all.
    const bool at_once = decided && decided(out.replies);
    for (bool over = at_once, last = false; !last && (over || !deadline.passed());) {
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
                waiting[i] = false;
                if (conns[i]->has_unread()) {  // a second reply to one command: out of step, its answer unknown
                    out.broke[i] = Error(Errc::server, "bytes beyond the reply: the server is out of step");
                    conns[i]->abandon();
                } else if (r.is_error() || (accept & type_bit(r.type)) != 0) {
                    out.replies[i] = std::move(r);
                } else {
                    conns[i]->abandon();  // out of step: unknown
                }
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

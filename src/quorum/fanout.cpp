#include "quorum/fanout.hpp"

#include <poll.h>

#include <cerrno>

namespace redlock::core {

FanOut fan_out(const std::vector<Connection *> &conns, ArgList argv, unsigned accept, const Deadline &deadline,
               const std::function<bool(const std::vector<std::optional<Reply>> &)> &decided) {
    const size_t n = conns.size();
    FanOut out;
    out.replies.resize(n);
    out.not_sent.assign(n, true);
    std::vector<bool> waiting(n, false);
    for (size_t i = 0; i < n; ++i) {
        if (!conns[i]) continue;
        try {
            conns[i]->post(argv, deadline);
            out.not_sent[i] = false;
            waiting[i] = true;
        } catch (const Error &) {
            out.not_sent[i] = false;  // part of it may have left: unknown, as for any failed send
            conns[i]->abandon();
        }
    }
    std::vector<pollfd> fds;
    for (bool over = false; !over;) {
        bool any = false;
        for (size_t i = 0; i < n && !over; ++i) {
            if (!waiting[i]) continue;
            // Everything already received first: TLS may hold decrypted bytes that poll() cannot see.
            try {
                Reply r;
                if (conns[i]->take_pushed(r)) {
                    waiting[i] = false;
                    if (r.is_error() || (accept & type_bit(r.type)) != 0) out.replies[i] = std::move(r);
                    else conns[i]->abandon();  // out of step: unknown
                    over = decided(out.replies);
                    continue;
                }
            } catch (const Error &) {
                waiting[i] = false;  // broken: unknown
                continue;
            }
            any = true;
        }
        if (over || !any || deadline.passed()) break;
        fds.clear();
        for (size_t i = 0; i < n; ++i)
            if (waiting[i]) fds.push_back({conns[i]->poll_fd(), POLLIN, 0});
        const std::optional<Millis> left = deadline.remaining();
        const int timeout = !left ? -1 : static_cast<int>(std::min<int64_t>(left->count(), 1 << 30));
        if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) break;
    }
    for (size_t i = 0; i < n; ++i)
        if (waiting[i]) conns[i]->abandon();  // a late reply must never answer another command
    return out;
}

}  // namespace redlock::core

#include "cutting_proxy.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <vector>

namespace testing {

namespace {
int connect_loopback(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(static_cast<uint16_t>(port));
    if (::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}
}  // namespace

CuttingProxy::CuttingProxy(int upstream_port) : upstream_port_(upstream_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr *>(&sa), sizeof sa) != 0 || ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&sa), &len) != 0 || ::pipe(stop_pipe_) != 0)
        throw std::runtime_error("proxy setup failed");
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] { run(); });
}

CuttingProxy::~CuttingProxy() {
    char b = 0;
    (void)!::write(stop_pipe_[1], &b, 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
}

void CuttingProxy::run() {
    struct Pair {
        int client, server;
    };
    std::vector<Pair> pairs;
    char buf[65536];
    for (;;) {
        std::vector<pollfd> fds{{stop_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
        for (auto &p : pairs) {
            fds.push_back({p.client, POLLIN, 0});
            fds.push_back({p.server, POLLIN, 0});
        }
        if (::poll(fds.data(), fds.size(), -1) < 0) continue;
        if (fds[0].revents) break;
        std::vector<size_t> dead;
        for (size_t i = 0; i < pairs.size(); ++i) {
            auto &p = pairs[i];
            short cre = fds[2 + 2 * i].revents, sre = fds[3 + 2 * i].revents;
            bool close_pair = false;
            if (cre) {
                ssize_t n = ::read(p.client, buf, sizeof buf);
                if (n <= 0 || ::write(p.server, buf, static_cast<size_t>(n)) != n) close_pair = true;
                else if (armed_.exchange(false)) {
                    // Let Redis run it, then cut before the reply can be relayed.
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                    close_pair = true;
                }
            }
            if (!close_pair && sre) {
                ssize_t n = ::read(p.server, buf, sizeof buf);
                if (n <= 0 || ::write(p.client, buf, static_cast<size_t>(n)) != n) close_pair = true;
            }
            if (close_pair) dead.push_back(i);
        }
        for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
            ::close(pairs[*it].client);
            ::close(pairs[*it].server);
            pairs.erase(pairs.begin() + static_cast<long>(*it));
        }
        if (fds[1].revents & POLLIN) {  // accept last: the loop above covers only the pairs that were polled
            int c = ::accept(listen_fd_, nullptr, nullptr);
            int s = c >= 0 ? connect_loopback(upstream_port_) : -1;
            if (s >= 0) pairs.push_back({c, s});
            else if (c >= 0) ::close(c);
        }
    }
    for (auto &p : pairs) {
        ::close(p.client);
        ::close(p.server);
    }
}

}  // namespace testing

// Loopback sockets for the test tools.
#pragma once

#include <vector>

namespace testing {

// A listening TCP socket on 127.0.0.1 and a port the kernel picks (stored in `port`); throws std::runtime_error.
int listen_loopback(int &port);

// A connected TCP socket to 127.0.0.1:port, or -1.
int connect_loopback(int port);

// A listener on 127.0.0.1 with a full backlog that never accepts: further SYNs are dropped and connect() hangs, as
// to a host that has gone (a black hole). Closed on destruction.
class BlackHole {
public:
    BlackHole();
    ~BlackHole();
    BlackHole(const BlackHole &) = delete;
    BlackHole &operator=(const BlackHole &) = delete;
    int port() const { return port_; }

private:
    int listener_ = -1, port_ = 0;
    std::vector<int> fillers_;
};

}  // namespace testing

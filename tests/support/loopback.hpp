// Loopback sockets for the test tools.
#pragma once

namespace testing {

// A listening TCP socket on 127.0.0.1 and a port the kernel picks (stored in `port`); throws std::runtime_error.
int listen_loopback(int &port);

// A connected TCP socket to 127.0.0.1:port, or -1.
int connect_loopback(int port);

}  // namespace testing

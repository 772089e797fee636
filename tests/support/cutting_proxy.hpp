// A loopback TCP proxy that can lose a reply: the next request is forwarded to Redis, then both sides are closed
// before the reply comes back. This is how tests make an outcome ambiguous for real.
#pragma once

#include <atomic>
#include <thread>

namespace testing {

class CuttingProxy {
public:
    explicit CuttingProxy(int upstream_port);
    ~CuttingProxy();
    CuttingProxy(const CuttingProxy &) = delete;
    CuttingProxy &operator=(const CuttingProxy &) = delete;

    int port() const { return port_; }
    // The next request from any client goes through; its connection is then cut and the reply dropped.
    void cut_after_next_request() { armed_ = true; }
    bool cut_done() const { return !armed_; }

private:
    void run();

    int upstream_port_;
    int listen_fd_ = -1;
    int stop_pipe_[2] = {-1, -1};
    int port_ = 0;
    std::atomic<bool> armed_{false};
    std::thread thread_;
};

}  // namespace testing

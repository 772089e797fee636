// A loopback TCP proxy in front of a real redis-server that injects faults per command. It frames both directions
// (commands and replies, in order), so a rule acts on exactly the command it names:
//   delay_request  hold the command `ms` before Redis sees it, and deliver it even if the client has gone (what TCP
//                  retransmission does to a command whose reply timed out);
//   drop_request   never deliver it; the connection stays open (a black hole for one command);
//   swallow_reply  deliver it, discard its reply; the connection stays open;
//   delay_reply    deliver it, hold its reply `ms`;
//   cut            deliver it, wait for Redis's reply, drop it and close the client's connection (FIN);
//   reset          the same with a TCP reset (RST) instead of FIN;
//   reset_before   reset the client's connection without delivering the command.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace testing {

class FaultProxy {
public:
    enum class Fault { delay_request, drop_request, swallow_reply, delay_reply, cut, reset, reset_before };
    struct Rule {
        std::string command;  // e.g. "SET", "EVALSHA" (any case); empty: any command
        Fault fault;
        int ms = 0;           // for the delays
        int times = 1;        // applies to this many matching commands
    };

    explicit FaultProxy(int upstream_port);
    ~FaultProxy();
    FaultProxy(const FaultProxy &) = delete;
    FaultProxy &operator=(const FaultProxy &) = delete;

    int port() const { return port_; }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
    void add(Rule r);
    int applied() const { return applied_; }      // faults injected so far
    bool idle() const;                            // no rule left to apply
    int connections() const { return accepted_; }  // client connections accepted so far

private:
    void run();
    bool take_fault(const std::string &command, Rule &out);

    int upstream_port_;
    int listen_fd_ = -1;
    int stop_pipe_[2] = {-1, -1};
    int port_ = 0;
    mutable std::mutex mu_;
    std::vector<Rule> rules_;
    std::atomic<int> applied_{0}, accepted_{0};
    std::thread thread_;
};

}  // namespace testing

// A byte stream to one Redis server. The connection layer speaks RESP over this interface only, so a TLS transport
// (OpenSSL over the same socket) can be added beside the plain one without touching the protocol or pool code.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "base/clock.hpp"
#include "net/config.hpp"

namespace redlock::core {

class Transport {
public:
    virtual ~Transport() = default;
    // Writes every byte or throws Error(connection | timed_out).
    virtual void write_all(const char *data, size_t len, const Deadline &deadline) = 0;
    // Reads at least one byte into buf or throws Error(connection | timed_out); end of stream is a connection error.
    virtual size_t read_some(char *buf, size_t cap, const Deadline &deadline) = 0;
    // Without blocking: has the peer closed, or sent bytes nobody asked for? (checked before each use)
    virtual bool looks_dead() noexcept = 0;
    // Without blocking: the bytes already received (0 if none); Error(connection) if the peer has closed.
    virtual size_t read_now(char *buf, size_t cap) = 0;
    // Close with a reset (RST) instead of FIN when destroyed: the kernel then drops the unacknowledged bytes of a
    // command whose outcome is unknown, instead of retransmitting them for minutes, so the command cannot reach the
    // server later (unless it is already in the network).
    virtual void abort_on_close() noexcept = 0;
    // The descriptor to poll() for readability (a subscriber waits on it with other events).
    virtual int poll_fd() const noexcept = 0;
};

// Opens a plain TCP or unix-socket transport, giving up at the deadline (Errc::connection either way).
std::unique_ptr<Transport> open_socket_transport(const ClientConfig &cfg, const Deadline &deadline);

}  // namespace redlock::core

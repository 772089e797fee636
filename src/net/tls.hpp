// TLS (OpenSSL) for rediss:// clients: one SSL_CTX per client, built when the client is made (so a missing or bad
// certificate file is an error of redlock_client_new, not of the first lock), and a Transport that runs TLS over a
// connected plain transport, which keeps its deadlines, fork safety and reset-on-abort.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/clock.hpp"
#include "net/config.hpp"
#include "net/transport.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace redlock::core {

class TlsContext {
public:
    // Throws Error(invalid) for unreadable or mismatched files, naming which.
    explicit TlsContext(const TlsOptions &opts);
    ~TlsContext();
    TlsContext(const TlsContext &) = delete;
    TlsContext &operator=(const TlsContext &) = delete;
    SSL_CTX *get() const noexcept { return ctx_; }
    bool verify() const noexcept { return verify_; }

private:
    SSL_CTX *ctx_ = nullptr;
    bool verify_ = true;
};

// TLS over `inner` (connected), handshake bounded by `deadline`. Throws Error(connection) saying what failed:
// an untrusted or mismatched certificate, a server that does not speak TLS.
std::unique_ptr<Transport> tls_over(std::unique_ptr<Transport> inner, const ClientConfig &cfg, const Deadline &deadline);

}  // namespace redlock::core

// Where and how a client connects: parsed from a URL, then overridden by redlock_client_options.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.hpp"

namespace redlock::core {

struct TlsOptions {
    std::optional<std::string> ca_file, ca_dir;      // trust anchors; neither: the system's (OpenSSL's default paths)
    std::optional<std::string> cert_file, key_file;  // a client certificate and its key (mutual TLS)
    std::optional<std::string> server_name;          // SNI and the name checked; default: the URL's host
    std::optional<bool> verify;                      // default true; false is unsafe (documented)
    bool any() const { return ca_file || ca_dir || cert_file || key_file || server_name || verify; }
};

class TlsContext;  // net/tls.hpp

struct ClientConfig {
    enum class Kind { tcp, unix_socket };
    Kind kind = Kind::tcp;
    std::string host = "127.0.0.1";
    uint16_t port = 6379;
    std::string path;  // unix socket
    std::optional<std::string> username;
    std::optional<std::string> password;
    int db = 0;
    std::optional<Millis> connect_timeout = Millis(5000);  // nullopt: no limit
    std::optional<Millis> command_timeout = Millis(5000);
    unsigned max_connections = 64;  // as many threads as commonly share a client, each with its own connection
    int keepalive_s = 60;  // 0: off
    bool tls = false;      // rediss://
    TlsOptions tls_options;
    std::shared_ptr<const TlsContext> tls_context;  // made from tls_options when the client is made

    // "127.0.0.1:6379" or "/path/to.sock", for messages.
    std::string describe() const;
};

// TCP_KEEPIDLE's upper bound in Linux (MAX_TCP_KEEPIDLE): a larger value would be refused by the kernel, silently.
inline constexpr int kMaxKeepaliveS = 32767;

// sizeof(sockaddr_un::sun_path) on Linux, with its terminating NUL.
inline constexpr size_t kMaxUnixPath = 108;

// Parses redis:// and unix:// URLs (see redlock.h); throws Error(Errc::invalid) with the reason.
ClientConfig parse_url(std::string_view url);

// Shared validation of timeouts given in ms by the URL or the options: > 0 ms; negative or above
// REDLOCK_MAX_DURATION_MS = none; 0 invalid.
std::optional<Millis> timeout_from_ms(int64_t ms, const char *what);

}  // namespace redlock::core

// Where and how a client connects: parsed from a URL, then overridden by redlock_client_options.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

struct Endpoint {
    std::string host;
    uint16_t port = 0;
    bool operator==(const Endpoint &o) const { return port == o.port && host == o.host; }
    bool operator<(const Endpoint &o) const { return port != o.port ? port < o.port : host < o.host; }
    std::string describe() const;  // host:port, [v6]:port
};

struct ClientConfig {
    enum class Kind { tcp, unix_socket };
    Kind kind = Kind::tcp;
    // One server, a master found through Sentinel, or a Redis Cluster (topology/).
    enum class Topology { single, sentinel, cluster };
    Topology topology = Topology::single;
    std::vector<Endpoint> seeds;  // the sentinels, or the cluster nodes to start from
    std::string service;          // Sentinel's name for the master
    std::optional<std::string> sentinel_username, sentinel_password;  // the sentinels' own credentials
    bool require_master = false;  // a new connection checks ROLE: a demoted master must not be used
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
    // The same client settings aimed at one node (a master from Sentinel, a cluster node).
    ClientConfig node(const Endpoint &e) const;
};

// TCP_KEEPIDLE's upper bound in Linux (MAX_TCP_KEEPIDLE): a larger value would be refused by the kernel, silently.
inline constexpr int kMaxKeepaliveS = 32767;

// sizeof(sockaddr_un::sun_path) on Linux, with its terminating NUL.
inline constexpr size_t kMaxUnixPath = 108;

// Sentinels or cluster seed nodes one URL may name.
inline constexpr size_t kMaxSeeds = 64;

// Parses redis://, rediss://, unix://, redis[s]+sentinel:// and redis[s]+cluster:// URLs (see redlock.h); throws Error(Errc::invalid) with the reason.
ClientConfig parse_url(std::string_view url);

// Options that only make sense with one topology (sentinel credentials, a cluster's database): Error(invalid).
void check_topology(const ClientConfig &cfg);

// Shared validation of timeouts given in ms by the URL or the options: > 0 ms; negative or above
// REDLOCK_MAX_DURATION_MS = none; 0 invalid.
std::optional<Millis> timeout_from_ms(int64_t ms, const char *what);

}  // namespace redlock::core

#include "net/config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "base/error.hpp"

namespace redlock::core {

namespace {

// Messages never quote the URL: a password with an unescaped '/', '?' or '#' lands in the wrong component, so any
// quoted piece could be part of it. They name the component and the rule instead.
[[noreturn]] void bad_url(std::string_view why) { throw Error(Errc::invalid, fmt::format("invalid URL: {}", why)); }

template <typename Int>
Int parse_int(std::string_view s, Int lo, Int hi, const char *what) {
    Int v{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi)
        bad_url(fmt::format("{} must be an integer from {} to {}", what, lo, hi));
    return v;
}

// RFC 3986 scheme characters only, and short: safe to quote.
bool quotable_scheme(std::string_view s) {
    if (s.empty() || s.size() > 16 || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
    });
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
        int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
        if (hi < 0 || lo < 0) bad_url("bad percent-escape (expected %XX)");
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

constexpr std::string_view kQueryKeys = "db, connect_timeout, command_timeout (ms), socket_timeout, "
                                        "socket_connect_timeout (s), max_connections, keepalive, username, password, "
                                        "tls_ca_file, tls_ca_dir, tls_cert_file, tls_key_file, tls_server_name, "
                                        "tls_verify (0/1), and redis-py's ssl_ca_certs, ssl_ca_path, ssl_certfile, "
                                        "ssl_keyfile, ssl_cert_reqs (none/optional/required), and for redis+sentinel:// "
                                        "sentinel_username, sentinel_password";

// A timeout in float seconds (redis-py's URL keys): > 0, "inf" or beyond REDLOCK_MAX_DURATION_MS = no limit.
std::optional<Millis> seconds_limit(std::string_view s, const char *what) {
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !(v >= 0.001))
        bad_url(fmt::format("{} must be a number of seconds, at least 0.001", what));
    if (v * 1000 > static_cast<double>(kMaxDurationMs)) return std::nullopt;
    return Millis(static_cast<int64_t>(v * 1000));
}

void apply_query(ClientConfig &cfg, std::string_view query) {
    for (int index = 1; !query.empty(); ++index) {
        size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (pair.empty()) continue;
        size_t eq = pair.find('=');
        if (eq == std::string_view::npos) bad_url(fmt::format("query parameter {} has no '=value'", index));
        std::string_view key = pair.substr(0, eq);
        std::string value = percent_decode(pair.substr(eq + 1));
        constexpr auto i64max = std::numeric_limits<int64_t>::max(), i64min = std::numeric_limits<int64_t>::min();
        if (key == "db") {
            cfg.db = parse_int<int>(value, 0, std::numeric_limits<int>::max(), "db");
        } else if (key == "connect_timeout") {
            cfg.connect_timeout = timeout_from_ms(parse_int<int64_t>(value, i64min, i64max, "connect_timeout"),
                                                  "connect_timeout");
        } else if (key == "command_timeout") {
            cfg.command_timeout = timeout_from_ms(parse_int<int64_t>(value, i64min, i64max, "command_timeout"),
                                                  "command_timeout");
        } else if (key == "socket_timeout") {  // redis-py's names and unit (float seconds), for URLs written for it
            cfg.command_timeout = seconds_limit(value, "socket_timeout");
        } else if (key == "socket_connect_timeout") {
            cfg.connect_timeout = seconds_limit(value, "socket_connect_timeout");
        } else if (key == "max_connections") {
            cfg.max_connections = parse_int<unsigned>(value, 1, 4096, "max_connections");
        } else if (key == "keepalive") {
            cfg.keepalive_s = parse_int<int>(value, 0, kMaxKeepaliveS, "keepalive");
        } else if (key == "username") {
            cfg.username = value;
        } else if (key == "password") {
            cfg.password = value;
        } else if (key.substr(0, 4) == "tls_" && value.find('\0') != std::string::npos) {
            bad_url(fmt::format("{} contains a NUL byte", key == "tls_server_name" ? "tls_server_name" : "a TLS path"));
        } else if ((key.substr(0, 4) == "ssl_") && value.find('\0') != std::string::npos) {
            bad_url("a TLS path contains a NUL byte");
        } else if (key == "tls_ca_file" || key == "ssl_ca_certs") {
            cfg.tls_options.ca_file = value;
        } else if (key == "tls_ca_dir" || key == "ssl_ca_path") {
            cfg.tls_options.ca_dir = value;
        } else if (key == "tls_cert_file" || key == "ssl_certfile") {
            cfg.tls_options.cert_file = value;
        } else if (key == "tls_key_file" || key == "ssl_keyfile") {
            cfg.tls_options.key_file = value;
        } else if (key == "tls_server_name") {
            if (value.empty()) bad_url("tls_server_name is empty");
            cfg.tls_options.server_name = value;
        } else if (key == "sentinel_username") {
            cfg.sentinel_username = value;
        } else if (key == "sentinel_password") {
            cfg.sentinel_password = value;
        } else if (key == "tls_verify") {
            cfg.tls_options.verify = parse_int<int>(value, 0, 1, "tls_verify") == 1;
        } else if (key == "ssl_cert_reqs") {  // redis-py's: "none" turns verification off, as there
            if (value == "none" || value == "CERT_NONE") cfg.tls_options.verify = false;
            else if (value == "required" || value == "optional" || value == "CERT_REQUIRED" || value == "CERT_OPTIONAL")
                cfg.tls_options.verify = true;
            else bad_url("ssl_cert_reqs must be none, optional or required");
        } else {
            bad_url(fmt::format("unknown query parameter {} (the keys are: {})", index, kQueryKeys));
        }
    }
}

// Consumes "[user][:password]@" before the last '@' of `rest` into cfg; returns what follows it.
std::string_view take_credentials(ClientConfig &cfg, std::string_view rest, bool user_alone_ok) {
    size_t at = rest.rfind('@');
    if (at == std::string_view::npos) return rest;
    std::string_view cred = rest.substr(0, at);
    size_t colon = cred.find(':');
    if (colon == std::string_view::npos) {
        if (!user_alone_ok) bad_url("credentials must be written user:password@ or :password@");
        if (!cred.empty()) cfg.username = percent_decode(cred);
    } else {
        if (colon > 0) cfg.username = percent_decode(cred.substr(0, colon));
        cfg.password = percent_decode(cred.substr(colon + 1));
    }
    return rest.substr(at + 1);
}

// host[:port] where host may be [ipv6].
void parse_host_port(ClientConfig &cfg, std::string_view hp) {
    std::string_view port;
    if (!hp.empty() && hp.front() == '[') {
        size_t close = hp.find(']');
        if (close == std::string_view::npos) bad_url("unterminated '[' in host");
        cfg.host = std::string(hp.substr(1, close - 1));
        std::string_view rest = hp.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') bad_url("unexpected text after ']'");
            port = rest.substr(1);
            if (port.empty()) bad_url("empty port");
        }
    } else {
        size_t colon = hp.rfind(':');
        if (colon != std::string_view::npos) {
            if (hp.find(':') != colon) bad_url("IPv6 addresses must be written in brackets");
            port = hp.substr(colon + 1);
            if (port.empty()) bad_url("empty port");
            hp = hp.substr(0, colon);
        }
        cfg.host = std::string(hp);
    }
    if (cfg.host.empty()) bad_url("missing host");
    if (std::any_of(cfg.host.begin(), cfg.host.end(), [](char ch) { return static_cast<unsigned char>(ch) <= ' '; }))
        bad_url("the host contains a space or a control character");
    if (!port.empty()) cfg.port = parse_int<uint16_t>(port, 1, 65535, "port");
}

// host1[:port1][,host2[:port2]...] for the sentinels or cluster seeds.
std::vector<Endpoint> parse_endpoints(std::string_view list, uint16_t default_port) {
    std::vector<Endpoint> out;
    if (list.find_first_of("; \t") != std::string_view::npos)
        bad_url("hosts are separated by ',' alone (no ';', no spaces): host1:port1,host2:port2");
    for (;;) {
        const size_t comma = list.find(',');
        const std::string_view piece = list.substr(0, comma);
        if (!piece.empty() && piece.front() != '[' && std::count(piece.begin(), piece.end(), ':') == 2)
            bad_url("a host has one :port (hosts are separated by ','; IPv6 addresses go in brackets)");
        ClientConfig one;
        one.port = default_port;
        parse_host_port(one, piece);
        Endpoint e{one.host, one.port};
        if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(std::move(e));
        if (out.size() > kMaxSeeds) bad_url(fmt::format("more than {} hosts", kMaxSeeds));
        if (comma == std::string_view::npos) return out;
        list = list.substr(comma + 1);
    }
}

// "[user:pass@]host1[:port1][,host2...][/path]" after a topology's scheme: credentials and hosts into cfg; the path.
std::string_view take_hosts(ClientConfig &cfg, std::string_view rest, uint16_t default_port) {
    const size_t slash = rest.find('/');
    const std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    cfg.seeds = parse_endpoints(take_credentials(cfg, rest.substr(0, slash), false), default_port);
    return path;
}

ClientConfig parse_url_components(std::string_view url) {
    ClientConfig cfg;
    if (url.find('\0') != std::string_view::npos) bad_url("contains a NUL byte");
    std::string_view query;
    if (size_t q = url.find('?'); q != std::string_view::npos) {
        query = url.substr(q + 1);
        url = url.substr(0, q);
    }

    constexpr std::string_view redis = "redis://", unix_s = "unix://", rediss = "rediss://";
    constexpr std::string_view sentinel = "redis+sentinel://", sentinels = "rediss+sentinel://",
                               cluster = "redis+cluster://", clusters = "rediss+cluster://";
    // Schemes are case-insensitive (RFC 3986), as redis-py reads them.
    auto has_scheme = [&](std::string_view scheme) {
        return url.size() >= scheme.size() && std::equal(scheme.begin(), scheme.end(), url.begin(), [](char a, char b) {
                   return a == std::tolower(static_cast<unsigned char>(b));
               });
    };
    if (has_scheme(unix_s)) {
        cfg.kind = ClientConfig::Kind::unix_socket;
        std::string_view rest = url.substr(unix_s.size());
        rest = take_credentials(cfg, rest, true);  // unix://[user[:password]]@/path, as redis-py accepts
        if (rest.empty() || rest.front() != '/') bad_url("unix:// needs an absolute socket path, as unix:///path");
        cfg.path = percent_decode(rest);
        if (cfg.path.size() >= kMaxUnixPath)  // sun_path's size: said now rather than at the first connection
            bad_url(fmt::format("unix socket path is longer than {} bytes", kMaxUnixPath - 1));
    } else if (has_scheme(sentinel) || has_scheme(sentinels)) {
        // redis+sentinel://[user:pass@]host1[:port1][,host2[:port2]...]/service_name[/db]
        cfg.topology = ClientConfig::Topology::sentinel;
        cfg.tls = has_scheme(sentinels);
        const std::string_view path = take_hosts(cfg, url.substr(cfg.tls ? sentinels.size() : sentinel.size()), 26379);
        const size_t db_slash = path.find('/');
        cfg.service = percent_decode(path.substr(0, db_slash));
        if (cfg.service.empty())
            bad_url("redis+sentinel:// needs the master's service name: redis+sentinel://host:26379/service_name");
        if (db_slash != std::string_view::npos && db_slash + 1 < path.size())
            cfg.db = parse_int<int>(path.substr(db_slash + 1), 0, std::numeric_limits<int>::max(), "db");
        cfg.require_master = true;
    } else if (has_scheme(cluster) || has_scheme(clusters)) {
        // redis+cluster://[user:pass@]host1[:port1][,host2[:port2]...]
        cfg.topology = ClientConfig::Topology::cluster;
        cfg.tls = has_scheme(clusters);
        const std::string_view path = take_hosts(cfg, url.substr(cfg.tls ? clusters.size() : cluster.size()), 6379);
        if (!path.empty() && path != "0")
            bad_url(std::all_of(path.begin(), path.end(), [](char ch) { return ch >= '0' && ch <= '9'; })
                        ? "Redis Cluster has only database 0"
                        : "redis+cluster:// takes no path (no service name; database 0 only)");
    } else if (has_scheme(redis) || has_scheme(rediss)) {
        cfg.tls = has_scheme(rediss);
        std::string_view rest = url.substr(cfg.tls ? rediss.size() : redis.size());
        std::string_view path;
        if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
            path = rest.substr(slash + 1);
            rest = rest.substr(0, slash);
        }
        rest = take_credentials(cfg, rest, false);
        parse_host_port(cfg, rest);
        if (!path.empty()) cfg.db = parse_int<int>(path, 0, std::numeric_limits<int>::max(), "db");
    } else {
        size_t scheme = url.find("://");
        if (scheme == std::string_view::npos)
            bad_url("expected redis://host[:port][/db], rediss://host[:port][/db], unix:///path, "
                    "redis+sentinel://host[:port][,...]/service[/db] or redis+cluster://host[:port][,...]");
        if (!quotable_scheme(url.substr(0, scheme)))
            bad_url("unsupported scheme (expected redis://, rediss://, unix://, redis[s]+sentinel:// or "
                    "redis[s]+cluster://)");
        bad_url(fmt::format("unsupported scheme '{}' (expected redis://, rediss://, unix://, redis[s]+sentinel:// or "
                            "redis[s]+cluster://)",
                            url.substr(0, scheme)));
    }
    apply_query(cfg, query);
    if (cfg.tls_options.any() && !cfg.tls)
        bad_url(cfg.kind == ClientConfig::Kind::unix_socket
                    ? "TLS options on a unix socket: TLS over a unix socket is not supported (nor needed)"
                    : "TLS options need a rediss://, rediss+sentinel:// or rediss+cluster:// URL");
    check_topology(cfg);
    return cfg;
}

}  // namespace

void check_topology(const ClientConfig &cfg) {
    if ((cfg.sentinel_username || cfg.sentinel_password) && cfg.topology != ClientConfig::Topology::sentinel)
        throw Error(Errc::invalid, "sentinel_username/sentinel_password need a redis+sentinel:// URL");
    if (cfg.topology == ClientConfig::Topology::cluster && cfg.db != 0)
        throw Error(Errc::invalid, "Redis Cluster has only database 0");
}

std::optional<Millis> timeout_from_ms(int64_t ms, const char *what) {
    if (ms == 0) throw Error(Errc::invalid, fmt::format("{} must be > 0 ms, or negative for no limit", what));
    return wait_limit(ms);
}

ClientConfig parse_url(std::string_view url) {
    try {
        return parse_url_components(url);
    } catch (const Error &e) {
        // An '@' after the first '/', '?' or '#' past the scheme: most likely a password that needs percent-encoding.
        const size_t start = url.find("://") == std::string_view::npos ? 0 : url.find("://") + 3;
        const size_t delim = url.find_first_of("/?#", start);
        if (delim != std::string_view::npos && url.find('@', delim) != std::string_view::npos)
            throw Error(e.code(), fmt::format("{} (if the user name or password contains '/', '?', '#' or '@', "
                                              "percent-encode it: %2F, %3F, %23, %40)",
                                              e.what()));
        throw;
    }
}

std::string Endpoint::describe() const {
    if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

std::string ClientConfig::describe() const {
    if (kind == Kind::unix_socket) return path;
    return Endpoint{host, port}.describe();
}

ClientConfig ClientConfig::node(const Endpoint &e) const {
    ClientConfig out = *this;
    out.topology = Topology::single;
    out.seeds.clear();
    out.host = e.host;
    out.port = e.port;
    return out;
}

}  // namespace redlock::core

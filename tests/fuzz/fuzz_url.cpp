// The URL parser on arbitrary bytes: it either returns a usable config or throws Error(invalid) with a message of
// the parser's fixed grammar, which never quotes the URL (so never a piece of a password).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>
#include <string_view>

#include "net/config.hpp"
#include "base/error.hpp"

using namespace redlock::core;

namespace {

// Every message the parser can produce: fixed text, numbers, and a scheme made of scheme characters. A message
// outside this grammar could be quoting the URL, and so a password.
const std::regex kMessage(
    R"(^(invalid URL: )?()"
    R"(contains a NUL byte|expected redis://host\[:port\]\[/db\], rediss://host\[:port\]\[/db\], unix:///path, )"
    R"(redis\+sentinel://host\[:port\]\[,\.\.\.\]/service\[/db\] or redis\+cluster://host\[:port\]\[,\.\.\.\]|)"
    R"(unsupported scheme( '[A-Za-z][A-Za-z0-9+.-]{0,15}')? \(expected redis://, rediss://, unix://, )"
    R"(redis\[s\]\+sentinel:// or redis\[s\]\+cluster://\)|)"
    R"(tls_server_name is empty|ssl_cert_reqs must be none, optional or required|)"
    R"(TLS options need a rediss://, rediss\+sentinel:// or rediss\+cluster:// URL|)"
    R"(redis\+sentinel:// needs the master's service name: redis\+sentinel://host:26379/service_name|)"
    R"(Redis Cluster has only database 0|more than [0-9]+ hosts|)"
    R"(redis\+cluster:// takes no path \(no service name; database 0 only\)|)"
    R"(hosts are separated by ',' alone \(no ';', no spaces\): host1:port1,host2:port2|)"
    R"(a host has one :port \(hosts are separated by ','; IPv6 addresses go in brackets\)|)"
    R"(the host contains a space or a control character|)"
    R"(sentinel_username/sentinel_password need a redis\+sentinel:// URL|)"
    R"(tls_server_name contains a NUL byte|a TLS path contains a NUL byte|)"
    R"(TLS options on a unix socket: TLS over a unix socket is not supported \(nor needed\)|)"
    R"(unix:// needs an absolute socket path, as unix:///path|bad percent-escape \(expected %XX\)|)"
    R"(unix socket path is longer than [0-9]+ bytes|[a-z_]+ must be a number of seconds, at least 0\.001|)"
    R"(query parameter [0-9]+ has no '=value'|unknown query parameter [0-9]+ \(the keys are: [a-z0-9_, ()/'+:-]+\)|)"
    R"(credentials must be written user:password@ or :password@|unterminated '\[' in host|)"
    R"(unexpected text after '\]'|empty port|IPv6 addresses must be written in brackets|missing host|)"
    R"([a-z_]+ must be an integer from -?[0-9]+ to [0-9]+|[a-z_]+ must be > 0 ms, or negative for no limit)"
    R"()( \(if the user name or password contains '/', '\?', '#' or '@', percent-encode it: %2F, %3F, %23, %40\))?$)");

[[noreturn]] void fail(const char *what, std::string_view url, const std::string &msg) {
    std::fprintf(stderr, "%s\nurl: %.*s\nmessage: %s\n", what, static_cast<int>(url.size()), url.data(), msg.c_str());
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string_view url(reinterpret_cast<const char *>(data), size);
    try {
        ClientConfig cfg = parse_url(url);
        if (cfg.kind == ClientConfig::Kind::tcp ? cfg.host.empty() : cfg.path.empty())
            fail("parsed without a host or path", url, "");
        if (cfg.topology != ClientConfig::Topology::single && cfg.seeds.empty()) fail("a topology without hosts", url, "");
        if (cfg.topology == ClientConfig::Topology::sentinel && cfg.service.empty()) fail("no service name", url, "");
        if (cfg.seeds.size() > kMaxSeeds) fail("too many hosts", url, "");
        if (cfg.max_connections < 1 || cfg.max_connections > 4096) fail("max_connections out of range", url, "");
        (void)cfg.describe();
    } catch (const Error &e) {
        const std::string msg = e.what();
        if (e.code() != Errc::invalid) fail("not EINVAL", url, msg);
        if (!std::regex_match(msg, kMessage)) fail("a message outside the parser's fixed grammar", url, msg);
    }
    return 0;
}

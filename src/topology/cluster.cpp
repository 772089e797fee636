#include "topology/cluster.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <utility>

#include "base/error.hpp"
#include "base/fork_safety.hpp"
#include "base/text.hpp"
#include "net/connection.hpp"

namespace redlock::core {

namespace {

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), the one Redis Cluster uses.
constexpr std::array<uint16_t, 256> crc16_table() {
    std::array<uint16_t, 256> t{};
    for (unsigned i = 0; i < 256; ++i) {
        uint16_t c = static_cast<uint16_t>(i << 8);
        for (int b = 0; b < 8; ++b) c = static_cast<uint16_t>(c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1);
        t[i] = c;
    }
    return t;
}
constexpr std::array<uint16_t, 256> kCrc16 = crc16_table();

uint16_t crc16(std::string_view s) noexcept {
    uint16_t crc = 0;
    for (unsigned char ch : s) crc = static_cast<uint16_t>((crc << 8) ^ kCrc16[((crc >> 8) ^ ch) & 0xFF]);
    return crc;
}

Error unserved(unsigned slot) {
    return Error(Errc::connection,
                 fmt::format("no cluster node serves slot {} (the cluster is down or being reconfigured)", slot));
}

// CLUSTER SLOTS can be long: three integers and a node per replica for every range.
ReplyLimits slot_map_limits() {
    ReplyLimits l;
    l.max_elements = 1u << 20;  // 16384 one-slot ranges of a master and ~10 replicas fit; a hostile map stays bounded
    l.max_depth = 4;
    return l;
}

}  // namespace

unsigned key_slot(std::string_view key) noexcept {
    // Only the part between the first '{' and the first '}' after it is hashed, if that part is not empty.
    const size_t open = key.find('{');
    if (open != std::string_view::npos) {
        const size_t close = key.find('}', open + 1);
        if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
    }
    return crc16(key) & (kClusterSlots - 1);
}

ClusterRouter::ClusterRouter(ClientConfig cfg) : cfg_(std::move(cfg)), slots_(kClusterSlots, kNoNode) {}

std::shared_ptr<Pool> ClusterRouter::pool_for(const Endpoint &e, unsigned slot) {
    auto find_locked = [&]() -> std::shared_ptr<Pool> {
        for (size_t i = 0; i < nodes_.size(); ++i) {
            if (!(nodes_[i].addr == e)) continue;
            if (slot < kClusterSlots) slots_[slot] = static_cast<uint16_t>(i);
            return nodes_[i].pool;
        }
        return nullptr;
    };
    {
        std::lock_guard<std::mutex> lk(mu_);
        if (auto p = find_locked()) return p;
    }
    // Pools are made and dropped outside the mutex: they register with the fork guards, whose registry is locked
    // before any guarded mutex (this router's included).
    auto made = std::make_shared<Pool>(cfg_.node(e));
    std::lock_guard<std::mutex> lk(mu_);  // released before `made` goes, if another thread was first
    if (auto p = find_locked()) return p;
    if (nodes_.size() >= kNoNode) throw Error(Errc::server, "more cluster nodes than a client can route to");
    nodes_.push_back({e, made});
    if (slot < kClusterSlots) slots_[slot] = static_cast<uint16_t>(nodes_.size() - 1);
    return made;
}

Route ClusterRouter::route(std::string_view key, const Deadline &until) {
    const unsigned slot = key_slot(key);
    uint64_t seen;
    {
        std::lock_guard<std::mutex> lk(mu_);
        // A stale map is read again, but not more often than kMinRefreshGap: a node that keeps failing (or a slot
        // nobody serves) must not turn every command into a new connection and a CLUSTER SLOTS.
        const bool served = slots_[slot] != kNoNode;
        if (served && !stale_) return Route::of(nodes_[slots_[slot]].pool);
        const bool recent = Clock::now() < tried_at_ + kMinRefreshGap;  // a failed reading counts too
        if (served && recent) return Route::of(nodes_[slots_[slot]].pool);
        if (recent) throw unserved(slot);
        seen = generation_;
    }
    refresh(until, seen);
    std::lock_guard<std::mutex> lk(mu_);
    if (slots_[slot] == kNoNode) throw unserved(slot);
    return Route::of(nodes_[slots_[slot]].pool);
}

void ClusterRouter::refresh(const Deadline &until, uint64_t seen_generation) {
    std::optional<OneAtATime::Turn> turn;  // declared first: ends last, after any lock below
    std::vector<Endpoint> ask;
    {
        std::unique_lock<std::mutex> lk(mu_);
        refreshing_.wait(lk, until);
        if (generation_ != seen_generation && !stale_) return;  // another thread refreshed meanwhile
        turn.emplace(refreshing_);
        for (const Node &n : nodes_) ask.push_back(n.addr);
    }
    for (const Endpoint &s : cfg_.seeds)
        if (std::find(ask.begin(), ask.end(), s) == ask.end()) ask.push_back(s);
    {
        std::lock_guard<std::mutex> lk(mu_);
        tried_at_ = Clock::now();
        // The node that answered last is asked first; one whose map named a master that could not be reached goes
        // last (cut off from the cluster bus, it keeps a stale map).
        auto it = std::find(ask.begin(), ask.end(), answered_);
        if (it != ask.end()) std::rotate(ask.begin(), it, it + 1);
        it = std::find(ask.begin(), ask.end(), distrusted_);
        if (it != ask.end()) std::rotate(it, it + 1, ask.end());
    }

    Failures failures;
    for (size_t i = 0; i < ask.size(); ++i) {
        const Endpoint &e = ask[i];
        if (until.passed()) break;
        const Deadline mine = host_slice(until, ask.size() - i);  // a silent node leaves time for the next
        std::vector<std::pair<std::pair<unsigned, unsigned>, Endpoint>> ranges;
        try {
            Connection c(cfg_.node(e), current_pid(), Deadline::after(cfg_.connect_timeout).earlier(mine));
            c.set_reply_limits(slot_map_limits());
            Reply r = c.call({"CLUSTER", "SLOTS"}, Deadline::after(cfg_.command_timeout).earlier(mine),
                             type_bit(Reply::Type::array));
            if (r.is_error()) {
                if (r.str.find("cluster support disabled") != std::string::npos)
                    throw Error(Errc::invalid, fmt::format("{} is not a cluster node (cluster support disabled): use "
                                                           "redis://",
                                                           e.describe()));
                throw server_error(r.str, "CLUSTER SLOTS");
            }
            for (const Reply &range : r.elements) {
                const auto &el = range.elements;
                if (range.type != Reply::Type::array || el.size() < 3 || el[0].type != Reply::Type::integer ||
                    el[1].type != Reply::Type::integer || el[0].integer < 0 || el[1].integer < el[0].integer ||
                    el[1].integer >= kClusterSlots || el[2].type != Reply::Type::array || el[2].elements.size() < 2 ||
                    (el[2].elements[0].type != Reply::Type::string && !el[2].elements[0].is_nil()) ||
                    el[2].elements[1].type != Reply::Type::integer ||
                    el[2].elements[1].integer < 1 || el[2].elements[1].integer > 65535)
                    throw Error(Errc::server, "CLUSTER SLOTS: malformed reply");
                Endpoint master{el[2].elements[0].str, static_cast<uint16_t>(el[2].elements[1].integer)};
                // nil (cluster-preferred-endpoint-type unknown-endpoint), "" or "?" (unknown): the node we asked.
                if (master.host.empty() || master.host == "?") master.host = e.host;
                if (!valid_host(master.host)) throw Error(Errc::server, "CLUSTER SLOTS: a host that is not a host name");
                ranges.push_back({{static_cast<unsigned>(el[0].integer), static_cast<unsigned>(el[1].integer)},
                                  std::move(master)});
            }
        } catch (const Error &err) {
            if (err.code() == Errc::invalid) throw;
            failures.add(e.describe(), err);
            continue;
        }
        install(ranges, e);
        return;
    }
    throw Error(failures.code(), fmt::format("no cluster node answered CLUSTER SLOTS ({})",
                                             failures.empty() ? "out of time" : failures.text));
}

void ClusterRouter::install(const std::vector<std::pair<std::pair<unsigned, unsigned>, Endpoint>> &ranges,
                            const Endpoint &from) {
    // Built outside the mutex (pools are made there, see pool_for), in O(ranges log masters): a hostile map of many
    // ranges costs the asking thread, never the others.
    std::map<Endpoint, std::shared_ptr<Pool>> old;
    {
        std::lock_guard<std::mutex> lk(mu_);
        for (const Node &n : nodes_) old.emplace(n.addr, n.pool);
    }
    std::vector<Node> nodes;
    std::vector<uint16_t> slots(kClusterSlots, kNoNode);
    std::map<Endpoint, uint16_t> index;
    for (const auto &[range, master] : ranges) {
        auto [it, added] = index.emplace(master, static_cast<uint16_t>(nodes.size()));
        if (added) {
            if (nodes.size() >= kNoNode - 1) throw Error(Errc::server, "CLUSTER SLOTS names more masters than a client can route to");
            auto o = old.find(master);  // pools of masters that stay are kept, with their connections
            nodes.push_back({master, o != old.end() ? o->second : std::make_shared<Pool>(cfg_.node(master))});
        }
        std::fill(slots.begin() + range.first, slots.begin() + range.second + 1, it->second);
    }
    std::lock_guard<std::mutex> lk(mu_);
    nodes_.swap(nodes);  // the old ones go after the mutex (when `nodes` and `old` do)
    slots_.swap(slots);
    stale_ = false;
    ++generation_;
    answered_ = from;
}

bool ClusterRouter::parse_redirect(const std::string &error, size_t skip, const Route &from, unsigned &slot,
                                   Endpoint &to) const {
    // "<slot> <host>:<port>" after the word; the host may be an IPv6 address (the port follows the last ':').
    std::string_view rest = std::string_view(error).substr(skip);
    const size_t space = rest.find(' ');
    if (space == std::string_view::npos) return false;
    std::string_view s = rest.substr(0, space), addr = rest.substr(space + 1);
    const size_t colon = addr.rfind(':');
    if (colon == std::string_view::npos) return false;
    std::string_view p = addr.substr(colon + 1);
    unsigned port = 0;
    if (s.empty() || std::from_chars(s.data(), s.data() + s.size(), slot).ptr != s.data() + s.size() ||
        slot >= kClusterSlots ||
        std::from_chars(p.data(), p.data() + p.size(), port).ptr != p.data() + p.size() || port == 0 || port > 65535)
        return false;
    to.host = std::string(addr.substr(0, colon));
    if (to.host.size() > 2 && to.host.front() == '[' && to.host.back() == ']') to.host = to.host.substr(1, to.host.size() - 2);
    if (to.host.empty() || to.host == "?") to.host = from.pool->config().host;  // unknown: the replying node's
    to.port = static_cast<uint16_t>(port);
    return valid_host(to.host);
}

Router::Next ClusterRouter::redirected(const std::string &error, Route &r) {
    unsigned slot = 0;
    Endpoint to;
    if (starts_with(error, "MOVED ") && parse_redirect(error, 6, r, slot, to)) {
        (void)pool_for(to, slot);  // the slot's new owner, in the map
        return Next::reroute;
    }
    if (starts_with(error, "ASK ") && parse_redirect(error, 4, r, slot, to)) {
        r = Route::of(pool_for(to, kClusterSlots), true);  // this command only: the slot still belongs to the old owner
        return Next::follow;
    }
    if (starts_with(error, "TRYAGAIN") || starts_with(error, "LOADING") || starts_with(error, "MASTERDOWN")) return Next::wait;
    if (starts_with(error, "CLUSTERDOWN") || starts_with(error, "READONLY")) {
        suspect(r);
        return Next::wait;
    }
    return Next::answer;
}

bool ClusterRouter::unreachable(const Route &) {
    std::lock_guard<std::mutex> lk(mu_);
    stale_ = true;
    if (!(answered_ == Endpoint{})) distrusted_ = std::exchange(answered_, Endpoint{});
    return true;
}

void ClusterRouter::suspect(const Route &) {
    std::lock_guard<std::mutex> lk(mu_);
    stale_ = true;
}

ClientConfig ClusterRouter::subscriber_config(const Deadline &until) {
    // Classic PUBLISH reaches every node of a cluster: any master will do.
    return route({}, until).pool->config();
}

void ClusterRouter::ping(const Deadline &until) {
    uint64_t seen;
    {
        std::lock_guard<std::mutex> lk(mu_);
        stale_ = true;  // a check reads the map afresh
        seen = generation_;
    }
    refresh(until, seen);
    std::vector<Node> nodes;
    Failures problems;
    {
        std::lock_guard<std::mutex> lk(mu_);
        nodes = nodes_;
        for (unsigned s = 0; s < kClusterSlots; ++s) {
            if (slots_[s] != kNoNode) continue;
            unsigned e = s;
            while (e + 1 < kClusterSlots && slots_[e + 1] == kNoNode) ++e;
            problems.add({}, fmt::format("slots {}-{} are not served by any master", s, e), Errc::connection);
            s = e;
        }
    }
    for (const Node &n : nodes) {
        try {
            ping_node(*n.pool, until);
        } catch (const Error &e) {
            problems.add(n.addr.describe(), e);
        }
    }
    // Seeds that are not masters (replicas, or a typo that another seed hides): each should answer too.
    for (const Endpoint &seed : cfg_.seeds) {
        if (std::any_of(nodes.begin(), nodes.end(), [&](const Node &n) { return n.addr == seed; })) continue;
        try {
            Pool pool(cfg_.node(seed));
            ping_node(pool, until);
        } catch (const Error &e) {
            problems.add("seed " + seed.describe(), e);
        }
    }
    if (!problems.empty()) throw Error(problems.code(), fmt::format("Redis Cluster: {}", problems.text));
}

}  // namespace redlock::core

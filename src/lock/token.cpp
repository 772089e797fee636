#include "lock/token.hpp"

#include <sys/random.h>

#include <atomic>
#include <cerrno>
#include <unordered_map>

#include "base/error.hpp"

namespace redlock::core {

std::string random_token() {
    unsigned char raw[16];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = ::getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw Error(Errc::internal, "getrandom() failed");
        }
        got += static_cast<size_t>(n);
    }
    // Shaped as a random UUID (version 4, RFC 4122 variant; 122 random bits), so that `redlock status` can tell it
    // from redis-py's tokens, which are uuid1().hex (a time and a node).
    raw[6] = static_cast<unsigned char>((raw[6] & 0x0f) | 0x40);
    raw[8] = static_cast<unsigned char>((raw[8] & 0x3f) | 0x80);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(32, '\0');
    for (size_t i = 0; i < sizeof raw; ++i) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    return out;
}

uint64_t TokenStore::next_serial() noexcept {
    static std::atomic<uint64_t> serial{1};
    return serial.fetch_add(1, std::memory_order_relaxed);
}

// Old values leave the SHARED store after its mutex is released: ending a renewal may wait for its callback, which
// may read this store.

std::optional<Held> SharedTokenStore::held() const {
    std::lock_guard<std::mutex> lk(mu_);
    return held_;
}

void SharedTokenStore::set(Held settled) {
    std::optional<Held> old;
    std::lock_guard<std::mutex> lk(mu_);
    old = std::move(held_);
    settled.uncertain = false;
    settled.serial = next_serial();
    held_ = std::move(settled);
}

void SharedTokenStore::keep_uncertain(std::string token) {
    std::optional<Held> old;
    std::lock_guard<std::mutex> lk(mu_);
    if (held_ && !held_->uncertain) return;  // never over a settled token
    old = std::move(held_);
    held_ = Held{std::move(token), true, std::nullopt, nullptr, next_serial()};
}

std::optional<std::string> SharedTokenStore::take_uncertain() {
    std::lock_guard<std::mutex> lk(mu_);
    if (!held_ || !held_->uncertain) return std::nullopt;
    std::string token = std::move(held_->token);
    held_.reset();
    return token;
}

void SharedTokenStore::clear_if(uint64_t serial) {
    std::optional<Held> old;
    std::lock_guard<std::mutex> lk(mu_);
    if (held_ && held_->serial == serial) {
        old = std::move(held_);
        held_.reset();
    }
}

void SharedTokenStore::set_valid_until(uint64_t serial, Clock::time_point until, Clock::time_point from,
                                       Clock::time_point cap) {
    std::lock_guard<std::mutex> lk(mu_);
    if (held_ && held_->serial == serial) {
        held_->valid_until = until;
        held_->valid_from = from;
        held_->cap = std::min(held_->cap, cap);
    }
}

namespace {

std::atomic<uint64_t> g_next_store_id{1};
std::atomic<size_t> g_live_slots{0};

// The calling thread's tokens, by store id; destroyed (and uncounted) when the thread exits.
struct ThreadSlots {
    std::unordered_map<uint64_t, Held> by_store;
    ~ThreadSlots() { g_live_slots.fetch_sub(by_store.size(), std::memory_order_relaxed); }
};

ThreadSlots &thread_slots() {
    thread_local ThreadSlots slots;
    return slots;
}

}  // namespace

ThreadLocalTokenStore::ThreadLocalTokenStore() : id_(g_next_store_id.fetch_add(1, std::memory_order_relaxed)) {}

std::optional<Held> ThreadLocalTokenStore::held() const {
    auto &m = thread_slots().by_store;
    auto it = m.find(id_);
    if (it == m.end()) return std::nullopt;
    return it->second;
}

void ThreadLocalTokenStore::set(Held settled) {
    settled.uncertain = false;
    settled.serial = next_serial();
    auto [it, inserted] = thread_slots().by_store.insert_or_assign(id_, std::move(settled));
    (void)it;
    if (inserted) g_live_slots.fetch_add(1, std::memory_order_relaxed);
}

void ThreadLocalTokenStore::keep_uncertain(std::string token) {
    auto &m = thread_slots().by_store;
    auto it = m.find(id_);
    if (it == m.end()) {
        m.emplace(id_, Held{std::move(token), true, std::nullopt, nullptr, next_serial()});
        g_live_slots.fetch_add(1, std::memory_order_relaxed);
    } else if (it->second.uncertain) {
        it->second = Held{std::move(token), true, std::nullopt, nullptr, next_serial()};
    }
}

std::optional<std::string> ThreadLocalTokenStore::take_uncertain() {
    auto &m = thread_slots().by_store;
    auto it = m.find(id_);
    if (it == m.end() || !it->second.uncertain) return std::nullopt;
    std::string token = std::move(it->second.token);
    m.erase(it);
    g_live_slots.fetch_sub(1, std::memory_order_relaxed);
    return token;
}

void ThreadLocalTokenStore::clear_if(uint64_t serial) {
    auto &m = thread_slots().by_store;
    auto it = m.find(id_);
    if (it != m.end() && it->second.serial == serial) {
        m.erase(it);
        g_live_slots.fetch_sub(1, std::memory_order_relaxed);
    }
}

void ThreadLocalTokenStore::set_valid_until(uint64_t serial, Clock::time_point until, Clock::time_point from,
                                            Clock::time_point cap) {
    auto &m = thread_slots().by_store;
    auto it = m.find(id_);
    if (it != m.end() && it->second.serial == serial) {
        it->second.valid_until = until;
        it->second.valid_from = from;
        it->second.cap = std::min(it->second.cap, cap);
    }
}

size_t ThreadLocalTokenStore::live_slots() noexcept { return g_live_slots.load(std::memory_order_relaxed); }

}  // namespace redlock::core

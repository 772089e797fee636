// Lock tokens and where an owner keeps them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/clock.hpp"
#include "base/fork_safety.hpp"

namespace redlock::core {

// 128 bits from getrandom() as 32 lowercase hex characters. The kernel's generator, not a userspace PRNG, so a
// fork()ed child never repeats its parent's tokens.
std::string random_token();

// What keeps a held token renewed (auto_renew): the watchdog's ticket, seen from the lock.
class Renewal {
public:
    virtual ~Renewal() = default;  // ends the renewals
    // Renewals start once the token is stored: the owner's callback never runs before its acquire has returned.
    virtual void start() noexcept = 0;
    // Around a release: a renewal that finds the key gone then is the release's doing, not a lost lock.
    virtual void releasing(bool on) noexcept = 0;
    // When the last renewal that got through was sent (the TTL runs at least from there); nullopt once lost.
    virtual std::optional<Clock::time_point> confirmed() const noexcept = 0;
};

// An owner's token, and whether it is settled (the SET surely took) or uncertain: kept after a SET whose outcome was
// unknown, because that SET may still land (see Lock::try_set).
struct Held {
    std::string token;
    bool uncertain = false;
    std::optional<uint64_t> fence;  // the fencing token its acquire took (locks with `fencing`)
    std::shared_ptr<Renewal> renewal;  // lives exactly as long as the token is held (auto_renew)
    uint64_t serial = 0;            // set by the store, unique per storing: what clear_if names
    // Until when the owner can rely on it without renewals: acquire (or extend) sent + TTL − drift; max: no TTL.
    Clock::time_point valid_until = Clock::time_point::max();
    Clock::time_point valid_from{};  // when the command that set valid_until was sent
    // No validity past this for the rest of the hold: a TTL change whose outcome was unknown (it may still land,
    // shortening the TTL, even after later changes that succeeded on other connections).
    Clock::time_point cap = Clock::time_point::max();
};

// The token slot(s) of one lock handle.
class TokenStore {
public:
    virtual ~TokenStore() = default;
    // This owner's token, if it holds one.
    virtual std::optional<Held> held() const = 0;
    std::optional<std::string> get() const {
        std::optional<Held> h = held();
        if (!h) return std::nullopt;
        return std::move(h->token);
    }
    // A settled token (`uncertain` false, with its fence and renewal): replaces whatever this owner held.
    virtual void set(Held settled) = 0;
    // An uncertain token: stored only over nothing or another uncertain token, never over a settled one (on a SHARED
    // handle, another thread may hold the lock with it).
    virtual void keep_uncertain(std::string token) = 0;
    // Takes this owner's uncertain token out of the store, to retry it: on a SHARED handle only one thread at a time
    // can (the others get nullopt and a fresh token). nullopt too when it holds none, or a settled one.
    virtual std::optional<std::string> take_uncertain() = 0;
    // Clears what was stored as `serial`, if it is still there: never a token stored since, even an equal one.
    virtual void clear_if(uint64_t serial) = 0;
    // A new validity for what was stored as `serial` (after an extend sent at `from`), if it is still there; `cap`
    // lowers its cap (never raises it).
    virtual void set_valid_until(uint64_t serial, Clock::time_point until, Clock::time_point from,
                                 Clock::time_point cap = Clock::time_point::max()) = 0;

protected:
    static uint64_t next_serial() noexcept;
};

// REDLOCK_SHARED: one token for every thread using the handle.
class SharedTokenStore final : public TokenStore {
public:
    std::optional<Held> held() const override;
    void set(Held settled) override;
    void keep_uncertain(std::string token) override;
    std::optional<std::string> take_uncertain() override;
    void clear_if(uint64_t serial) override;
    void set_valid_until(uint64_t serial, Clock::time_point until, Clock::time_point from,
                         Clock::time_point cap) override;

private:
    mutable std::mutex mu_;
    std::optional<Held> held_;
    ForkGuard fork_guard_{mu_};  // after mu_
};

// REDLOCK_THREAD_LOCAL: one slot per (thread, handle), kept in the thread's own storage. Nothing is stored in the
// handle per thread, so short-lived threads cannot make it grow; a slot goes when its token is released or its
// thread exits. Handles are told apart by an id never reused, so a new handle cannot see a dead handle's slot.
class ThreadLocalTokenStore final : public TokenStore {
public:
    ThreadLocalTokenStore();
    std::optional<Held> held() const override;
    void set(Held settled) override;
    void keep_uncertain(std::string token) override;
    std::optional<std::string> take_uncertain() override;
    void clear_if(uint64_t serial) override;
    void set_valid_until(uint64_t serial, Clock::time_point until, Clock::time_point from,
                         Clock::time_point cap) override;

    // Slots alive in all threads of the process (for tests and leak checks).
    static size_t live_slots() noexcept;

private:
    const uint64_t id_;
};

}  // namespace redlock::core

// Lock tokens and where an owner keeps them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/fork_safety.hpp"

namespace redlock::core {

// 128 bits from getrandom() as 32 lowercase hex characters. The kernel's generator, not a userspace PRNG, so a
// fork()ed child never repeats its parent's tokens.
std::string random_token();

// An owner's token, and whether it is settled (the SET surely took) or uncertain: kept after a SET whose outcome was
// unknown, because that SET may still land (see Lock::try_set).
struct Held {
    std::string token;
    bool uncertain = false;
    std::optional<uint64_t> fence;  // the fencing token its acquire took (locks with `fencing`)
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
    // A settled token (and its fence): replaces whatever this owner held.
    virtual void set(std::string token, std::optional<uint64_t> fence) = 0;
    // An uncertain token: stored only over nothing or another uncertain token, never over a settled one (on a SHARED
    // handle, another thread may hold the lock with it).
    virtual void keep_uncertain(std::string token) = 0;
    // Clears this owner's token only if it is still `expected` (a SHARED handle may have been re-acquired meanwhile).
    virtual void clear_if(const std::string &expected) = 0;

protected:
    static void keep(std::optional<Held> &slot, std::string token) {
        if (!slot || slot->uncertain) slot = Held{std::move(token), true, std::nullopt};
    }
};

// REDLOCK_SHARED: one token for every thread using the handle.
class SharedTokenStore final : public TokenStore {
public:
    std::optional<Held> held() const override;
    void set(std::string token, std::optional<uint64_t> fence) override;
    void keep_uncertain(std::string token) override;
    void clear_if(const std::string &expected) override;

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
    void set(std::string token, std::optional<uint64_t> fence) override;
    void keep_uncertain(std::string token) override;
    void clear_if(const std::string &expected) override;

    // Slots alive in all threads of the process (for tests and leak checks).
    static size_t live_slots() noexcept;

private:
    const uint64_t id_;
};

}  // namespace redlock::core

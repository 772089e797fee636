// Lock tokens and where an owner keeps them.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace redlock::core {

// 128 bits from getrandom() as 32 lowercase hex characters. The kernel's generator, not a userspace PRNG, so a
// fork()ed child never repeats its parent's tokens.
std::string random_token();

// The token slot(s) of one lock handle.
class TokenStore {
public:
    virtual ~TokenStore() = default;
    // This owner's token, if it holds one.
    virtual std::optional<std::string> get() const = 0;
    virtual void set(std::string token) = 0;
    // Clears this owner's token only if it is still `expected` (a SHARED handle may have been re-acquired meanwhile).
    virtual void clear_if(const std::string &expected) = 0;
};

// REDLOCK_SHARED: one token for every thread using the handle.
class SharedTokenStore final : public TokenStore {
public:
    std::optional<std::string> get() const override;
    void set(std::string token) override;
    void clear_if(const std::string &expected) override;

private:
    mutable std::mutex mu_;
    std::optional<std::string> token_;
};

// REDLOCK_THREAD_LOCAL: one slot per (thread, handle), kept in the thread's own storage. Nothing is stored in the
// handle per thread, so short-lived threads cannot make it grow; a slot goes when its token is released or its
// thread exits. Handles are told apart by an id never reused, so a new handle cannot see a dead handle's slot.
class ThreadLocalTokenStore final : public TokenStore {
public:
    ThreadLocalTokenStore();
    std::optional<std::string> get() const override;
    void set(std::string token) override;
    void clear_if(const std::string &expected) override;

    // Slots alive in all threads of the process (for tests and leak checks).
    static size_t live_slots() noexcept;

private:
    const uint64_t id_;
};

}  // namespace redlock::core

// fork() while other threads use the library: a child inherits every mutex in the state it had, and one held by a
// thread that does not exist in the child would stay locked forever. Each mutex the core owns has a ForkGuard:
// pthread_atfork handlers take every guarded mutex before fork() and release them after it, in both processes, and
// give the child a fresh condition variable where one is guarded (its count of waiters is of threads it lacks).
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <mutex>

namespace redlock::core {

// Declare it after the mutex (and condition variable) it guards: it registers once they exist and unregisters
// before they are destroyed. No virtual calls: a fork() in the middle of a constructor finds nothing half-built.
class ForkGuard {
public:
    explicit ForkGuard(std::mutex &mu, std::condition_variable *cv = nullptr);
    ~ForkGuard();
    ForkGuard(const ForkGuard &) = delete;
    ForkGuard &operator=(const ForkGuard &) = delete;

private:
    friend struct ForkRegistry;
    std::mutex &mu_;
    std::condition_variable *cv_;
    ForkGuard *prev_ = nullptr, *next_ = nullptr;
};

// This process's id without a system call (getpid() is one, on every command otherwise): kept by an atfork child
// handler registered when the library loads. A child made without fork() (a raw clone()) is not seen.
pid_t current_pid() noexcept;

}  // namespace redlock::core

// fork() while other threads use the library: a child inherits every mutex in the state it had, and one held by a
// thread that does not exist in the child would stay locked forever. Objects that own a mutex register here;
// pthread_atfork handlers take every registered mutex before fork() and release them after it, in both processes,
// and let the child reset what else it inherited (a condition variable's count of waiters that are not there).
#pragma once

namespace redlock::core {

class ForkParticipant {
public:
    ForkParticipant();  // registers (and installs the handlers on first use)
    virtual ~ForkParticipant();
    ForkParticipant(const ForkParticipant &) = delete;
    ForkParticipant &operator=(const ForkParticipant &) = delete;

    virtual void before_fork() noexcept = 0;           // lock
    virtual void after_fork_parent() noexcept = 0;     // unlock
    virtual void after_fork_child() noexcept = 0;      // unlock, reset what the child cannot use

private:
    friend struct ForkRegistry;
    ForkParticipant *prev_ = nullptr, *next_ = nullptr;
};

}  // namespace redlock::core

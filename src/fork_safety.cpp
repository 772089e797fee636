#include "fork_safety.hpp"

#include <pthread.h>

#include <mutex>

namespace redlock::core {

// An intrusive list (registering never allocates) behind one mutex, which is itself held across fork().
struct ForkRegistry {
    std::mutex mu;
    ForkParticipant *head = nullptr;

    static ForkRegistry &get() {
        static ForkRegistry *r = new ForkRegistry;  // never destroyed: handlers may run during exit
        return *r;
    }
    static void prepare() noexcept {
        ForkRegistry &r = get();
        r.mu.lock();
        for (ForkParticipant *p = r.head; p; p = p->next_) p->before_fork();
    }
    static void parent() noexcept {
        ForkRegistry &r = get();
        for (ForkParticipant *p = r.head; p; p = p->next_) p->after_fork_parent();
        r.mu.unlock();
    }
    static void child() noexcept {
        ForkRegistry &r = get();
        for (ForkParticipant *p = r.head; p; p = p->next_) p->after_fork_child();
        r.mu.unlock();
    }
};

ForkParticipant::ForkParticipant() {
    static std::once_flag installed;
    std::call_once(installed, [] { ::pthread_atfork(ForkRegistry::prepare, ForkRegistry::parent, ForkRegistry::child); });
    ForkRegistry &r = ForkRegistry::get();
    std::lock_guard<std::mutex> lk(r.mu);
    next_ = r.head;
    if (r.head) r.head->prev_ = this;
    r.head = this;
}

ForkParticipant::~ForkParticipant() {
    ForkRegistry &r = ForkRegistry::get();
    std::lock_guard<std::mutex> lk(r.mu);
    if (prev_) prev_->next_ = next_;
    else r.head = next_;
    if (next_) next_->prev_ = prev_;
}

}  // namespace redlock::core

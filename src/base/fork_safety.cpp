#include "base/fork_safety.hpp"

#include <unistd.h>

#include <pthread.h>

#include <atomic>
#include <new>

namespace redlock::core {

// An intrusive list (registering never allocates) behind one mutex, which is itself held across fork().
struct ForkRegistry {
    std::mutex mu;
    ForkGuard *head = nullptr;

    static ForkRegistry &get() {
        static ForkRegistry *r = new ForkRegistry;  // never destroyed: handlers may run during exit
        return *r;
    }
    static void prepare() noexcept {
        ForkRegistry &r = get();
        r.mu.lock();
        for (ForkGuard *g = r.head; g; g = g->next_) g->mu_.lock();
    }
    static void parent() noexcept {
        ForkRegistry &r = get();
        for (ForkGuard *g = r.head; g; g = g->next_) g->mu_.unlock();
        r.mu.unlock();
    }
    static void child() noexcept {
        ForkRegistry &r = get();
        for (ForkGuard *g = r.head; g; g = g->next_) {
            g->mu_.unlock();
            if (g->cv_) new (g->cv_) std::condition_variable();  // the old one's waiters are not in this process
        }
        r.mu.unlock();
    }
};

ForkGuard::ForkGuard(std::mutex &mu, std::condition_variable *cv) : mu_(mu), cv_(cv) {
    static std::once_flag installed;
    std::call_once(installed, [] { ::pthread_atfork(ForkRegistry::prepare, ForkRegistry::parent, ForkRegistry::child); });
    ForkRegistry &r = ForkRegistry::get();
    std::lock_guard<std::mutex> lk(r.mu);
    next_ = r.head;
    if (r.head) r.head->prev_ = this;
    r.head = this;
}

ForkGuard::~ForkGuard() {
    ForkRegistry &r = ForkRegistry::get();
    std::lock_guard<std::mutex> lk(r.mu);
    if (prev_) prev_->next_ = next_;
    else r.head = next_;
    if (next_) next_->prev_ = prev_;
}

namespace {
std::atomic<pid_t> g_pid{0};
void remember_pid() noexcept { g_pid.store(::getpid(), std::memory_order_relaxed); }
// At load time, before any ForkGuard handler exists: child handlers run in the order they were registered, so every
// later handler already sees the child's pid.
const bool g_pid_tracked = (remember_pid(), ::pthread_atfork(nullptr, nullptr, remember_pid) == 0);
}  // namespace

pid_t current_pid() noexcept {
    pid_t p = g_pid.load(std::memory_order_relaxed);
    if (p == 0) {  // before static initialisation finished (a constructor of another library calling in)
        p = ::getpid();
        (void)g_pid_tracked;
    }
    return p;
}

}  // namespace redlock::core

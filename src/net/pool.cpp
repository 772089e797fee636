#include "net/pool.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include <optional>

#include "base/error.hpp"

namespace redlock::core {

Pool::Pool(ClientConfig cfg) : cfg_(std::move(cfg)), pid_(current_pid()) {
    idle_.reserve(cfg_.max_connections);  // give_back() must not allocate
}

void Pool::forget_after_fork() {
    // Sockets inherited from the parent are closed without a word on them: the parent still uses them.
    idle_.clear();
    open_ = 0;
    pid_ = current_pid();
}

std::unique_ptr<Connection> Pool::take_idle(std::unique_lock<std::mutex> &lk) {
    // Every reuse is probed (one non-blocking peek, outside the mutex): a closed socket (server restart) is noticed
    // before a lock command is sent on it, and bytes nobody asked for (a late second reply) can never be read as the
    // answer to the next command.
    // A connection that owes replies first: the command it gets (a release, say) then runs after the one given up
    // on there (the SET it undoes), which no other connection can promise.
    for (size_t i = idle_.size(); i-- > 0;)
        if (idle_[i]->owes()) {
            std::swap(idle_[i], idle_.back());
            break;
        }
    while (!idle_.empty()) {
        std::unique_ptr<Connection> c = std::move(idle_.back());
        idle_.pop_back();
        lk.unlock();
        const bool dead = c->looks_dead();
        if (!dead) return c;
        c.reset();
        lk.lock();
        --open_;
    }
    return nullptr;
}

std::optional<Pool::Lease> Pool::lease_idle() {
    std::unique_lock<std::mutex> lk(mu_);
    if (pid_ != current_pid()) forget_after_fork();
    if (std::unique_ptr<Connection> c = take_idle(lk)) return Lease(this, std::move(c));
    return std::nullopt;
}

std::optional<Pool::Lease> Pool::wait_idle(const Deadline &until) {
    std::unique_lock<std::mutex> lk(mu_);
    if (pid_ != current_pid()) forget_after_fork();
    for (;;) {
        if (std::unique_ptr<Connection> c = take_idle(lk)) return Lease(this, std::move(c));
        if (open_ < cfg_.max_connections) return std::nullopt;
        if (until.passed())
            throw PoolBusy(Errc::timed_out, fmt::format("all {} connections to {} stayed busy", cfg_.max_connections,
                                                        cfg_.describe()));
        if (auto rem = until.remaining()) cv_.wait_for(lk, *rem);
        else cv_.wait(lk);
    }
}

bool Pool::has_room() {
    std::lock_guard<std::mutex> lk(mu_);
    return pid_ != current_pid() || open_ < cfg_.max_connections;
}

Pool::Lease Pool::lease(bool fresh, const Deadline &cap) {
    std::unique_lock<std::mutex> lk(mu_);
    if (pid_ != current_pid()) forget_after_fork();  // no system call: the pid is kept by an atfork handler
    std::optional<Deadline> wait;                 // set when we first have to wait for a connection
    for (;;) {
        if (!fresh) {
            if (std::unique_ptr<Connection> c = take_idle(lk)) return Lease(this, std::move(c));
        } else if (open_ >= cfg_.max_connections && !idle_.empty()) {
            idle_.pop_back();  // make room for the fresh one
            --open_;
        }
        if (open_ < cfg_.max_connections) break;
        if (!wait) wait = Deadline::after(cfg_.connect_timeout).earlier(cap);
        if (wait->passed())
            throw PoolBusy(Errc::timed_out, fmt::format("all {} connections to {} stayed busy for the connect timeout",
                                                     cfg_.max_connections, cfg_.describe()));
        if (auto rem = wait->remaining()) cv_.wait_for(lk, *rem);
        else cv_.wait(lk);
    }
    ++open_;
    lk.unlock();
    try {
        return Lease(this, std::make_unique<Connection>(cfg_, pid_, Deadline::after(cfg_.connect_timeout).earlier(cap)));
    } catch (...) {
        lk.lock();
        --open_;
        cv_.notify_one();
        throw;
    }
}

Reply read_on(Pool &pool, Argv argv, unsigned accept, bool asking, const Deadline &cap) {
    auto deadline = [&] { return Deadline::after(pool.config().command_timeout).earlier(cap); };
    try {
        Pool::Lease c = pool.lease(false, cap);
        return c->call(argv, deadline(), accept, asking);
    } catch (const OutcomeUnknown &e) {
        if (e.code() != Errc::connection) throw;
        Pool::Lease c = pool.lease(true, cap);
        return c->call(argv, deadline(), accept, asking);
    }
}

void Pool::give_back(std::unique_ptr<Connection> conn) noexcept {
    std::lock_guard<std::mutex> lk(mu_);
    if (conn->owner_pid() != pid_) return;  // opened before a fork, by the parent: just close it
    if (conn->broken()) {
        --open_;
    } else {
        idle_.push_back(std::move(conn));
    }
    cv_.notify_one();
}

}  // namespace redlock::core

#include "lock/lock.hpp"

#include "background/waiters.hpp"
#include "background/watchdog.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <random>
#include <thread>

#include "net/connection.hpp"
#include "base/error.hpp"
#include "base/text.hpp"
#include "quorum/quorum.hpp"

namespace redlock::core {

namespace {

// Lock names can be huge or binary: messages show a bounded, printable prefix.

constexpr std::string_view kKeptAfterUnknownSet =
    "the token is kept: call release() to clean up (ENOTOWNED if the SET never landed)";

// The context is only formatted on failure: this runs on every release. (The reply is an integer or an error: the
// connection refuses any other type.)
void check_script_reply(const Reply &r, const char *verb, std::string_view name) {
    if (r.is_error()) throw server_error(r.str, fmt::format("{} of '{}'", verb, shown(name)));
}

}  // namespace

Lock::Lock(std::shared_ptr<Client> client, std::string name, LockOptions opts, TokenScope scope)
    : client_(std::move(client)),
      name_(std::move(name)),
      opts_(opts),
      scope_(scope) {
    if (name_.empty()) throw Error(Errc::invalid, "lock name is empty");
    if (name_.size() > kMaxNameLen)
        throw Error(Errc::invalid, fmt::format("lock name is {} bytes; the limit is {}", name_.size(), kMaxNameLen));
    if (opts_.ttl) checked_duration(opts_.ttl->count(), "timeout_ms (the TTL; 0 = none)", 1);
    checked_duration(opts_.sleep.count(), "sleep_ms");
    if (opts_.auto_renew && !opts_.ttl) throw Error(Errc::invalid, "auto_renew needs a TTL (timeout_ms > 0)");
    if (client_->quorum()) {
        if (!opts_.ttl)
            throw Error(Errc::invalid, "a lock on a quorum client needs a TTL (timeout_ms > 0): Redlock's safety rests "
                                       "on keys that expire on every master");
        if (*opts_.ttl <= drift_for(*opts_.ttl))
            throw Error(Errc::invalid, fmt::format("timeout_ms {} is within the clock drift allowance (TTL/100 + 2 ms): "
                                                   "no time would be left to hold the lock",
                                                   opts_.ttl->count()));
        if (opts_.fencing)
            throw Error(Errc::invalid, "fencing is not available on a quorum client: each master would count its own "
                                       "fences, and no single counter orders the owners (docs/redlock.md)");
        if (opts_.fair)
            throw Error(Errc::invalid, "fair is not available on a quorum client: its waiters' queue lives on one server");
    }
    if (opts_.fair) {
        std::optional<std::string> queue = fair_key(name_, "queue"), alive = fair_key(name_, "alive");
        if (!queue || !alive)
            throw Error(Errc::invalid, fmt::format("fair needs a name whose Redis Cluster slot its queue keys can share: "
                                                   "no braces, or a hash tag such as '{{{}}}'",
                                                   shown(name_)));
        keys_ = std::make_unique<Companions>();
        keys_->queue_key = std::move(*queue);
        keys_->alive_key = std::move(*alive);
        // A waiter comes back at least every kFairGap (or at its sleep, if shorter), each attempt taking up to a
        // command timeout: twice the gap, a command timeout and a second more, and it is dropped from the queue
        // only when it has surely stopped (its process gone), not because the server stalled for a while.
        const auto &cmd = client_->config().command_timeout;
        const Millis attempt = cmd ? std::min(*cmd, Millis(30000)) : Millis(30000);
        keys_->alive_ms = std::to_string(2 * std::min(opts_.sleep, kFairGap).count() + attempt.count() + 1000);
    }
    if (opts_.fencing) {
        std::optional<std::string> key = fence_key_for(name_);
        if (!key)
            throw Error(Errc::invalid, fmt::format("fencing needs a name whose Redis Cluster slot a companion key can "
                                                   "share: no braces, or a hash tag such as '{{{}}}'",
                                                   shown(name_)));
        if (!keys_) keys_ = std::make_unique<Companions>();
        keys_->fence_key = std::move(*key);
    }
    if (scope == TokenScope::shared) tokens_ = std::make_unique<SharedTokenStore>();
    else tokens_ = std::make_unique<ThreadLocalTokenStore>();
}

Lock::~Lock() {
    // Tokens of THREAD_LOCAL owners live in their threads' storage and outlive the handle: its renewals end here.
    if (opts_.auto_renew) client_->watchdog().forget(id());
}

KeyValue Lock::value_after(const OutcomeUnknown &lost, const char *verb, std::string_view advice,
                           const std::string *keep) {
    try {
        return client_->get_on_fresh_connection(name_);
    } catch (const Error &check) {
        if (keep) tokens_->keep_uncertain(*keep);
        // The same failure twice (a server that closes every new connection: a TLS port reached with redis://, a
        // missing client certificate) is said once.
        const bool same = std::string_view(check.what()) == std::string_view(lost.what());
        throw Error(lost.code(), fmt::format("{} of '{}': {}; the outcome could not be checked ({}){}{}", verb,
                                             shown(name_), lost.what(),
                                             same ? "a new connection failed the same way" : check.what(),
                                             advice.empty() ? "" : "; ", advice));
    }
}

bool Lock::try_set(const std::string &token, bool may_have_landed, bool retry, bool queue_up,
                   std::optional<uint64_t> &fence, std::optional<int64_t> &pttl, Clock::time_point &valid_until) {
    if (Quorum *q = client_->quorum()) return q->acquire(name_, token, *opts_.ttl, valid_until);
    const std::string px = ttl_ms();
    Reply r;
    try {
        if (opts_.fair && opts_.fencing)  // the same script, with the fence counter as a fourth key
            r = client_->script(kFairAcquireScript, {name_, keys_->queue_key, keys_->alive_key, keys_->fence_key},
                                {token, px, queue_up ? "1" : "0", keys_->alive_ms},
                                expect::integer | type_bit(Reply::Type::array));
        else if (opts_.fair)
            r = client_->script(kFairAcquireScript, {name_, keys_->queue_key, keys_->alive_key},
                                {token, px, queue_up ? "1" : "0", keys_->alive_ms},
                                expect::integer | expect::status | expect::status_ok_only);
        else if (opts_.fencing)
            r = client_->script(kFencedAcquireScript, {name_, keys_->fence_key}, {token, px},
                                expect::integer | type_bit(Reply::Type::array));
        else if (retry)  // the first attempt is the plain SET; a waiter's retries also learn the holder's PTTL
            r = client_->script(kAcquireOrPttlScript, {name_}, {token, px},
                                expect::integer | expect::status | expect::status_ok_only);
        else
            r = opts_.ttl ? client_->write({"SET", name_, token, "NX", "PX", px}, expect::ok_or_nil)
                          : client_->write({"SET", name_, token, "NX"}, expect::ok_or_nil);
    } catch (const OutcomeUnknown &e) {
        // The SET may have run: ask rather than guess or resend it. Not finding our token proves nothing: the SET
        // may still be on its way (a retransmitted segment lands after our GET) and would then hold the key for
        // nobody. So unless the token is proven ours, it is kept: release() is a compare-and-delete, which cleans
        // up a late SET and is harmless (ENOTOWNED) if the SET never lands, and the next acquire retries with it.
        if (value_after(e, "acquire", kKeptAfterUnknownSet, &token).holds(token)) return settle_found(token, fence);
        tokens_->keep_uncertain(token);
        throw Error(e.code(), fmt::format("acquire of '{}': {}; not held by this owner when checked on a new "
                                          "connection, but the SET may still land: {}",
                                          shown(name_), e.what(), kKeptAfterUnknownSet));
    }
    if (r.is_error()) throw server_error(r.str, fmt::format("acquire of '{}'", shown(name_)));
    if (opts_.fencing && r.type == Reply::Type::integer) {  // the fenced script took it
        if (r.integer <= 0) throw Error(Errc::server, fmt::format("acquire of '{}': the fence counter is not a "
                                                                  "positive integer", shown(name_)));
        fence = static_cast<uint64_t>(r.integer);
        return true;
    }
    if (r.is_status("OK")) return true;
    // Busy: nil (SET), the PTTL (retry script), or {PTTL} (fenced script).
    if (r.type == Reply::Type::integer) pttl = r.integer;
    else if (r.type == Reply::Type::array && r.elements.size() == 1 && r.elements[0].type == Reply::Type::integer)
        pttl = r.elements[0].integer;
    // Retrying with a kept token, the key may hold that very token: its late SET has landed.
    if (!may_have_landed || !client_->get(name_).holds(token)) return false;
    return settle_found(token, fence);
}

bool Lock::settle_found(const std::string &token, std::optional<uint64_t> &fence) {
    // The key holds our token, set by a SET whose reply never came: its TTL started when it landed, possibly long
    // ago. Restart it, so the owner (and its renewals) can count from now, as after any acquire.
    if (opts_.ttl) {
        Reply r = client_->script(kReacquireScript, {name_}, {token, ttl_ms()});
        if (r.is_error()) throw server_error(r.str, fmt::format("acquire of '{}'", shown(name_)));
        if (r.integer != 1) return false;  // it expired in between: not held after all
    }
    if (opts_.fencing) fence = read_fence();
    return true;
}

uint64_t Lock::read_fence() {
    // Only a successful acquire increments the counter, and this owner holds the lock: the value is its fence.
    KeyValue v = client_->get(keys_->fence_key);
    uint64_t out = 0;
    const std::string &s = v.value ? *v.value : std::string();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || out == 0)
        throw Error(Errc::server, fmt::format("acquire of '{}': held, but its fence counter '{}' is missing or not a "
                                              "number (was it deleted?)",
                                              shown(name_), shown(keys_->fence_key)));
    return out;
}

uint64_t Lock::fence() const {
    if (!opts_.fencing) throw Error(Errc::invalid, "this lock was created without fencing");
    std::optional<Held> held = tokens_->held();
    if (!held || !held->fence) throw Error(Errc::not_held, "this owner holds no token (so no fence)");
    return *held->fence;
}

std::optional<std::string> companion_key(std::string_view name, std::string_view suffix) {
    const std::string tail = ":" + std::string(suffix);
    const size_t open = name.find('{');
    if (open != std::string_view::npos) {
        const size_t close = name.find('}', open + 1);
        if (close != std::string_view::npos && close > open + 1) return std::string(name) + tail;  // own tag
        return std::nullopt;  // braces that are not a tag: the whole name is hashed, and no suffix keeps that
    }
    if (name.find('}') != std::string_view::npos) return std::nullopt;
    return "{" + std::string(name) + "}" + tail;
}

std::optional<std::string> fence_key_for(std::string_view name) { return companion_key(name, "fence"); }

std::optional<std::string> fair_key(std::string_view name, std::string_view suffix) {
    std::optional<std::string> key = companion_key(name, suffix);
    // "foo" gives "{foo}:queue", so a name with a tag of its own takes "::" ("{foo}" gives "{foo}::queue"): the two
    // forms end differently and never meet. (The fence key, released before, keeps its single ':'; two names sharing
    // a fence counter still get strictly increasing fences each.)
    if (key && name.find('{') != std::string_view::npos) key->insert(name.size(), ":");
    return key;
}

bool Lock::acquire(const AcquireArgs &args) {
    if (client_->quorum()) forget_outcomes();
    const bool blocking = args.blocking.value_or(opts_.blocking);
    const Millis sleep = args.sleep.value_or(opts_.sleep);
    std::optional<Millis> blocking_timeout = args.blocking_timeout.value_or(opts_.blocking_timeout);
    if (blocking_timeout && blocking_timeout->count() > kMaxDurationMs) blocking_timeout.reset();  // forever
    checked_duration(sleep.count(), "sleep_ms");
    if (args.token) {
        if (args.token->empty()) throw Error(Errc::invalid, "token is empty");
        if (args.token->size() > kMaxTokenLen)
            throw Error(Errc::invalid, fmt::format("token is {} bytes; the limit is {}", args.token->size(), kMaxTokenLen));
    }
    if (args.leave_queue) {
        if (!args.token) throw Error(Errc::invalid, "REDLOCK_ACQ_LEAVE_QUEUE needs the token that waited");
        if (opts_.fair) leave_queue(*args.token);
        return false;
    }
    // A token kept after an unknown outcome is retried, not replaced: its SET may land at any time, and only this
    // token can then release it. It is taken out of the store for the retry, so on a SHARED handle one thread at a
    // time retries it (the others use fresh tokens); unless the retry wins, it goes back. A caller's token replaces it.
    std::optional<std::string> kept = args.token ? std::nullopt : tokens_->take_uncertain();
    const bool retry_kept = kept.has_value();
    std::string token = args.token ? *args.token : retry_kept ? std::move(*kept) : random_token();
    struct PutBack {
        TokenStore &store;
        const std::string &token;
        bool armed;
        ~PutBack() {
            if (armed) store.keep_uncertain(token);
        }
    } put_back{*tokens_, token, retry_kept};

    // As redis-py: the deadline is fixed before the first attempt, which is immediate; `sleep` is the longest gap
    // between attempts, and no wait goes past the deadline. Waits end sooner when the holder's key expires (its PTTL
    // comes with each retry) or when a libredlock owner releases it (the release publishes; see Waiters).
    const Clock::time_point give_up_at = blocking_timeout ? Clock::now() + *blocking_timeout : Clock::time_point::max();
    std::unique_ptr<Waiters::Watch> watch;
    // A channel still subscribed from an earlier wait (acquire called in a loop) is marked before the first attempt,
    // so a wait can start without the extra attempt a fresh subscription needs.
    std::optional<Waiters::Mark> mark;
    if (blocking && client_->has_waiters()) mark = client_->waiters().mark(name_);
    bool retry = false;
    // Fair mode: a blocking acquire joins the queue at its first busy attempt, comes back at least every kFairGap
    // (each attempt is also its heartbeat), and leaves the queue if it gives up.
    const bool queue_up = opts_.fair && blocking && give_up_at > Clock::now();
    const Millis gap = opts_.fair ? std::min(sleep, kFairGap) : sleep;
    struct LeaveQueue {
        Lock &lock;
        const std::string &token;
        bool armed;
        ~LeaveQueue() {
            if (armed) lock.leave_queue(token);
        }
    } leave{*this, token, false};
    for (;;) {
        uint64_t seen = watch ? watch->seen() : 0;  // before the attempt: a release after it is a change
        std::optional<uint64_t> fence;
        std::optional<int64_t> pttl;
        leave.armed = queue_up && !args.stay_queued;
        const auto sent = Clock::now();  // the TTL starts after this: its earliest end is counted from here
        Clock::time_point valid_until = opts_.ttl ? sent + *opts_.ttl - drift_for(*opts_.ttl) : Clock::time_point::max();
        if (try_set(token, retry_kept, retry, queue_up, fence, pttl, valid_until)) {
            leave.armed = false;
            std::shared_ptr<Renewal> renewal;
            if (opts_.auto_renew)
                renewal = client_->watchdog().renew(id(), name_, token, *opts_.ttl, sent,
                                                    opts_.on_lost ? *opts_.on_lost : Watchdog::LostFn());
            put_back.armed = false;
            tokens_->set(Held{std::move(token), false, fence, renewal, 0, valid_until, sent});
            if (renewal) renewal->start();  // now that the token is stored: a callback never comes before this
            return true;
        }
        if (!blocking) return false;
        retry = true;
        // A quorum attempt that failed sent its clean-up (compare-and-delete on its token) to masters that may hold
        // it, possibly on connections behind a late SET: a delayed clean-up must never meet the next attempt's key.
        // So each attempt has a token of its own (a caller's token cannot change: redlock.h says what that risks).
        if (client_->quorum() && !args.token) token = random_token();
        const auto now = Clock::now();
        auto next = now + next_gap(gap);  // (sleep is at most REDLOCK_MAX_DURATION_MS: no overflow)
        // +1: PTTL is rounded down. Only a PTTL under the gap matters, which also bounds what a server can make us add.
        if (pttl && *pttl >= 0 && *pttl < gap.count()) next = now + Millis(*pttl + 1);
        if (give_up_at <= now) return false;
        if (gap.count() > 0 && !client_->quorum() && (!watch || !watch->active())) {  // (quorum: polls)
            // Subscribe, then retry at once: a release between the last attempt and the subscription would be
            // missed otherwise. Confirmation is awaited no longer than the wait it replaces.
            watch.reset();
            const auto confirm_by = std::min(next, give_up_at);
            bool covered = false;
            watch = client_->waiters().watch(
                name_, Deadline::after(std::chrono::duration_cast<Millis>(confirm_by - now)), mark, &covered);
            if (watch && !covered) continue;
            if (watch) seen = mark->releases;  // covered: counting from before the last attempt
            mark.reset();
            if (!watch)  // polling for now: come back when a new subscriber may be tried
                if (std::optional<Clock::time_point> again = client_->waiters().retry_at()) next = std::min(next, *again);
        }
        if (next > give_up_at) {
            // redis-py gives up here, since its next poll would come after the deadline. Here the wait lasts until
            // the deadline (the caller gave that much time: a caller that cuts a wait into short calls must not
            // spin), and a release heard meanwhile is tried at once.
            if (watch) {
                if (!watch->wait(seen, give_up_at)) return false;
                continue;
            }
            std::this_thread::sleep_until(give_up_at);
            return false;
        }
        if (watch) (void)watch->wait(seen, next);
        else std::this_thread::sleep_until(next);
    }
}

void Lock::leave_queue(const std::string &token) noexcept {
    try {
        (void)client_->script(kFairLeaveScript, {keys_->queue_key, keys_->alive_key},
                              {token, release_channel(client_->config().db, name_)});
    } catch (...) {
        // it is dropped from the queue when its heartbeat runs out
    }
}

void Lock::release() {
    if (client_->quorum()) forget_outcomes();
    const std::optional<Held> held = tokens_->held();
    if (!held)
        throw Error(Errc::not_held, scope_ == TokenScope::per_thread
                                        ? "Cannot release an unlocked lock (this owner holds no token; with "
                                          "REDLOCK_THREAD_LOCAL only the thread that acquired holds it: "
                                          "REDLOCK_SHARED lets other threads of the handle release)"
                                        : "Cannot release an unlocked lock (this owner holds no token)");
    // Renewals go on until the token is cleared, but one that finds the key gone meanwhile is this release's doing.
    struct Releasing {
        Renewal *r;
        TokenStore &tokens;
        uint64_t serial;
        Releasing(Renewal *renewal, TokenStore &store, uint64_t held_serial)
            : r(renewal), tokens(store), serial(held_serial) {
            if (r) r->releasing(true);
        }
        ~Releasing() {
            if (!r) return;
            std::optional<Held> still = tokens.held();
            if (still && still->serial == serial) r->releasing(false);  // kept, to retry: renewals count again
        }
    } releasing(held->renewal.get(), *tokens_, held->serial);
    if (Quorum *q = client_->quorum()) {
        try {
            q->release(name_, held->token, release_channel(client_->config().db, name_));
        } catch (const Error &e) {
            if (e.code() == Errc::not_owned) tokens_->clear_if(held->serial);  // else kept: a majority may hold it
            throw;
        }
        tokens_->clear_if(held->serial);
        return;
    }
    const bool deleted = delete_if_holds(held->token, "the token is kept: retry the release",
                                         "the lock is still held: the token is kept, retry the release");
    tokens_->clear_if(held->serial);  // no longer ours in Redis, whichever way it went
    if (!deleted)
        throw Error(Errc::not_owned, held->uncertain ? "Cannot release a lock that's no longer owned (its token was "
                                                       "kept after an acquire whose SET never showed up; a SET "
                                                       "still in the network could land later: only a TTL bounds "
                                                       "that)"
                                                     : "Cannot release a lock that's no longer owned");
}

void Lock::run_ttl_script(const Script &s, const char *verb, std::string_view ms, std::string_view mode,
                          std::optional<Millis> ttl, Millis added) {
    if (client_->quorum()) forget_outcomes();
    std::optional<Held> held = tokens_->held();
    if (!held) throw Error(Errc::not_held, fmt::format("Cannot {} an unlocked lock (this owner holds no token)", verb));
    if (!opts_.ttl) throw Error(Errc::no_ttl, fmt::format("Cannot {} a lock with no timeout", verb));
    const std::string *token = &held->token;
    // The validity it gives: a new TTL counts from when it was sent; added time extends what there was (saturating:
    // extends can add up past the clock's range).
    auto new_validity = [&](Clock::time_point sent) {
        const Clock::time_point was = held->valid_until;
        const Clock::time_point more = was > Clock::time_point::max() - added ? Clock::time_point::max() : was + added;
        tokens_->set_valid_until(held->serial, ttl ? sent + *ttl - drift_for(*ttl) : more, sent);
    };
    // Failed, the command may still have run (late, on a master not waited for; or a reply lost): a TTL it set can
    // be shorter than what there was, so the validity counts on the shorter. Not held any more: nothing to count on.
    // And for the rest of the hold: it may land later still, after a later change that succeeds on another
    // connection (a cap, which nothing after lifts).
    auto failed_validity = [&](const Error &e, Clock::time_point sent) {
        const Clock::time_point was = held->valid_until;
        if (e.code() == Errc::not_owned) {
            tokens_->set_valid_until(held->serial, std::min(was, sent), sent, sent);
        } else if (ttl) {
            const Clock::time_point shortest = sent + *ttl - drift_for(*ttl);
            tokens_->set_valid_until(held->serial, std::min(was, shortest), sent, shortest);
        }
    };
    const auto sent = Clock::now();
    try {
        if (Quorum *q = client_->quorum()) {
            q->ttl_script(s, name_, *token, ms, mode, verb, Deadline::never());
            new_validity(sent);
            return;
        }
        Reply r;
        try {
            r = mode.empty() ? client_->script(s, {name_}, {*token, ms})
                             : client_->script(s, {name_}, {*token, ms, mode});
        } catch (const OutcomeUnknown &e) {
            if (!value_after(e, verb, "").holds(*token))
                throw Error(Errc::not_owned, fmt::format("Cannot {} a lock that's no longer owned (checked after: {})",
                                                         verb, e.what()));
            throw Error(e.code(), fmt::format("{} of '{}': {}; the lock is still held by this owner, but whether its "
                                              "TTL changed is unknown",
                                              verb, shown(name_), e.what()));
        }
        check_script_reply(r, verb, name_);
        if (r.integer != 1) throw Error(Errc::not_owned, fmt::format("Cannot {} a lock that's no longer owned", verb));
        new_validity(sent);
    } catch (const Error &e) {
        failed_validity(e, sent);
        throw;
    }
}

void Lock::extend(Millis additional, bool replace_ttl) {
    if (replace_ttl && additional.count() == 0)
        throw Error(Errc::invalid, "a replaced TTL must be > 0 ms (0 would delete the key; use release)");
    checked_duration(additional.count(), "additional_ms");
    run_ttl_script(kExtendScript, "extend", std::to_string(additional.count()), replace_ttl ? "1" : "0",
                   replace_ttl ? std::optional<Millis>(additional) : std::nullopt, additional);
}

void Lock::reacquire() { run_ttl_script(kReacquireScript, "reacquire", ttl_ms(), {}, opts_.ttl, Millis(0)); }

bool Lock::locked() {
    if (Quorum *q = client_->quorum()) return q->majority_holds(name_, nullptr);
    return client_->get(name_).exists();
}

bool Lock::owned() {
    if (client_->quorum()) forget_outcomes();
    std::optional<std::string> token = tokens_->get();
    if (!token) return false;
    if (Quorum *q = client_->quorum()) return q->majority_holds(name_, &*token);
    return client_->get(name_).holds(*token);
}

KeyStatus Lock::status() {
    if (Quorum *q = client_->quorum()) {
        forget_outcomes();
        return q->status(name_);
    }
    return parse_key_status(client_->script(kStatusScript, {name_}, {},
                                            type_bit(Reply::Type::array) | type_bit(Reply::Type::nil)),
                            name_);
}

void Lock::release_token(const std::string &token) {
    if (token.empty() || token.size() > kMaxTokenLen)
        throw Error(Errc::invalid, fmt::format("a token is 1 to {} bytes; this one is {}", kMaxTokenLen, token.size()));
    if (Quorum *q = client_->quorum()) {
        forget_outcomes();
        q->release(name_, token, release_channel(client_->config().db, name_));
        return;
    }
    if (!delete_if_holds(token, "", "the key still holds that token"))
        throw Error(Errc::not_owned, fmt::format("'{}' does not hold that token", shown(name_)));
}

bool Lock::delete_if_holds(const std::string &token, std::string_view advice, std::string_view still_held) {
    Reply r;
    try {
        r = client_->script(kReleasePublishScript, {name_}, {token, release_channel(client_->config().db, name_)});
    } catch (const OutcomeUnknown &e) {
        if (value_after(e, "release", advice).holds(token))
            throw Error(e.code(), fmt::format("release of '{}': {}; {}", shown(name_), e.what(), still_held));
        return true;  // no longer there, whichever way it went
    }
    check_script_reply(r, "release", name_);
    return r.integer == 1;
}

Millis Lock::validity() const {
    std::optional<Held> held = tokens_->held();
    if (!held) throw Error(Errc::not_held, "this owner holds no token (so no validity)");
    if (!opts_.ttl) throw Error(Errc::no_ttl, "a lock with no timeout has no validity: it is held until released");
    if (held->uncertain) return Millis(0);  // kept after an unknown outcome: nothing to rely on
    Clock::time_point until = held->valid_until;
    if (held->renewal) {
        // Each renewal sets the TTL back to the lock's (PEXPIRE): it undoes a longer extend. After the last extend,
        // the last renewal that got through decides. Before it, one may still be on its way (sent before the extend,
        // run after it): the extend counts for no more than the renewals would have given.
        std::optional<Clock::time_point> renewed = held->renewal->confirmed();
        if (!renewed) return Millis(0);  // lost
        const Clock::time_point by_renewal = *renewed + *opts_.ttl - drift_for(*opts_.ttl);
        until = *renewed >= held->valid_from ? by_renewal : std::min(until, by_renewal);
    }
    until = std::min(until, held->cap);
    const auto now = Clock::now();
    return until <= now ? Millis(0) : std::chrono::duration_cast<Millis>(until - now);
}

Millis Lock::next_gap(Millis gap) const {
    if (!client_->quorum() || gap.count() < 2) return gap;
    // Seeded per thread and again in a fork()ed child, which would otherwise draw its parent's numbers.
    thread_local std::minstd_rand rng;
    thread_local pid_t seeded_for = 0;
    if (seeded_for != current_pid()) {
        seeded_for = current_pid();
        const std::string seed = random_token();
        rng.seed(static_cast<uint32_t>(std::hash<std::string>{}(seed)));
    }
    return Millis(std::uniform_int_distribution<int64_t>(gap.count() / 2, gap.count())(rng));
}

}  // namespace redlock::core

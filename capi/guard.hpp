// The exception barrier and this thread's detail message: every extern "C" body runs inside guarded().
#pragma once

#include <new>

#include "base/error.hpp"
#include "redlock/redlock.h"

namespace redlock::capi {
using core::Errc;
using core::Error;

// Replaces this thread's message (truncated to a fixed buffer: setting it never allocates, so never throws).
void set_message(const char *msg) noexcept;
void clear_message() noexcept;
int fail(int code, const char *msg) noexcept;

// Runs f (returning int) with the message cleared on entry; maps every exception to a code and a message.
template <typename F>
int guarded(F &&f) noexcept {
    clear_message();
    try {
        return f();
    } catch (const Error &e) {
        return fail(static_cast<int>(e.code()), e.what());
    } catch (const std::bad_alloc &) {
        return fail(REDLOCK_ENOMEM, "out of memory");
    } catch (const std::exception &e) {
        return fail(REDLOCK_EINTERNAL, e.what());
    } catch (...) {
        return fail(REDLOCK_EINTERNAL, "unknown exception inside libredlock");
    }
}

}  // namespace redlock::capi

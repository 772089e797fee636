// redis-py's lock scripts, byte for byte, so both libraries share the server's script cache and behave alike; then
// libredlock's own, for what redis-py does not have. tests/ check each SHA-1 against the server's SCRIPT LOAD.
#pragma once

#include <string_view>

namespace redlock::core {

struct Script {
    std::string_view source;
    std::string_view sha1;
};

// KEYS[1] name, ARGV[1] token -> 1 deleted, 0 not ours
inline constexpr Script kReleaseScript{R"(
        local token = redis.call('get', KEYS[1])
        if not token or token ~= ARGV[1] then
            return 0
        end
        redis.call('del', KEYS[1])
        return 1
    )",
                                       "c3f8721cbb97f72bc19e972846bd7aaf91901658"};

// KEYS[1] name, ARGV[1] token, ARGV[2] ms, ARGV[3] "0" add / "1" replace -> 1 extended, 0 not ours or no TTL
inline constexpr Script kExtendScript{R"(
        local token = redis.call('get', KEYS[1])
        if not token or token ~= ARGV[1] then
            return 0
        end
        local expiration = redis.call('pttl', KEYS[1])
        if not expiration then
            expiration = 0
        end
        if expiration < 0 then
            return 0
        end

        local newttl = ARGV[2]
        if ARGV[3] == "0" then
            newttl = ARGV[2] + expiration
        end
        redis.call('pexpire', KEYS[1], newttl)
        return 1
    )",
                                      "a4e8783852e6b949f9ef3a97212805108459a890"};

// KEYS[1] name, ARGV[1] token, ARGV[2] ms -> 1 TTL reset, 0 not ours
inline constexpr Script kReacquireScript{R"(
        local token = redis.call('get', KEYS[1])
        if not token or token ~= ARGV[1] then
            return 0
        end
        redis.call('pexpire', KEYS[1], ARGV[2])
        return 1
    )",
                                         "1cac51482acf5858da00f6d685d68f886cd6b6b2"};

// libredlock's own scripts. Their effect on the lock key is exactly redis-py's (SET NX [PX], compare-and-delete), so
// libredlock and redis-py owners exclude each other as before.

// Release, as kReleaseScript, and then a PUBLISH on the lock's release channel, which wakes libredlock acquires
// waiting for it (background/waiters.*). pcall: a user without permission for the channel still releases.
// KEYS[1] name; ARGV[1] token, ARGV[2] channel -> 1 deleted, 0 not ours
inline constexpr Script kReleasePublishScript{R"(
        local token = redis.call('get', KEYS[1])
        if not token or token ~= ARGV[1] then
            return 0
        end
        redis.call('del', KEYS[1])
        redis.pcall('publish', ARGV[2], '')
        return 1
    )",
                                              "142929e075d0bcde4d83ad997c6a5bc557bb3f0b"};

// What an operator sees (Lock::status): the key's PTTL, the length of its value and its first 4096 bytes (no token is
// longer), read atomically. KEYS[1] name -> nil (no key) or {pttl, length, prefix}; WRONGTYPE for a key not a string.
inline constexpr Script kStatusScript{R"(
        local value = redis.call('get', KEYS[1])
        if not value then
            return false
        end
        return {redis.call('pttl', KEYS[1]), string.len(value), string.sub(value, 1, 4096)}
    )",
                                     "91bbb67bd6437de769e5a6f8f87d9f4dd1c21dd4"};

// A retried acquire: SET NX [PX], and when the lock is busy its PTTL in the same round trip, so a waiter never
// sleeps past the holder's expiry. KEYS[1] name; ARGV[1] token, ARGV[2] ttl in ms or "" (none) -> OK (status), or
// the holder's PTTL (-1: no TTL).
inline constexpr Script kAcquireOrPttlScript{R"(
        local ok
        if ARGV[2] == '' then
            ok = redis.call('set', KEYS[1], ARGV[1], 'NX')
        else
            ok = redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
        end
        if ok then
            return ok
        end
        return redis.call('pttl', KEYS[1])
    )",
                                             "8bb54eb631549d885cb98580aed125b3df403c1f"};

// A fenced acquire: SET NX [PX] and, only when it took, INCR of the name's fence counter, in one step, so no other
// owner can come between the two. KEYS[1] name, KEYS[2] fence counter; ARGV[1] token, ARGV[2] ttl in ms or ""
// (none) -> the new fence (integer), or when the lock is busy {PTTL} (an array of one integer).
inline constexpr Script kFencedAcquireScript{R"(
        local ok
        if ARGV[2] == '' then
            ok = redis.call('set', KEYS[1], ARGV[1], 'NX')
        else
            ok = redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
        end
        if not ok then
            return {redis.call('pttl', KEYS[1])}
        end
        return redis.call('incr', KEYS[2])
    )",
                                             "ddf2508c5c5c0e7d1fe54167607357753aea26ec"};

// Fair mode: waiters queue in a sorted set (KEYS[2], by arrival time on the server's clock) and only the first may
// take the lock; each attempt also says "still waiting" in KEYS[3] (token -> deadline), and waiters that stop saying
// so (a crashed process) are dropped. Both sets expire when no waiter has said so for that long (all gone). The lock
// key itself is a plain acquire's. KEYS[1] name, KEYS[2] queue, KEYS[3] heartbeats, KEYS[4] (with fencing) the fence
// counter; ARGV[1] token, ARGV[2] ttl in ms or "", ARGV[3] "1" to queue up when busy (a blocking acquire) or "0",
// ARGV[4] how long the waiter counts as alive without another attempt, in ms -> without fencing: OK (status), or
// the holder's PTTL (-2: no holder, but another waiter is first); with fencing, the fenced script's answers: the
// new fence, or {PTTL}.
inline constexpr Script kFairAcquireScript{R"(
        local t = redis.call('time')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local dead = redis.call('zrangebyscore', KEYS[3], '-inf', now)
        for _, w in ipairs(dead) do
            redis.call('zrem', KEYS[2], w)
            redis.call('zrem', KEYS[3], w)
        end
        local first = redis.call('zrange', KEYS[2], 0, 0)[1]
        if not first or first == ARGV[1] then
            local ok
            if ARGV[2] == '' then
                ok = redis.call('set', KEYS[1], ARGV[1], 'NX')
            else
                ok = redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
            end
            if ok then
                if first then
                    redis.call('zrem', KEYS[2], ARGV[1])
                    redis.call('zrem', KEYS[3], ARGV[1])
                end
                if KEYS[4] then
                    return redis.call('incr', KEYS[4])
                end
                return ok
            end
        end
        if ARGV[3] == '1' then
            if not redis.call('zscore', KEYS[2], ARGV[1]) then
                redis.call('zadd', KEYS[2], tonumber(t[1]) * 1000000 + tonumber(t[2]), ARGV[1])
            end
            redis.call('zadd', KEYS[3], now + tonumber(ARGV[4]), ARGV[1])
            if redis.call('pttl', KEYS[2]) < tonumber(ARGV[4]) then
                redis.call('pexpire', KEYS[2], ARGV[4])
                redis.call('pexpire', KEYS[3], ARGV[4])
            end
        end
        if KEYS[4] then
            return {redis.call('pttl', KEYS[1])}
        end
        return redis.call('pttl', KEYS[1])
    )",
                                           "41727c3e87320ff48fe1da779729089baca59d1e"};

// A fair waiter that gives up leaves the queue, and wakes the others (the next may now be first).
// KEYS[1] queue, KEYS[2] heartbeats; ARGV[1] token, ARGV[2] channel -> 1 if it was queued, else 0.
inline constexpr Script kFairLeaveScript{R"(
        local was = redis.call('zrem', KEYS[1], ARGV[1])
        redis.call('zrem', KEYS[2], ARGV[1])
        if was == 1 then
            redis.pcall('publish', ARGV[2], '')
        end
        return was
    )",
                                         "d303062c04723fb80042830f339811c1daaac3d4"};

}  // namespace redlock::core

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

// libredlock's own: a fenced acquire. SET NX [PX] and, only when it took, INCR of the name's fence counter, in one
// step, so no other owner can come between the two. The key and value are exactly a plain acquire's, so redis-py and
// libredlock still exclude each other. KEYS[1] name, KEYS[2] fence counter; ARGV[1] token, ARGV[2] ttl in ms or ""
// (none) -> the new fence, or nil when the lock is busy.
inline constexpr Script kFencedAcquireScript{R"(
        local ok
        if ARGV[2] == '' then
            ok = redis.call('set', KEYS[1], ARGV[1], 'NX')
        else
            ok = redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
        end
        if not ok then
            return false
        end
        return redis.call('incr', KEYS[2])
    )",
                                             "eeb5267a9f62f45664db534928884cdee2a45728"};

}  // namespace redlock::core

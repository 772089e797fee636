#!/usr/bin/python3
"""redis-py's own Lock, driven by the Catch2 interop test: one action per run, result on stdout."""
import sys

import redis

port, action, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
r = redis.Redis(port=port)
lock = r.lock(name, timeout=10)

if action == "try-acquire":  # one non-blocking attempt; holds on success (the key has a 10 s TTL)
    ok = lock.acquire(blocking=False)
    print("acquired" if ok else "busy", lock.local.token.decode() if ok else "")
elif action == "release-with-token":  # release a lock someone else acquired, given its token
    lock.local.token = sys.argv[4].encode()
    try:
        lock.release()
        print("released")
    except redis.exceptions.LockNotOwnedError:
        print("not-owned")
elif action == "extend-with-token":
    lock.local.token = sys.argv[4].encode()
    lock.extend(20)
    print("extended")
else:
    sys.exit("unknown action " + action)

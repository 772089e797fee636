#!/usr/bin/python3
"""Handoff latency with redis-py 4.3.4's Lock, the same protocol as redlock_handoff.c (1 + W processes, default
sleep 0.1 s, hold HOLD_US, the releaser out until another process took it): the reference the goals are set against.
Usage: redis_py_handoff.py PORT WAITERS ROUNDS [HOLD_US]   (Debian's /usr/bin/python3 with python3-redis)"""
import multiprocessing as mp
import sys
import time

import redis


def run(port, rounds, hold_s, next_i, released, stop, samples, grants):
    r = redis.Redis(port=port)
    lock = r.lock("bench:handoff:py", timeout=10, blocking_timeout=2)
    while not stop.value:
        if not lock.acquire():
            continue
        got = time.monotonic()
        with grants.get_lock():
            grants.value += 1
            mine = grants.value
        with released.get_lock():
            was, released.value = released.value, 0.0
        if was:
            with next_i.get_lock():
                i = next_i.value
                next_i.value += 1
            if i < rounds:
                samples[i] = (got - was) * 1000.0
            if i + 1 >= rounds:
                stop.value = 1
        time.sleep(hold_s)
        released.value = time.monotonic()
        lock.release()
        t0 = time.monotonic()
        while grants.value == mine and not stop.value and time.monotonic() - t0 < 5:
            time.sleep(0.00005)


def main():
    port, waiters, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    hold_s = (int(sys.argv[4]) if len(sys.argv) > 4 else 1000) / 1e6
    next_i, released, stop, grants = mp.Value("l", 0), mp.Value("d", 0.0), mp.Value("i", 0), mp.Value("l", 0)
    samples = mp.Array("d", rounds, lock=False)
    procs = [mp.Process(target=run, args=(port, rounds, hold_s, next_i, released, stop, samples, grants))
             for _ in range(waiters + 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    n = min(next_i.value, rounds)
    s = sorted(samples[:n])
    print("redis-py waiters=%d rounds=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f"
          % (waiters, n, s[n // 2], s[n * 9 // 10], s[n * 99 // 100], s[-1]))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""libredlock from Python: the redis-py Lock API. Usage: python_example.py REDIS_URL

To move a redis-py script, change `import redis` / `redis.Redis.from_url(url)` to
`import libredlock` / `libredlock.Client.from_url(url)`; the lock calls stay the same.
"""
import sys
import threading

import libredlock

client = libredlock.Client.from_url(sys.argv[1])

with client.lock("example:nightly", timeout=30, blocking_timeout=5) as lock:
    print("holding example:nightly with token", lock.token.decode())

# Acquire here, release on another thread: thread_local=False, one shared Lock object.
job = client.lock("example:job", timeout=30, thread_local=False)
assert job.acquire()
worker = threading.Thread(target=job.release)
worker.start()
worker.join()
print("worker thread released example:job; still locked:", job.locked())

try:
    client.lock("example:job", timeout=30).release()
except libredlock.LockError as e:
    print("as redis-py: releasing a lock we do not hold raises LockError:", e)

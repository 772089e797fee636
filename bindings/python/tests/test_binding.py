"""The binding's own behaviour: threads (the seed's experiments), errors, loading, interop with redis-py 4.3.4."""
import threading
import time

import pytest
import redis

import libredlock
from libredlock import (AuthenticationError, Client, ConnectionError, InvalidArgumentError, LockError,
                        LockNotOwnedError)


def in_thread(fn):
    out = {}

    def run():
        try:
            out["value"] = fn()
        except Exception as e:  # handed back to the test's thread
            out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


def test_versions_agree():
    assert libredlock.library_version().split(".")[:2] == libredlock.__version__.split(".")[:2]


def test_experiment_1_two_shared_objects_do_not_share(client):
    lock_a = client.lock("seed", timeout=10, thread_local=False)
    lock_b = client.lock("seed", timeout=10, thread_local=False)
    assert in_thread(lock_a.acquire)
    with pytest.raises(LockError):
        in_thread(lock_b.release)
    assert lock_a.locked()
    lock_a.release()


def test_experiment_2_one_shared_object(client, r):
    lock = client.lock("seed", timeout=10, thread_local=False)
    assert in_thread(lock.acquire)
    assert in_thread(lock.owned)
    in_thread(lock.release)
    assert r.get("seed") is None


def test_default_thread_local(client, r):
    lock = client.lock("seed", timeout=10)
    assert lock.acquire()
    with pytest.raises(LockError):
        in_thread(lock.release)
    assert in_thread(lock.owned) is False
    assert in_thread(lock.locked) is True
    assert in_thread(lambda: lock.token) is None
    lock.release()


def test_blocking_acquire_releases_the_gil(client):
    holder = client.lock("gil", timeout=10, thread_local=False)
    assert holder.acquire()
    waiter = client.lock("gil", timeout=10, sleep=0.01)
    got = []
    t = threading.Thread(target=lambda: got.append(waiter.acquire(blocking_timeout=5)))
    t.start()
    ticks = 0
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:  # this thread keeps running while the other waits in C
        ticks += 1
        time.sleep(0.01)
    holder.release()
    t.join()
    assert ticks >= 10
    assert got == [True]


def test_many_threads_one_shared_lock_no_double_grants(client):
    lock = client.lock("conc", timeout=10, sleep=0.001, thread_local=False)
    inside, worst, grants = [0], [0], [0]
    guard = threading.Lock()

    def work():
        for _ in range(10):
            with lock:
                with guard:
                    inside[0] += 1
                    worst[0] = max(worst[0], inside[0])
                    grants[0] += 1
                time.sleep(0.0005)
                with guard:
                    inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert worst[0] == 1
    assert grants[0] == 80


def test_errors_carry_the_library_message(server):
    with pytest.raises(InvalidArgumentError) as e:
        Client.from_url("http://nope")
    assert "unsupported scheme" in str(e.value)
    assert isinstance(e.value, ValueError)
    with socket_closed_port() as port:
        c = Client.from_url("redis://127.0.0.1:%d" % port, connect_timeout=1)
        with pytest.raises(ConnectionError) as e:
            c.lock("x").acquire()
        assert "cannot connect" in str(e.value)
        assert e.value.code == -5
    c = Client.from_url(server.url.replace("redis://", "redis://:wrong@"))
    with pytest.raises(AuthenticationError):
        c.ping()
    with pytest.raises(ValueError):
        Client.from_url(server.url, connect_timeout=0)
    with pytest.raises(ValueError):
        Client.from_url(server.url).lock("")
    with pytest.raises(ValueError):
        Client.from_url(server.url).lock("a\0b")
    with pytest.raises(ValueError):
        Client.from_url(server.url).lock("x", sleep=-1)
    lock = Client.from_url(server.url).lock("x", timeout=10)
    assert lock.acquire()
    with pytest.raises(ValueError):
        lock.extend(-1)
    lock.release()


class socket_closed_port:
    def __enter__(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        return self.port

    def __exit__(self, *exc):
        return False


def test_binary_and_unicode_names(client, r):
    for name in ["spaces in name", "crlf\r\nx", "ünïcödé", b"\xff\xfe"]:
        lock = client.lock(name, timeout=10)
        assert lock.acquire()
        assert r.get(name) == lock.token
        lock.release()


def test_redis_py_is_blocked_by_us_and_can_release_with_our_token(client, r):
    ours = client.lock("interop", timeout=10)
    assert ours.acquire()
    theirs = r.lock("interop", timeout=10)
    assert not theirs.acquire(blocking=False)
    theirs.local.token = ours.token
    theirs.extend(10)
    assert r.pttl("interop") > 16000
    theirs.release()
    assert not ours.locked()
    with pytest.raises(LockNotOwnedError):
        ours.release()


def test_we_are_blocked_by_redis_py(client, r):
    theirs = r.lock("interop", timeout=10)
    assert theirs.acquire(blocking=False)
    ours = client.lock("interop", timeout=10)
    assert not ours.acquire(blocking=False)
    assert ours.locked() and not ours.owned()
    theirs.release()
    assert ours.acquire(blocking=False)
    assert not theirs.acquire(blocking=False)
    ours.release()


def test_script_cache_is_shared_with_redis_py(client, r):
    r.script_flush()
    lock = client.lock("scripts", timeout=10)
    assert lock.acquire()
    lock.extend(1)  # loads redis-py's extend script by EVAL
    lock.reacquire()  # and its reacquire script
    lock.release()  # libredlock's own: redis-py's compare-and-delete, then a PUBLISH that wakes waiters
    theirs = r.lock("scripts", timeout=10)
    assert r.script_exists(theirs.lua_extend.sha, theirs.lua_reacquire.sha) == [True, True]
    assert r.script_exists(theirs.lua_release.sha) == [False]


def test_client_from_url_options(server):
    c = Client.from_url(server.url, connect_timeout=2, command_timeout=None, max_connections=2, keepalive=0, db=1)
    lock = c.lock("db1", timeout=10)
    assert lock.acquire()
    assert redis.Redis(port=server.port, db=1).get("db1") == lock.token
    assert redis.Redis(port=server.port, db=0).get("db1") is None
    lock.release()


def test_missing_library_or_symbol_is_a_clear_import_error(tmp_path):
    import os
    import subprocess
    import sys
    env = dict(os.environ, LIBREDLOCK_PATH=str(tmp_path / "nothing.so"))
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(libredlock.__file__))  # this same package, installed or not
    p = subprocess.run([sys.executable, "-c", "import libredlock"], env=env, capture_output=True, text=True,
                       cwd=str(tmp_path), timeout=60)
    assert p.returncode != 0
    assert "LIBREDLOCK_PATH does not name a loadable libredlock.so" in p.stderr and "nothing.so" in p.stderr
    # a library that is not libredlock: named missing symbol
    import glob
    env["LIBREDLOCK_PATH"] = sorted(glob.glob("/usr/lib/*/libhiredis.so*"))[0]
    p = subprocess.run([sys.executable, "-c", "import libredlock"], env=env, capture_output=True, text=True,
                       cwd=str(tmp_path), timeout=60)
    assert p.returncode != 0
    assert "has no symbol redlock_strerror" in p.stderr


def test_ctrl_c_interrupts_a_wait_and_never_leaves_the_lock_held(server, r, tmp_path):
    # A holder's key expires after 3 s: a wait that cannot be interrupted would take the lock then, and the
    # KeyboardInterrupt would arrive with the lock held (with no TTL: forever).
    r.set("ctrlc", "someone-else", px=3000)
    code = ("import os, signal, sys, threading, time\n"
            "import libredlock\n"
            "lock = libredlock.Client.from_url(sys.argv[1]).lock('ctrlc')\n"
            "main = threading.main_thread().ident\n"
            "threading.Timer(0.5, lambda: signal.pthread_kill(main, signal.SIGINT)).start()\n"
            "t0 = time.monotonic()\n"
            "try:\n"
            "    with lock:\n"
            "        print('entered')\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupted after %.2f s, owned %s' % (time.monotonic() - t0, lock.owned()))\n")
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(libredlock.__file__)))
    p = subprocess.run([sys.executable, "-c", code, server.url], env=env, capture_output=True, text=True,
                       cwd=str(tmp_path), timeout=60)
    assert p.returncode == 0, p.stderr
    words = p.stdout.split()
    assert words[0] == "interrupted", p.stdout
    assert float(words[2]) < 2.0, p.stdout
    assert words[-1] == "False", p.stdout
    time.sleep(3.2)
    assert r.get("ctrlc") is None  # the holder's key expired and nobody took it


def test_reading_the_token_never_races_with_other_threads_of_a_shared_lock(client):
    lock = client.lock("token-race", timeout=10, sleep=0.001, thread_local=False)
    errors, stop = [], threading.Event()

    def churn():
        while not stop.is_set():
            if lock.acquire(blocking=False):
                try:
                    lock.release()
                except libredlock.LockError:
                    pass  # another churner released it first: the lock is shared

    def read():
        try:
            for _ in range(20000):
                t = lock.token
                assert t is None or len(t) == 32
        except Exception as e:  # the bug: "this owner holds no token" between the size query and the copy
            errors.append(e)

    churners = [threading.Thread(target=churn) for _ in range(3)]
    for t in churners:
        t.start()
    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    stop.set()
    for t in churners:
        t.join()
    assert errors == []


def test_fencing_tokens_strictly_increase_and_none_when_not_held(client, r):
    a = client.lock("py-fence", timeout=10, fencing=True)
    b = client.lock("py-fence", timeout=10, fencing=True, thread_local=False)
    assert a.fence is None
    fences = []
    for lock in (a, b, a):
        assert lock.acquire()
        fences.append(lock.fence)
        lock.release()
        assert lock.fence is None
    assert fences == sorted(set(fences)) and len(fences) == 3
    assert r.get("{py-fence}:fence") == str(fences[-1]).encode()
    with pytest.raises(libredlock.InvalidArgumentError):
        client.lock("py-plain", timeout=10).fence
    with pytest.raises(TypeError):
        client.lock("py-fence", fencing="yes")


def test_an_interrupted_acquire_on_a_shared_lock_never_releases_another_threads_hold(client, r, tmp_path):
    code = ("import signal, sys, threading, time\n"
            "import libredlock\n"
            "lock = libredlock.Client.from_url(sys.argv[1]).lock('shared-intr', timeout=10, thread_local=False)\n"
            "held = threading.Event()\n"
            "def worker():\n"
            "    assert lock.acquire()\n"
            "    held.set()\n"
            "    time.sleep(1.0)\n"
            "    lock.release()\n"
            "t = threading.Thread(target=worker)\n"
            "t.start()\n"
            "held.wait()\n"
            "main = threading.main_thread().ident\n"
            "threading.Timer(0.3, lambda: signal.pthread_kill(main, signal.SIGINT)).start()\n"
            "try:\n"
            "    lock.acquire(sleep=0.01)  # waits for the worker's hold: interrupted\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupted; worker still holds:', lock.owned())\n"
            "t.join()\n")
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(libredlock.__file__)))
    p = subprocess.run([sys.executable, "-c", code, client.url], env=env, capture_output=True, text=True,
                       cwd=str(tmp_path), timeout=60)
    assert p.returncode == 0, p.stderr
    assert "interrupted; worker still holds: True" in p.stdout, p.stdout


def test_a_library_error_in_acquire_keeps_the_token_and_takes_one_attempt(server, r):
    c = libredlock.Client.from_url(server.url, socket_timeout=0.2)
    lock = c.lock("err-keep", timeout=10)
    assert lock.locked() is False  # connected
    r.execute_command("CLIENT", "PAUSE", 600, "WRITE")  # the SET waits; the check (a read) is served
    t0 = time.monotonic()
    with pytest.raises(libredlock.TimeoutError):
        lock.acquire()
    assert time.monotonic() - t0 < 0.6  # the SET's timeout and the check: no release on top
    assert lock.token is not None       # kept, as the library keeps it, to retry or release
    time.sleep(0.7)
    with pytest.raises(libredlock.LockNotOwnedError):
        lock.release()  # the paused SET was dropped with its connection: releasing the kept token is harmless


def test_auto_renew_keeps_a_short_lock_held_and_release_ends_it(client, r):
    lock = client.lock("py-renew", timeout=0.3, auto_renew=True)
    assert lock.acquire()
    time.sleep(1.5)  # five TTLs
    assert lock.owned()
    assert 0 < r.pttl("py-renew") <= 300
    lock.release()
    assert r.get("py-renew") is None
    with pytest.raises(InvalidArgumentError, match="auto_renew needs a timeout"):
        client.lock("py-renew", auto_renew=True)
    with pytest.raises(TypeError):
        client.lock("py-renew", timeout=1, auto_renew=1)
    with pytest.raises(TypeError):
        client.lock("py-renew", timeout=1, auto_renew=True, on_lost="not callable")


def test_on_lost_runs_python_with_the_gil_when_the_key_is_taken_away(client, r):
    seen = []
    done = threading.Event()

    def on_lost(lock, error):
        seen.append((lock, error, threading.current_thread() is threading.main_thread()))
        done.set()

    lock = client.lock("py-lost", timeout=0.3, auto_renew=True, on_lost=on_lost)
    assert lock.acquire()
    r.set("py-lost", "someone-else", px=10000)
    assert done.wait(2)
    got, error, on_main = seen[0]
    assert got is lock
    assert isinstance(error, LockNotOwnedError) and error.code == libredlock._native.ENOTOWNED
    assert not on_main  # the library's renewal thread
    assert not lock.owned()
    with pytest.raises(LockNotOwnedError):
        lock.release()
    assert r.get("py-lost") == b"someone-else"
    time.sleep(0.3)
    assert len(seen) == 1


def test_a_lock_with_a_callback_is_garbage_collected_and_renewals_stop(client, r):
    import gc
    import weakref
    lock = client.lock("py-gc", timeout=0.3, auto_renew=True, on_lost=lambda lock, error: None)
    assert lock.acquire()
    ref = weakref.ref(lock)
    del lock
    gc.collect()
    assert ref() is None  # the callback does not keep its lock alive
    time.sleep(0.6)  # the handle was freed: nothing renews the key, which expires
    assert r.get("py-gc") is None


def test_the_interpreter_exits_cleanly_with_callbacks_due_or_running(server, r, tmp_path):
    # Locks with on_lost are freed at exit, before the interpreter goes away: no callback into a finalizing
    # interpreter (a crash or a hang), whether the callback is due, running, or never comes.
    code = ("import sys, time\n"
            "import libredlock\n"
            "c = libredlock.Client.from_url(sys.argv[1])\n"
            "slow = c.lock('exit-slow', timeout=0.3, auto_renew=True, on_lost=lambda l, e: time.sleep(0.5))\n"
            "c2 = libredlock.Client.from_url(sys.argv[1])  # its own renewal thread: not held up by slow's callback\n"
            "held = c2.lock('exit-held', timeout=0.3, auto_renew=True, on_lost=lambda l, e: print('lost'))\n"
            "assert slow.acquire() and held.acquire()\n"
            "import redis; redis.Redis(port=int(sys.argv[2])).delete('exit-slow')\n"
            "time.sleep(0.25)  # the slow callback is running as the interpreter exits\n"
            "print('bye')\n")
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(libredlock.__file__)))
    for _ in range(3):
        p = subprocess.run([sys.executable, "-c", code, server.url, str(server.port)], env=env, capture_output=True,
                           text=True, cwd=str(tmp_path), timeout=30)
        assert p.returncode == 0, p.stderr
        assert p.stdout.split() == ["bye"], p.stdout
        assert p.stderr == "", p.stderr
    time.sleep(0.4)  # freed at exit: nothing renews them
    assert r.get("exit-held") is None


def test_a_release_wakes_a_waiter_at_once_and_redis_py_releases_are_seen_within_sleep(server, r):
    holder_client = Client.from_url(server.url)  # another client: its own connections, as another process would
    waiter_client = Client.from_url(server.url)
    holder = holder_client.lock("py-wake", timeout=30, thread_local=False)
    waiter = waiter_client.lock("py-wake", timeout=30, sleep=10)  # polls every 10 s
    assert holder.acquire()
    threading.Timer(0.3, holder.release).start()
    start = time.monotonic()
    assert waiter.acquire(blocking_timeout=5)
    assert time.monotonic() - start < 0.3 + 1.0  # woken by the release, not the 10 s poll
    waiter.release()

    theirs = r.lock("py-wake", timeout=30, thread_local=False)  # redis-py's release publishes nothing: found by a poll
    assert theirs.acquire(blocking=False)
    polling = waiter_client.lock("py-wake", timeout=30, sleep=0.2)
    threading.Timer(0.3, theirs.release).start()
    start = time.monotonic()
    assert polling.acquire(blocking_timeout=5)
    assert time.monotonic() - start < 0.3 + 0.2 + 0.5
    polling.release()


def test_fair_waiters_keep_their_place_across_the_slices_of_their_waits(client, r):
    holder = client.lock("py-fair", timeout=30, fair=True, thread_local=False)
    assert holder.acquire()
    order = []

    def wait(i):
        lock = client.lock("py-fair", timeout=30, fair=True)
        assert lock.acquire(blocking_timeout=10)
        order.append(i)
        time.sleep(0.05)
        lock.release()

    threads = []
    for i in range(3):
        t = threading.Thread(target=wait, args=(i,))
        t.start()
        threads.append(t)
        for _ in range(100):  # queued before the next one starts
            if r.zcard("{py-fair}:queue") == i + 1:
                break
            time.sleep(0.01)
    time.sleep(1.0)  # several 0.25 s slices: each would have lost its place without REDLOCK_ACQ_STAY_QUEUED
    assert r.zcard("{py-fair}:queue") == 3
    holder.release()
    for t in threads:
        t.join()
    assert order == [0, 1, 2]
    assert r.zcard("{py-fair}:queue") == 0
    fenced = client.lock("py-fair", timeout=1, fair=True, fencing=True)
    assert fenced.acquire() and fenced.fence > 0
    fenced.release()
    with pytest.raises(InvalidArgumentError):
        client.lock("py-fair{", timeout=1, fair=True)
    with pytest.raises(TypeError):
        client.lock("py-fair", fair=1)


def test_without_a_subscriber_a_sliced_wait_polls_at_most_once_a_slice(server, r):
    # An ACL user without channel permissions: no subscriber, so waits are polls. Each 0.25 s slice of the wait makes
    # one attempt and then waits out the slice (it must not return at once and be called again: a hot loop).
    r.execute_command("ACL", "SETUSER", "nochan", "on", ">pw", "~*", "+@all", "resetchannels")
    c = Client.from_url("redis://nochan:pw@127.0.0.1:%d" % server.port)
    r.set("py-spin", "held", px=60000)
    r.config_resetstat()
    start = time.monotonic()
    assert not c.lock("py-spin", timeout=30, sleep=1.0).acquire(blocking_timeout=2)
    assert 1.9 <= time.monotonic() - start < 3.0
    sets = int(r.info("commandstats")["cmdstat_set"]["calls"])
    assert sets <= 2 / 0.25 + 4, sets  # about one per slice, not thousands
    c.close()


def test_an_interrupted_fair_wait_leaves_the_queue_at_once(server, r, tmp_path):
    r.set("py-fair-int", "someone-else", px=30000)
    code = ("import signal, sys, threading, time\n"
            "import libredlock\n"
            "lock = libredlock.Client.from_url(sys.argv[1]).lock('py-fair-int', fair=True)\n"
            "main = threading.main_thread().ident\n"
            "threading.Timer(0.6, lambda: signal.pthread_kill(main, signal.SIGINT)).start()\n"
            "try:\n"
            "    lock.acquire()\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupted')\n")
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(libredlock.__file__)))
    p = subprocess.run([sys.executable, "-c", code, server.url], env=env, capture_output=True, text=True,
                       cwd=str(tmp_path), timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["interrupted"], p.stdout
    assert r.zcard("{py-fair-int}:queue") == 0  # gone at once, not after its heartbeat (seconds)

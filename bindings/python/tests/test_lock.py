"""redis-py's own lock test list (tests/test_lock.py in redis-py), run against the libredlock binding."""
import time

import pytest

from libredlock import Client, Lock, LockError, LockNotOwnedError


def get_lock(client, *args, **kwargs):
    return client.lock(*args, **kwargs)


def set_calls(r):
    return r.info("commandstats").get("cmdstat_set", {}).get("calls", 0)


def test_lock(client, r):
    lock = get_lock(client, "foo")
    assert lock.acquire(blocking=False)
    assert r.get("foo") == lock.local.token
    assert r.ttl("foo") == -1
    lock.release()
    assert r.get("foo") is None


def test_lock_token(client, r):
    lock = get_lock(client, "foo")
    assert lock.acquire(blocking=False, token="test")
    assert r.get("foo") == b"test"
    assert lock.local.token == b"test"
    assert r.ttl("foo") == -1
    lock.release()
    assert r.get("foo") is None
    assert lock.local.token is None


def test_lock_token_shared(client, r):
    lock = get_lock(client, "foo", thread_local=False)
    assert lock.acquire(blocking=False, token=b"test")
    assert r.get("foo") == b"test"
    assert lock.token == b"test"
    lock.release()


def test_locked(client):
    lock = get_lock(client, "foo")
    assert lock.locked() is False
    lock.acquire(blocking=False)
    assert lock.locked() is True
    lock.release()
    assert lock.locked() is False


def _test_owned(client, thread_local):
    lock = get_lock(client, "foo", thread_local=thread_local)
    assert lock.owned() is False
    lock.acquire(blocking=False)
    assert lock.owned() is True
    lock.release()
    assert lock.owned() is False
    lock2 = get_lock(client, "foo", thread_local=thread_local)
    assert lock.owned() is False
    assert lock2.owned() is False
    lock2.acquire(blocking=False)
    assert lock.owned() is False
    assert lock2.owned() is True
    lock2.release()
    assert lock.owned() is False
    assert lock2.owned() is False


def test_owned(client):
    _test_owned(client, True)


def test_owned_shared(client):
    _test_owned(client, False)


def test_competing_locks(client):
    lock1 = get_lock(client, "foo")
    lock2 = get_lock(client, "foo")
    assert lock1.acquire(blocking=False)
    assert not lock2.acquire(blocking=False)
    lock1.release()
    assert lock2.acquire(blocking=False)
    assert not lock1.acquire(blocking=False)
    lock2.release()


def test_timeout(client, r):
    lock = get_lock(client, "foo", timeout=10)
    assert lock.acquire(blocking=False)
    assert 8 < r.ttl("foo") <= 10
    lock.release()


def test_float_timeout(client, r):
    lock = get_lock(client, "foo", timeout=9.5)
    assert lock.acquire(blocking=False)
    assert 8000 < r.pttl("foo") <= 9500
    lock.release()


def test_blocking_timeout(client, r):
    lock1 = get_lock(client, "foo")
    assert lock1.acquire(blocking=False)
    bt = 0.4
    sleep = 0.05
    lock2 = get_lock(client, "foo", sleep=sleep, blocking_timeout=bt)
    before = set_calls(r)
    start = time.monotonic()
    assert not lock2.acquire()
    elapsed = time.monotonic() - start
    # redis-py mocks time.sleep and sees 8 sleeps; here the waits are in C: count the attempts instead. Besides one
    # per sleep, the wait is cut into 0.25 s slices (for Ctrl-C), each starting with an attempt, and a new
    # subscription to the lock's release channel is followed by one.
    assert 2 <= set_calls(r) - before <= bt / sleep + 1 + (bt / 0.25 + 1) + 1
    assert bt - sleep <= elapsed < bt + 1.5  # generous upper bound: a loaded machine
    lock1.release()


def test_context_manager(client, r):
    # blocking_timeout prevents a deadlock if the lock can't be acquired for some reason
    with get_lock(client, "foo", blocking_timeout=0.2) as lock:
        assert r.get("foo") == lock.local.token
    assert r.get("foo") is None


def test_context_manager_raises_when_locked_not_acquired(client, r):
    r.set("foo", "bar")
    with pytest.raises(LockError):
        with get_lock(client, "foo", blocking_timeout=0.1):
            pass


def test_context_manager_cleans_up_an_acquire_of_unknown_outcome(client, r, monkeypatch):
    # An acquire that raised ConnectionError/TimeoutError may still have taken the lock, and nothing outside the
    # with-statement can reach the lock to release it: __enter__ does, best effort, before re-raising.
    import libredlock
    real = Lock.acquire

    def taken_then_lost(self, *a, **k):
        real(self, *a, **k)  # the SET lands...
        raise libredlock.ConnectionError("read failed: Connection reset by peer")  # ...and its reply is lost

    monkeypatch.setattr(Lock, "acquire", taken_then_lost)
    with pytest.raises(libredlock.ConnectionError):
        with get_lock(client, "foo", timeout=30):
            pytest.fail("the block ran")
    assert r.get("foo") is None


def test_high_sleep_small_blocking_timeout(client):
    lock1 = get_lock(client, "foo")
    assert lock1.acquire(blocking=False)
    sleep = 60
    bt = 1
    lock2 = get_lock(client, "foo", sleep=sleep, blocking_timeout=bt)
    start = time.monotonic()
    assert not lock2.acquire()
    # redis-py gives up at once (its next poll would be past the deadline). libredlock listens for a release until
    # the deadline instead: it returns then, not after the 60 s sleep.
    assert bt - 0.05 <= time.monotonic() - start < bt + 1
    lock1.release()


def test_releasing_unlocked_lock_raises_error(client):
    lock = get_lock(client, "foo")
    with pytest.raises(LockError):
        lock.release()


def test_releasing_lock_no_longer_owned_raises_error(client, r):
    lock = get_lock(client, "foo")
    lock.acquire(blocking=False)
    # manually change the token
    r.set("foo", "a")
    with pytest.raises(LockNotOwnedError):
        lock.release()
    # even though we errored, the token is still cleared
    assert lock.local.token is None


def test_extend_lock(client, r):
    lock = get_lock(client, "foo", timeout=10)
    assert lock.acquire(blocking=False)
    assert 8000 < r.pttl("foo") <= 10000
    assert lock.extend(10)
    assert 16000 < r.pttl("foo") <= 20000
    lock.release()


def test_extend_lock_replace_ttl(client, r):
    lock = get_lock(client, "foo", timeout=10)
    assert lock.acquire(blocking=False)
    assert 8000 < r.pttl("foo") <= 10000
    assert lock.extend(10, replace_ttl=True)
    assert 8000 < r.pttl("foo") <= 10000
    lock.release()


def test_extend_lock_float(client, r):
    lock = get_lock(client, "foo", timeout=10.5)
    assert lock.acquire(blocking=False)
    assert 10400 < r.pttl("foo") <= 10500
    assert lock.extend(10.5)
    assert 20500 < r.pttl("foo") <= 21000
    lock.release()


def test_extending_unlocked_lock_raises_error(client):
    lock = get_lock(client, "foo", timeout=10)
    with pytest.raises(LockError):
        lock.extend(10)


def test_extending_lock_with_no_timeout_raises_error(client):
    lock = get_lock(client, "foo")
    assert lock.acquire(blocking=False)
    with pytest.raises(LockError):
        lock.extend(10)
    lock.release()


def test_extending_lock_no_longer_owned_raises_error(client, r):
    lock = get_lock(client, "foo", timeout=10)
    assert lock.acquire(blocking=False)
    r.set("foo", "a")
    with pytest.raises(LockNotOwnedError):
        lock.extend(10)


def test_reacquire_lock(client, r):
    lock = get_lock(client, "foo", timeout=10)
    assert lock.acquire(blocking=False)
    assert r.pexpire("foo", 5000)
    assert r.pttl("foo") <= 5000
    assert lock.reacquire()
    assert 8000 < r.pttl("foo") <= 10000
    lock.release()


def test_reacquiring_unlocked_lock_raises_error(client):
    lock = get_lock(client, "foo", timeout=10)
    with pytest.raises(LockError):
        lock.reacquire()


def test_reacquiring_lock_with_no_timeout_raises_error(client):
    lock = get_lock(client, "foo")
    assert lock.acquire(blocking=False)
    with pytest.raises(LockError):
        lock.reacquire()
    lock.release()


def test_reacquiring_lock_no_longer_owned_raises_error(client, r):
    lock = get_lock(client, "foo", timeout=10)
    assert lock.acquire(blocking=False)
    r.set("foo", "a")
    with pytest.raises(LockNotOwnedError):
        lock.reacquire()


def test_lock_class_argument(client):
    class MyLock(Lock):
        pass

    lock = client.lock("foo", lock_class=MyLock)
    assert type(lock) == MyLock

"""Sentinel end to end: a master and a sentinel started here; locks reach the master through the sentinel, and
exclude redis-py's locks on the master as on one server. (Cluster and failovers: tests/test_cluster.cpp and
tests/test_sentinel.cpp, through the same C library.)"""
import pytest
import redis

import libredlock

SENTINEL_CONF = "sentinel monitor mymaster 127.0.0.1 %d 1\nsentinel down-after-milliseconds mymaster 1000\n"


@pytest.fixture(scope="module")
def sentinel(make_server_module):
    master = make_server_module()
    return master, make_server_module("--sentinel", config=SENTINEL_CONF % master.port)


def test_lock_through_sentinel(sentinel):
    master, s = sentinel
    c = libredlock.Client.from_url("redis+sentinel://127.0.0.1:%d/mymaster" % s.port)
    assert c.ping()
    lock = c.lock("py:sentinel", timeout=10)
    assert lock.acquire()
    r = redis.Redis(port=master.port)
    assert r.get("py:sentinel") == lock.token  # on the master the sentinel names
    lock.release()
    assert r.get("py:sentinel") is None

    # redis-py's Lock on the master and ours through the sentinel exclude each other.
    theirs = r.lock("py:sentinel:interop", timeout=10)
    assert theirs.acquire(blocking=False)
    assert not c.lock("py:sentinel:interop", timeout=10).acquire(blocking=False)
    theirs.release()
    with c.lock("py:sentinel:interop", timeout=10):
        assert not theirs.acquire(blocking=False)


def test_sentinel_credentials_go_to_the_sentinels(sentinel):
    _, s = sentinel
    c = libredlock.Client("redis+sentinel://127.0.0.1:%d/mymaster" % s.port, sentinel_password="nope")
    with pytest.raises(libredlock.AuthenticationError, match="sentinel"):
        c.ping()
    with pytest.raises(libredlock.InvalidArgumentError, match="redis\\+sentinel://"):
        libredlock.Client("redis://127.0.0.1:%d" % s.port, sentinel_password="x")


def test_unknown_service_is_a_connection_error(sentinel):
    _, s = sentinel
    c = libredlock.Client("redis+sentinel://127.0.0.1:%d/other?connect_timeout=1000&command_timeout=1000" % s.port)
    with pytest.raises(libredlock.ConnectionError, match="monitors no master named 'other'"):
        c.lock("py:sentinel:x", timeout=1).acquire(blocking=False)

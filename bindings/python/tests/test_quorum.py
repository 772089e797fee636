"""Redlock over independent masters from Python: Client.from_urls against five private redis-servers."""
import math
import threading
import time

import pytest
import redis

import libredlock


@pytest.fixture(scope="module")
def masters(make_server_module):
    return [make_server_module() for _ in range(5)]


@pytest.fixture
def quorum(masters):
    c = libredlock.Client.from_urls([m.url for m in masters], socket_timeout=1, socket_connect_timeout=1)
    yield c
    c.close()


def test_a_quorum_lock_takes_one_token_on_every_master(masters, quorum):
    lock = quorum.lock("pyq:basic", timeout=10)
    assert lock.acquire(blocking=False)
    assert lock.validity is not None and 8.0 < lock.validity <= 10 - 0.102
    token = lock.token
    # the slowest master may answer after the majority decided
    deadline = time.monotonic() + 2
    while sum(redis.Redis(port=m.port).get("pyq:basic") == token for m in masters) < 5:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert libredlock.last_quorum_outcomes().count(0) >= 3
    other = quorum.lock("pyq:basic", timeout=10)
    assert not other.acquire(blocking=False)
    assert libredlock.last_quorum_outcomes().count(1) >= 3
    assert other.validity is None
    lock.extend(5)
    assert lock.validity > 13
    lock.release()
    assert libredlock.last_quorum_outcomes().count(0) >= 3  # decided by a majority; the others get it all the same
    deadline = time.monotonic() + 2
    while any(redis.Redis(port=m.port).get("pyq:basic") is not None for m in masters):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert quorum.urls == [m.url for m in masters]


def test_a_majority_lost_means_not_owned(masters, quorum):
    lock = quorum.lock("pyq:lost", timeout=10)
    with lock:
        for m in masters[:3]:
            redis.Redis(port=m.port).delete("pyq:lost")
        assert not lock.owned()
        with pytest.raises(libredlock.LockNotOwnedError) as e:
            lock.extend(1)
        assert "3 needed" in str(e.value) and "did not hold it" in str(e.value)
        with pytest.raises(libredlock.LockNotOwnedError):
            lock.release()
        lock.acquire()  # so that the with block's release has something to release


def test_two_masters_down_still_lock(make_server):
    servers = [make_server() for _ in range(5)]
    c = libredlock.Client.from_urls([s.url for s in servers], socket_timeout=1, socket_connect_timeout=1)
    servers[0].stop()
    servers[1].stop()
    lock = c.lock("pyq:down", timeout=5)
    with lock:
        # refused (-5), or not yet when the three had answered (-6): never OK
        assert all(code in (-5, -6) for code in libredlock.last_quorum_outcomes()[:2])
        assert lock.validity > 4
    servers[2].stop()
    with pytest.raises(libredlock.ConnectionError) as e:
        lock.acquire(blocking_timeout=0.5)
    assert "3 needed" in str(e.value)


def test_quorum_arguments_are_checked(masters):
    with pytest.raises(TypeError):
        libredlock.Client.from_urls(masters[0].url)  # one URL, not a list
    with pytest.raises(TypeError):
        libredlock.Client(masters[0].url, urls=[masters[1].url])
    with pytest.raises(libredlock.InvalidArgumentError):
        libredlock.Client.from_urls([])
    with pytest.raises(libredlock.InvalidArgumentError) as e:
        libredlock.Client.from_urls([masters[0].url, masters[0].url])
    assert "same server" in str(e.value)
    with pytest.raises(TypeError):
        libredlock.Client.from_urls([m.url for m in masters], ssl=True)  # rediss:// in each URL instead
    with pytest.raises(libredlock.InvalidArgumentError) as e:
        libredlock.Client.from_urls([m.url for m in masters], tls_ca_file="/nonexistent")
    assert "rediss://" in str(e.value)  # the library's own check, per URL
    c = libredlock.Client.from_urls([m.url for m in masters])
    with pytest.raises(libredlock.InvalidArgumentError):
        c.lock("pyq:nottl")  # a quorum lock needs a TTL
    with pytest.raises(libredlock.InvalidArgumentError):
        c.lock("pyq:fence", timeout=1, fencing=True)


def test_validity_on_a_single_server(client):
    timed = client.lock("pyq:single", timeout=2)
    forever = client.lock("pyq:forever")
    assert timed.validity is None
    with timed, forever:
        assert 1.0 < timed.validity <= 2 - 0.022
        assert forever.validity == math.inf


def test_threads_of_one_shared_quorum_handle(quorum):
    lock = quorum.lock("pyq:shared", timeout=10, thread_local=False)
    lock.acquire()
    errors = []
    t = threading.Thread(target=lambda: errors.append(lock.release()))
    t.start()
    t.join()
    assert errors == [None]
    assert not lock.locked()

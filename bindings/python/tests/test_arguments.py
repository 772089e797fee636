"""Arguments: durations at and past the C library's limit (10**12 ms), TypeErrors for what is not a number, a name or
a Lock class, and redis-py's keyword form of Client."""
import fractions
import os
import shutil
import socket
import tempfile
import threading
import time

import pytest
import redis

import libredlock
from libredlock import Client, InvalidArgumentError, Lock

INF, NAN = float("inf"), float("nan")
EXTREMES = [2**63 - 1, -2**63, 2**53, 1e300, INF, -INF, NAN]
ABOVE = [2**63 - 1, 2**53, 1e300, INF, libredlock.MAX_DURATION + 1]  # past the limit, upwards
BELOW = [-2**63, -INF]


def test_the_limit():
    assert libredlock.MAX_DURATION_MS == 10**12
    assert libredlock.MAX_DURATION == 10**9
    assert libredlock._native.MAX_DURATION_MS == 10**12


# -- what each duration parameter makes of the extremes, at the conversion to C milliseconds --

@pytest.mark.parametrize("value", EXTREMES + [libredlock.MAX_DURATION + 1, -0.001])
def test_timeout_sleep_extend_reject_anything_out_of_range(value):
    for convert in (libredlock._ttl_ms, lambda v: libredlock._span_ms(v, "sleep"),
                    lambda v: libredlock._span_ms(v, "additional_time")):
        with pytest.raises(InvalidArgumentError) as e:
            convert(value)
        assert "1000000000 s" in str(e.value) or "NaN" in str(e.value)


def test_in_range_durations_become_truncated_ms():
    assert libredlock._ttl_ms(None) == 0 and libredlock._ttl_ms(0) == 0  # never expires
    assert libredlock._ttl_ms(libredlock.MAX_DURATION) == 10**12
    assert libredlock._ttl_ms(float(libredlock.MAX_DURATION)) == 10**12
    assert libredlock._ttl_ms(9.5) == 9500
    assert libredlock._ttl_ms(fractions.Fraction(3, 2)) == 1500
    assert libredlock._span_ms(0.0019, "sleep") == 1  # truncated, as redis-py's int(x * 1000)
    with pytest.raises(InvalidArgumentError, match="at least 0.001 s"):
        libredlock._ttl_ms(0.0009)


@pytest.mark.parametrize("value", EXTREMES + [libredlock.MAX_DURATION + 1, None, 10**12])
def test_blocking_timeout_extremes(value):
    expected = {-2**63: 0, -INF: 0}.get(value, -1)  # above the limit, None, inf: forever; negative: one attempt
    if value is not None and value != value:
        with pytest.raises(InvalidArgumentError, match="NaN"):
            libredlock._wait_ms(value)
    else:
        assert libredlock._wait_ms(value) == expected
    assert libredlock._wait_ms(libredlock.MAX_DURATION) == 10**12
    assert libredlock._wait_ms(-1) == 0 and libredlock._wait_ms(0) == 0


@pytest.mark.parametrize("value", EXTREMES + [libredlock.MAX_DURATION + 1, None, 0, -1])
def test_client_timeout_extremes(value):
    if value is None or (value == value and value > libredlock.MAX_DURATION):
        assert libredlock._limit_ms(value, "command_timeout") == -1  # no limit
    else:
        with pytest.raises(InvalidArgumentError):
            libredlock._limit_ms(value, "command_timeout")
    assert libredlock._limit_ms(libredlock.MAX_DURATION, "command_timeout") == 10**12


# -- the same through every public call: only the documented exceptions, whatever the value --

@pytest.mark.parametrize("value", EXTREMES)
def test_every_call_with_extremes(server, r, value):
    c = Client(server.url)
    for make in (lambda: c.lock("args:x", timeout=value), lambda: Lock(c, "args:x", timeout=value),
                 lambda: c.lock("args:x", sleep=value), lambda: Lock(c, "args:x", sleep=value)):
        with pytest.raises(InvalidArgumentError):
            make()
    lock = c.lock("args:x", timeout=10)
    with pytest.raises(InvalidArgumentError):
        lock.acquire(sleep=value)
    assert lock.acquire(blocking=False)
    for replace in (False, True):
        with pytest.raises(InvalidArgumentError):
            lock.extend(value, replace_ttl=replace)
    assert 0 < r.pttl("args:x") <= 10000  # nothing reached Redis
    lock.release()
    if value != value:
        for call in (lambda: c.lock("args:x", blocking_timeout=value), lambda: lock.acquire(blocking_timeout=value),
                     lambda: Lock(c, "args:x", blocking_timeout=value)):
            with pytest.raises(InvalidArgumentError):
                call()
    else:
        for other in (c.lock("args:x", blocking_timeout=value), Lock(c, "args:x", blocking_timeout=value)):
            assert other.acquire()  # free: acquired at once
            other.release()
        assert lock.acquire(blocking_timeout=value)
        lock.release()
    for name in ("connect_timeout", "command_timeout", "socket_timeout", "socket_connect_timeout"):
        for make in (lambda: Client(server.url, **{name: value}), lambda: Client.from_url(server.url, **{name: value}),
                     lambda: Client(port=server.port, **{name: value})):
            if value == value and value > 0:
                assert make().ping()  # no limit
            else:
                with pytest.raises(InvalidArgumentError):
                    make()


def _acquire_in_thread(lock, **kw):
    got = []
    t = threading.Thread(target=lambda: got.append(lock.acquire(**kw)), daemon=True)
    t.start()
    return t, got


@pytest.mark.parametrize("value", ABOVE)
@pytest.mark.parametrize("where", ["lock", "acquire"])
def test_blocking_timeout_above_the_limit_waits_forever(client, value, where):
    holder = client.lock("args:wait", timeout=30)
    assert holder.acquire()
    if where == "lock":
        waiter = client.lock("args:wait", timeout=30, sleep=0.01, blocking_timeout=value, thread_local=False)
        t, got = _acquire_in_thread(waiter)
    else:
        waiter = client.lock("args:wait", timeout=30, sleep=0.01, thread_local=False)
        t, got = _acquire_in_thread(waiter, blocking_timeout=value)
    time.sleep(0.2)
    assert t.is_alive(), "gave up instead of waiting"
    holder.release()
    t.join(10)
    assert got == [True]
    waiter.release()


@pytest.mark.parametrize("value", BELOW + [-1, -0.5])
def test_negative_blocking_timeout_is_one_attempt(client, r, value):
    holder = client.lock("args:once", timeout=30)
    assert holder.acquire()
    for lock, kw in ((client.lock("args:once", sleep=0.01), {"blocking_timeout": value}),
                     (client.lock("args:once", sleep=0.01, blocking_timeout=value), {})):
        start = time.monotonic()
        t, got = _acquire_in_thread(lock, **kw)
        t.join(5)
        assert got == [False]
        assert time.monotonic() - start < 2
    holder.release()


def test_durations_at_the_limit_reach_redis(client, r):
    lock = client.lock("args:max", timeout=libredlock.MAX_DURATION, sleep=libredlock.MAX_DURATION,
                       blocking_timeout=libredlock.MAX_DURATION)
    assert lock.acquire()
    assert 10**12 - 60000 < r.pttl("args:max") <= 10**12
    assert lock.extend(libredlock.MAX_DURATION, replace_ttl=True)
    assert 10**12 - 60000 < r.pttl("args:max") <= 10**12
    assert lock.extend(0)
    lock.release()
    never = client.lock("args:max", timeout=0)
    assert never.acquire()
    assert r.ttl("args:max") == -1
    never.release()
    assert Client(client.url, connect_timeout=libredlock.MAX_DURATION,
                  command_timeout=libredlock.MAX_DURATION).ping()


# -- TypeErrors --

NOT_NUMBERS = ["10", b"10", True, False, [1], 1j, object()]


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_time_arguments_must_be_numbers(client, value):
    calls = {
        "timeout": lambda: client.lock("args:t", timeout=value),
        "sleep": lambda: client.lock("args:t", sleep=value),
        "blocking_timeout": lambda: client.lock("args:t", blocking_timeout=value),
    }
    lock = client.lock("args:t", timeout=10)
    calls["sleep "] = lambda: lock.acquire(sleep=value)
    calls["blocking_timeout "] = lambda: lock.acquire(blocking_timeout=value)
    calls["additional_time"] = lambda: lock.extend(value)
    for name in ("connect_timeout", "command_timeout", "socket_timeout", "socket_connect_timeout", "keepalive"):
        calls[name] = (lambda n: lambda: Client(client.url, **{n: value}))(name)
    calls["socket_timeout  "] = lambda: Client(port=1, socket_timeout=value)
    for what, call in calls.items():
        with pytest.raises(TypeError) as e:
            call()
        assert what.strip() in str(e.value), (what, str(e.value))
    assert lock.acquire(blocking=False)  # nothing was left half-done
    lock.release()


def test_sleep_none_is_a_type_error_on_the_lock_and_the_default_on_acquire(client):
    with pytest.raises(TypeError, match="sleep"):
        client.lock("args:t", sleep=None)
    assert client.lock("args:t", sleep=0).acquire(sleep=None, blocking=False)


def test_blocking_takes_any_truth_value_as_redis_py(client):
    holder = client.lock("args:b")
    assert holder.acquire(blocking=0)
    assert client.lock("args:b", blocking=False).acquire() is False
    assert client.lock("args:b").acquire(blocking=0) is False
    assert client.lock("args:b").acquire(blocking="", blocking_timeout=0) is False
    holder.release()


def test_lock_class_must_be_a_libredlock_lock(client):
    import redis.lock
    for bad in (redis.lock.Lock, object, "Lock", Lock(client, "args:l"), int):
        with pytest.raises(TypeError, match="lock_class"):
            client.lock("args:l", lock_class=bad)

    class Mine(Lock):
        pass

    assert type(client.lock("args:l", 10, 0.1, True, None, Mine)) is Mine  # redis-py's positional order
    assert client.lock("args:l", 10, 0.1, True, None, None, False).thread_local is False


@pytest.mark.parametrize("name", [123, None, 1.5, ["a"], memoryview(b"a")])
def test_names_are_str_or_bytes(client, name):
    with pytest.raises(TypeError, match="name"):
        client.lock(name)
    with pytest.raises(TypeError, match="name"):
        Lock(client, name)


def test_tokens_are_str_or_bytes(client):
    with pytest.raises(TypeError, match="token"):
        client.lock("args:tok").acquire(token=123)


@pytest.mark.parametrize("kw, error", [
    ({"port": "6379"}, TypeError), ({"port": True}, TypeError), ({"port": 0}, InvalidArgumentError),
    ({"port": 65536}, InvalidArgumentError), ({"port": 2**64}, InvalidArgumentError),
    ({"host": 127001}, TypeError), ({"host": ""}, InvalidArgumentError), ({"host": "a/b"}, InvalidArgumentError),
    ({"host": "user:pw@host"}, InvalidArgumentError), ({"host": "h?db=2"}, InvalidArgumentError),
    ({"host": "h st"}, InvalidArgumentError), ({"host": "[::1"}, InvalidArgumentError),
    ({"db": -1}, InvalidArgumentError), ({"db": 2**31}, InvalidArgumentError), ({"db": 2**64}, InvalidArgumentError),
    ({"db": "1"}, TypeError), ({"db": 1.0}, TypeError),
    ({"max_connections": 0}, InvalidArgumentError), ({"max_connections": 2**32 + 16}, InvalidArgumentError),
    ({"keepalive": -1}, InvalidArgumentError), ({"keepalive": 2**40}, InvalidArgumentError),
    ({"keepalive": INF}, InvalidArgumentError), ({"keepalive": NAN}, InvalidArgumentError),
    ({"unix_socket_path": 5}, TypeError), ({"unix_socket_path": ""}, InvalidArgumentError),
    ({"unix_socket_path": "/s", "host": "h"}, TypeError), ({"unix_socket_path": "/s", "port": 1}, TypeError),
    ({"socket_timeout": 1, "command_timeout": 1}, TypeError),
    ({"socket_connect_timeout": 1, "connect_timeout": 1}, TypeError),
    ({"password": 1234}, TypeError), ({"username": 1234}, TypeError),
    ({"password": "a\0b"}, InvalidArgumentError), ({"username": b"a\0"}, InvalidArgumentError),
    ({"url": "redis://127.0.0.1:1\0/2"}, InvalidArgumentError), ({"host": "a\0b"}, InvalidArgumentError),
    ({"unix_socket_path": "/tmp/a\0b"}, InvalidArgumentError),
])
def test_client_keyword_checks(kw, error):
    with pytest.raises(error):
        Client(**kw)


# -- Client: redis-py's keywords --

def test_host_and_port(server, r):
    c = Client(host="127.0.0.1", port=server.port)
    assert c.url == "redis://127.0.0.1:%d" % server.port
    lock = c.lock("args:kw", timeout=10)
    assert lock.acquire()
    assert r.get("args:kw") == lock.token
    lock.release()
    lock = Client(host="localhost", port=server.port, db=2, socket_timeout=None,
                  socket_connect_timeout=None).lock("args:kw", timeout=10)
    assert lock.acquire()
    assert redis.Redis(port=server.port, db=2).get("args:kw") == lock.token
    lock.release()
    assert Client().url == "redis://127.0.0.1:6379"  # redis-py's default server (it says localhost)


def test_url_and_host_or_port_is_a_type_error(server):
    for kw in ({"host": "127.0.0.1"}, {"port": server.port}, {"unix_socket_path": "/tmp/x.sock"}):
        with pytest.raises(TypeError, match="not both"):
            Client(server.url, **kw)
        with pytest.raises(TypeError, match="not both"):
            Client.from_url(server.url, **kw)
        with pytest.raises(TypeError, match="not both"):
            Client(url=server.url, **kw)


def test_ipv6_hosts_are_bracketed(make_server):
    s = make_server("--bind", "127.0.0.1", "::1")
    for host in ("::1", "[::1]"):
        c = Client(host=host, port=s.port)
        assert c.url == "redis://[::1]:%d" % s.port
        assert c.ping()
    assert Client(host="fe80::1%lo", port=1).url == "redis://[fe80::1%lo]:1"


def test_password_and_username_never_go_into_a_url_or_a_message(make_server):
    password = "p@ss:w/rd?%41#"  # every character that a URL would treat specially
    s = make_server("--requirepass", password)
    c = Client(port=s.port, password=password)
    assert password not in c.url and "@" not in c.url
    assert c.ping()
    assert Client(host="127.0.0.1", port=s.port, username="default", password=password).ping()
    assert Client("redis://127.0.0.1:%d" % s.port, password=password).ping()
    with pytest.raises(libredlock.AuthenticationError) as e:
        Client(port=s.port, username="default", password=password + "x").ping()
    assert password not in str(e.value)
    with pytest.raises(libredlock.AuthenticationError):
        Client(port=s.port).lock("args:pw").acquire()


def test_unix_socket_path(make_server):
    d = tempfile.mkdtemp(prefix="rl-")  # short: sun_path holds 107 bytes
    try:
        path = d + "/a?b@c%25 d.sock"  # characters a URL would read as query, credentials or an escape
        s = make_server("--unixsocket", path, "--unixsocketperm", "700")
        c = Client(unix_socket_path=path, db=3)
        assert c.url.startswith("unix:///")
        lock = c.lock("args:unix", timeout=10)
        assert lock.acquire()
        assert redis.Redis(port=s.port, db=3).get("args:unix") == lock.token
        lock.release()
        rel = os.path.relpath(path)  # relative to the working directory, as redis-py would take it
        assert Client(unix_socket_path=rel).ping()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_socket_connect_timeout_is_the_connect_timeout():
    """A server that never answers: the handshake (AUTH) runs under the connect timeout, commands under the command
    timeout; each keyword lands on its own."""
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        port = mute.getsockname()[1]
        start = time.monotonic()
        with pytest.raises((libredlock.TimeoutError, libredlock.ConnectionError)):
            Client(port=port, password="x", socket_connect_timeout=0.3, socket_timeout=60).ping()
        assert time.monotonic() - start < 5
        start = time.monotonic()
        with pytest.raises(libredlock.TimeoutError):
            Client(port=port, socket_connect_timeout=60, socket_timeout=0.3).ping()
        assert time.monotonic() - start < 5

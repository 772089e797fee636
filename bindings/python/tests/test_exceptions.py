"""Code written against redis-py catches libredlock's exceptions: with redis-py installed each is also the redis-py
exception of the same name; without redis-py the package imports and keeps its own and the builtin bases."""
import builtins
import os
import socket
import subprocess
import sys

import pytest
import redis.exceptions as rx

import libredlock
from libredlock import Client


@pytest.mark.parametrize("ours, theirs, builtin", [
    (libredlock.RedlockError, rx.RedisError, Exception),
    (libredlock.LockError, rx.LockError, Exception),
    (libredlock.LockNotOwnedError, rx.LockNotOwnedError, libredlock.LockError),
    (libredlock.ConnectionError, rx.ConnectionError, builtins.ConnectionError),
    (libredlock.TimeoutError, rx.TimeoutError, builtins.TimeoutError),
    (libredlock.ResponseError, rx.ResponseError, Exception),
    (libredlock.AuthenticationError, rx.AuthenticationError, libredlock.ResponseError),
    (libredlock.AuthenticationError, rx.NoPermissionError, Exception),
    (libredlock.InvalidArgumentError, rx.RedisError, ValueError),
])
def test_classes_are_also_redis_pys(ours, theirs, builtin):
    assert issubclass(ours, theirs)
    assert issubclass(ours, builtin)
    assert issubclass(ours, libredlock.RedlockError)
    e = ours("a message", -1)  # every MRO works at construction too
    assert str(e) == "a message" and e.code == -1


def test_not_across_kinds():
    assert not issubclass(libredlock.LockError, rx.ConnectionError)
    assert not issubclass(libredlock.ConnectionError, rx.LockError)
    assert not issubclass(libredlock.TimeoutError, rx.ConnectionError)
    assert not issubclass(libredlock.ResponseError, rx.ConnectionError)


def test_redis_py_except_clauses_catch_lock_errors(client, r):
    lock = client.lock("exc", timeout=10)
    with pytest.raises(rx.LockError):
        lock.release()  # not held
    assert lock.acquire(blocking=False)
    r.set("exc", "someone else")
    with pytest.raises(rx.LockNotOwnedError):
        lock.extend(10)
    with pytest.raises(rx.LockNotOwnedError):
        lock.release()
    r.delete("exc")
    with pytest.raises(rx.LockError):
        with client.lock("exc", timeout=10):
            with client.lock("exc", timeout=10, blocking=False):
                pass


def test_redis_py_except_clauses_catch_connection_and_timeout_errors(server):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(rx.ConnectionError):
        Client(port=port, socket_connect_timeout=1).ping()
    with socket.socket() as mute:  # accepts connections (backlog) and never answers
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        c = Client(port=mute.getsockname()[1], socket_timeout=0.2)
        with pytest.raises(rx.TimeoutError) as e:
            c.lock("exc").acquire()
        assert isinstance(e.value, builtins.TimeoutError)


def test_redis_py_except_clauses_catch_server_errors(server, r):
    lock = Client(server.url).lock("exc:list")
    assert lock.acquire()
    r.delete("exc:list")
    r.rpush("exc:list", "x")
    with pytest.raises(rx.ResponseError) as e:
        lock.owned()  # GET on a list: WRONGTYPE
    assert "WRONGTYPE" in str(e.value)
    with pytest.raises(rx.AuthenticationError):
        Client(server.url, password="wrong").ping()


def test_without_redis_py_the_package_imports(tmp_path):
    """redis made unimportable (None in sys.modules): the classes keep their own and the builtin bases only."""
    code = r"""
import builtins, sys
sys.modules["redis"] = None
import libredlock as L
assert "redis" not in {c.__module__.split(".")[0] for k in dir(L) for c in getattr(getattr(L, k), "__mro__", ())}
assert issubclass(L.ConnectionError, builtins.ConnectionError) and issubclass(L.ConnectionError, L.RedlockError)
assert issubclass(L.TimeoutError, builtins.TimeoutError)
assert issubclass(L.InvalidArgumentError, ValueError)
assert issubclass(L.LockNotOwnedError, L.LockError) and not issubclass(L.LockError, ValueError)
assert issubclass(L.AuthenticationError, L.ResponseError)
try:
    L.Client(sys.argv[1]).lock("exc:noredis").release()
except L.LockError as e:
    print("ok", e.code)
"""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(libredlock.__file__))
    p = subprocess.run([sys.executable, "-c", code, "redis://127.0.0.1:1"], capture_output=True, text=True,
                       timeout=60, env=env, cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "ok -2"



def test_a_redis_py_whose_lock_error_has_its_own_init(tmp_path):
    """Newer redis-py gives LockError an __init__(message=None, lock_name=None) that does not call up: our message
    and code survive it (a stand-in redis package plays that redis-py)."""
    fake = tmp_path / "fake" / "redis"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "exceptions.py").write_text(
        "class RedisError(Exception): pass\n"
        "class LockError(RedisError, ValueError):\n"
        "    def __init__(self, message=None, lock_name=None):\n"
        "        self.message = message\n"
        "        self.lock_name = lock_name\n"
        "class LockNotOwnedError(LockError): pass\n")
    code = r"""
import redis.exceptions, libredlock
assert issubclass(libredlock.LockNotOwnedError, redis.exceptions.LockNotOwnedError)
assert issubclass(libredlock.ConnectionError, redis.exceptions.RedisError)  # no ConnectionError there: base only
try:
    libredlock.Client("redis://127.0.0.1:1").lock("exc:fake").release()
except redis.exceptions.LockError as e:
    print(str(e), e.code)
"""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "fake"), os.path.dirname(os.path.dirname(libredlock.__file__))])
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env,
                       cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    message, code_ = p.stdout.strip().rsplit(" ", 1)
    assert code_ == "-2" and message.startswith("Cannot release an unlocked lock"), p.stdout  # not a tuple

"""What outside testing and a new user's first hour found: redis-py's exceptions, redis.Redis's keywords, clear
TypeErrors, every duration at its extremes, type hints, and where the C library may be loaded from."""
import math
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time

import pytest
import redis
import redis.exceptions
import redis.lock

import libredlock
from libredlock import Client, InvalidArgumentError

from conftest import Server

PACKAGE_SRC = pathlib.Path(__file__).resolve().parents[1]  # bindings/python
EXTREMES = [2 ** 63 - 1, -2 ** 63, 2 ** 53, 1e300, math.inf, -math.inf, math.nan]


# --- redis-py's exceptions -------------------------------------------------------------------------------------------

def test_errors_are_also_redis_py_errors(client, server):
    for ours, theirs in [(libredlock.LockError, redis.exceptions.LockError),
                         (libredlock.LockNotOwnedError, redis.exceptions.LockNotOwnedError),
                         (libredlock.ConnectionError, redis.exceptions.ConnectionError),
                         (libredlock.TimeoutError, redis.exceptions.TimeoutError),
                         (libredlock.ResponseError, redis.exceptions.ResponseError),
                         (libredlock.AuthenticationError, redis.exceptions.AuthenticationError),
                         (libredlock.AuthenticationError, redis.exceptions.NoPermissionError)]:
        assert issubclass(ours, theirs), (ours, theirs)
        assert issubclass(ours, libredlock.RedlockError)
    assert issubclass(libredlock.ConnectionError, ConnectionError)  # the builtin too
    assert issubclass(libredlock.InvalidArgumentError, ValueError)
    # Code written for redis-py catches ours: "the switch is only a change of import".
    with pytest.raises(redis.exceptions.LockError):
        client.lock("hard:exc", timeout=10).release()
    lock = client.lock("hard:exc", timeout=10)
    assert lock.acquire()
    redis.Redis(port=server.port).delete("hard:exc")
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        lock.release()
    with pytest.raises(redis.exceptions.ConnectionError):
        Client("redis://127.0.0.1:1").ping()


def test_imports_and_works_without_redis_py(tmp_path):
    code = ("import sys; sys.modules['redis'] = None\n"  # makes `import redis` fail, as if not installed
            "import libredlock\n"
            "assert all(c.__module__ in ('libredlock', 'builtins') for c in libredlock.LockError.__mro__), "
            "libredlock.LockError.__mro__\n"
            "try:\n"
            "    libredlock.Client('redis://127.0.0.1:1').ping()\n"
            "except libredlock.ConnectionError as e:\n"
            "    print('ok', e.code)\n")
    env = dict(os.environ, PYTHONPATH=str(pathlib.Path(libredlock.__file__).parents[1]))
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=str(tmp_path),
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "ok -5"


# --- redis.Redis's keywords ------------------------------------------------------------------------------------------

def test_client_takes_redis_redis_keywords(server):
    c = Client(host="127.0.0.1", port=server.port, db=2, socket_timeout=None, socket_connect_timeout=2)
    lock = c.lock("hard:kw", timeout=10)
    assert lock.acquire()
    assert redis.Redis(port=server.port, db=2).get("hard:kw") == lock.token
    lock.release()
    assert Client(host="::1", port=6390).url == "redis://[::1]:6390"  # IPv6 in brackets; nothing connects yet
    assert Client().url == "redis://127.0.0.1:6379/0"


def test_client_keywords_keep_the_password_out_of_urls_and_messages(server):
    c = Client(host="127.0.0.1", port=server.port, username="nosuchuser", password="Hunter2/secret?#")
    assert "Hunter2" not in c.url
    with pytest.raises(libredlock.AuthenticationError) as e:  # WRONGPASS
        c.ping()
    assert "Hunter2" not in str(e.value)


def test_client_unix_socket_path(tmp_path):
    sock = str(tmp_path / "redis.sock")
    s = Server(extra=("--unixsocket", sock, "--unixsocketperm", "700"))
    try:
        c = Client(unix_socket_path=sock, db=1)
        lock = c.lock("hard:unix", timeout=10)
        assert lock.acquire()
        assert redis.Redis(port=s.port, db=1).get("hard:unix") == lock.token
        lock.release()
    finally:
        s.stop()


def test_client_keyword_conflicts_are_type_errors():
    with pytest.raises(TypeError):
        Client("redis://127.0.0.1", host="127.0.0.1")
    with pytest.raises(TypeError):
        Client(socket_timeout=1, command_timeout=1)
    with pytest.raises(TypeError):
        Client(socket_connect_timeout=1, connect_timeout=1)
    with pytest.raises(InvalidArgumentError):
        Client(host="a/b")
    with pytest.raises(InvalidArgumentError):
        Client(port=70000)
    with pytest.raises(TypeError):
        Client(db="1")
    with pytest.raises(TypeError):
        Client(max_connections=2.5)


# --- clear TypeErrors ------------------------------------------------------------------------------------------------

def test_wrong_types_are_type_errors(client):
    for kwargs in [dict(timeout="10"), dict(sleep="0.1"), dict(blocking_timeout="1"), dict(timeout=True),
                   dict(timeout=[1])]:
        with pytest.raises(TypeError) as e:
            client.lock("hard:types", **kwargs)
        assert list(kwargs)[0] in str(e.value)
    lock = client.lock("hard:types", timeout=10)
    with pytest.raises(TypeError):
        lock.acquire(blocking_timeout="1")
    with pytest.raises(TypeError):
        lock.acquire(sleep="1")
    assert lock.acquire()
    with pytest.raises(TypeError):
        lock.extend("1")
    lock.release()
    with pytest.raises(TypeError):
        client.lock(123)
    with pytest.raises(TypeError):
        Client(socket_timeout="5")
    with pytest.raises(TypeError) as e:
        client.lock("hard:types", lock_class=redis.lock.Lock)
    assert "lock_class" in str(e.value)
    with pytest.raises(TypeError):
        client.lock("hard:types", lock_class=int)

    class Mine(libredlock.Lock):
        pass

    assert isinstance(client.lock("hard:types", lock_class=Mine), Mine)


# --- durations -------------------------------------------------------------------------------------------------------

def test_exact_durations_at_the_extremes_are_invalid_argument_errors(client, r):
    lock = client.lock("hard:dur", timeout=10)
    assert lock.acquire()
    for v in EXTREMES:
        with pytest.raises(InvalidArgumentError):
            client.lock("hard:dur2", timeout=v)
        with pytest.raises(InvalidArgumentError):
            client.lock("hard:dur2", sleep=v)
        with pytest.raises(InvalidArgumentError):
            lock.acquire(sleep=v)
        for replace in (False, True):
            with pytest.raises(InvalidArgumentError):
                lock.extend(v, replace_ttl=replace)
    assert 0 < r.pttl("hard:dur") <= 10000  # untouched
    lock.extend(libredlock.MAX_DURATION, replace_ttl=True)  # the limit itself works
    assert r.pttl("hard:dur") > libredlock.MAX_DURATION_MS - 60000
    lock.release()
    big = client.lock("hard:dur3", timeout=libredlock.MAX_DURATION)
    assert big.acquire()
    big.release()
    with pytest.raises(InvalidArgumentError):
        client.lock("hard:dur3", timeout=0.0004)  # would truncate to 0 ms: "never expires"


def test_blocking_timeout_extremes_wait_forever_or_try_once(client):
    holder = client.lock("hard:wait", timeout=10, thread_local=False)
    for v in EXTREMES:
        if isinstance(v, float) and math.isnan(v):
            with pytest.raises(InvalidArgumentError):
                client.lock("hard:wait", blocking_timeout=v)
            with pytest.raises(InvalidArgumentError):
                holder.acquire(blocking_timeout=v)
            continue
        for how in ("lock", "call"):
            assert holder.acquire()
            waiter = client.lock("hard:wait", timeout=10, sleep=0.02,
                                 blocking_timeout=v if how == "lock" else None)
            timer = threading.Timer(0.3, holder.release)
            timer.start()
            t0 = time.monotonic()
            got = waiter.acquire() if how == "lock" else waiter.acquire(blocking_timeout=v)
            took = time.monotonic() - t0
            timer.join()
            if v > 0:  # beyond the limit: forever, so it waited for the release
                assert got and took >= 0.25, (v, how, got, took)
                waiter.release()
            else:  # negative: one attempt, as redis-py
                assert not got and took < 0.25, (v, how, got, took)


def test_client_timeouts_at_the_extremes(server):
    for v in EXTREMES:
        for kw in ("socket_timeout", "socket_connect_timeout", "command_timeout", "connect_timeout"):
            if v > 0:  # beyond the limit: no limit
                assert Client(server.url, **{kw: v}).ping()
            else:
                with pytest.raises(InvalidArgumentError):
                    Client(server.url, **{kw: v})


# --- packaging -------------------------------------------------------------------------------------------------------

def test_installed_package_ships_type_hints():
    assert (pathlib.Path(libredlock.__file__).parent / "py.typed").is_file()
    assert libredlock.Lock.acquire.__annotations__["return"] in (bool, "bool")


# --- where the C library comes from ----------------------------------------------------------------------------------

PLANTED_C = r"""
#include <stdio.h>
__attribute__((constructor)) static void planted(void) {
    FILE *f = fopen(MARKER, "w");
    if (f) fclose(f);
}
"""


def _build_dir():
    lib = os.environ.get("LIBREDLOCK_PATH")
    assert lib, "the suite runs with LIBREDLOCK_PATH set to the built library (scripts/test.sh)"
    return pathlib.Path(lib).resolve().parent


def _run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert p.returncode == 0, (cmd, p.stdout, p.stderr)
    return p.stdout


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("LIBREDLOCK_PATH", "PKG_CONFIG_PATH", "PYTHONPATH",
                                                              "LD_LIBRARY_PATH")}
    env.update(extra)
    return env


def test_a_build_dir_above_the_package_is_never_loaded(tmp_path):
    marker = tmp_path / "planted-library-ran"
    planted_src = tmp_path / "planted.c"
    planted_src.write_text(PLANTED_C)
    planted = tmp_path / "planted.so"
    _run(["cc", "-shared", "-fPIC", '-DMARKER="%s"' % marker, "-o", str(planted), str(planted_src)])
    import ctypes
    ctypes.CDLL(str(planted))  # the planted library does announce itself when loaded ...
    assert marker.exists()
    marker.unlink()

    prefix = tmp_path / "prefix"
    _run(["cmake", "--install", str(_build_dir()), "--prefix", str(prefix)])
    installed = next(prefix.rglob("libredlock.so.0"))
    venv = tmp_path / "x" / "venv"
    _run(["/usr/bin/python3", "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "pip"), "install", "--no-index", "-q", str(PACKAGE_SRC)])
    for d in (tmp_path / "build", tmp_path / "x" / "build", venv / "build", venv / "lib" / "build"):
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy(planted, d / "libredlock.so")  # ... in every build/ the old search looked at
    out = _run([str(venv / "bin" / "python"), "-c", "import libredlock; print(libredlock.library_path)"],
               cwd=str(tmp_path), env=_clean_env(PKG_CONFIG_PATH=str(installed.parent / "pkgconfig")))
    assert os.path.realpath(out.strip()) == os.path.realpath(installed)
    assert not marker.exists()  # ... and none of them was loaded


def test_the_checkout_build_is_used_only_from_a_checkout(tmp_path):
    built = _build_dir() / "libredlock.so"
    co = tmp_path / "co"
    shutil.copytree(PACKAGE_SRC / "libredlock", co / "bindings" / "python" / "libredlock")
    (co / "build").mkdir()
    shutil.copy(built, co / "build" / "libredlock.so")
    (co / "include" / "redlock").mkdir(parents=True)
    code = "import libredlock; print(libredlock.library_path)"
    env = _clean_env(PYTHONPATH=str(co / "bindings" / "python"))
    (co / "include" / "redlock" / "redlock.h").write_text("/* the checkout's header */\n")
    out = _run([sys.executable, "-c", code], cwd=str(tmp_path), env=env)
    assert out.strip() == str(co / "build" / "libredlock.so")
    # Not a checkout (no header beside it): its build/ is not looked at.
    (co / "include" / "redlock" / "redlock.h").unlink()
    p = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                       timeout=60)
    assert str(co / "build") not in p.stdout
    if p.returncode != 0:
        assert "libredlock.so not found" in p.stderr and str(co / "build") not in p.stderr

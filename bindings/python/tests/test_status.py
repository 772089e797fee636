"""Lock.status, Lock.release_token and ``python -m libredlock status``, which mirrors the C tools' ``redlock status``
(same text, JSON and exit codes: compared with the built tool itself)."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import libredlock


def _tool():
    """The C tool of the same build: beside $LIBREDLOCK_PATH's library (build/tools/redlock), or $REDLOCK_TOOL."""
    path = os.environ.get("REDLOCK_TOOL") or str(Path(os.environ.get("LIBREDLOCK_PATH", libredlock.library_path))
                                                  .resolve().parent / "tools" / "redlock")
    if not os.access(path, os.X_OK):
        pytest.fail("the redlock tool is not at %s (set REDLOCK_TOOL)" % path)
    return path


def _run(argv, url):
    """Exit status, stdout and stderr; the output as bytes decoded the same lossless way for both tools."""
    env = dict(os.environ, REDLOCK_URL=url)
    p = subprocess.run(argv, capture_output=True, env=env, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "surrogateescape"), p.stderr.decode("utf-8", "surrogateescape")


def _python_status(*args, url):
    return _run([sys.executable, "-m", "libredlock", "status", *args], url)


def test_status_free_held_and_by_token(client, r):
    lock = client.lock("pst", timeout=20)
    s = lock.status()
    assert s == libredlock.LockStatus(False, None, None, 0)
    assert lock.acquire()
    s = client.lock("pst", timeout=5).status()  # another handle sees the same
    assert s.held and 19 < s.ttl <= 20 and s.value == lock.token and s.value_bytes == 32
    other = client.lock("pst")
    with pytest.raises(libredlock.LockNotOwnedError):
        other.release_token("not-it")
    other.release_token(lock.token)
    assert r.exists("pst") == 0
    with pytest.raises(libredlock.LockNotOwnedError):
        lock.release()  # its owner finds it gone


def test_status_of_redis_py_and_odd_values(client, r):
    assert r.lock("pst-py", timeout=30).acquire(blocking=False)
    s = client.lock("pst-py").status()
    assert s.held and s.value == r.get("pst-py")
    r.set("pst-odd", b"x" * 5000)
    s = client.lock("pst-odd").status()
    assert s.held and s.ttl is None and s.value_bytes == 5000 and len(s.value) == 4096
    r.hset("pst-hash", "f", "v")
    with pytest.raises(libredlock.ResponseError, match="WRONGTYPE"):
        client.lock("pst-hash").status()


@pytest.mark.parametrize("as_json", [False, True])
def test_python_m_libredlock_status_prints_what_the_c_tool_prints(server, r, as_json):
    tool = _tool()
    assert r.lock("pm-py", timeout=60).acquire(blocking=False)
    r.set("pm-odd", b'a\x01b\xff"q\\')
    r.set("pm-lib", "0123456789ab4def8123456789abcdef", px=60000)
    r.set("pm-empty", b"")
    r.set("pm-é", "ünï")
    r.set(b"pm-\xff\n", b"\x00")
    flags = ["--json"] if as_json else []
    for name in ("pm-py", "pm-odd", "pm-lib", "pm-free", "pm-empty", "pm-é", os.fsdecode(b"pm-\xff\n")):
        c_rc, c_out, _ = _run([tool, "status", *flags, os.fsencode(name)], server.url)
        p_rc, p_out, p_err = _python_status(*flags, os.fsencode(name), url=server.url)
        assert p_rc == c_rc, p_err
        # The TTLs were read a moment apart.
        same = lambda text: re.sub(r'(in [0-9.]+ s|"ttl_ms": [0-9]+)', "TTL", text)
        assert same(p_out) == same(c_out)
        if as_json:
            d = json.loads(p_out)
            assert d["kind"] == {"pm-py": "redis-py", "pm-lib": "libredlock", "pm-free": None}.get(name, "other")
    assert json.loads(_python_status("--json", "pm-py", url=server.url)[1])["token_time"].startswith("20")


def test_python_m_libredlock_errors_and_exit_codes(server):
    rc, out, err = _python_status("x", url="redis://:secret-pw@127.0.0.1:1")
    assert rc == 69 and "secret-pw" not in out + err and len(err.strip().splitlines()) == 1
    rc, _, err = _python_status("x", url="redis://127.0.0.1:99999")
    assert rc == 64
    rc, _, _ = _python_status("-E", "9", "nobody-holds-this", url=server.url)
    assert rc == 9
    rc, _, _ = _run([sys.executable, "-m", "libredlock", "wait", "x"], server.url)
    assert rc == 64
    env = dict(os.environ, LIBREDLOCK_PATH="/nonexistent/libredlock.so")
    p = subprocess.run([sys.executable, "-m", "libredlock", "status", "x"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert p.returncode == 71 and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_a_value_cut_inside_a_utf8_character_stays_text_and_both_tools_agree(server, r):
    tool = _tool()
    cases = {
        "cut-e": b"a" * 4095 + "é".encode(),            # the cut splits é: shown without it, as text
        "cut-emoji": "😀".encode() * 1100,               # 4400 bytes: cut after 1024 whole emoji
        "cut-bad": b"\xff" + b"a" * 4094 + "é".encode(),  # not UTF-8 before the cut: bytes, shown whole
    }
    for name, value in cases.items():
        r.set(name, value)
        c_rc, c_out, _ = _run([tool, "status", "--json", name], server.url)
        p_rc, p_out, p_err = _python_status("--json", name, url=server.url)
        assert (p_rc, p_out) == (c_rc, c_out), p_err
        shown = json.loads(c_out)["value"]
        if name == "cut-e":
            assert shown == "a" * 4095
        elif name == "cut-emoji":
            assert shown == "😀" * 1024
        else:
            assert len(shown) == 4096 and shown.endswith("\u00c3")

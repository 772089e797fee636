"""``python -m libredlock status NAME``: the ``redlock status`` command of the C tools, for machines that have the
Python package only. Same options, output (text and ``--json``) and exit codes (see redlock(1))."""
from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from typing import Callable, List, NoReturn, Optional

from . import Client, LockStatus, RedlockError, __version__, _native, library_version

EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_SOFTWARE, EXIT_OSERR, EXIT_NOPERM = 64, 69, 70, 71, 77
DEFAULT_URL = "redis://127.0.0.1:6379"


def token_kind(v: bytes) -> str:
    """As the C tool: libredlock's tokens are random UUIDs (version 4) in hex, redis-py's uuid1().hex."""
    if len(v) != 32 or any(c not in b"0123456789abcdef" for c in v):
        return "other"
    variant = v[16:17] in (b"8", b"9", b"a", b"b")
    if variant and v[12:13] == b"4":
        return "libredlock"
    if variant and v[12:13] == b"1":
        return "redis-py"
    return "hex32"


KIND_TEXT = {
    "libredlock": "a libredlock token (random UUID)",
    "redis-py": "a redis-py token (uuid1)",
    "hex32": "32 hex digits: libredlock before 0.5, node-redlock or another random token",
    "other": "not a libredlock or redis-py token",
}


def uuid1_time(v: bytes) -> Optional[str]:
    u = uuid.UUID(v.decode())
    secs = (u.time - 0x01B21DD213814000) // 10000000
    if secs < 0:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(secs))


def json_string(b: bytes) -> str:
    """As the C tool: UTF-8 text as such (control characters, DEL, quote and backslash escaped); other bytes each as
    one \\u00XX."""
    try:
        text = b.decode("utf-8")  # strict: no surrogates, no overlong forms, as the C tool's check
    except UnicodeDecodeError:
        text = b.decode("latin-1")
        utf8 = False
    else:
        utf8 = True
    out = ['"']
    for ch in text:
        c = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif c < 0x20 or c == 0x7F or (c >= 0x80 and not utf8):
            out.append("\\u%04x" % c)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def display(name: bytes) -> str:
    """As the C tool: UTF-8 as is, with control characters, DEL and backslash as \\xNN; a name that is not UTF-8
    also has its other non-ASCII bytes as \\xNN. (Returned as text whose UTF-8 encoding is the C tool's bytes.)"""
    try:
        name.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    out = bytearray()
    for c in name:
        if c < 0x20 or c == 0x7F or c == 0x5C or (c >= 0x80 and not utf8):
            out += b"\\x%02x" % c
        else:
            out.append(c)
    return out.decode("utf-8")


def utf8_cut(b: bytes) -> bytes:
    """As the C tool, for a value cut at 4096 bytes: without a UTF-8 character the cut split."""
    try:
        b.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.reason == "unexpected end of data" and e.start >= len(b) - 3:
            return b[: e.start]
    return b


def human_string(b: bytes, whole: int) -> str:
    shown = "".join(chr(c) if 0x20 <= c < 0x7F and c != 0x5C else "\\x%02x" % c for c in b[:96])
    return shown + ("..." if whole > 96 or len(b) < whole else "")


def render(name: bytes, s: LockStatus, as_json: bool) -> str:
    known = s.held and s.value is not None  # held, value None: a quorum's majority holds the key, no one value
    kind = token_kind(s.value) if known and s.value is not None else None
    when = uuid1_time(s.value) if kind == "redis-py" and s.value is not None else None
    if as_json:
        ttl = "null" if s.ttl is None else str(round(s.ttl * 1000))
        shown = utf8_cut(s.value) if s.value is not None and len(s.value) < s.value_bytes else s.value
        value = json_string(shown) if known and shown is not None else "null"
        text = '{"name": %s, "held": %s, "ttl_ms": %s, "value": %s, "value_bytes": %d, "kind": %s' % (
            json_string(name), "true" if s.held else "false", ttl, value, s.value_bytes,
            '"%s"' % kind if kind else "null")
        return text + (', "token_time": "%s"}' % when if when else "}") + "\n"
    shown_name = display(name)
    if not s.held:
        return "%s: free\n" % shown_name
    lines = ["%s: held, %s" % (shown_name, "never expires (no TTL)" if s.ttl is None
                                 else "expires in %.3f s" % s.ttl)]
    if known and s.value is not None:
        lines.append("  value: %s%s (%d bytes)" % ("(empty)" if not s.value_bytes else "",
                                                    human_string(s.value, s.value_bytes), s.value_bytes))
        lines.append("  kind:  %s%s" % (KIND_TEXT[kind or "other"], ", made %s" % when if when else ""))
    else:
        lines.append("  value: no one value on a majority of the masters")
    return "\n".join(lines) + "\n"


def _seconds(option: str, least: float) -> "Callable[[str], float]":
    """Plain decimal seconds from `least` to 1e9, as the C tool checks them."""
    def parse(text: str) -> float:
        ok = text != "" and all(c in "0123456789." for c in text) and text.count(".") <= 1 and text != "."
        if not ok or not least <= float(text) <= 1e9:
            raise argparse.ArgumentTypeError("%s: '%s' is not a number of seconds from %g to 1000000000"
                                             % (option, text, least))
        return float(text)
    return parse


def _exit_code(text: str) -> int:
    """0 to 255 in plain ASCII digits, as the C tool takes it (int() would also take "5_0" and other digits)."""
    if not (text.isascii() and text.isdigit()) or int(text) > 255:
        raise argparse.ArgumentTypeError("'%s' is not a number from 0 to 255" % text)
    return int(text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors exit 64, as the C tool's
        sys.stderr.write("redlock: %s\nTry 'python -m libredlock --help' for more information.\n" % message)
        sys.exit(EXIT_USAGE)


def exit_for(code: Optional[int]) -> int:
    if code == _native.EINVAL:
        return EXIT_USAGE
    if code == _native.EAUTH:
        return EXIT_NOPERM
    if code in (_native.ECONN, _native.ETIMEDOUT, _native.ESERVER):
        return EXIT_UNAVAILABLE
    return EXIT_SOFTWARE


def main(argv: Optional[List[str]] = None) -> int:
    p = _Parser(prog="python -m libredlock",
                description="The redlock command's status, in Python: is NAME held, for how long, by what kind of "
                            "owner. Exit status: 0 held, 1 (-E) free, 64 usage, 69 server unavailable, 71 the C "
                            "library cannot be loaded or the output written, 77 refused.")
    p.add_argument("command", choices=["status"], help="only status here; the redlock command has run, wait, release")
    p.add_argument("name", help="the lock's name (its Redis key)")
    p.add_argument("-u", "--url", action="append", default=[],
                   help="the Redis server (default $REDLOCK_URL, else %s); several: Redlock masters" % DEFAULT_URL)
    p.add_argument("-E", "--conflict-exit-code", type=_exit_code, default=1, metavar="N",
                   help="exit status when the lock is free (default 1)")
    p.add_argument("--json", action="store_true", help="one JSON object, as redlock status --json")
    # Taken and ignored, as the C tool's status takes them: a script may pass the same options to both.
    p.add_argument("-n", "--nonblock", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true", help=argparse.SUPPRESS)
    for flag, least in ((("-w", "--wait", "--timeout"), 0.0), (("-t", "--ttl"), 0.1), (("--sleep",), 0.01)):
        p.add_argument(*flag, type=_seconds(flag[-1], least), help=argparse.SUPPRESS)
    p.add_argument("-V", "--version", action="version",
                   version="libredlock %s (python; libredlock %s)" % (__version__, library_version()))
    a = p.parse_args(argv)
    urls = a.url or [os.environ.get("REDLOCK_URL") or DEFAULT_URL]
    name = os.fsencode(a.name)
    try:
        client = Client(urls[0]) if len(urls) == 1 else Client.from_urls(urls)
        with client:
            s = client.lock(name, timeout=30).status()
    except RedlockError as e:
        sys.stderr.write("redlock: cannot read the lock: %s\n" % " ".join(str(e).split()))
        return exit_for(e.code)
    if sys.stdout is None:  # started with stdout closed: nothing to write to, as the C tool's /dev/null
        return 0 if s.held else a.conflict_exit_code
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(render(name, s, a.json).encode("utf-8"))  # the bytes the C tool writes
        sys.stdout.buffer.flush()
    except OSError as e:
        sys.stderr.write("redlock: cannot write the output: %s\n" % e.strerror)
        return EXIT_OSERR
    return 0 if s.held else a.conflict_exit_code


if __name__ == "__main__":
    sys.exit(main())

"""libredlock for Python: redis-py's ``Lock`` semantics on the libredlock C library (ctypes).

Switching from redis-py is a change of import and of client construction::

    # import redis; r = redis.Redis(host="db", port=6379); lock = r.lock("jobs:nightly", timeout=10)
    import libredlock; client = libredlock.Client(host="db", port=6379); lock = client.lock("jobs:nightly", timeout=10)
    with lock:
        ...

Times are float seconds, as in redis-py. The same key, token and scripts are used, so libredlock and redis-py
processes exclude each other on the same name. When redis-py is installed, every exception here is also the redis-py
exception of the same name, so ``except redis.exceptions.LockError`` keeps working.
"""
from __future__ import annotations

import atexit
import builtins
import math
import ctypes
import numbers
import operator
import os
import sys
import time
import urllib.parse
import weakref
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Tuple, Type, TypeVar, Union, overload

from . import _native

__version__ = "0.5.0"

__all__ = [
    "Client", "Lock", "RedlockError", "LockError", "LockNotOwnedError", "ConnectionError", "TimeoutError",
    "AuthenticationError", "ResponseError", "InvalidArgumentError", "library_path", "library_version",
    "last_quorum_outcomes", "LockStatus",
    "MAX_DURATION", "MAX_DURATION_MS",
]

#: The longest duration the C library takes, in ms (REDLOCK_MAX_DURATION_MS: about 31.7 years).
MAX_DURATION_MS: int = _native.MAX_DURATION_MS
#: The same in seconds, the unit of every time argument here.
MAX_DURATION: int = MAX_DURATION_MS // 1000

try:
    _lib, library_path = _native.load()
except _native.LibraryNotFound as _e:
    # `python -m libredlock`: this package is imported before its __main__ can catch anything. sys.argv[0] is "-m"
    # while Python looks for the module to run: a line and the command's exit status, not a traceback whose exit
    # status (1) would read as "free".
    if sys.argv[:1] == ["-m"]:
        sys.stderr.write("redlock: cannot load the C library: %s\n" % _e)
        sys.exit(71)
    raise


class LockStatus(NamedTuple):
    """A lock's key as it is now, whoever holds it (``Lock.status()``, ``python -m libredlock status``)."""
    held: bool
    #: Seconds left; None when the key has no TTL or is not held.
    ttl: Optional[float]
    #: The value's first 4096 bytes (a token); None when not held, or when a quorum's majority holds the key but no one
    #: value is on a majority.
    value: Optional[bytes]
    #: The value's whole length in bytes.
    value_bytes: int

Name = Union[str, bytes]
_Path = Union[str, bytes, "os.PathLike[str]"]


def last_quorum_outcomes() -> List[int]:
    """What each master answered in this thread's last call on a quorum client (:meth:`Client.from_urls`), in the
    order of its URLs: 0 (did it), 1 (another owner's key), or a negative code: -3 our token (for ``locked()``: any
    key) was not there, -5 connection failed, -6 no reply in time, or none yet when the majority had already decided
    (not a failure: the call did not wait for it), -7 server error, -8 auth. Empty before any such call, and after a
    call that asked no master (e.g. a release without a token)."""
    n = ctypes.c_size_t(0)
    codes = (ctypes.c_int * _native.MAX_MASTERS)()
    _check(_lib.redlock_quorum_outcomes(codes, len(codes), ctypes.byref(n)))
    return list(codes[: n.value])


def library_version() -> str:
    """The loaded C library's version string."""
    version: bytes = _lib.redlock_version()
    return version.decode()


try:
    from redis import exceptions as _redis_exceptions  # type: ignore[import]
except ImportError:  # redis-py is optional
    _redis_exceptions = None


def _redis(*names: str) -> Tuple[type, ...]:
    """redis-py's exception classes of these names, as extra bases, so that code written against redis-py
    (``except redis.exceptions.LockError``) catches ours. Empty without redis-py. (Type checkers see only the
    static bases: hence the ignores below.)"""
    found = (getattr(_redis_exceptions, n, None) for n in names)
    return tuple(c for c in found if isinstance(c, type) and issubclass(c, Exception))


class RedlockError(*_redis("RedisError"), Exception):  # type: ignore[misc]
    """Base of every libredlock error; ``code`` is the C result code."""

    def __init__(self, message: str, code: Optional[int] = None) -> None:
        super().__init__(message)
        self.args = (message,)  # again: a redis-py base's own __init__ (newer LockError's) may not set it
        self.code = code


class LockError(RedlockError, *_redis("LockError")):  # type: ignore[misc]
    """This owner holds no token, the lock has no timeout, or ``with lock:`` could not acquire (redis-py's)."""


class LockNotOwnedError(LockError, *_redis("LockNotOwnedError")):  # type: ignore[misc]
    """The token is no longer in Redis: the lock expired or was taken (redis-py's)."""


class ConnectionError(RedlockError, builtins.ConnectionError, *_redis("ConnectionError")):  # type: ignore[misc]
    """Could not connect, or the connection broke."""


class TimeoutError(RedlockError, builtins.TimeoutError, *_redis("TimeoutError")):  # type: ignore[misc]
    """Redis did not answer within the command timeout."""


class ResponseError(RedlockError, *_redis("ResponseError")):  # type: ignore[misc]
    """Redis answered with an error."""


# redis-py raises AuthenticationError (a ConnectionError there) for bad credentials and NoPermissionError (a
# ResponseError) for NOPERM; the C library reports both as one code, so this is both.
class AuthenticationError(ResponseError, *_redis("AuthenticationError", "NoPermissionError")):  # type: ignore[misc]
    """Redis refused the credentials (WRONGPASS, NOAUTH) or the permission (NOPERM)."""


class InvalidArgumentError(RedlockError, ValueError):
    """A bad name, URL, option or time."""


_BY_CODE = {
    _native.ENOTHELD: LockError,
    _native.ENOTTL: LockError,
    _native.ENOTOWNED: LockNotOwnedError,
    _native.ECONN: ConnectionError,
    _native.ETIMEDOUT: TimeoutError,
    _native.ESERVER: ResponseError,
    _native.EAUTH: AuthenticationError,
    _native.EINVAL: InvalidArgumentError,
}


def _check(rc: int) -> int:
    """Raise for a negative result; the message is read on this thread, right after the call, as the C API wants."""
    if rc >= 0:
        return rc
    if rc == _native.ENOMEM:
        raise MemoryError(_lib.redlock_last_error().decode(errors="replace"))
    message = _lib.redlock_last_error().decode(errors="replace") or _lib.redlock_strerror(rc).decode()
    raise _BY_CODE.get(rc, RedlockError)(message, rc)


def _invalid(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(message, _native.EINVAL)


# Durations: every check happens here, on the Python number, before any arithmetic that could overflow or any
# int64 reaches C. Ints and floats compare exactly, so 2**63 or 1e300 never wrap.

def _seconds(value: object, what: str) -> Any:
    """A number of seconds: any real number but bool (a str would silently become "10" * 1000)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError("%s must be a number of seconds (int or float), not %s" % (what, type(value).__name__))
    if value != value:
        raise _invalid("%s must be a number of seconds, not NaN" % what)
    return value


def _whole_ms(seconds: Any, what: str) -> int:
    """0..MAX_DURATION seconds (checked by the caller) to ms."""
    ms = int(seconds * 1000)  # redis-py truncates the same way
    if seconds > 0 and ms == 0:
        raise _invalid("%s must be at least 0.001 s" % what)
    return ms


def _span_ms(value: object, what: str, alternative: str = "") -> int:
    """A duration from 0 to MAX_DURATION seconds: sleep, extend's time, the lock's timeout."""
    seconds = _seconds(value, what)
    if not 0 <= seconds <= MAX_DURATION:
        raise _invalid("%s must be from 0 to %d s (libredlock.MAX_DURATION)%s, got %r"
                       % (what, MAX_DURATION, alternative, value))
    return _whole_ms(seconds, what)


def _ttl_ms(timeout: object) -> int:
    """None or 0: the key never expires (0 ms to C), as redis-py."""
    if timeout is None:
        return 0
    return _span_ms(timeout, "timeout", ", or None for no expiry")


def _wait_ms(blocking_timeout: object) -> int:
    """None, inf or beyond the limit: wait forever (-1); negative: one attempt (0), as redis-py."""
    if blocking_timeout is None:
        return -1
    seconds = _seconds(blocking_timeout, "blocking_timeout")
    if seconds > MAX_DURATION:
        return -1
    if seconds < 0:
        return 0
    return _whole_ms(seconds, "blocking_timeout")


def _limit_ms(value: object, what: str) -> int:
    """A connection timeout: None, inf or beyond the limit = no limit (-1); else > 0 s (C would read 0 as unset)."""
    if value is None:
        return -1
    seconds = _seconds(value, what)
    if seconds > MAX_DURATION:
        return -1
    if seconds <= 0:
        raise _invalid("%s must be > 0 s, or None for no limit" % what)
    return _whole_ms(seconds, what)


def _int(value: object, what: str, lo: int, hi: int) -> int:
    """An int in lo..hi, checked here: ctypes would silently truncate it to the C field's width."""
    if isinstance(value, bool):
        raise TypeError("%s must be an int, not bool" % what)
    try:
        n = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError("%s must be an int, not %s" % (what, type(value).__name__)) from None
    if not lo <= n <= hi:
        raise _invalid("%s must be from %d to %d, got %d" % (what, lo, hi, n))
    return n


def _to_bytes(value: object, what: str) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    if not isinstance(value, (bytes, bytearray)):
        raise TypeError("%s must be str or bytes, not %s" % (what, type(value).__name__))
    return bytes(value)


def _c_string(value: object, what: str) -> bytes:
    """For a NUL-terminated C string, where a NUL byte would silently cut the value short."""
    data = _to_bytes(value, what)
    if b"\0" in data:
        raise _invalid("%s contains a NUL byte" % what)
    return data


_DEFAULT: Any = object()
_DEFAULT_HOST = "127.0.0.1"
_DEFAULT_PORT = 6379


def _server_url(host: object, port: object, unix_socket_path: object, ssl: bool = False) -> str:
    """redis-py's host/port or unix_socket_path as a URL, without credentials (they go in the options struct)."""
    if unix_socket_path is not None:
        if host is not None or port is not None:
            raise TypeError("give unix_socket_path or host/port, not both")
        if not isinstance(unix_socket_path, (str, bytes, os.PathLike)):
            raise TypeError("unix_socket_path must be str, bytes or a path, not %s" % type(unix_socket_path).__name__)
        # Absolute now, as the URL needs; percent-encoded, since the URL parser decodes the path ('?', '@', '%').
        if not os.fspath(unix_socket_path):
            raise _invalid("unix_socket_path is empty")
        path = os.fsencode(os.path.abspath(os.fsdecode(unix_socket_path)))
        if b"\0" in path:
            raise _invalid("unix_socket_path contains a NUL byte")
        return "unix://" + urllib.parse.quote(path, safe="/")
    host = _DEFAULT_HOST if host is None else host
    if not isinstance(host, str):
        raise TypeError("host must be str, not %s" % type(host).__name__)
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    # The URL parser takes the host verbatim: anything that would end it early or smuggle in credentials is refused.
    if not bare or any(c in "/?#@[]" or c.isspace() or not c.isprintable() for c in bare):  # NUL is not printable
        raise _invalid("invalid host %r" % host)
    port = _int(_DEFAULT_PORT if port is None else port, "port", 1, 65535)
    return "%s://%s:%d" % ("rediss" if ssl else "redis", "[%s]" % bare if ":" in bare else bare, port)


def _cert_reqs(value: Any) -> bool:
    """redis-py's ssl_cert_reqs: "none" / ssl.CERT_NONE turn verification off; "optional", "required" and their
    ssl constants keep it on."""
    import ssl as _ssl
    if value in ("none", _ssl.CERT_NONE) or value is None:
        return False
    if value in ("optional", "required", _ssl.CERT_OPTIONAL, _ssl.CERT_REQUIRED):
        return True
    raise _invalid("ssl_cert_reqs must be 'none', 'optional', 'required' or an ssl.CERT_* value, not %r" % (value,))


def _one_of(redis_py: Tuple[str, Any], ours: Tuple[str, Any]) -> Tuple[str, Any]:
    """redis-py's name and libredlock's for one setting: either, not both. Returns the (name, value) given."""
    if redis_py[1] is not _DEFAULT and ours[1] is not _DEFAULT:
        raise TypeError("%s and %s are the same setting: give one" % (redis_py[0], ours[0]))
    return redis_py if redis_py[1] is not _DEFAULT else ours


_L = TypeVar("_L", bound="Lock")


class Client:
    """Connections to one Redis server, shared by every lock made from it; safe to use from many threads.

    Either a URL (``Client(url)``, ``Client.from_url(url)``) or redis-py's keywords (``Client(host=, port=)`` or
    ``Client(unix_socket_path=)``), not both.
    """

    def __init__(self, url: Optional[Name] = None, *, host: Optional[str] = None, port: Optional[int] = None,
                 unix_socket_path: Optional[Union[str, bytes, "os.PathLike[str]"]] = None, db: Optional[int] = None,
                 username: Optional[Name] = None, password: Optional[Name] = None,
                 socket_timeout: Optional[float] = _DEFAULT, socket_connect_timeout: Optional[float] = _DEFAULT,
                 connect_timeout: Optional[float] = _DEFAULT, command_timeout: Optional[float] = _DEFAULT,
                 max_connections: Optional[int] = None, keepalive: Optional[float] = None, ssl: bool = False,
                 tls_ca_file: Optional[_Path] = None, tls_ca_dir: Optional[_Path] = None,
                 tls_cert_file: Optional[_Path] = None, tls_key_file: Optional[_Path] = None,
                 tls_server_name: Optional[str] = None, tls_verify: Optional[bool] = None,
                 ssl_ca_certs: Optional[_Path] = None, ssl_ca_path: Optional[_Path] = None,
                 ssl_certfile: Optional[_Path] = None, ssl_keyfile: Optional[_Path] = None,
                 ssl_cert_reqs: Any = _DEFAULT, sentinel_username: Optional[Name] = None,
                 sentinel_password: Optional[Name] = None, urls: Optional[Sequence[Name]] = None) -> None:
        """Timeouts are float seconds; None means no limit. ``socket_timeout`` is ``command_timeout`` and
        ``socket_connect_timeout`` is ``connect_timeout`` (redis-py's names). An argument left out keeps the URL's
        value (query parameter or path), else the library default (5 s timeouts, 64 connections, 60 s keepalive,
        db 0, 127.0.0.1:6379); unlike redis-py, whose timeouts default to no limit. TLS: a ``rediss://`` URL, or
        ``ssl=True`` with host/port (as redis-py), and the ``tls_*`` keywords or redis-py's ``ssl_ca_certs``,
        ``ssl_ca_path``, ``ssl_certfile``, ``ssl_keyfile``, ``ssl_cert_reqs`` (docs/tls.md). Sentinel and Cluster:
        ``redis+sentinel://`` and ``redis+cluster://`` URLs (docs/sentinel.md, docs/cluster.md); ``sentinel_username``
        and ``sentinel_password`` are the sentinels' own credentials (the URL's are the data nodes'). Redlock over
        independent masters: ``urls=[...]`` (or :meth:`from_urls`), the other keywords applying to every master."""
        if urls is not None:
            if url is not None or host is not None or port is not None or unix_socket_path is not None:
                raise TypeError("give urls (a quorum) or url / host / port / unix_socket_path, not both")
            if isinstance(urls, (str, bytes)):
                raise TypeError("urls must be a list of URLs, not one URL")
            if ssl:
                raise TypeError("ssl=True goes with host/port: with urls, write rediss:// in each")
            url_list = [_c_string(u, "urls[%d]" % i) for i, u in enumerate(urls)]
        # redis-py's TLS keywords are the tls_* ones under other names: one of each pair.
        tls_ca_file = _one_of(("ssl_ca_certs", ssl_ca_certs or _DEFAULT), ("tls_ca_file", tls_ca_file or _DEFAULT))[1]
        tls_ca_dir = _one_of(("ssl_ca_path", ssl_ca_path or _DEFAULT), ("tls_ca_dir", tls_ca_dir or _DEFAULT))[1]
        tls_cert_file = _one_of(("ssl_certfile", ssl_certfile or _DEFAULT), ("tls_cert_file", tls_cert_file or _DEFAULT))[1]
        tls_key_file = _one_of(("ssl_keyfile", ssl_keyfile or _DEFAULT), ("tls_key_file", tls_key_file or _DEFAULT))[1]
        tls_ca_file, tls_ca_dir, tls_cert_file, tls_key_file = (
            None if v is _DEFAULT else v for v in (tls_ca_file, tls_ca_dir, tls_cert_file, tls_key_file))
        if ssl_cert_reqs is not _DEFAULT:
            if tls_verify is not None:
                raise TypeError("ssl_cert_reqs and tls_verify are the same setting: give one")
            tls_verify = _cert_reqs(ssl_cert_reqs)
        if url is None and urls is None and not ssl and any(v is not None for v in (tls_ca_file, tls_ca_dir, tls_cert_file,
                                                                    tls_key_file, tls_server_name, tls_verify)):
            raise _invalid("TLS options need ssl=True (or a rediss:// URL)")
        if urls is not None:
            url_bytes = b""
        elif url is not None:
            if host is not None or port is not None or unix_socket_path is not None:
                raise TypeError("give a URL or host/port/unix_socket_path, not both")
            if ssl:
                raise TypeError("ssl=True goes with host/port: with a URL, write rediss://")
            url_bytes = _c_string(url, "url")
        else:
            url = _server_url(host, port, unix_socket_path, ssl=bool(ssl))
            url_bytes = url.encode()
        connect = _one_of(("socket_connect_timeout", socket_connect_timeout), ("connect_timeout", connect_timeout))
        command = _one_of(("socket_timeout", socket_timeout), ("command_timeout", command_timeout))
        opts = _native.ClientOptions()
        _lib.redlock_client_options_init(ctypes.byref(opts))
        if connect[1] is not _DEFAULT:
            opts.connect_timeout_ms = _limit_ms(connect[1], connect[0])
        if command[1] is not _DEFAULT:
            opts.command_timeout_ms = _limit_ms(command[1], command[0])
        if max_connections is not None:
            opts.max_connections = _int(max_connections, "max_connections", 1, 4096)
        if keepalive is not None:
            seconds = _seconds(keepalive, "keepalive")
            if not 0 <= seconds <= 32767:
                raise _invalid("keepalive must be from 0 to 32767 s (0 = off), got %r" % keepalive)
            opts.keepalive_s = int(seconds)
        if username is not None:
            opts.username = _c_string(username, "username")
        if password is not None:
            opts.password = _c_string(password, "password")
        if db is not None:
            opts.db = _int(db, "db", 0, 2**31 - 1)
        for field, value in (("tls_ca_file", tls_ca_file), ("tls_ca_dir", tls_ca_dir),
                             ("tls_cert_file", tls_cert_file), ("tls_key_file", tls_key_file)):
            if value is not None:
                if not isinstance(value, (str, bytes, os.PathLike)):
                    raise TypeError("%s must be a path, not %s" % (field, type(value).__name__))
                setattr(opts, field, _c_string(os.fsencode(value), field))
        if tls_server_name is not None:
            opts.tls_server_name = _c_string(tls_server_name, "tls_server_name")
        if sentinel_username is not None:
            opts.sentinel_username = _c_string(sentinel_username, "sentinel_username")
        if sentinel_password is not None:
            opts.sentinel_password = _c_string(sentinel_password, "sentinel_password")
        if tls_verify is not None:
            if not isinstance(tls_verify, bool):
                raise TypeError("tls_verify must be True or False, not %s" % type(tls_verify).__name__)
            opts.tls_verify = 1 if tls_verify else 0
        handle = ctypes.c_void_p()
        if urls is not None:
            array = (ctypes.c_char_p * max(len(url_list), 1))(*url_list)
            _check(_lib.redlock_client_new_quorum(ctypes.byref(handle), array, len(url_list), ctypes.byref(opts)))
        else:
            _check(_lib.redlock_client_new(ctypes.byref(handle), url_bytes, ctypes.byref(opts)))
        self._handle: Optional[ctypes.c_void_p] = handle
        self.url = url
        #: The masters' URLs of a quorum client (None for one server).
        self.urls = None if urls is None else [u.decode(errors="replace") for u in url_list]

    @classmethod
    def from_urls(cls, urls: Sequence[Name], **kwargs: Any) -> "Client":
        """Redlock over independent masters (1 to 64 single-server URLs, each with its own credentials): a lock made
        from this client takes its key on a majority of them at once (docs/redlock.md). Its locks need a
        ``timeout``; see :attr:`Lock.validity` and :func:`last_quorum_outcomes`."""
        return cls(urls=urls, **kwargs)

    @classmethod
    def from_url(cls, url: Name, **kwargs: Any) -> "Client":
        """As redis-py's ``Redis.from_url``: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` (TLS)
        or ``unix:///path``."""
        return cls(url, **kwargs)

    def ping(self) -> bool:
        """Connect, authenticate and PING now; raises if the server cannot be used."""
        _check(_lib.redlock_client_ping(self._handle))
        return True

    @overload
    def lock(self, name: Name, timeout: Optional[float] = ..., sleep: float = ..., blocking: bool = ...,
             blocking_timeout: Optional[float] = ..., lock_class: None = ..., thread_local: bool = ..., *,
             fencing: bool = ..., auto_renew: bool = ..., on_lost: Optional[LostCallback] = ...,
             fair: bool = ...) -> "Lock":
        ...

    @overload
    def lock(self, name: Name, timeout: Optional[float] = ..., sleep: float = ..., blocking: bool = ...,
             blocking_timeout: Optional[float] = ..., *, lock_class: Type[_L], thread_local: bool = ...,
             fencing: bool = ..., auto_renew: bool = ..., on_lost: Optional[LostCallback] = ...,
             fair: bool = ...) -> _L:
        ...

    @overload
    def lock(self, name: Name, timeout: Optional[float], sleep: float, blocking: bool,
             blocking_timeout: Optional[float], lock_class: Type[_L], thread_local: bool = ..., *,
             fencing: bool = ..., auto_renew: bool = ..., on_lost: Optional[LostCallback] = ...,
             fair: bool = ...) -> _L:
        ...

    def lock(self, name: Name, timeout: Optional[float] = None, sleep: float = 0.1, blocking: bool = True,
             blocking_timeout: Optional[float] = None, lock_class: Optional[Type[Lock]] = None,
             thread_local: bool = True, *, fencing: bool = False, auto_renew: bool = False,
             on_lost: Optional[LostCallback] = None, fair: bool = False) -> Lock:
        """A :class:`Lock` (or ``lock_class``, a subclass of it) on this client, with redis-py's ``Redis.lock``
        arguments in redis-py's order, and libredlock's own as keywords (``fencing``: see :attr:`Lock.fence`;
        ``auto_renew``, ``on_lost`` and ``fair``: see :class:`Lock`)."""
        if lock_class is None:
            lock_class = Lock
        elif not (isinstance(lock_class, type) and issubclass(lock_class, Lock)):
            raise TypeError("lock_class must be libredlock.Lock or a subclass of it, not %r" % (lock_class,))
        return lock_class(self, name, timeout=timeout, sleep=sleep, blocking=blocking,
                          blocking_timeout=blocking_timeout, thread_local=thread_local, fencing=fencing,
                          auto_renew=auto_renew, on_lost=on_lost, fair=fair)

    def close(self) -> None:
        """Drop this reference to the connections (locks made from it keep them alive)."""
        handle, self._handle = self._handle, None
        if handle:
            _lib.redlock_client_free(handle)

    def __del__(self, _free: Any = _lib.redlock_client_free) -> None:  # bound now: globals may be gone at exit
        handle = getattr(self, "_handle", None)
        if handle:
            self._handle = None
            _free(handle)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: ``on_lost(lock, error)``: called once when an auto-renewed lock is lost; ``error`` is the exception that says why
#: (LockNotOwnedError: the token was found gone; ConnectionError/TimeoutError: renewals failed until the TTL ran out).
LostCallback = Callable[["Lock", "RedlockError"], Any]

# Locks whose on_lost Python must stop receiving before the interpreter goes away (a callback into a finalizing
# interpreter can crash): their handles are freed at exit, which ends their renewals and waits for a running callback.
_with_callbacks: "weakref.WeakSet[Lock]" = weakref.WeakSet()


@atexit.register
def _free_locks_with_callbacks() -> None:
    for lock in list(_with_callbacks):
        lock._free()


def _lost_trampoline(ref: "weakref.ReferenceType[Lock]", on_lost: LostCallback) -> Any:
    """The C callback for one lock: runs on the library's renewal thread, with the GIL (ctypes takes it). Holds the
    lock weakly, so a lock that is garbage is freed (which ends its renewals) rather than kept alive by its callback."""
    def lost(_handle: Optional[int], reason: int, _arg: Optional[int]) -> None:
        lock = ref()
        if lock is None:
            return
        strerror = _lib.redlock_strerror(reason).decode()
        cls: Type[RedlockError] = _BY_CODE.get(reason, RedlockError)
        try:
            on_lost(lock, cls("lock %r lost: %s" % (lock.name, strerror), reason))
        except BaseException:  # nowhere to raise it: the renewal thread is the library's
            import traceback
            traceback.print_exc()
    return _native.LOST_FN(lost)


# The longest single wait inside the library: Ctrl-C (and any signal handler) runs between two of them.
_WAIT_SLICE_MS = 250


class _LocalView:
    """Read-only stand-in for redis-py's ``lock.local``: ``lock.local.token`` is this owner's token."""

    def __init__(self, lock: "Lock") -> None:
        self._lock = lock

    @property
    def token(self) -> Optional[bytes]:
        return self._lock.token


class Lock:
    """A distributed lock with redis-py's semantics (``redis.lock.Lock``), on libredlock.

    ``thread_local=True`` (default): the token is visible only to the thread that acquired it.
    ``thread_local=False``: every thread using this Lock object shares one token. Two Lock objects never share one.
    """

    def __init__(self, client: Client, name: Name, timeout: Optional[float] = None, sleep: float = 0.1,
                 blocking: bool = True, blocking_timeout: Optional[float] = None, thread_local: bool = True, *,
                 fencing: bool = False, auto_renew: bool = False, on_lost: Optional[LostCallback] = None,
                 fair: bool = False) -> None:
        if not isinstance(client, Client):
            raise TypeError("client must be a libredlock.Client, not %s" % type(client).__name__)
        name_bytes = _c_string(name, "lock name")
        opts = _native.LockOptions()
        _lib.redlock_lock_options_init(ctypes.byref(opts))
        opts.timeout_ms = _ttl_ms(timeout)
        opts.sleep_ms = _span_ms(sleep, "sleep")
        opts.blocking = 1 if blocking else 0
        opts.blocking_timeout_ms = _wait_ms(blocking_timeout)
        if not isinstance(fencing, bool):
            raise TypeError("fencing must be True or False, not %s" % type(fencing).__name__)
        opts.fencing = 1 if fencing else 0
        self.fencing = fencing
        if not isinstance(auto_renew, bool):
            raise TypeError("auto_renew must be True or False, not %s" % type(auto_renew).__name__)
        if on_lost is not None and not callable(on_lost):
            raise TypeError("on_lost must be callable, not %s" % type(on_lost).__name__)
        if not isinstance(fair, bool):
            raise TypeError("fair must be True or False, not %s" % type(fair).__name__)
        opts.fair = 1 if fair else 0
        self.fair = fair
        if auto_renew and timeout is None:
            raise _invalid("auto_renew needs a timeout (the lock's TTL, in seconds)")
        opts.auto_renew = 1 if auto_renew else 0
        self.auto_renew = auto_renew
        self.on_lost = on_lost
        self._lost_fn = None
        if on_lost is not None:
            self._lost_fn = _lost_trampoline(weakref.ref(self), on_lost)  # kept alive as long as the handle
            opts.on_lost = self._lost_fn
        self.client = client
        self.name = name
        self.timeout = timeout
        self.sleep = sleep
        self.blocking = blocking
        self.blocking_timeout = blocking_timeout
        self.thread_local = bool(thread_local)
        self.local = _LocalView(self)
        handle = ctypes.c_void_p()
        flags = _native.THREAD_LOCAL if self.thread_local else _native.SHARED
        _check(_lib.redlock_lock_new(ctypes.byref(handle), client._handle, name_bytes, ctypes.byref(opts), flags))
        self._handle: Optional[ctypes.c_void_p] = handle
        if on_lost is not None:
            _with_callbacks.add(self)

    def _free(self) -> None:
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            _lib.redlock_lock_free(handle)  # without the GIL: waits for a running on_lost, which needs it

    def __del__(self, _free: Any = _lib.redlock_lock_free) -> None:  # bound now: globals may be gone at exit
        handle = getattr(self, "_handle", None)
        if handle:
            self._handle = None
            _free(handle)  # never touches Redis: a held lock stays until its TTL

    def __enter__(self: _L) -> _L:
        try:
            acquired = self.acquire()
        except (ConnectionError, TimeoutError):
            # The outcome is unknown and the with-block will never run, nor can its caller reach this lock to clean
            # up as the message advises: if the SET landed (its token is kept), take it back now, best effort.
            try:
                self.release()
            except RedlockError:
                pass
            raise
        if acquired:
            return self
        raise LockError("Unable to acquire lock within the time specified", _native.NOT_ACQUIRED)

    def __exit__(self, exc_type: object, exc_value: object, traceback: object) -> None:
        self.release()

    def acquire(self, sleep: Optional[float] = None, blocking: Optional[bool] = None,
                blocking_timeout: Optional[float] = None, token: Optional[Name] = None) -> bool:
        """True once acquired; False if not blocking, or the blocking_timeout ran out (redis-py's ``acquire``).

        The first attempt is immediate. Waiting happens inside the library with the GIL released, so other threads
        keep running, and a release by any libredlock owner wakes the wait at once (``sleep`` stays the longest gap
        between attempts, so a release by redis-py is seen within it). The wait is cut into slices of at most
        0.25 s, so Ctrl-C interrupts it promptly. As in redis-py the deadline is fixed before the first attempt and
        nothing waits past it. An interrupt that lands right after an attempt succeeded releases the lock before it
        propagates (with per-thread tokens, the default: on a shared lock another thread's acquire cannot be told
        from this one's, and is never released).
        """
        sleep_ms = _span_ms(self.sleep if sleep is None else sleep, "sleep")
        blocking = self.blocking if blocking is None else blocking
        wait_ms = _wait_ms(self.blocking_timeout if blocking_timeout is None else blocking_timeout)
        a = _native.AcquireOptions()
        _lib.redlock_acquire_options_init(ctypes.byref(a))
        a.set = _native.ACQ_BLOCKING  # the first call: one attempt
        a.blocking = 0
        token_bytes = None
        queued = False  # a fair wait whose slice ended with its place kept (REDLOCK_ACQ_STAY_QUEUED)
        if token is None and self.fair and blocking and wait_ms != 0:
            # A fair waiter's place in the queue is its token: the same one in every slice of the wait below.
            token = os.urandom(16).hex()
        if token is not None:
            token_bytes = _to_bytes(token, "token")
            a.token = token_bytes
            a.token_len = len(token_bytes)
        deadline = None if wait_ms < 0 else time.monotonic() + wait_ms / 1000.0
        before = self.token
        try:
            if _check(_lib.redlock_lock_acquire_ex(self._handle, ctypes.byref(a))) == _native.OK:
                return True
            if not blocking or wait_ms == 0:
                return False
            a.set = _native.ACQ_BLOCKING | _native.ACQ_BLOCKING_TIMEOUT | _native.ACQ_SLEEP
            a.blocking = 1
            a.sleep_ms = sleep_ms
            while True:
                slice_ms = _WAIT_SLICE_MS
                if deadline is not None:
                    left_ms = int((deadline - time.monotonic()) * 1000.0)
                    if left_ms <= 0:
                        self._leave_queue(a, queued)
                        return False
                    slice_ms = min(slice_ms, left_ms)
                a.blocking_timeout_ms = slice_ms
                last = deadline is not None and slice_ms == left_ms
                # Not the last slice: a fair waiter keeps its place for the next one.
                a.set = (a.set | _native.ACQ_STAY_QUEUED) if not last else (a.set & ~_native.ACQ_STAY_QUEUED)
                queued = self.fair and not last
                if _check(_lib.redlock_lock_acquire_ex(self._handle, ctypes.byref(a))) == _native.OK:
                    return True
        except BaseException as e:
            self._leave_queue(a, queued)  # an interrupted fair wait gives its place up at once
            # An interrupt (or any exception from outside the library) right after a successful attempt must not leave
            # the lock held. Only with per-thread tokens is a changed token surely this call's own: on a shared lock
            # it may be another thread's acquire, which must be left alone (the TTL covers ours). A library error
            # came from inside an attempt, which left the token as the library keeps it (to retry): untouched too.
            if self.thread_local and not isinstance(e, RedlockError):
                held = self.token
                if held is not None and held != before:
                    try:
                        self.release()
                    except Exception:
                        pass  # the TTL (if any) covers it; the interrupt is what the caller must see
            raise

    def _leave_queue(self, a: Any, queued: bool) -> None:
        if not queued:
            return
        a.set = _native.ACQ_LEAVE_QUEUE
        try:
            _lib.redlock_lock_acquire_ex(self._handle, ctypes.byref(a))
        except BaseException:
            pass  # best effort: the place runs out with its heartbeat otherwise

    def release(self) -> None:
        """Release; LockError if this owner holds no token, LockNotOwnedError if Redis no longer has it."""
        _check(_lib.redlock_lock_release(self._handle))

    def extend(self, additional_time: float, replace_ttl: bool = False) -> bool:
        """Add ``additional_time`` seconds to the TTL (or set the TTL to it with ``replace_ttl``). Returns True."""
        ms = _span_ms(additional_time, "additional_time")
        _check(_lib.redlock_lock_extend(self._handle, ms, 1 if replace_ttl else 0))
        return True

    def reacquire(self) -> bool:
        """Reset the TTL to ``timeout``. Returns True."""
        _check(_lib.redlock_lock_reacquire(self._handle))
        return True

    def locked(self) -> bool:
        """True if anyone holds the lock."""
        return _check(_lib.redlock_lock_locked(self._handle)) == 1

    def owned(self) -> bool:
        """True if this owner's token is the one in Redis."""
        return _check(_lib.redlock_lock_owned(self._handle)) == 1

    @property
    def fence(self) -> Optional[int]:
        """This owner's fencing token (a lock made with ``fencing=True``), or None when it holds none: a number that
        strictly increases per lock name across all clients. Pass it with each write to the protected resource and
        have the resource refuse writes with a lower fence than one it has seen."""
        out = ctypes.c_uint64(0)
        rc = _lib.redlock_lock_fence(self._handle, ctypes.byref(out))
        if rc == _native.ENOTHELD:
            return None
        _check(rc)
        return out.value

    @property
    def validity(self) -> Optional[float]:
        """Seconds this owner can still rely on the lock: the TTL minus the time since the acquire (extend, renewal)
        was sent, minus the clock drift allowance; 0.0 once expired or lost. None when it holds no token,
        ``math.inf`` for a lock without a timeout."""
        out = ctypes.c_int64(0)
        rc = _lib.redlock_lock_validity(self._handle, ctypes.byref(out))
        if rc == _native.ENOTHELD:
            return None
        if rc == _native.ENOTTL:
            return math.inf
        _check(rc)
        return out.value / 1000.0

    def status(self) -> LockStatus:
        """The key as it is now, whoever holds it: TTL and value, read in one step (this handle's tokens play no part).
        On a quorum client, the majority's view."""
        ttl = ctypes.c_int64(0)
        length = ctypes.c_size_t(0)
        buf = ctypes.create_string_buffer(_native.MAX_TOKEN_LEN + 1)
        held = _check(_lib.redlock_lock_status(self._handle, ctypes.byref(ttl), buf, len(buf), ctypes.byref(length)))
        value = buf.raw[: min(length.value, _native.MAX_TOKEN_LEN)] if held == 1 else None  # 2: split, unknown
        return LockStatus(held != 0, ttl.value / 1000.0 if held and ttl.value >= 0 else None, value, length.value)

    def release_token(self, token: Name) -> None:
        """Delete the key only if it holds ``token`` (recovery of a crashed owner's lock, with the token ``status()``
        showed); waiters wake. LockNotOwnedError when it does not hold that token. This handle's tokens stay."""
        t = _to_bytes(token, "token")
        if not 1 <= len(t) <= _native.MAX_TOKEN_LEN:
            raise _invalid("token must be 1 to %d bytes, not %d" % (_native.MAX_TOKEN_LEN, len(t)))
        _check(_lib.redlock_lock_release_token(self._handle, t, len(t)))

    @property
    def token(self) -> Optional[bytes]:
        """This owner's token (bytes), or None: hand it to another client to release or extend the lock there."""
        # One call into a buffer for the longest token: a size query first would race with another thread of a
        # SHARED handle releasing (or re-acquiring) in between.
        needed = ctypes.c_size_t(0)
        buf = ctypes.create_string_buffer(_native.MAX_TOKEN_LEN + 1)
        rc = _lib.redlock_lock_token(self._handle, buf, len(buf), ctypes.byref(needed))
        if rc == _native.ENOTHELD:
            return None
        _check(rc)
        return buf.raw[: needed.value - 1]

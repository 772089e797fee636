"""libredlock for Python: redis-py's ``Lock`` semantics on the libredlock C library (ctypes).

Switching from redis-py is a change of import and of client construction::

    # import redis; r = redis.Redis.from_url(url); lock = r.lock("jobs:nightly", timeout=10)
    import libredlock; client = libredlock.Client.from_url(url); lock = client.lock("jobs:nightly", timeout=10)
    with lock:
        ...

Times are float seconds, as in redis-py. The same key, token and scripts are used, so libredlock and redis-py
processes exclude each other on the same name.
"""
import builtins
import ctypes
import math
from typing import Any, Callable, Optional, Type, TypeVar, Union

from . import _native

try:  # With redis-py importable, each error is also redis-py's: `except redis.exceptions.LockError` keeps working.
    import redis.exceptions as _redis_exceptions
except Exception:  # not installed (or broken): the package works on the standard library alone
    _redis_exceptions = None

__version__ = "0.1.0"

__all__ = [
    "Client", "Lock", "RedlockError", "LockError", "LockNotOwnedError", "ConnectionError", "TimeoutError",
    "AuthenticationError", "ResponseError", "InvalidArgumentError", "library_path", "library_version",
    "MAX_DURATION", "MAX_DURATION_MS",
]

_lib, library_path = _native.load()

#: The longest duration the C library accepts, in milliseconds (REDLOCK_MAX_DURATION_MS, about 31.7 years) ...
MAX_DURATION_MS = _native.MAX_DURATION_MS
#: ... and in seconds, as this package counts time.
MAX_DURATION = MAX_DURATION_MS // 1000


def library_version() -> str:
    """The loaded C library's version string."""
    return _lib.redlock_version().decode()


def _redis(*names: str) -> tuple:
    """redis-py's exception classes of these names, as extra bases; none without redis-py."""
    if _redis_exceptions is None:
        return ()
    return tuple(getattr(_redis_exceptions, n) for n in names if hasattr(_redis_exceptions, n))


class RedlockError(Exception):
    """Base of every libredlock error; ``code`` is the C result code."""

    def __init__(self, message: str, code: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code


class LockError(RedlockError, *_redis("LockError")):
    """This owner holds no token, the lock has no timeout, or ``with lock:`` could not acquire (redis-py's)."""


class LockNotOwnedError(LockError, *_redis("LockNotOwnedError")):
    """The token is no longer in Redis: the lock expired or was taken (redis-py's)."""


class ConnectionError(RedlockError, builtins.ConnectionError, *_redis("ConnectionError")):
    """Could not connect, or the connection broke."""


class TimeoutError(RedlockError, builtins.TimeoutError, *_redis("TimeoutError")):
    """Redis did not answer within the command timeout."""


class ResponseError(RedlockError, *_redis("ResponseError")):
    """Redis answered with an error."""


class AuthenticationError(ResponseError, *_redis("AuthenticationError", "NoPermissionError")):
    """Redis refused the credentials (WRONGPASS, NOAUTH) or a permission (NOPERM)."""


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


# Times are float seconds, as in redis-py; the C library takes int64 milliseconds. Each conversion checks the type
# (a string is a TypeError, not "10" * 1000), and NaN, infinities and values beyond the C limit never reach ctypes.
Seconds = Union[int, float]


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be a number of seconds, got %s" % (what, type(value).__name__))
    if isinstance(value, float) and math.isnan(value):
        raise _invalid("%s is NaN" % what)
    return value


def _exact_ms(value: Any, what: str, low_ms: int = 0) -> int:
    """A duration that must be exact (a TTL, a pause, an extension): low_ms..MAX_DURATION_MS, else an error."""
    seconds = _number(value, what)
    if not (low_ms / 1000 <= seconds <= MAX_DURATION):
        raise _invalid("%s must be from %s to %d s (MAX_DURATION), got %r" % (what, low_ms / 1000, MAX_DURATION, value))
    ms = int(seconds * 1000)  # truncated, as redis-py does
    if ms < low_ms:
        raise _invalid("%s must be at least %s s, got %r" % (what, low_ms / 1000, value))
    return ms


def _ttl_ms(value: Any) -> int:
    """A lock's timeout (TTL): None or 0 = the key never expires (0 to C), else 0.001 s to MAX_DURATION."""
    if value is None or _number(value, "timeout") == 0:
        return 0
    return _exact_ms(value, "timeout", 1)


def _limit_ms(value: Any, what: str) -> int:
    """A connection timeout: None, inf or beyond MAX_DURATION = no limit (-1); otherwise at least 1 ms."""
    if value is None:
        return -1
    seconds = _number(value, what)
    if seconds > MAX_DURATION:
        return -1
    if seconds < 0.001:  # 0 would read as "unset" in C
        raise _invalid("%s must be at least 0.001 s, or None for no limit, got %r" % (what, value))
    return int(seconds * 1000)


def _wait_ms(value: Any) -> int:
    """blocking_timeout: None, inf or beyond MAX_DURATION = forever (-1); negative = one attempt, as redis-py."""
    if value is None:
        return -1
    seconds = _number(value, "blocking_timeout")
    if seconds > MAX_DURATION:
        return -1
    return 0 if seconds < 0 else int(seconds * 1000)


def _to_bytes(value: Any, what: str) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    if not isinstance(value, (bytes, bytearray)):
        raise TypeError("%s must be str or bytes, got %s" % (what, type(value).__name__))
    return bytes(value)


def _c_string(value: Any, what: str) -> bytes:
    """A str/bytes argument the C library reads up to its NUL: a NUL inside would silently cut it short."""
    b = _to_bytes(value, what)
    if b"\0" in b:
        raise _invalid("%s contains a NUL byte" % what)
    return b


def _host_url(host: str, port: int, unix_socket_path: Optional[str]) -> str:
    """A URL for redis.Redis-style keywords. Credentials never go into it: they travel in the options struct."""
    from urllib.parse import quote
    if unix_socket_path is not None:
        return "unix://" + quote(_c_string(unix_socket_path, "unix_socket_path").decode("utf-8", "surrogateescape"))
    if not isinstance(host, str) or not host or any(c in host for c in "/?#@[] \0"):
        raise _invalid("host must be a host name or address, got %r" % (host,))
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise _invalid("port must be an integer from 1 to 65535, got %r" % (port,))
    return "redis://%s:%d" % ("[%s]" % host if ":" in host else host, port)


_DEFAULT: Any = object()
_LockT = TypeVar("_LockT", bound="Lock")


class Client:
    """Connections to one Redis server, shared by every lock made from it; safe to use from many threads.

    Made from a URL, ``Client("redis://[[user]:password@]host[:port][/db]")`` or ``Client("unix:///path")``, or from
    redis.Redis's keywords, ``Client(host="...", port=6379, db=0, password=..., username=..., socket_timeout=...,
    socket_connect_timeout=..., unix_socket_path=...)``. Timeouts are float seconds; None means no limit. An argument
    left out keeps the URL's value, else the library default: 5 s timeouts (redis-py's default is no limit),
    16 connections, 60 s keepalive, db 0.
    """

    def __init__(self, url: Optional[str] = None, *, host: Optional[str] = None, port: Optional[int] = None,
                 db: Optional[int] = None, password: Optional[Union[str, bytes]] = None,
                 username: Optional[Union[str, bytes]] = None, socket_timeout: Optional[Seconds] = _DEFAULT,
                 socket_connect_timeout: Optional[Seconds] = _DEFAULT, unix_socket_path: Optional[str] = None,
                 connect_timeout: Optional[Seconds] = _DEFAULT, command_timeout: Optional[Seconds] = _DEFAULT,
                 max_connections: Optional[int] = None, keepalive: Optional[int] = None) -> None:
        if url is not None and (host is not None or port is not None or unix_socket_path is not None):
            raise TypeError("give either a URL or host/port/unix_socket_path, not both")
        if socket_timeout is not _DEFAULT and command_timeout is not _DEFAULT:
            raise TypeError("socket_timeout and command_timeout are the same setting: give one")
        if socket_connect_timeout is not _DEFAULT and connect_timeout is not _DEFAULT:
            raise TypeError("socket_connect_timeout and connect_timeout are the same setting: give one")
        if url is None:
            url = _host_url(host if host is not None else "127.0.0.1", port if port is not None else 6379,
                            unix_socket_path) if (host, port, unix_socket_path) != (None, None, None) \
                else "redis://127.0.0.1:6379/0"
        if socket_timeout is not _DEFAULT:
            command_timeout = socket_timeout
        if socket_connect_timeout is not _DEFAULT:
            connect_timeout = socket_connect_timeout
        opts = _native.ClientOptions()
        _lib.redlock_client_options_init(ctypes.byref(opts))
        if connect_timeout is not _DEFAULT:
            opts.connect_timeout_ms = _limit_ms(connect_timeout, "connect_timeout")
        if command_timeout is not _DEFAULT:
            opts.command_timeout_ms = _limit_ms(command_timeout, "command_timeout")
        if max_connections is not None:
            opts.max_connections = self._integer(max_connections, "max_connections", 1, 4096)
        if keepalive is not None:
            opts.keepalive_s = self._integer(keepalive, "keepalive", 0, 86400)
        if username is not None:
            opts.username = _c_string(username, "username")
        if password is not None:
            opts.password = _c_string(password, "password")
        if db is not None:
            opts.db = self._integer(db, "db", 0, 2 ** 31 - 1)
        handle = ctypes.c_void_p()
        _check(_lib.redlock_client_new(ctypes.byref(handle), _c_string(url, "url"), ctypes.byref(opts)))
        self._handle = handle
        self.url = url

    @staticmethod
    def _integer(value: Any, what: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("%s must be an integer, got %s" % (what, type(value).__name__))
        if not low <= value <= high:
            raise _invalid("%s must be from %d to %d, got %d" % (what, low, high, value))
        return value

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> "Client":
        """As redis-py's ``Redis.from_url``: ``redis://[[user]:password@]host[:port][/db]`` or ``unix:///path``."""
        return cls(url, **kwargs)

    def ping(self) -> bool:
        """Connect, authenticate and PING now; raises if the server cannot be used."""
        _check(_lib.redlock_client_ping(self._handle))
        return True

    def lock(self, name: Union[str, bytes], timeout: Optional[Seconds] = None, sleep: Seconds = 0.1,
             blocking: bool = True, blocking_timeout: Optional[Seconds] = None, thread_local: bool = True,
             lock_class: Optional[Type[_LockT]] = None) -> "Lock":
        """A :class:`Lock` on this client, with redis-py's ``Redis.lock`` arguments. ``lock_class`` may be Lock or a
        subclass of it (redis-py's own ``Lock`` class cannot run on this client)."""
        if lock_class is None:
            lock_class = Lock  # type: ignore[assignment]
        elif not (isinstance(lock_class, type) and issubclass(lock_class, Lock)):
            raise TypeError("lock_class must be libredlock.Lock or a subclass of it, got %r" % (lock_class,))
        return lock_class(self, name, timeout=timeout, sleep=sleep, blocking=blocking,  # type: ignore[misc]
                          blocking_timeout=blocking_timeout, thread_local=thread_local)

    def close(self) -> None:
        """Drop this reference to the connections (locks made from it keep them alive)."""
        handle, self._handle = self._handle, None
        if handle:
            _lib.redlock_client_free(handle)

    def __del__(self, _free: Callable[[Any], None] = _lib.redlock_client_free) -> None:
        # _free is bound now: module globals may be gone at interpreter exit
        handle = getattr(self, "_handle", None)
        if handle:
            self._handle = None
            _free(handle)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


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
    Times are float seconds: ``timeout`` (the TTL; None or 0 = never expires) and ``sleep`` up to MAX_DURATION;
    ``blocking_timeout`` None, inf or beyond MAX_DURATION waits forever, a negative one is a single attempt.
    """

    def __init__(self, client: Client, name: Union[str, bytes], timeout: Optional[Seconds] = None,
                 sleep: Seconds = 0.1, blocking: bool = True, blocking_timeout: Optional[Seconds] = None,
                 thread_local: bool = True) -> None:
        if not isinstance(client, Client):
            raise TypeError("client must be a libredlock.Client")
        name_bytes = _c_string(name, "name")
        opts = _native.LockOptions()
        _lib.redlock_lock_options_init(ctypes.byref(opts))
        opts.timeout_ms = _ttl_ms(timeout)
        opts.sleep_ms = _exact_ms(sleep, "sleep")
        opts.blocking = 1 if blocking else 0
        opts.blocking_timeout_ms = _wait_ms(blocking_timeout)
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
        self._handle = handle

    def __del__(self, _free: Callable[[Any], None] = _lib.redlock_lock_free) -> None:
        # _free is bound now: module globals may be gone at interpreter exit
        handle = getattr(self, "_handle", None)
        if handle:
            self._handle = None
            _free(handle)  # never touches Redis: a held lock stays until its TTL

    def __enter__(self: _LockT) -> _LockT:
        if self.acquire():
            return self
        raise LockError("Unable to acquire lock within the time specified", _native.NOT_ACQUIRED)

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        self.release()

    def acquire(self, sleep: Optional[Seconds] = None, blocking: Optional[bool] = None,
                blocking_timeout: Optional[Seconds] = None, token: Optional[Union[str, bytes]] = None) -> bool:
        """True once acquired; False if not blocking, or the blocking_timeout ran out (redis-py's ``acquire``).

        The wait runs in C with the GIL released, so other Python threads keep running.
        """
        a = _native.AcquireOptions()
        _lib.redlock_acquire_options_init(ctypes.byref(a))
        if sleep is not None:
            a.set |= _native.ACQ_SLEEP
            a.sleep_ms = _exact_ms(sleep, "sleep")
        if blocking is not None:
            a.set |= _native.ACQ_BLOCKING
            a.blocking = 1 if blocking else 0
        if blocking_timeout is not None:
            a.set |= _native.ACQ_BLOCKING_TIMEOUT
            a.blocking_timeout_ms = _wait_ms(blocking_timeout)
        token_bytes = None
        if token is not None:
            token_bytes = _to_bytes(token, "token")
            a.token = token_bytes
            a.token_len = len(token_bytes)
        return _check(_lib.redlock_lock_acquire_ex(self._handle, ctypes.byref(a))) == _native.OK

    def release(self) -> None:
        """Release; LockError if this owner holds no token, LockNotOwnedError if Redis no longer has it."""
        _check(_lib.redlock_lock_release(self._handle))

    def extend(self, additional_time: Seconds, replace_ttl: bool = False) -> bool:
        """Add ``additional_time`` seconds to the TTL (or set the TTL to it with ``replace_ttl``). Returns True."""
        ms = _exact_ms(additional_time, "additional_time", 1 if replace_ttl else 0)
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
    def token(self) -> Optional[bytes]:
        """This owner's token (bytes), or None: hand it to another client to release or extend the lock there."""
        needed = ctypes.c_size_t(0)
        rc = _lib.redlock_lock_token(self._handle, None, 0, ctypes.byref(needed))
        if rc == _native.ENOTHELD:
            return None
        _check(rc)
        buf = ctypes.create_string_buffer(needed.value)
        _check(_lib.redlock_lock_token(self._handle, buf, needed.value, ctypes.byref(needed)))
        return buf.raw[: needed.value - 1]

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

from . import _native

__version__ = "0.1.0"

__all__ = [
    "Client", "Lock", "RedlockError", "LockError", "LockNotOwnedError", "ConnectionError", "TimeoutError",
    "AuthenticationError", "ResponseError", "InvalidArgumentError", "library_path", "library_version",
]

_lib, library_path = _native.load()


def library_version():
    """The loaded C library's version string."""
    return _lib.redlock_version().decode()


class RedlockError(Exception):
    """Base of every libredlock error; ``code`` is the C result code."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class LockError(RedlockError):
    """This owner holds no token, the lock has no timeout, or ``with lock:`` could not acquire (redis-py's)."""


class LockNotOwnedError(LockError):
    """The token is no longer in Redis: the lock expired or was taken (redis-py's)."""


class ConnectionError(RedlockError, builtins.ConnectionError):
    """Could not connect, or the connection broke."""


class TimeoutError(RedlockError, builtins.TimeoutError):
    """Redis did not answer within the command timeout."""


class ResponseError(RedlockError):
    """Redis answered with an error."""


class AuthenticationError(ResponseError):
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


def _check(rc):
    """Raise for a negative result; the message is read on this thread, right after the call, as the C API wants."""
    if rc >= 0:
        return rc
    if rc == _native.ENOMEM:
        raise MemoryError(_lib.redlock_last_error().decode(errors="replace"))
    message = _lib.redlock_last_error().decode(errors="replace") or _lib.redlock_strerror(rc).decode()
    raise _BY_CODE.get(rc, RedlockError)(message, rc)


def _ms(seconds, what):
    ms = int(seconds * 1000)  # redis-py truncates the same way
    if seconds > 0 and ms == 0:
        raise InvalidArgumentError("%s must be at least 0.001 s" % what, _native.EINVAL)
    return ms


def _limit_ms(seconds, what):
    """A connection timeout: None = no limit, else > 0 s (the C API would read 0 as "unset")."""
    if seconds is None:
        return -1
    if seconds <= 0:
        raise InvalidArgumentError("%s must be > 0 s, or None for no limit" % what, _native.EINVAL)
    return _ms(seconds, what)


def _sleep_ms(seconds):
    return _ms(seconds, "sleep") if seconds >= 0 else -1  # negative: the library rejects it


def _wait_ms(seconds):
    return max(0, _ms(seconds, "blocking_timeout"))  # negative: one attempt, as redis-py


def _to_bytes(value, what):
    if isinstance(value, str):
        value = value.encode()
    if not isinstance(value, (bytes, bytearray)):
        raise TypeError("%s must be str or bytes" % what)
    return bytes(value)


_DEFAULT = object()


class Client:
    """Connections to one Redis server, shared by every lock made from it; safe to use from many threads."""

    def __init__(self, url="redis://127.0.0.1:6379/0", *, connect_timeout=_DEFAULT, command_timeout=_DEFAULT,
                 max_connections=None, keepalive=None, username=None, password=None, db=None):
        """Timeouts are float seconds; None means no limit. An argument left out keeps the URL's value (query
        parameter or path), else the library default (5 s timeouts, 16 connections, 60 s keepalive, db 0)."""
        opts = _native.ClientOptions()
        _lib.redlock_client_options_init(ctypes.byref(opts))
        if connect_timeout is not _DEFAULT:
            opts.connect_timeout_ms = _limit_ms(connect_timeout, "connect_timeout")
        if command_timeout is not _DEFAULT:
            opts.command_timeout_ms = _limit_ms(command_timeout, "command_timeout")
        if max_connections is not None:
            opts.max_connections = max_connections
        if keepalive is not None:
            opts.keepalive_s = int(keepalive)
        if username is not None:
            opts.username = _to_bytes(username, "username")
        if password is not None:
            opts.password = _to_bytes(password, "password")
        if db is not None:
            opts.db = db
        handle = ctypes.c_void_p()
        _check(_lib.redlock_client_new(ctypes.byref(handle), _to_bytes(url, "url"), ctypes.byref(opts)))
        self._handle = handle
        self.url = url

    @classmethod
    def from_url(cls, url, **kwargs):
        """As redis-py's ``Redis.from_url``: ``redis://[[user]:password@]host[:port][/db]`` or ``unix:///path``."""
        return cls(url, **kwargs)

    def ping(self):
        """Connect, authenticate and PING now; raises if the server cannot be used."""
        _check(_lib.redlock_client_ping(self._handle))
        return True

    def lock(self, name, timeout=None, sleep=0.1, blocking=True, blocking_timeout=None, thread_local=True,
             lock_class=None):
        """A :class:`Lock` on this client, with redis-py's ``Redis.lock`` arguments."""
        return (lock_class or Lock)(self, name, timeout=timeout, sleep=sleep, blocking=blocking,
                                    blocking_timeout=blocking_timeout, thread_local=thread_local)

    def close(self):
        """Drop this reference to the connections (locks made from it keep them alive)."""
        handle, self._handle = self._handle, None
        if handle:
            _lib.redlock_client_free(handle)

    def __del__(self, _free=_lib.redlock_client_free):  # bound now: module globals may be gone at interpreter exit
        handle = getattr(self, "_handle", None)
        if handle:
            self._handle = None
            _free(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _LocalView:
    """Read-only stand-in for redis-py's ``lock.local``: ``lock.local.token`` is this owner's token."""

    def __init__(self, lock):
        self._lock = lock

    @property
    def token(self):
        return self._lock.token


class Lock:
    """A distributed lock with redis-py's semantics (``redis.lock.Lock``), on libredlock.

    ``thread_local=True`` (default): the token is visible only to the thread that acquired it.
    ``thread_local=False``: every thread using this Lock object shares one token. Two Lock objects never share one.
    """

    def __init__(self, client, name, timeout=None, sleep=0.1, blocking=True, blocking_timeout=None,
                 thread_local=True):
        if not isinstance(client, Client):
            raise TypeError("client must be a libredlock.Client")
        self.client = client
        self.name = name
        self.timeout = timeout
        self.sleep = sleep
        self.blocking = blocking
        self.blocking_timeout = blocking_timeout
        self.thread_local = bool(thread_local)
        self.local = _LocalView(self)
        opts = _native.LockOptions()
        _lib.redlock_lock_options_init(ctypes.byref(opts))
        opts.timeout_ms = _ms(timeout, "timeout") if timeout else 0
        opts.sleep_ms = _sleep_ms(sleep)
        opts.blocking = 1 if blocking else 0
        opts.blocking_timeout_ms = -1 if blocking_timeout is None else _wait_ms(blocking_timeout)
        name_bytes = _to_bytes(name, "name")
        if b"\0" in name_bytes:
            raise InvalidArgumentError("lock name contains a NUL byte", _native.EINVAL)
        handle = ctypes.c_void_p()
        flags = _native.THREAD_LOCAL if self.thread_local else _native.SHARED
        _check(_lib.redlock_lock_new(ctypes.byref(handle), client._handle, name_bytes, ctypes.byref(opts), flags))
        self._handle = handle

    def __del__(self, _free=_lib.redlock_lock_free):  # bound now: module globals may be gone at interpreter exit
        handle = getattr(self, "_handle", None)
        if handle:
            self._handle = None
            _free(handle)  # never touches Redis: a held lock stays until its TTL

    def __enter__(self):
        if self.acquire():
            return self
        raise LockError("Unable to acquire lock within the time specified", _native.NOT_ACQUIRED)

    def __exit__(self, exc_type, exc_value, traceback):
        self.release()

    def acquire(self, sleep=None, blocking=None, blocking_timeout=None, token=None):
        """True once acquired; False if not blocking, or the blocking_timeout ran out (redis-py's ``acquire``).

        The wait runs in C with the GIL released, so other Python threads keep running.
        """
        a = _native.AcquireOptions()
        _lib.redlock_acquire_options_init(ctypes.byref(a))
        if sleep is not None:
            a.set |= _native.ACQ_SLEEP
            a.sleep_ms = _sleep_ms(sleep)
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

    def release(self):
        """Release; LockError if this owner holds no token, LockNotOwnedError if Redis no longer has it."""
        _check(_lib.redlock_lock_release(self._handle))

    def extend(self, additional_time, replace_ttl=False):
        """Add ``additional_time`` seconds to the TTL (or set the TTL to it with ``replace_ttl``). Returns True."""
        _check(_lib.redlock_lock_extend(self._handle, int(additional_time * 1000), 1 if replace_ttl else 0))
        return True

    def reacquire(self):
        """Reset the TTL to ``timeout``. Returns True."""
        _check(_lib.redlock_lock_reacquire(self._handle))
        return True

    def locked(self):
        """True if anyone holds the lock."""
        return _check(_lib.redlock_lock_locked(self._handle)) == 1

    def owned(self):
        """True if this owner's token is the one in Redis."""
        return _check(_lib.redlock_lock_owned(self._handle)) == 1

    @property
    def token(self):
        """This owner's token (bytes), or None: hand it to another client to release or extend the lock there."""
        needed = ctypes.c_size_t(0)
        rc = _lib.redlock_lock_token(self._handle, None, 0, ctypes.byref(needed))
        if rc == _native.ENOTHELD:
            return None
        _check(rc)
        buf = ctypes.create_string_buffer(needed.value)
        _check(_lib.redlock_lock_token(self._handle, buf, needed.value, ctypes.byref(needed)))
        return buf.raw[: needed.value - 1]

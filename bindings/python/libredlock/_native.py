"""Finds libredlock.so and declares every C function's argument and result types (ctypes)."""
import ctypes
import ctypes.util
import os
import pathlib
import shutil
import subprocess
from typing import Any, Iterator, List, Optional, Tuple

ABI_MAJOR = 0

# REDLOCK_MAX_DURATION_MS: the longest duration the C library takes (about 31.7 years).
MAX_TOKEN_LEN = 4096  # REDLOCK_MAX_TOKEN_LEN
MAX_DURATION_MS = 10**12
MAX_MASTERS = 64  # REDLOCK_MAX_MASTERS

# C result codes (include/redlock/redlock.h); fixed forever.
OK = 0
NOT_ACQUIRED = 1
EINVAL = -1
ENOTHELD = -2
ENOTOWNED = -3
ENOTTL = -4
ECONN = -5
ETIMEDOUT = -6
ESERVER = -7
EAUTH = -8
ENOMEM = -9
EINTERNAL = -10

THREAD_LOCAL = 0
SHARED = 1
ACQ_BLOCKING = 1
ACQ_BLOCKING_TIMEOUT = 2
ACQ_SLEEP = 4
ACQ_STAY_QUEUED = 8
ACQ_LEAVE_QUEUE = 16
CLIENT_OPTIONS_VERSION = 2
LOCK_OPTIONS_VERSION = 2
ACQUIRE_OPTIONS_VERSION = 1


class ClientOptions(ctypes.Structure):
    _fields_ = [
        ("version", ctypes.c_uint32),
        ("max_connections", ctypes.c_uint32),
        ("connect_timeout_ms", ctypes.c_int64),
        ("command_timeout_ms", ctypes.c_int64),
        ("keepalive_s", ctypes.c_int64),
        ("username", ctypes.c_char_p),
        ("password", ctypes.c_char_p),
        ("db", ctypes.c_int32),
        # version 2: TLS (the library's default init fills all of it)
        ("tls_ca_file", ctypes.c_char_p),
        ("tls_ca_dir", ctypes.c_char_p),
        ("tls_cert_file", ctypes.c_char_p),
        ("tls_key_file", ctypes.c_char_p),
        ("tls_server_name", ctypes.c_char_p),
        ("tls_verify", ctypes.c_int32),
        ("sentinel_username", ctypes.c_char_p),
        ("sentinel_password", ctypes.c_char_p),
        ("_future", ctypes.c_uint8 * 256),  # see _FUTURE below
    ]


# _FUTURE: every options struct ends with room the library may fill. ctypes finds the library's *default* init
# (dlsym), which a newer library fills up to its newer version: it then writes its defaults there, this binding
# never touches them, and the newer library reads them back. Without the room, a newer library would write past
# the struct.

#: redlock_lost_fn: void (*)(redlock_lock *lock, int reason, void *arg). ctypes takes the GIL to run it.
LOST_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)


class LockOptions(ctypes.Structure):  # version 2: the library's default init fills all of it
    _fields_ = [
        ("version", ctypes.c_uint32),
        ("blocking", ctypes.c_int32),
        ("timeout_ms", ctypes.c_int64),
        ("sleep_ms", ctypes.c_int64),
        ("blocking_timeout_ms", ctypes.c_int64),
        ("auto_renew", ctypes.c_int32),
        ("fencing", ctypes.c_int32),
        ("fair", ctypes.c_int32),
        ("on_lost", LOST_FN),
        ("on_lost_arg", ctypes.c_void_p),
        ("_future", ctypes.c_uint8 * 256),
    ]


class AcquireOptions(ctypes.Structure):
    _fields_ = [
        ("version", ctypes.c_uint32),
        ("set", ctypes.c_uint32),
        ("blocking", ctypes.c_int32),
        ("blocking_timeout_ms", ctypes.c_int64),
        ("sleep_ms", ctypes.c_int64),
        ("token", ctypes.c_char_p),
        ("token_len", ctypes.c_size_t),
        ("_future", ctypes.c_uint8 * 256),
    ]


_p = ctypes.c_void_p
_PROTOTYPES = {
    "redlock_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "redlock_last_error": (ctypes.c_char_p, []),
    "redlock_version": (ctypes.c_char_p, []),
    "redlock_version_number": (ctypes.c_int, []),
    "redlock_client_options_init": (None, [ctypes.POINTER(ClientOptions)]),
    "redlock_client_new": (ctypes.c_int, [ctypes.POINTER(_p), ctypes.c_char_p, ctypes.POINTER(ClientOptions)]),
    "redlock_client_ping": (ctypes.c_int, [_p]),
    "redlock_client_free": (None, [_p]),
    "redlock_lock_options_init": (None, [ctypes.POINTER(LockOptions)]),
    "redlock_lock_new": (ctypes.c_int, [ctypes.POINTER(_p), _p, ctypes.c_char_p, ctypes.POINTER(LockOptions),
                                        ctypes.c_uint]),
    "redlock_lock_free": (None, [_p]),
    "redlock_lock_acquire": (ctypes.c_int, [_p]),
    "redlock_acquire_options_init": (None, [ctypes.POINTER(AcquireOptions)]),
    "redlock_lock_acquire_ex": (ctypes.c_int, [_p, ctypes.POINTER(AcquireOptions)]),
    "redlock_lock_release": (ctypes.c_int, [_p]),
    "redlock_lock_extend": (ctypes.c_int, [_p, ctypes.c_int64, ctypes.c_int]),
    "redlock_lock_reacquire": (ctypes.c_int, [_p]),
    "redlock_lock_locked": (ctypes.c_int, [_p]),
    "redlock_lock_owned": (ctypes.c_int, [_p]),
    "redlock_lock_token": (ctypes.c_int, [_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]),
    "redlock_lock_fence": (ctypes.c_int, [_p, ctypes.POINTER(ctypes.c_uint64)]),
    "redlock_lock_validity": (ctypes.c_int, [_p, ctypes.POINTER(ctypes.c_int64)]),
    "redlock_lock_status": (ctypes.c_int, [_p, ctypes.POINTER(ctypes.c_int64), ctypes.c_char_p, ctypes.c_size_t,
                                           ctypes.POINTER(ctypes.c_size_t)]),
    "redlock_lock_release_token": (ctypes.c_int, [_p, ctypes.c_char_p, ctypes.c_size_t]),
    "redlock_client_new_quorum": (ctypes.c_int, [ctypes.POINTER(_p), ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t,
                                                 ctypes.POINTER(ClientOptions)]),
    "redlock_quorum_outcomes": (ctypes.c_int, [ctypes.POINTER(ctypes.c_int), ctypes.c_size_t,
                                               ctypes.POINTER(ctypes.c_size_t)]),
}


class LibraryNotFound(ImportError):
    pass


def _source_root(here: pathlib.Path) -> Optional[pathlib.Path]:
    """The checkout this package runs from (<root>/bindings/python/libredlock with <root>/include/redlock/redlock.h),
    else None: only a checkout may load its own build, never a build/ directory that merely sits above an install."""
    if (here.name, here.parent.name, here.parent.parent.name) != ("libredlock", "python", "bindings"):
        return None
    root = here.parent.parent.parent
    return root if (root / "include" / "redlock" / "redlock.h").is_file() else None


def _candidates(tried: List[str]) -> Iterator[str]:
    """Where to look, in order: $LIBREDLOCK_PATH; this checkout's build/ (only when running from a checkout); the
    installed library (pkg-config's libdir, then the dynamic linker's path). Dead ends are noted in ``tried``."""
    env = os.environ.get("LIBREDLOCK_PATH")
    if env:
        yield env  # a file, or a directory holding libredlock.so; explicit, so nothing else is tried
        return
    root = _source_root(pathlib.Path(__file__).resolve().parent)
    if root is not None:
        yield str(root / "build" / "libredlock.so")
    soname = "libredlock.so.%d" % ABI_MAJOR
    if not shutil.which("pkg-config"):
        tried.append("pkg-config (not installed)")
    else:
        try:
            p = subprocess.run(["pkg-config", "--variable=libdir", "redlock"], capture_output=True, text=True,
                               timeout=10)
            libdir = p.stdout.strip()
            if libdir:
                yield os.path.join(os.path.realpath(libdir), soname)  # realpath: absolute, never cwd-relative
            else:
                tried.append("pkg-config (no redlock.pc on its path)")
        except (OSError, subprocess.SubprocessError) as e:
            tried.append("pkg-config (%s)" % e)
    yield soname  # the dynamic linker's own search: LD_LIBRARY_PATH, ld.so.cache, the system directories
    found = ctypes.util.find_library("redlock")
    if found and found != soname:
        yield found


def load() -> Tuple[Any, str]:
    tried: List[str] = []
    for cand in _candidates(tried):
        if os.path.isdir(cand):  # the runtime package has only the SONAME file; the -dev package adds libredlock.so
            so = os.path.join(cand, "libredlock.so.%d" % ABI_MAJOR)
            cand = so if os.path.exists(so) else os.path.join(cand, "libredlock.so")
        try:
            lib = ctypes.CDLL(cand)
        except OSError as e:
            tried.append("%s (%s)" % (cand, e))
            continue
        for name, (restype, argtypes) in _PROTOTYPES.items():
            try:
                fn = getattr(lib, name)
            except AttributeError:
                raise LibraryNotFound("%s has no symbol %s: it is not a compatible libredlock" % (cand, name))
            fn.restype = restype
            fn.argtypes = argtypes
        return lib, cand
    if os.environ.get("LIBREDLOCK_PATH"):  # the caller chose it: say that choice is what failed
        raise LibraryNotFound("LIBREDLOCK_PATH does not name a loadable libredlock.so: " + "; ".join(tried))
    raise LibraryNotFound("libredlock.so not found; set LIBREDLOCK_PATH to the library file (or its directory), or "
                          "install libredlock (pkg-config redlock, or the dynamic linker's path). Tried: "
                          + "; ".join(tried))

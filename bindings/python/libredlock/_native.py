"""Finds libredlock.so and declares every C function's argument and result types (ctypes)."""
import ctypes
import ctypes.util
import os
import pathlib
import shutil
import subprocess

ABI_MAJOR = 0
MAX_DURATION_MS = 10 ** 12  # REDLOCK_MAX_DURATION_MS

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
CLIENT_OPTIONS_VERSION = 1
LOCK_OPTIONS_VERSION = 1
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
    ]


class LockOptions(ctypes.Structure):
    _fields_ = [
        ("version", ctypes.c_uint32),
        ("blocking", ctypes.c_int32),
        ("timeout_ms", ctypes.c_int64),
        ("sleep_ms", ctypes.c_int64),
        ("blocking_timeout_ms", ctypes.c_int64),
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
}


class LibraryNotFound(ImportError):
    pass


def _source_tree_build():
    """<root>/build/libredlock.so when this package runs from a libredlock checkout (<root>/bindings/python), else None.

    Only that one directory: never a build/ merely above the package, where anyone (a shared /tmp, a parent project)
    could have planted a library whose constructors would run at import."""
    pkg = pathlib.Path(__file__).resolve().parent
    root = pkg.parent.parent.parent
    if pkg.parent.name == "python" and pkg.parent.parent.name == "bindings" and \
            (root / "include" / "redlock" / "redlock.h").is_file():
        return str(root / "build" / "libredlock.so")
    return None


def _candidates(tried):
    """Where to look, in order, and nowhere else: $LIBREDLOCK_PATH (then only there), the checkout's build when running
    from one, pkg-config's libdir, the system's linker path."""
    env = os.environ.get("LIBREDLOCK_PATH")
    if env:
        yield env  # a file, or a directory holding libredlock.so; a wrong path is an error, not a fallback
        return
    build = _source_tree_build()
    if build:
        yield build
    if shutil.which("pkg-config"):
        try:
            libdir = subprocess.run(["pkg-config", "--variable=libdir", "redlock"], capture_output=True, text=True,
                                    timeout=10).stdout.strip()
            if libdir:
                yield os.path.join(libdir, "libredlock.so.%d" % ABI_MAJOR)
            else:
                tried.append("pkg-config --variable=libdir redlock (no answer)")
        except (OSError, subprocess.SubprocessError):
            tried.append("pkg-config --variable=libdir redlock (failed)")
    found = ctypes.util.find_library("redlock")
    if found:
        yield found
    yield "libredlock.so.%d" % ABI_MAJOR  # the dynamic linker's search path (ldconfig, LD_LIBRARY_PATH)


def load():
    tried = []
    for cand in _candidates(tried):
        if os.path.isdir(cand):
            cand = os.path.join(cand, "libredlock.so")
        if "/" in cand and not os.path.exists(cand):
            tried.append("%s (no such file)" % cand)
            continue
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
    raise LibraryNotFound("libredlock.so not found; set LIBREDLOCK_PATH to the library file (or its directory), or "
                          "install libredlock (pkg-config redlock, or the system linker path). Tried: "
                          + "; ".join(tried))

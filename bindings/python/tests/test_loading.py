"""Where the C library comes from: $LIBREDLOCK_PATH, this checkout's own build (only when running from a checkout),
then the installed library. Never a stray build/libredlock.so in some directory above an install: loading it would
run its constructors in every process that imports libredlock."""
import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import libredlock

PACKAGE_SOURCE = Path(__file__).resolve().parents[1]  # bindings/python: what pip installs
PROBE = "import json, libredlock; print(json.dumps(libredlock.library_path))"

PLANTED_C = r"""
#include <stdio.h>
__attribute__((constructor)) static void planted(void) {
    FILE *f = fopen(MARKER, "w");
    if (f) fclose(f);
}
"""


def _built_library():
    path = os.environ.get("LIBREDLOCK_PATH")
    assert path, "the suite runs with LIBREDLOCK_PATH set to the built libredlock.so (see scripts/test.sh)"
    path = Path(path)
    return path / "libredlock.so" if path.is_dir() else path


def _run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert p.returncode == 0, "%s failed:\n%s\n%s" % (cmd, p.stdout, p.stderr)
    return p


def _clean_env(**extra):
    """No way in but the ones under test: no LIBREDLOCK_PATH, no linker or Python path of the caller's."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LIBREDLOCK_PATH", "LD_LIBRARY_PATH", "PYTHONPATH", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def planted_library(tmp_path_factory):
    """A libredlock.so whose constructor creates a marker file: proof of being loaded, by anyone."""
    d = tmp_path_factory.mktemp("planted")
    marker = d / "LOADED"
    lib = d / "libredlock.so"
    (d / "planted.c").write_text(PLANTED_C)
    _run(["cc", "-shared", "-fPIC", "-DMARKER=\"%s\"" % marker, "-o", str(lib), str(d / "planted.c")])
    # The marker works: loading the library creates it.
    _run([sys.executable, "-c", "import ctypes, sys; ctypes.CDLL(sys.argv[1])", str(lib)])
    assert marker.exists()
    return lib, marker


@pytest.fixture
def planted(planted_library):
    """plant(directory) puts the library in directory/libredlock.so; plant.marker exists once anything loaded it."""
    lib, marker = planted_library
    if marker.exists():
        marker.unlink()

    def plant(directory):
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copy(str(lib), str(directory / "libredlock.so"))

    plant.marker = marker
    return plant


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The C library installed into <tmp>/prefix (cmake --install of the build LIBREDLOCK_PATH points into), and the
    package pip-installed into a venv at <tmp>/x/venv."""
    tmp = tmp_path_factory.mktemp("installed")
    build_dir = _built_library().resolve().parent
    assert (build_dir / "cmake_install.cmake").exists(), "LIBREDLOCK_PATH is not in a CMake build directory"
    prefix = tmp / "prefix"
    _run(["cmake", "--install", str(build_dir), "--prefix", str(prefix)])
    pcs = glob.glob(str(prefix / "**" / "pkgconfig" / "redlock.pc"), recursive=True)  # lib, lib64 or multiarch
    assert len(pcs) == 1, pcs
    pc_dir = Path(pcs[0]).parent
    libs = glob.glob(str(prefix / "**" / "libredlock.so.0"), recursive=True)
    assert len(libs) == 1, libs
    venv = tmp / "x" / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "pip"), "install", "--no-index", "--quiet", str(PACKAGE_SOURCE)])
    return {"tmp": tmp, "pc_dir": pc_dir, "lib": Path(libs[0]), "python": str(venv / "bin" / "python")}


def test_a_build_dir_above_an_install_is_never_loaded(installed, planted):
    tmp = installed["tmp"]
    planted(tmp / "x" / "build")  # beside the venv
    planted(tmp / "build")  # and further up
    p = subprocess.run([installed["python"], "-c", PROBE], capture_output=True, text=True, timeout=60,
                       cwd=str(tmp / "x"), env=_clean_env(PKG_CONFIG_PATH=str(installed["pc_dir"])))
    assert not planted.marker.exists(), "a planted build/libredlock.so was loaded"
    assert p.returncode == 0, p.stderr
    assert os.path.realpath(json.loads(p.stdout)) == os.path.realpath(str(installed["lib"]))


def test_explicit_path_wins_over_the_installed_library(installed, planted, tmp_path):
    p = subprocess.run([installed["python"], "-c", PROBE], capture_output=True, text=True, timeout=60,
                       cwd=str(tmp_path), env=_clean_env(PKG_CONFIG_PATH=str(installed["pc_dir"]),
                                                         LIBREDLOCK_PATH=str(_built_library().parent)))
    assert p.returncode == 0, p.stderr
    # A directory is accepted; in it the SONAME file first (the runtime package has no libredlock.so).
    assert json.loads(p.stdout) == str(_built_library().parent / "libredlock.so.0")
    runtime_only = tmp_path / "runtime-only"
    runtime_only.mkdir()
    shutil.copy(str(_built_library().parent / "libredlock.so.0"), str(runtime_only / "libredlock.so.0"))
    p = subprocess.run([installed["python"], "-c", PROBE], capture_output=True, text=True, timeout=60,
                       cwd=str(tmp_path), env=_clean_env(LIBREDLOCK_PATH=str(runtime_only)))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == str(runtime_only / "libredlock.so.0")


def test_not_found_names_what_was_tried(installed, planted):
    """Nothing on pkg-config's path: the error lists the tries and says what to set (unless the system has an
    installed libredlock, which is then what loads). A planted build/ is never among the tries."""
    tmp = installed["tmp"]
    planted(tmp / "x" / "build")
    empty = tmp / "empty"
    empty.mkdir(exist_ok=True)
    p = subprocess.run([installed["python"], "-c", PROBE], capture_output=True, text=True, timeout=60,
                       cwd=str(tmp / "x"), env=_clean_env(PKG_CONFIG_PATH=str(empty), PKG_CONFIG_LIBDIR=str(empty)))
    assert not planted.marker.exists()
    if p.returncode != 0:
        assert "libredlock.so not found; set LIBREDLOCK_PATH" in p.stderr
        assert "pkg-config" in p.stderr and "libredlock.so.0" in p.stderr
        assert "build" not in p.stderr.split("Tried:")[1]
    else:
        assert "/build/" not in json.loads(p.stdout)


def _checkout(root, header=True):
    """A source checkout in miniature: the package under test at bindings/python/libredlock, and the C header."""
    pkg = root / "bindings" / "python" / "libredlock"
    pkg.mkdir(parents=True)
    for f in Path(libredlock.__file__).parent.iterdir():
        if f.is_file():
            shutil.copy(str(f), str(pkg / f.name))
    if header:
        (root / "include" / "redlock").mkdir(parents=True)
        (root / "include" / "redlock" / "redlock.h").write_text("/* the checkout's header */\n")
    return str(root / "bindings" / "python")


def _probe_checkout(pythonpath, cwd):
    empty = cwd / "no-pkgconfig"
    empty.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, cwd=str(cwd),
                          env=_clean_env(PYTHONPATH=pythonpath, PKG_CONFIG_PATH=str(empty),
                                         PKG_CONFIG_LIBDIR=str(empty)))


def test_a_checkout_loads_its_own_build(tmp_path, planted):
    root = tmp_path / "src"
    pythonpath = _checkout(root)
    (root / "build").mkdir()
    os.symlink(str(_built_library().resolve()), str(root / "build" / "libredlock.so"))
    planted(tmp_path / "build")  # above the checkout: not looked at
    p = _probe_checkout(pythonpath, tmp_path)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == str(root / "build" / "libredlock.so")
    assert not planted.marker.exists()


def test_a_checkout_looks_at_its_own_build_only(tmp_path, planted):
    root = tmp_path / "src"
    pythonpath = _checkout(root)  # no build/ in it
    planted(tmp_path / "build")
    planted(root / "bindings" / "build")
    planted(root / "bindings" / "python" / "build")
    p = _probe_checkout(pythonpath, tmp_path)
    assert not planted.marker.exists()
    assert str(root / "build" / "libredlock.so") in p.stderr or p.returncode == 0


def test_without_the_header_it_is_not_a_checkout(tmp_path, planted):
    root = tmp_path / "src"
    pythonpath = _checkout(root, header=False)
    planted(root / "build")
    p = _probe_checkout(pythonpath, tmp_path)
    assert not planted.marker.exists()
    assert "build" not in p.stderr.partition("Tried:")[2]

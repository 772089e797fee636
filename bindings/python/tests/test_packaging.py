"""What the installed package holds: py.typed (PEP 561), annotations on the public API, and the wheel and sdist the
in-tree backend builds."""
import importlib.metadata
import importlib.util
import inspect
import tarfile
import typing
import zipfile
from pathlib import Path

import pytest

import libredlock

PACKAGE_SOURCE = Path(__file__).resolve().parents[1]


def test_installed_package_has_py_typed():
    here = Path(libredlock.__file__).parent
    assert (here / "py.typed").is_file()
    files = [str(f) for f in importlib.metadata.files("libredlock")]  # the installed RECORD
    assert "libredlock/py.typed" in files


def test_wheel_and_sdist_ship_py_typed(tmp_path):
    spec = importlib.util.spec_from_file_location("libredlock_backend", str(PACKAGE_SOURCE / "_build" / "backend.py"))
    backend = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(backend)
    wheel = zipfile.ZipFile(str(tmp_path / backend.build_wheel(str(tmp_path))))
    assert "libredlock/py.typed" in wheel.namelist()
    assert any(line.startswith("libredlock/py.typed,") for line in
               wheel.read("libredlock-%s.dist-info/RECORD" % libredlock.__version__).decode().splitlines())
    with tarfile.open(str(tmp_path / backend.build_sdist(str(tmp_path)))) as sdist:
        assert "libredlock-%s/libredlock/py.typed" % libredlock.__version__ in sdist.getnames()


def _public_callables():
    yield libredlock.library_version
    for cls in (libredlock.Client, libredlock.Lock, libredlock.RedlockError):
        for name, member in vars(cls).items():
            if name.startswith("_") and name not in ("__init__", "__enter__", "__exit__"):
                continue
            if isinstance(member, property):
                yield member.fget
            elif isinstance(member, classmethod):
                yield member.__func__
            elif inspect.isfunction(member):
                yield member


@pytest.mark.parametrize("fn", list(_public_callables()), ids=lambda f: f.__qualname__)
def test_public_api_is_annotated(fn):
    hints = typing.get_type_hints(fn)  # also proves every annotation resolves
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    assert all(p.name in hints for p in params), fn
    assert "return" in hints, fn


def test_lock_annotations_say_seconds_and_names():
    hints = typing.get_type_hints(libredlock.Lock.__init__)
    assert hints["timeout"] == typing.Optional[float]
    assert hints["name"] == typing.Union[str, bytes]
    assert typing.get_type_hints(libredlock.Lock.acquire)["return"] is bool

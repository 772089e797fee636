"""A minimal PEP 517 backend for this pure-Python package: builds a wheel (and an sdist) with the standard library
only, so installing needs no download. The version comes from libredlock/__init__.py."""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

NAME = "libredlock"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _version():
    with open(os.path.join(ROOT, NAME, "__init__.py"), encoding="utf-8") as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


def _metadata():
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
            "Summary: redis-py's Lock semantics on the libredlock C library (ctypes)\n"
            "Requires-Python: >=3.8\nLicense: MIT\nClassifier: Typing :: Typed\n" % (NAME, _version()))


def _license():
    """The project's LICENSE: beside this package in an sdist, two levels up in a checkout."""
    for path in (os.path.join(ROOT, "LICENSE"), os.path.join(ROOT, "..", "..", "LICENSE")):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                return f.read()
    return None


def _package_files():
    for name in sorted(os.listdir(os.path.join(ROOT, NAME))):
        if name.endswith(".py") or name == "py.typed":  # py.typed: the annotations are for type checkers (PEP 561)
            yield "%s/%s" % (NAME, name)


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    dist_info = "%s-%s.dist-info" % (NAME, version)
    filename = "%s-%s-py3-none-any.whl" % (NAME, version)
    records = []

    def add(zf, arcname, data):
        zf.writestr(zipfile.ZipInfo(arcname, date_time=(2026, 1, 1, 0, 0, 0)), data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        records.append("%s,sha256=%s,%d" % (arcname, digest, len(data)))

    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in _package_files():
            with open(os.path.join(ROOT, rel), "rb") as f:
                add(zf, rel, f.read())
        add(zf, dist_info + "/METADATA", _metadata().encode())
        if _license() is not None:
            add(zf, dist_info + "/LICENSE", _license())
        add(zf, dist_info + "/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: libredlock-backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        records.append(dist_info + "/RECORD,,")
        zf.writestr(zipfile.ZipInfo(dist_info + "/RECORD", date_time=(2026, 1, 1, 0, 0, 0)),
                    "\n".join(records) + "\n")
    return filename


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (NAME, _version())
    filename = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as tf:
        for rel in ["pyproject.toml", "_build/backend.py"] + list(_package_files()):
            tf.add(os.path.join(ROOT, rel), arcname="%s/%s" % (base, rel))
        text = _license()
        if text is not None:
            info = tarfile.TarInfo("%s/LICENSE" % base)
            info.size = len(text)
            tf.addfile(info, io.BytesIO(text))
        info = tarfile.TarInfo("%s/PKG-INFO" % base)
        data = _metadata().encode()
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return filename

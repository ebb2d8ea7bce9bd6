"""A PEP 517 build backend in the source tree, so `pip install ./bindings/python` needs no
package index: the package is pure Python, and a wheel is only a zip with three metadata
files. Standard library only."""
import base64
import hashlib
import io
import os
import tarfile
import zipfile

NAME = "difflm"
VERSION = "0.1.0"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAG = "py3-none-any"

METADATA = """Metadata-Version: 2.1
Name: {name}
Version: {version}
Summary: ctypes bindings for difflm (masked diffusion language models on CPUs)
License: MIT
Requires-Python: >=3.8

Needs libdifflm.so.0 at run time (found through DIFFLM_LIBRARY, pkg-config or the
system's library path; `meson install` installs this package with the library and
records its libdir).
""".format(name=NAME, version=VERSION)

WHEEL = """Wheel-Version: 1.0
Generator: difflm_build
Root-Is-Purelib: true
Tag: {tag}
""".format(tag=TAG)


def _package_files():
    """(archive name, bytes) for every module of the package, in a stable order."""
    pkg = os.path.join(ROOT, NAME)
    out = []
    for name in sorted(os.listdir(pkg)):
        if name.endswith(".py"):
            with open(os.path.join(pkg, name), "rb") as f:
                out.append(("%s/%s" % (NAME, name), f.read()))
    return out


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def _write_wheel(directory, files):
    dist_info = "%s-%s.dist-info" % (NAME, VERSION)
    files = files + [("%s/METADATA" % dist_info, METADATA.encode()),
                     ("%s/WHEEL" % dist_info, WHEEL.encode())]
    record = "".join(_record_line(n, d) + "\n" for n, d in files)
    record += "%s/RECORD,,\n" % dist_info
    files.append(("%s/RECORD" % dist_info, record.encode()))
    wheel_name = "%s-%s-%s.whl" % (NAME, VERSION, TAG)
    with zipfile.ZipFile(os.path.join(directory, wheel_name), "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return wheel_name


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, _package_files())


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # A .pth line puts the source directory on sys.path: edits take effect without
    # reinstalling.
    return _write_wheel(wheel_directory, [("%s_editable.pth" % NAME, (ROOT + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (NAME, VERSION)
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as tar:
        for rel in ["pyproject.toml", "_build/difflm_build.py"] + [
                n for n, _ in _package_files()]:
            tar.add(os.path.join(ROOT, rel), arcname="%s/%s" % (base, rel))
        pkg_info = METADATA.encode()
        info = tarfile.TarInfo("%s/PKG-INFO" % base)
        info.size = len(pkg_info)
        tar.addfile(info, io.BytesIO(pkg_info))
    return name

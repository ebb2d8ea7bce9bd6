"""Finds and opens libdifflm.

The search, in order (the first library that opens wins):

1. DIFFLM_LIBRARY, a path. When set, nothing else is tried: falling back silently would
   hide a typo.
2. The library directory of the meson install this package came from: `meson install`
   writes _config.py next to this file with the install's libdir and the directory the
   package went to. The libdir is tried relative to where the package is now (so a tree
   staged with DESTDIR, or a moved prefix, finds its own library), then as written.
3. The directories pkg-config reports for difflm (PKG_CONFIG_PATH=build/meson-uninstalled
   finds a build tree; an installed difflm.pc finds its prefix).
4. The system's search: the SONAME through the dynamic loader (LD_LIBRARY_PATH, the
   ld.so cache), ctypes.util.find_library, then the standard directories below, which
   the cache misses until ldconfig has run.

When nothing opens, load() raises ImportError listing every path tried and the fix.
"""
import ctypes
import ctypes.util
import os
import shutil
import subprocess
import sysconfig

# The SONAME carries the ABI number; the binding mirrors ABI 0.
SONAME = "libdifflm.so.0"
NAMES = (SONAME, "libdifflm.so")
ENV = "DIFFLM_LIBRARY"

try:  # written by meson install (bindings/python/meson.build); absent in the source tree
    from . import _config
except ImportError:
    _config = None


def _standard_dirs():
    """The directories a `meson install` puts the library in on this system."""
    multiarch = sysconfig.get_config_var("MULTIARCH")
    dirs = []
    for prefix in ("/usr/local", "/usr"):
        if multiarch:
            dirs.append(os.path.join(prefix, "lib", multiarch))
        dirs += [os.path.join(prefix, "lib64"), os.path.join(prefix, "lib")]
    return dirs


def _install_dirs(config=None, package_dir=None):
    """The libdir of the meson install that wrote _config.py: relative to where this
    package is now, then as configured (both the same in a plain install)."""
    config = _config if config is None else config
    if config is None:
        return []
    package_dir = package_dir or os.path.dirname(os.path.abspath(__file__))
    site_now = os.path.dirname(package_dir)
    rel = os.path.relpath(config.LIBDIR, config.PYTHON_DIR)
    dirs = [os.path.normpath(os.path.join(site_now, rel)), config.LIBDIR]
    return list(dict.fromkeys(dirs))


def _pkg_config_dirs():
    """Library directories pkg-config reports for difflm (empty when it has none)."""
    exe = shutil.which("pkg-config")
    if not exe:
        return []
    dirs = []
    # --libs-only-L covers the uninstalled .pc (whose libdir variable points elsewhere);
    # --variable=libdir covers an installed .pc whose -L is filtered as a system path.
    for args in (["--libs-only-L", "difflm"], ["--variable=libdir", "difflm"]):
        try:
            out = subprocess.run([exe] + args, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        if out.returncode != 0:
            continue
        for word in out.stdout.split():
            d = word[2:] if word.startswith("-L") else word
            if d and d not in dirs:
                dirs.append(d)
    return dirs


def _in_dirs(dirs):
    return [os.path.join(d, name) for d in dirs for name in NAMES]


def _iter_candidates():
    """Paths or names to try, in order, computed as the search goes (pkg-config runs only
    when the install's own libdir has no library)."""
    env = os.environ.get(ENV)
    if env:
        yield env
        return
    for p in _in_dirs(_install_dirs()):
        if os.path.exists(p):
            yield p
    for p in _in_dirs(_pkg_config_dirs()):
        if os.path.exists(p):
            yield p
    yield SONAME
    system = ctypes.util.find_library("difflm")
    if system:
        yield system
    for p in _in_dirs(_standard_dirs()):
        if os.path.exists(p):
            yield p


def candidates():
    """Paths or names to try, in order (only existing files for the directory steps)."""
    return list(dict.fromkeys(_iter_candidates()))


def searched():
    """Every place the search looks, found or not, for the error message."""
    env = os.environ.get(ENV)
    if env:
        return ["%s=%s" % (ENV, env)]
    places = []
    install = _install_dirs()
    if install:
        places.append("the meson install's libdir: " + ", ".join(install))
    else:
        places.append("the meson install's libdir: none (this package was not installed "
                      "by meson install)")
    pc = _pkg_config_dirs()
    if not shutil.which("pkg-config"):
        places.append("pkg-config difflm: no pkg-config program")
    else:
        places.append("pkg-config difflm: " + (", ".join(pc) if pc else "no difflm.pc found"))
    places.append("the dynamic loader's path for %s (LD_LIBRARY_PATH, ld.so cache)" % SONAME)
    places.append("ctypes.util.find_library('difflm'): %s"
                  % (ctypes.util.find_library("difflm") or "nothing"))
    places.append("standard directories: " + ", ".join(_standard_dirs()))
    return places


FIX = ("Install the library (meson setup build && meson install -C build), or point at "
       "it: %s=/path/to/%s, or PKG_CONFIG_PATH=<dir holding difflm.pc> "
       "(<build>/meson-uninstalled for a build tree)." % (ENV, SONAME))


def load():
    """Returns the opened library, or raises ImportError naming every place tried."""
    errors = []
    last = None
    tried = set()
    for c in _iter_candidates():
        if c in tried:
            continue
        tried.add(c)
        try:
            return ctypes.CDLL(c)
        except OSError as e:
            errors.append("%s: %s" % (c, e))
            last = e
    message = ("cannot load libdifflm (%s).\nSearched:\n  %s\nTried:\n  %s\n%s"
               % (SONAME, "\n  ".join(searched()), "\n  ".join(errors) or "nothing", FIX))
    raise ImportError(message, name="difflm") from last

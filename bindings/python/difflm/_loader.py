"""Finds and opens libdifflm: DIFFLM_LIBRARY, then pkg-config, then the system's search."""
import ctypes
import ctypes.util
import os
import shutil
import subprocess

# The SONAME carries the ABI number; the binding mirrors ABI 0.
SONAME = "libdifflm.so.0"


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


def candidates():
    """Paths or names to try, in order."""
    found = []
    env = os.environ.get("DIFFLM_LIBRARY")
    if env:
        # An explicit choice is final: falling back silently would hide a typo.
        return [env]
    for d in _pkg_config_dirs():
        for name in (SONAME, "libdifflm.so"):
            path = os.path.join(d, name)
            if os.path.exists(path):
                found.append(path)
    found.append(SONAME)
    system = ctypes.util.find_library("difflm")
    if system:
        found.append(system)
    return found


def load():
    """Returns the opened library, or raises OSError naming every place tried."""
    errors = []
    for c in candidates():
        try:
            return ctypes.CDLL(c)
        except OSError as e:
            errors.append("%s: %s" % (c, e))
    raise OSError("cannot load libdifflm (set DIFFLM_LIBRARY to its path); tried:\n  "
                  + "\n  ".join(errors))

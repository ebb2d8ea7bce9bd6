"""`meson install` into a temporary DESTDIR, then checks the installed tree on its own.

usage: install_test.py --meson M --build DIR --prefix P --libdir L --bindir B --datadir D
                       --python-dir PY --host static_host.c [--tools] --cc CC...

tests/install/meson.build passes the build's options. The staged tree is the prefix under
DESTDIR; nothing below runs with LD_LIBRARY_PATH, DIFFLM_LIBRARY or PKG_CONFIG_PATH set
from the build tree:

- the installed files: libraries, header, difflm.pc, the default model, the Python
  package (every module of bindings/python/difflm plus the generated _config.py), and
  exactly the user-facing tools (tools/meson.build says which);
- every installed program's RUNPATH holds $ORIGIN/<bindir to libdir> and the prefix's
  libdir (none under /usr), and the staged CLI resolves libdifflm.so.0 to the staged
  library and generates;
- `import difflm` from the staged package directory opens the staged library, found
  through _config.py, and generates;
- the static archive: its only global symbols are the difflm_* functions, and a C host
  that defines dl_* names of its own links it with `pkg-config --static` and runs, with
  no libdifflm.so in its NEEDED entries.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

# tools/meson.build: installed, and built but not installed.
INSTALLED_TOOLS = ["difflm", "difflm-convert", "difflm-quantize", "difflm-score", "difflm-bigram", "difflm-server",
                   "difflm-train-tokenizer", "difflm-train"]
UNINSTALLED_TOOLS = ["difflm-mkmodel", "difflm-logits"]
# The variables that would let the staged tree lean on the build tree.
SCRUB = ("LD_LIBRARY_PATH", "DIFFLM_LIBRARY", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR",
         "PYTHONPATH", "DIFFLM_LIB_DIR", "LD_PRELOAD")

failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)
    return cond


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    env.update(extra)
    return env


def run(cmd, **kw):
    kw.setdefault("env", clean_env())
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return r


def runpath(path):
    out = run(["readelf", "-d", path]).stdout
    m = re.search(r"\((?:RUNPATH|RPATH)\)\s+Library (?:runpath|rpath): \[([^\]]*)\]", out)
    return m.group(1).split(":") if m else []


def needed(path):
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]*)\]",
                      run(["readelf", "-d", path]).stdout)


def main():
    ap = argparse.ArgumentParser()
    for name in ("meson", "build", "prefix", "libdir", "bindir", "datadir", "python-dir",
                 "host"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--tools", action="store_true")
    ap.add_argument("--cc", nargs=argparse.REMAINDER, required=True)
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="difflm-install-")
    try:
        test(a, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed:\n  %s" % (len(failures), "\n  ".join(failures)))
        return 1
    print("all install checks passed")
    return 0


def test(a, tmp):
    destdir = os.path.join(tmp, "stage")
    r = run([a.meson, "install", "-C", a.build, "--no-rebuild", "--destdir", destdir],
            env=clean_env(DESTDIR=""))
    if not check(r.returncode == 0, "meson install --destdir"):
        print(r.stdout[-4000:], r.stderr[-4000:])
        return

    def staged(p):
        return os.path.join(destdir, os.path.relpath(os.path.join(a.prefix, p), "/"))

    prefix = staged("")
    libdir = os.path.join(a.prefix, a.libdir)      # absolute when libdir is
    s_lib, s_bin = staged(a.libdir), staged(a.bindir)
    s_pc = os.path.join(s_lib, "pkgconfig")
    model = os.path.join(staged(a.datadir), "difflm", "difflm-default.gguf")

    # ---------------------------------------------------------------- the files
    for f in ("libdifflm.so.0", "libdifflm.so", "libdifflm.a", "pkgconfig/difflm.pc"):
        check(os.path.exists(os.path.join(s_lib, f)), "installed %s/%s" % (a.libdir, f))
    check(os.path.exists(staged("include/difflm.h")), "installed include/difflm.h")
    check(os.path.exists(staged("include/difflm_version.h")),
          "installed include/difflm_version.h")
    check(os.path.exists(model), "installed the default model")
    if a.tools:
        for t in INSTALLED_TOOLS:
            check(os.access(os.path.join(s_bin, t), os.X_OK), "installed bin/" + t)
        for t in UNINSTALLED_TOOLS:
            check(not os.path.exists(os.path.join(s_bin, t)), "bin/%s not installed" % t)
        extra = sorted(set(os.listdir(s_bin)) - set(INSTALLED_TOOLS)) if os.path.isdir(s_bin) else []
        check(not extra, "no other programs installed (%s)" % ", ".join(extra))

    # ---------------------------------------------------------------- rpath, the CLI
    want_rpath = [] if a.prefix == "/usr" else [libdir]
    if want_rpath and not os.path.isabs(a.bindir) and not os.path.isabs(a.libdir):
        up = os.path.relpath(os.path.join("/", a.libdir), os.path.join("/", a.bindir))
        want_rpath.insert(0, "$ORIGIN/" + up)
    programs = [os.path.join(s_bin, t) for t in (INSTALLED_TOOLS if a.tools else [])]
    for p in programs:
        got = [os.path.normpath(d) if not d.startswith("$ORIGIN") else d for d in runpath(p)]
        check(got == [os.path.normpath(d) if not d.startswith("$ORIGIN") else d
                      for d in want_rpath],
              "RUNPATH of bin/%s is %s (got %s)" % (os.path.basename(p), want_rpath, got))
    if a.tools:
        cli = os.path.join(s_bin, "difflm")
        if a.prefix != "/usr":
            r = run(["ldd", cli])
            line = [l for l in r.stdout.splitlines() if "libdifflm.so.0" in l]
            check(line and os.path.realpath(line[0].split("=>")[1].split()[0]) ==
                  os.path.realpath(os.path.join(s_lib, "libdifflm.so.0")),
                  "staged CLI resolves libdifflm.so.0 to the staged library (%s)"
                  % (line[0].strip() if line else r.stdout + r.stderr))
            r = run([cli, "-m", model, "-p", "And God said", "-n", "8", "--steps", "8",
                     "--block-length", "8", "-t", "1"], cwd=tmp)
            check(r.returncode == 0 and r.stdout.strip() != "",
                  "staged CLI generates without LD_LIBRARY_PATH (rc %d, stdout %r, stderr %r)"
                  % (r.returncode, r.stdout[:200], r.stderr[-500:]))
        for t in INSTALLED_TOOLS[1:]:
            r = run([os.path.join(s_bin, t), "--help"], cwd=tmp)
            check(r.returncode == 0 and (r.stdout + r.stderr).strip() != "",
                  "staged bin/%s --help runs (rc %d)" % (t, r.returncode))

    # ---------------------------------------------------------------- Python
    if a.python_dir:
        s_py = staged(a.python_dir)
        pkg = os.path.join(s_py, "difflm")
        src_pkg = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                               "bindings", "python", "difflm")
        modules = sorted(f for f in os.listdir(src_pkg) if f.endswith(".py"))
        missing = [m for m in modules + ["_config.py"] if not os.path.exists(os.path.join(pkg, m))]
        check(not missing, "installed every module of the Python package (missing %s)" % missing)
        code = ("import difflm, os\n"
                "print(os.path.realpath(difflm._lib._name))\n"
                "with difflm.Context(%r, n_threads=1) as ctx:\n"
                "    text = ctx.generate(ctx.chat_format([('user', 'Who made the light?')]),"
                " gen_length=8, steps=8, block_length=8)\n"
                "    print(repr(text))\n"
                "    n_bos = ctx.canvas().count(ctx.info.bos_id)\n"
                "    print('bos', n_bos)\n" % model)
        # PATH without pkg-config: only _config.py can lead to the staged library.
        bin_dir = os.path.join(tmp, "no-pkg-config")
        os.makedirs(bin_dir, exist_ok=True)
        r = run([sys.executable, "-c", code], cwd=tmp,
                env=clean_env(PYTHONPATH=s_py, PATH=bin_dir))
        lines = r.stdout.splitlines()
        check(r.returncode == 0 and lines and lines[0] ==
              os.path.realpath(os.path.join(s_lib, "libdifflm.so.0")),
              "staged `import difflm` opens the staged library (rc %d, %r, %s)"
              % (r.returncode, lines[:1], r.stderr[-1500:]))
        check(r.returncode == 0 and "bos 1" in lines, "staged chat generation has one BOS (%r)"
              % lines[1:])

    # ---------------------------------------------------------------- the static archive
    archive = os.path.join(s_lib, "libdifflm.a")
    out = run(["nm", "-g", "--defined-only", archive]).stdout
    glob = sorted({line.split()[2] for line in out.splitlines() if len(line.split()) == 3})
    bad = [g for g in glob if not g.startswith("difflm_")]
    check(len(glob) > 10 and not bad, "libdifflm.a's global symbols are %d difflm_* "
          "functions (others: %s)" % (len(glob), bad[:10]))
    pc = ["pkg-config", "--define-variable=prefix=" + prefix]
    pc_env = clean_env(PKG_CONFIG_PATH=s_pc)
    cflags = run(pc + ["--cflags", "difflm"], env=pc_env)
    libs = run(pc + ["--static", "--libs", "difflm"], env=pc_env)
    if not check(cflags.returncode == 0 and libs.returncode == 0,
                 "pkg-config --static --libs difflm from the staged difflm.pc (%s)"
                 % (cflags.stderr + libs.stderr).strip()):
        return
    words = libs.stdout.split()
    check("-ldifflm" in words, "pkg-config --static names -ldifflm (%s)" % libs.stdout.strip())
    # -l:libdifflm.a: the archive, where -ldifflm would pick the shared library.
    words = ["-l:libdifflm.a" if w == "-ldifflm" else w for w in words]
    host = os.path.join(tmp, "static_host")
    r = run(a.cc + [a.host, "-o", host] + cflags.stdout.split() + words, cwd=tmp)
    if check(r.returncode == 0, "a host defining dl_fail and dl_tok_encode links libdifflm.a "
             "(%s)" % r.stderr.strip()[-2000:]):
        check(not [n for n in needed(host) if "difflm" in n],
              "the host does not need libdifflm.so (NEEDED %s)" % needed(host))
        r = run([host, model], cwd=tmp)
        check(r.returncode == 0, "the static host runs (rc %d: %s%s)"
              % (r.returncode, r.stdout, r.stderr))


if __name__ == "__main__":
    sys.exit(main())

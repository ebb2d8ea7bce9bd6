#!/usr/bin/python3
"""The documentation check: every documented command runs, every citation resolves.

    check_docs.py SOURCE_DIR BUILD_DIR [--only FILE.md] [--list] [--no-run]

1. Citations. Every `doc/NAME.md` named anywhere in the tracked tree (sources, tests,
   scripts, docs) must exist, and every section it names in the form
   doc/NAME.md, "Heading" (or doc/NAME.md, "A" to "B") must be the start of a heading of
   that file. Links between the docs, [text](NAME.md#anchor), must hit a file and an
   anchor (GitHub's slugs). Nothing may cite the team's reference notes outside the
   repository (../shared/reference/*.md): the facts they held are in doc/.
2. Commands. Every fenced block of README.md and doc/*.md whose info string is sh,
   bash, shell or console, and every indented block that starts like a command
   (build/..., meson ..., sh ..., python3 ..., cargo ..., pip ...), must be preceded by
   a marker line:
       <!-- doc-check -->                    run it (options: timeout=SECONDS)
       <!-- doc-check: skip (REASON) -->     do not run it; REASON says why it cannot
                                             run here (a download, root, a long run)
   A block without a marker is an error, so no command can be added unchecked. Marked
   blocks run with `sh -e` (console blocks: the lines after "$ "), in a scratch
   directory that mirrors the source tree (each top-level entry a symlink, `build` a
   symlink to BUILD_DIR, so `build/tools/difflm` and `models/difflm-default.gguf` are
   what they say), with TMPDIR a fresh directory, stdin empty and a timeout (default 60
   s). A non-zero exit or a timeout fails the check, showing the command's output.

The README's first two commands install packages as root and build the tree; they are
skipped here by name (the list below says why), because their text belongs to the
fresh-machine check.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

# Commands that run nowhere but on a fresh machine, matched by their start, with the
# reason. Prefer a marker in the document; this list is for text the check must not edit.
SKIP_BY_PREFIX = {
    "sh tools/install-deps.sh": "installs packages as root and builds the tree; it is what "
                                "the build running this check already did",
}

REFERENCE_NOTES = re.compile(
    r"shared/reference|\b(?:gguf|machine|models-and-samplers|peer-baseline|landscape|"
    r"moe-and-block-diffusion)\.md\b")
CITATION = re.compile(r'\bdoc/([A-Za-z0-9_.-]+\.md)((?:,? "[^"\n]+"(?: to "[^"\n]+")?)?)')
QUOTED = re.compile(r'"([^"\n]+)"')
LINK = re.compile(r"\]\(([A-Za-z0-9_./-]*\.md)?(#[A-Za-z0-9_-]+)?\)")
MARKER = re.compile(r"^<!--\s*doc-check(?::\s*(.*?))?\s*-->\s*$")
FENCE = re.compile(r"^(```+|~~~+)\s*([A-Za-z0-9_+-]*)")
SHELL_LANGS = {"sh", "bash", "shell", "console"}
COMMAND_START = re.compile(
    r"^(?:[A-Z_]+=\S*\s+)*(?:build/|\./|sh |bash |meson |ninja |python3? |pip3? |cargo |"
    r"sudo |tools/|bench/|cd |pkg-config |git |rm |mkdir |valgrind |apt-get )")


def headings(text):
    out, fence = [], None
    for line in text.split("\n"):
        m = FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif line.startswith(fence):
                fence = None
            continue
        if fence is None:
            h = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if h:
                out.append(h.group(1))
    return out


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def tracked_files(src):
    try:
        r = subprocess.run(["git", "-C", src, "ls-files", "-z"], capture_output=True, check=True)
        files = [f for f in r.stdout.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for root, dirs, names in os.walk(src):
            dirs[:] = [d for d in dirs if d not in (".git", "build") and not d.startswith("build")]
            files += [os.path.relpath(os.path.join(root, n), src) for n in names]
    return [f for f in files if os.path.isfile(os.path.join(src, f))]


def check_citations(src, errors):
    docs = {}
    for name in os.listdir(os.path.join(src, "doc")):
        if name.endswith(".md"):
            with open(os.path.join(src, "doc", name), encoding="utf-8") as f:
                docs[name] = headings(f.read())
    # the check and its self-test quote faulty citations on purpose
    here = os.path.relpath(os.path.dirname(os.path.abspath(__file__)), os.path.abspath(src))
    n_cites = 0
    for rel in tracked_files(src):
        if rel.startswith((here + os.sep, "models/")):
            continue
        try:
            with open(os.path.join(src, rel), encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, OSError):
            continue
        for lineno, line in enumerate(text.split("\n"), 1):
            if REFERENCE_NOTES.search(line):
                errors.append(f"{rel}:{lineno}: cites a reference note outside the repository "
                              f"(write the fact into doc/ and cite that): {line.strip()}")
        # citations may wrap over a comment's line break: join lines, keep positions
        flat = re.sub(r"\n[ \t]*(?:\*|#|//)?[ \t]*", " ", text)
        for m in CITATION.finditer(flat):
            name, secs = m.group(1), m.group(2)
            n_cites += 1
            if name not in docs:
                errors.append(f"{rel}: cites doc/{name}, which does not exist")
                continue
            for sec in QUOTED.findall(secs or ""):
                if not any(h.replace("`", "").startswith(sec.replace("`", "")) for h in docs[name]):
                    errors.append(f'{rel}: cites doc/{name}, "{sec}": no heading of doc/{name} '
                                  f"starts so")
    for name in list(docs) + ["../README.md"]:
        path = os.path.join(src, "doc", name)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for m in LINK.finditer(text):
            target, anchor = m.group(1), m.group(2)
            if not target and not anchor:
                continue
            tpath = os.path.normpath(os.path.join(os.path.dirname(path), target or os.path.basename(path)))
            if not os.path.isfile(tpath):
                errors.append(f"doc/{name}: links to {target}, which does not exist")
                continue
            if anchor:
                with open(tpath, encoding="utf-8") as f:
                    slugs = {slug(h) for h in headings(f.read())}
                if anchor[1:] not in slugs:
                    errors.append(f"doc/{name}: link {target or ''}{anchor} names no heading")
    return n_cites


def blocks(text):
    """Yields (line number, kind, lang, body lines, marker or None) for shell-like blocks."""
    lines = text.split("\n")
    i, prev = 0, None   # prev: the last non-blank line before the block
    while i < len(lines):
        line = lines[i]
        m = FENCE.match(line)
        if m:
            fence, lang, start = m.group(1), m.group(2).lower(), i
            i += 1
            body = []
            while i < len(lines) and not lines[i].startswith(fence):
                body.append(lines[i])
                i += 1
            i += 1
            if lang in SHELL_LANGS:
                yield start + 1, "fenced", lang, body, prev
            prev = "```"
            continue
        if line.startswith("    ") and line.strip() and (prev is None or not prev.startswith(("-", "*", "|"))
                                                         or prev == "```" or MARKER.match(prev or "")):
            start, body = i, []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                body.append(lines[i][4:])
                i += 1
            while body and not body[-1].strip():
                body.pop()
            if COMMAND_START.match(body[0].strip()):
                yield start + 1, "indented", "sh", body, prev
            prev = body[-1]
            continue
        if line.strip():
            prev = line.strip()
        i += 1


def commands_of(lang, body):
    if lang == "console":
        return "\n".join(l[2:] for l in body if l.startswith("$ "))
    return "\n".join(body)


def mirror(src, build, where):
    for name in os.listdir(src):
        if name in (".git", "build"):
            continue
        os.symlink(os.path.join(os.path.abspath(src), name), os.path.join(where, name))
    os.symlink(os.path.abspath(build), os.path.join(where, "build"))


def run_block(src, build, script, timeout):
    with tempfile.TemporaryDirectory(prefix="difflm-doccheck-") as tmp:
        work, scratch = os.path.join(tmp, "tree"), os.path.join(tmp, "tmp")
        os.mkdir(work)
        os.mkdir(scratch)
        mirror(src, build, work)
        env = dict(os.environ, TMPDIR=scratch, DIFFLM_SRC=os.path.abspath(src))
        try:
            r = subprocess.run(["sh", "-e", "-c", script], cwd=work, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
            return r.returncode, r.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired as e:
            return None, (e.stdout or b"").decode(errors="replace")


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    opts = [a for a in argv[1:] if a.startswith("--")]
    if len(args) < 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    src, build = args[0], args[1]
    only = None
    if "--only" in argv:
        only = argv[argv.index("--only") + 1]
    errors = []
    n_cites = check_citations(src, errors)
    docs = ["README.md"] + sorted("doc/" + n for n in os.listdir(os.path.join(src, "doc")) if n.endswith(".md"))
    n_run = n_skip = 0
    for doc in docs:
        if only and not doc.endswith(only):
            continue
        with open(os.path.join(src, doc), encoding="utf-8") as f:
            text = f.read()
        for lineno, kind, lang, body, prev in blocks(text):
            where = f"{doc}:{lineno}"
            script = commands_of(lang, body)
            first = script.strip().split("\n")[0] if script.strip() else ""
            m = MARKER.match(prev or "")
            if not m:
                reason = next((r for p, r in SKIP_BY_PREFIX.items() if first.startswith(p)), None)
                if reason:
                    n_skip += 1
                    if "--list" in opts:
                        print(f"skip {where}: {reason}")
                    continue
                errors.append(f"{where}: {kind} {lang} block without a <!-- doc-check --> marker "
                              f"(mark it runnable, or skip it with the reason): {first}")
                continue
            arg = (m.group(1) or "").strip()
            if arg.startswith("skip"):
                reason = arg[4:].strip()
                if not (reason.startswith("(") and reason.endswith(")") and len(reason) > 4):
                    errors.append(f"{where}: a skip marker needs its reason in parentheses")
                n_skip += 1
                if "--list" in opts:
                    print(f"skip {where}: {reason}")
                continue
            timeout = 60
            t = re.fullmatch(r"timeout=(\d+)", arg)
            if arg and not t:
                errors.append(f"{where}: unknown marker option '{arg}'")
                continue
            if t:
                timeout = int(t.group(1))
            n_run += 1
            if "--list" in opts or "--no-run" in opts:
                print(f"run  {where}: {first}")
                if "--no-run" in opts:
                    continue
            t0 = time.monotonic()
            rc, out = run_block(src, build, script, timeout)
            print(f"ran  {where} in {time.monotonic() - t0:.1f} s: {first}")
            if rc != 0:
                what = f"timed out after {timeout} s" if rc is None else f"exit status {rc}"
                errors.append(f"{where}: {what}:\n{script}\n--- output (last 2000 bytes):\n{out[-2000:]}")
    for e in errors:
        print("FAIL " + e, file=sys.stderr)
    print(f"check_docs: {n_cites} citations, {n_run} commands run, {n_skip} skipped, "
          f"{len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/python3
"""Tests of check_docs.py on small made-up trees: it passes a good one and fails each
kind of fault (a failing command, a timeout, an unmarked block, a skip without a reason,
a citation of a missing file or heading, a citation of the reference notes, a broken
link), naming the place."""
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "check_docs.py")

GOOD_DOC = """# Guide

## Running things

<!-- doc-check -->
```sh
test -f models/m.txt
echo hello > "$TMPDIR/out" && test -s "$TMPDIR/out"
build/tool
```

<!-- doc-check: skip (needs a 16 GB download) -->
```sh
curl -O https://example.invalid/big.gguf
```

See [the other section](#running-things) and [the readme](../README.md).
"""


class CheckDocs(unittest.TestCase):
    def tree(self, doc=GOOD_DOC, readme="# R\n", source=None):
        root = tempfile.mkdtemp(prefix="checkdocs-test-")
        self.addCleanup(subprocess.run, ["rm", "-rf", root])
        src, build = os.path.join(root, "src"), os.path.join(root, "build")
        for d in ("doc", "models", "lib"):
            os.makedirs(os.path.join(src, d))
        os.makedirs(build)
        with open(os.path.join(build, "tool"), "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(os.path.join(build, "tool"), 0o755)
        with open(os.path.join(src, "models", "m.txt"), "w") as f:
            f.write("m\n")
        with open(os.path.join(src, "README.md"), "w") as f:
            f.write(readme)
        with open(os.path.join(src, "doc", "guide.md"), "w") as f:
            f.write(doc)
        with open(os.path.join(src, "lib", "a.c"), "w") as f:
            f.write(source or '/* a.c - see doc/guide.md, "Running things". */\n')
        return src, build

    def run_check(self, src, build):
        r = subprocess.run([sys.executable, CHECK, src, build], capture_output=True, text=True,
                           timeout=120)
        return r.returncode, r.stdout + r.stderr

    def test_good_tree_passes(self):
        rc, out = self.run_check(*self.tree())
        self.assertEqual(rc, 0, out)
        self.assertIn("1 commands run, 1 skipped, 0 errors", out)

    def test_console_block_runs_prompt_lines_only(self):
        doc = GOOD_DOC + "\n<!-- doc-check -->\n```console\n$ build/tool\nthis output line is not run\n$ false\n```\n"
        rc, out = self.run_check(*self.tree(doc))
        self.assertEqual(rc, 1, out)
        self.assertIn("exit status 1", out)
        rc, out = self.run_check(*self.tree(doc.replace("$ false", "$ true")))
        self.assertEqual(rc, 0, out)

    def test_failing_command(self):
        rc, out = self.run_check(*self.tree(GOOD_DOC.replace("build/tool", "build/tool && false")))
        self.assertEqual(rc, 1, out)
        self.assertIn("doc/guide.md:6: exit status 1", out)

    def test_missing_file_fails(self):
        rc, out = self.run_check(*self.tree(GOOD_DOC.replace("models/m.txt", "models/gone.gguf")))
        self.assertEqual(rc, 1, out)
        self.assertIn("exit status", out)

    def test_timeout(self):
        doc = GOOD_DOC.replace("<!-- doc-check -->", "<!-- doc-check: timeout=1 -->").replace(
            "build/tool", "sleep 5")
        rc, out = self.run_check(*self.tree(doc))
        self.assertEqual(rc, 1, out)
        self.assertIn("timed out after 1 s", out)

    def test_unmarked_block(self):
        doc = GOOD_DOC + "\n```sh\nbuild/tool --new-flag\n```\n\n    build/tool --indented\n"
        rc, out = self.run_check(*self.tree(doc))
        self.assertEqual(rc, 1, out)
        self.assertIn("fenced sh block without a <!-- doc-check --> marker", out)
        self.assertIn("indented sh block without a <!-- doc-check --> marker", out)

    def test_skip_needs_reason(self):
        rc, out = self.run_check(*self.tree(GOOD_DOC.replace("skip (needs a 16 GB download)", "skip")))
        self.assertEqual(rc, 1, out)
        self.assertIn("needs its reason", out)

    def test_bad_citations(self):
        for source, message in [
            ('/* see doc/nothere.md */\n', "cites doc/nothere.md, which does not exist"),
            ('/* see doc/guide.md, "Walking" */\n', 'cites doc/guide.md, "Walking": no heading'),
            ('/* the facts of gguf.md section 3 */\n', "cites a reference note outside"),
            ('# from ../shared/reference/notes.md\n', "cites a reference note outside"),
        ]:
            rc, out = self.run_check(*self.tree(source=source))
            self.assertEqual(rc, 1, out)
            self.assertIn(message, out)

    def test_broken_link(self):
        rc, out = self.run_check(*self.tree(GOOD_DOC.replace("#running-things", "#walking")))
        self.assertEqual(rc, 1, out)
        self.assertIn("link #walking names no heading", out)


if __name__ == "__main__":
    unittest.main()

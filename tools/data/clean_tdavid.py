#!/usr/bin/python3
"""Cleans diatheke's plain export of Spurgeon's Treasury of David into paragraphs.

stdin: `diatheke -b TDavid -f plain -k Ps 1:1-150:6`; stdout: one paragraph per line.
Steps (doc/default-model.md, "Cleaning the exports"): strip the "Psalms n:n: " entry prefix,
drop the "(TDavid)" module marker line and leading spaces, drop standalone "*" emphasis
marks. Two additions: the export runs many paragraphs into one line with a run of two or
more spaces between them (27,877 such runs), so each run becomes a line break; and
whitespace inside a paragraph is collapsed, and lines left empty are skipped (most entry
prefixes introduce nothing: the commentary on a psalm sits under its first verse). With
--refs each line is prefixed by "Psalms N<TAB>", N being the psalm it comments on.
"""
import re
import sys

PREFIX = re.compile(r"^Psalms (\d+):\d+: ?")
PARAGRAPH_BREAK = re.compile(r"\s{2,}")


def main():
    refs = "--refs" in sys.argv[1:]
    data = sys.stdin.buffer.read().decode("utf-8")
    psalm = None
    out = []
    for line in data.split("\n"):
        if line.strip() == "(TDavid)":
            continue
        m = PREFIX.match(line)
        if m:
            psalm = int(m.group(1))
            line = line[m.end():]
        for para in PARAGRAPH_BREAK.split(line.strip()):
            words = [w for w in para.split() if w != "*"]
            if not words:
                continue
            if psalm is None:
                sys.exit("clean_tdavid.py: text before the first 'Psalms n:n:' entry")
            text = " ".join(words)
            out.append(f"Psalms {psalm}\t{text}" if refs else text)
    sys.stdout.buffer.write(("\n".join(out) + "\n").encode("utf-8"))


if __name__ == "__main__":
    main()

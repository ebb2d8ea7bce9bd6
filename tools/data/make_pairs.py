#!/usr/bin/python3
"""Builds the instruction pairs (translation between the two Bibles) from the sources'
"DOC<TAB>text" files.

Usage: make_pairs.py OUTDIR kjv.refs web.refs

Both translations give one verse per line, grouped by chapter. A chapter is paired when
both have it (same canonical key as split_corpus.py) with the same number of verses;
verse i of one is then verse i of the other (the few chapters whose versification
differs are skipped). Each verse pair gives two examples, one per direction:

    prompt   "King James: <KJV verse>\\nWorld English:"    response " <WEB verse>"
    prompt   "World English: <WEB verse>\\nKing James:"    response " <KJV verse>"

Output: OUTDIR/pairs-train.tsv and OUTDIR/pairs-val.tsv, one example per line,
"PROMPT<TAB>RESPONSE", with a newline written as backslash-n and a backslash as two
(tools/train/sft.c reads them). A chapter held out by split_corpus.py's key goes to
pairs-val.tsv, so no held-out verse is trained on in either file.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import split_corpus  # noqa: E402  (the held-out key and the chapter reader)

LABELS = ("King James", "World English")


def escape(s):
    if "\t" in s or "\n" in s:
        sys.exit(f"make_pairs.py: verse with a tab or newline: {s[:60]!r}")
    return s.replace("\\", "\\\\")


def example(src_label, src, dst_label, dst):
    return f"{src_label}: {escape(src)}\\n{dst_label}:\t {escape(dst)}\n"


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: make_pairs.py OUTDIR kjv.refs web.refs")
    outdir, kjv, web = sys.argv[1:4]
    kjv_ch = {key: lines for key, _, lines in
              split_corpus.canon_keys(split_corpus.read_documents(kjv))}
    web_ch = {key: lines for key, _, lines in
              split_corpus.canon_keys(split_corpus.read_documents(web),
                                      split_corpus.DEUTEROCANON)}
    out = {"train": [], "val": []}
    skipped = 0
    for key, k_lines in kjv_ch.items():   # KJV order: canon order
        w_lines = web_ch.get(key)
        if w_lines is None or len(w_lines) != len(k_lines):
            skipped += 1
            continue
        which = "val" if split_corpus.is_val(key) else "train"
        for k, w in zip(k_lines, w_lines):
            out[which].append(example(LABELS[0], k, LABELS[1], w))
            out[which].append(example(LABELS[1], w, LABELS[0], k))
    for which, lines in out.items():
        with open(os.path.join(outdir, f"pairs-{which}.tsv"), "wb") as f:
            f.write("".join(lines).encode("utf-8"))
        print(f"pairs-{which}.tsv {len(lines):6d} examples")
    print(f"chapters skipped (missing or versified differently): {skipped}")


if __name__ == "__main__":
    main()

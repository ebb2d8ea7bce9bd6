#!/usr/bin/python3
"""Builds train.txt and val.txt (and train-mhcc.txt) from the sources' "DOC<TAB>text" files.

Usage: split_corpus.py OUTDIR kjv.refs web.refs tdavid.refs [mhcc.refs]

A document is one chapter of a Bible (its verses, one per line) or the commentary on one
psalm (its paragraphs, one per line). Documents are separated by one blank line and never
contain an empty line, so a trainer can put EOS between them.

Held-out split: a document goes to validation when its canonical chapter (book position
in the 66-book Protestant canon, chapter number) hashes (CRC-32 of "book:chapter") to 0
mod 50, i.e. about 2% of chapters. The key is shared by the two translations and by the
commentary (Treasury of David on psalm N is keyed as Psalms chapter N), so a held-out
chapter is held out in every source and no translation of it leaks into training.
Deuterocanonical books (WEB only) are keyed by their own name. Output keeps source order
(KJV, WEB, Treasury of David, then Matthew Henry) and document order within a source.

Matthew Henry's Concise Commentary (mhcc.refs) came later, for the default model's run 3.
It is split by the same key but is training text only, written to train-mhcc.txt
(train.txt followed by the commentary's documents); its notes on held-out chapters are
in no file. So train.txt and val.txt stay byte-identical to the first version's, the
earlier runs and the tokenizer reproduce from them, and validation numbers stay
comparable across runs.
"""
import os
import sys
import zlib

VAL_MODULUS = 50

# WEB books that are not in the 66-book canon: keyed by name, not by canon position.
DEUTEROCANON = {
    "Tobit", "Judith", "Esther (Greek)", "Wisdom", "Sirach", "Baruch", "I Maccabees",
    "II Maccabees", "III Maccabees", "IV Maccabees", "I Esdras", "II Esdras",
    "Prayer of Manasses", "Additional Psalm", "Prayer of Azariah", "Susanna",
    "Bel and the Dragon",
}
PSALMS_POSITION = 19   # Psalms is the 19th book of the canon


def read_documents(path):
    """Yields (doc, [lines]) for runs of consecutive lines sharing a DOC field."""
    doc, lines = None, []
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8").rstrip("\n")
            key, sep, text = line.partition("\t")
            if not sep or not text.strip():
                sys.exit(f"split_corpus.py: {path}: malformed line {line[:60]!r}")
            if key != doc and lines:
                yield doc, lines
                lines = []
            doc = key
            lines.append(text)
    if lines:
        yield doc, lines


def split_ref(doc):
    """'Ge12' or 'Song of Solomon 3' -> (book, chapter)."""
    if " " in doc:
        book, _, ch = doc.rpartition(" ")
    else:
        i = len(doc)
        while doc[i - 1].isdigit():
            i -= 1
        book, ch = doc[:i], doc[i:]
    return book, int(ch)


def canon_keys(documents, skip=frozenset()):
    """Adds a split key to each document: (position of the book among the canonical
    books in order of first appearance, chapter), or (book name, chapter) for skipped
    (deuterocanonical) books."""
    order = {}
    out = []
    for doc, lines in documents:
        book, ch = split_ref(doc)
        if book in skip:
            key = f"{book}:{ch}"
        else:
            if book not in order:
                order[book] = len(order) + 1
            key = f"{order[book]}:{ch}"
        out.append((key, doc, lines))
    n_books = len(order)
    if n_books != 66:
        sys.exit(f"split_corpus.py: found {n_books} canonical books, expected 66")
    psalms = [b for b, p in order.items() if p == PSALMS_POSITION]
    if psalms[0] not in ("Psa", "Psalms", "Ps"):
        sys.exit(f"split_corpus.py: book {PSALMS_POSITION} is {psalms[0]!r}, not the Psalms")
    return out


def is_val(key):
    return zlib.crc32(key.encode("utf-8")) % VAL_MODULUS == 0


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit("usage: split_corpus.py OUTDIR kjv.refs web.refs tdavid.refs [mhcc.refs]")
    outdir, kjv, web, tdavid = sys.argv[1:5]
    sources = [
        ("kjv", canon_keys(read_documents(kjv))),
        ("web", canon_keys(read_documents(web), DEUTEROCANON)),
        ("tdavid", [(f"{PSALMS_POSITION}:{split_ref(d)[1]}", d, l) for d, l in read_documents(tdavid)]),
    ]
    if len(sys.argv) == 6:
        sources.append(("mhcc", canon_keys(read_documents(sys.argv[5]))))
    parts = {"train": [], "val": [], "mhcc": []}
    stats = []
    for name, docs in sources:
        n = {"train": [0, 0], "val": [0, 0]}
        for key, doc, lines in docs:
            which = "val" if is_val(key) else "train"
            text = "\n".join(lines)
            if name != "mhcc":
                parts[which].append(text)
            elif which == "train":
                parts["mhcc"].append(text)
            n[which][0] += 1
            n[which][1] += len(text.encode("utf-8"))
        stats.append((name, n))
    files = {"train.txt": parts["train"], "val.txt": parts["val"]}
    if len(sys.argv) == 6:
        files["train-mhcc.txt"] = parts["train"] + parts["mhcc"]
    for name, docs in files.items():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(("\n\n".join(docs) + "\n").encode("utf-8"))
    for name, n in stats:
        t, v = n["train"], n["val"]
        print(f"{name:7s} train {t[0]:5d} docs {t[1]:9d} B   val {v[0]:3d} docs {v[1]:8d} B "
              f"({100.0 * v[1] / (t[1] + v[1]):.2f}%{', in no file' if name == 'mhcc' else ''})")


if __name__ == "__main__":
    main()

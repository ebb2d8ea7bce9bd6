#!/usr/bin/python3
"""Extracts Matthew Henry's Concise Commentary from its SWORD module as paragraphs.

Usage: clean_mhcc.py [--refs] [MODULE_DIR]   (default /usr/share/sword/modules/comments/zcom/mhcc)
stdout: one paragraph per line; with --refs prefixed by "OSISBOOK N<TAB>" (the book's OSIS
id and the chapter the paragraph comments on, e.g. "Gen 2").

Why not diatheke: its plain export of this module is scrambled. Each verse prints a
~50 KB window of the running commentary that starts at the wrong place (under "Genesis
50:6" comes the commentary on Exodus 11), windows overlap (265 MB for ~6 MB of text), and
for about a third of the books it prints nothing but "Error reading ulBuffNum". The
module's data is intact, though: {ot,nt}.bzz are zlib blocks located by the 12-byte
records (offset, size, uncompressed size; little-endian) of {ot,nt}.bzs, and the
decompressed blocks are the entries in canonical order, as OSIS with book <div>s and
<chapter> milestones. So this script reads those files directly and keeps:

- the prose: text outside tags, paragraphs split at the OSIS paragraph and introduction
  <div>s and at chapter milestones, whitespace collapsed, entities decoded;
- not the chapter outlines (<table> rows like "The first sabbath. (1-3)", or the same
  as two paragraphs, the item and then its verse range), the titles ("Chapter 2",
  "Chapter Outline") or the "Verses 3-5" section headings: references, not prose.

A book's introduction, before its first chapter milestone, counts as chapter 1.
"""
import html
import os
import re
import struct
import sys
import zlib

DEFAULT_DIR = "/usr/share/sword/modules/comments/zcom/mhcc"
TAG = re.compile(r"<(/?)([A-Za-z]+)([^>]*?)(/?)>")
ATTR = re.compile(r'(\w+)="([^"]*)"')
SECTION = re.compile(r"^Verses? [0-9, -]+$")
VERSE_RANGE = re.compile(r"^\(\d+(?:[-,] ?\d+)*\)$")
SKIPPED = {"table", "title"}     # elements whose text is dropped


def read_blocks(module_dir, testament):
    """The decompressed text of one testament's blocks, in order."""
    with open(os.path.join(module_dir, testament + ".bzs"), "rb") as f:
        index = f.read()
    with open(os.path.join(module_dir, testament + ".bzz"), "rb") as f:
        data = f.read()
    if len(index) % 12:
        sys.exit(f"clean_mhcc.py: {testament}.bzs: size {len(index)} is not a multiple of 12")
    parts = []
    for i in range(0, len(index), 12):
        off, size, usize = struct.unpack("<III", index[i:i + 12])
        block = zlib.decompress(data[off:off + size])
        if len(block) != usize:
            sys.exit(f"clean_mhcc.py: {testament}.bzz block {i // 12}: "
                     f"{len(block)} bytes, index says {usize}")
        parts.append(block)
    return b"".join(parts).decode("utf-8")


def paragraphs(osis):
    """Yields (book, chapter, paragraph) for the prose of the OSIS text, in order."""
    book, chapter = None, 1
    pieces = []       # the open paragraph's text; inline tags add nothing, not even a space
    skip = 0          # depth inside dropped elements
    hi = None         # pieces of the open <hi>, to drop section headings

    def flush():
        para = " ".join("".join(pieces).split())
        pieces.clear()
        if para and book is not None:
            yield book, chapter, para

    pos = 0
    for m in TAG.finditer(osis):
        text = html.unescape(osis[pos:m.start()])
        pos = m.end()
        if skip == 0:
            (hi if hi is not None else pieces).append(text)
        closing, name, attrs, empty = m.group(1), m.group(2), m.group(3), m.group(4)
        a = dict(ATTR.findall(attrs))
        if name in SKIPPED and not empty:
            skip += -1 if closing else 1
        elif name == "hi" and not empty and skip == 0:
            if not closing:
                hi = []
            else:
                heading = "".join(hi)
                hi = None
                if not SECTION.match(" ".join(heading.split())):
                    pieces.append(heading)
        elif name == "div" and a.get("type") == "book" and "sID" in a:
            yield from flush()
            book, chapter = a["osisID"], 1
        elif name == "chapter" and "sID" in a:
            yield from flush()
            ref_book, _, n = a["osisID"].partition(".")
            if ref_book != book or not n.isdigit():
                sys.exit(f"clean_mhcc.py: chapter {a['osisID']!r} inside book {book!r}")
            chapter = int(n)
        elif name in ("div", "chapter"):
            yield from flush()
    pieces.append(html.unescape(osis[pos:]))
    yield from flush()


def main():
    args = [a for a in sys.argv[1:] if a != "--refs"]
    refs = len(args) < len(sys.argv) - 1
    module_dir = args[0] if args else DEFAULT_DIR
    out = sys.stdout.buffer
    for testament in ("ot", "nt"):
        paras = list(paragraphs(read_blocks(module_dir, testament)))
        for i, (book, chapter, para) in enumerate(paras):
            if para == "Chapter Outline" or VERSE_RANGE.match(para):
                continue
            if i + 1 < len(paras) and VERSE_RANGE.match(paras[i + 1][2]):
                continue    # an outline item: its verse range follows
            out.write(((f"{book} {chapter}\t" if refs else "") + para + "\n").encode("utf-8"))


if __name__ == "__main__":
    main()

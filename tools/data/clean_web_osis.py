#!/usr/bin/python3
"""Cleans diatheke's OSIS export of the World English Bible into one verse per line.

stdin: `diatheke -b engWEB2015eb -f OSIS -k Gen 1:1-Rev 22:21`; stdout: clean UTF-8 text.
The steps are those of doc/default-model.md, "Cleaning the exports". With --refs each output
line is prefixed by its "Book C:V<TAB>" reference, so that make-corpus.sh can group
verses into chapters for the train/validation split.
"""
import re
import sys

# The books of the module, as diatheke names them in its reference markers.
BOOKS = [
    "Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges", "Ruth",
    "I Samuel", "II Samuel", "I Kings", "II Kings", "I Chronicles", "II Chronicles", "Ezra",
    "Nehemiah", "Esther", "Job", "Psalms", "Proverbs", "Ecclesiastes", "Song of Solomon",
    "Isaiah", "Jeremiah", "Lamentations", "Ezekiel", "Daniel", "Hosea", "Joel", "Amos",
    "Obadiah", "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai", "Zechariah",
    "Malachi", "Tobit", "Judith", "Esther (Greek)", "Wisdom", "Sirach", "Baruch",
    "I Maccabees", "II Maccabees", "I Esdras", "Prayer of Manasses", "Additional Psalm",
    "III Maccabees", "II Esdras", "IV Maccabees", "Prayer of Azariah", "Susanna",
    "Bel and the Dragon", "Matthew", "Mark", "Luke", "John", "Acts", "Romans",
    "I Corinthians", "II Corinthians", "Galatians", "Ephesians", "Philippians", "Colossians",
    "I Thessalonians", "II Thessalonians", "I Timothy", "II Timothy", "Titus", "Philemon",
    "Hebrews", "James", "I Peter", "II Peter", "I John", "II John", "III John", "Jude",
    "Revelation of John",
]
BOOKS_LONGEST_FIRST = sorted(BOOKS, key=len, reverse=True)

# The LAST "Book C:V: " marker on a line (greedy .*): diatheke repeats some headings (a
# psalm title, for instance) in front of later verses, and everything before the last
# marker belongs to them. The book is the longest known name the text before " C:V: "
# ends with ("III John" rather than "John", "Psalms" after an "ALEPH" heading).
LAST_MARKER = re.compile(r"^(.*[A-Za-z)]) (\d+):(\d+): ")


def marker_book(before):
    for b in BOOKS_LONGEST_FIRST:
        if before.endswith(b) and (len(before) == len(b) or not before[-len(b) - 1].isalnum()):
            return b
    return None


TITLE = re.compile(r"<title\b[^>]*>.*?</title>", re.S)
WORD_JOIN = re.compile(r"</w><w")
TAG = re.compile(r"<[^>]*>")
SPACE_BEFORE = re.compile(r"\s+([,.;:!?\u2019\u201d)])")
SPACE_AFTER = re.compile(r"([\u201c\u2018(])\s+")
WS = re.compile(r"\s+")


def clean_line(line):
    """Returns (book, chapter, text) or None when the line holds no verse text."""
    m = LAST_MARKER.match(line)
    if not m:
        return None
    book, chapter = marker_book(m.group(1)), int(m.group(2))
    if book is None:
        sys.exit(f"clean_web_osis.py: unknown book in marker {m.group(0)[-60:]!r}")
    text = line[m.end():]
    text = TITLE.sub("", text)
    text = WORD_JOIN.sub("</w> <w", text)
    text = TAG.sub("", text)
    text = SPACE_BEFORE.sub(r"\1", text)
    text = SPACE_AFTER.sub(r"\1", text)
    text = WS.sub(" ", text).strip()
    if not text:
        return None
    return book, chapter, text


def main():
    refs = "--refs" in sys.argv[1:]
    data = sys.stdin.buffer.read().decode("utf-8")
    out = []
    for line in data.split("\n"):
        r = clean_line(line)
        if r is None:
            continue
        book, chapter, text = r
        out.append(f"{book} {chapter}\t{text}" if refs else text)
    sys.stdout.buffer.write(("\n".join(out) + "\n").encode("utf-8"))


if __name__ == "__main__":
    main()

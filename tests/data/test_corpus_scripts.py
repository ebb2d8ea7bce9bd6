"""Tests of the corpus recipe's extractors (tools/data): the Matthew Henry module reader and
the held-out split, on small inputs written here.

usage: test_corpus_scripts.py [unittest args]; DIFFLM_SRCDIR names the source tree."""
import os
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

TOOLS = os.path.join(os.environ.get("DIFFLM_SRCDIR", "."), "tools", "data")

# A two-chapter book as the module stores it: introduction, outline table, outline as
# paragraph pairs, titles, a section heading, a reference, an entity.
OSIS_OT = (
    '<milestone type="x-importer" n="x"/>'
    '<div canonical="true" osisID="Gen" sID="b1" type="book"/> '
    '<div sID="p1" type="x-p"/> Genesis is a name  taken from the Greek. <div eID="p1" type="x-p"/>'
    '<chapter n="1" osisID="Gen.1" sID="Gen.1"/> <title type="x-s2">Chapter 1</title>'
    '<div sID="i1" type="introduction"/> <title type="x-IS">Chapter Outline</title>'
    '<div eID="i1" type="introduction"/>'
    '<table> <row><cell>God creates heaven and earth.</cell><cell>(1-2)</cell></row> </table>'
    '<div sID="p2" type="x-p"/><hi type="bold">Verses 1-2</hi> <div eID="p2" type="x-p"/>'
    '<div sID="p3" type="x-p"/> The first verse, <reference osisRef="1John.5.20">1Jo 5:20</reference>,'
    ' says <hi type="italic">much</hi> &amp; more. <div eID="p3" type="x-p"/>'
    '<chapter eID="Gen.1"/><chapter n="2" osisID="Gen.2" sID="Gen.2"/>'
    '<div sID="i2" type="introduction"/> <title type="x-IS">Chapter Outline</title>'
    '<div sID="p4" type="x-p"/> The first sabbath. <div eID="p4" type="x-p"/>'
    '<div sID="p5" type="x-p"/> (1-3) <div eID="p5" type="x-p"/>'
    '<div eID="i2" type="introduction"/>'
    '<div sID="p6" type="x-p"/><hi type="bold">Verse 4</hi> Rest  was\n appointed. '
    '<div eID="p6" type="x-p"/><chapter eID="Gen.2"/>')
OSIS_NT = ('<div canonical="true" osisID="Matt" sID="b2" type="book"/>'
           '<chapter n="1" osisID="Matt.1" sID="Matt.1"/> A king is born. ')
EXPECTED = (
    "Gen 1\tGenesis is a name taken from the Greek.\n"
    "Gen 1\tThe first verse, 1Jo 5:20, says much & more.\n"
    "Gen 2\tRest was appointed.\n"
    "Matt 1\tA king is born.\n")


def write_module(d, testament, text, n_blocks):
    """Writes {testament}.bzs/.bzz with the text cut into n_blocks zlib blocks."""
    raw = text.encode("utf-8")
    cut = [len(raw) * i // n_blocks for i in range(n_blocks + 1)]
    index, data = b"", b""
    for a, b in zip(cut, cut[1:]):
        block = zlib.compress(raw[a:b])
        index += struct.pack("<III", len(data), len(block), b - a)
        data += block
    with open(os.path.join(d, testament + ".bzs"), "wb") as f:
        f.write(index)
    with open(os.path.join(d, testament + ".bzz"), "wb") as f:
        f.write(data)


def run(script, *args):
    return subprocess.run([sys.executable, os.path.join(TOOLS, script), *args],
                          capture_output=True, check=False)


class CleanMhcc(unittest.TestCase):
    def test_extracts_prose_by_chapter(self):
        with tempfile.TemporaryDirectory() as d:
            write_module(d, "ot", OSIS_OT, 3)      # a block boundary inside a tag and a word
            write_module(d, "nt", OSIS_NT, 1)
            r = run("clean_mhcc.py", "--refs", d)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.decode("utf-8"), EXPECTED)
            plain = run("clean_mhcc.py", d).stdout.decode("utf-8")
            self.assertEqual(plain, "".join(l.split("\t")[1] + "\n"
                                            for l in EXPECTED.splitlines()))

    def test_rejects_a_corrupt_index(self):
        with tempfile.TemporaryDirectory() as d:
            write_module(d, "ot", OSIS_OT, 2)
            write_module(d, "nt", OSIS_NT, 1)
            with open(os.path.join(d, "ot.bzs"), "ab") as f:
                f.write(b"\0" * 5)
            r = run("clean_mhcc.py", d)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(b"not a multiple of 12", r.stderr)


BOOKS = ["Gen", "Exod", "Lev", "Num", "Deut", "Josh", "Judg", "Ruth", "1Sam", "2Sam", "1Kgs",
         "2Kgs", "1Chr", "2Chr", "Ezra", "Neh", "Esth", "Job", "Ps", "Prov", "Eccl", "Song",
         "Isa", "Jer", "Lam", "Ezek", "Dan", "Hos", "Joel", "Amos", "Obad", "Jonah", "Mic",
         "Nah", "Hab", "Zeph", "Hag", "Zech", "Mal", "Matt", "Mark", "Luke", "John", "Acts",
         "Rom", "1Cor", "2Cor", "Gal", "Eph", "Phil", "Col", "1Thess", "2Thess", "1Tim",
         "2Tim", "Titus", "Phlm", "Heb", "Jas", "1Pet", "2Pet", "1John", "2John", "3John",
         "Jude", "Rev"]


class SplitCorpus(unittest.TestCase):
    def refs(self, d, name, chapters=3):
        path = os.path.join(d, name)
        with open(path, "w", encoding="utf-8") as f:
            for b in BOOKS:
                for c in range(1, chapters + 1):
                    f.write(f"{b} {c}\t{name} on {b} {c}.\n")
        return path

    def test_commentary_is_training_text_only(self):
        with tempfile.TemporaryDirectory() as d:
            kjv = self.refs(d, "kjv.refs")
            web = self.refs(d, "web.refs")
            tdavid = os.path.join(d, "tdavid.refs")
            with open(tdavid, "w") as f:
                f.write("Psalms 1\tOn the first psalm.\n")
            mhcc = self.refs(d, "mhcc.refs")
            out3, out4 = os.path.join(d, "three"), os.path.join(d, "four")
            os.mkdir(out3)
            os.mkdir(out4)
            r3 = run("split_corpus.py", out3, kjv, web, tdavid)
            r4 = run("split_corpus.py", out4, kjv, web, tdavid, mhcc)
            self.assertEqual(r3.returncode, 0, r3.stderr)
            self.assertEqual(r4.returncode, 0, r4.stderr)
            def read(*path):
                with open(os.path.join(*path), encoding="utf-8") as f:
                    return f.read()
            val = read(out4, "val.txt")
            self.assertEqual(val, read(out3, "val.txt"))
            self.assertIn("kjv.refs on", val)          # something is held out ...
            self.assertNotIn("mhcc.refs", val)         # ... but no commentary
            train3 = read(out3, "train.txt")
            self.assertEqual(read(out4, "train.txt"), train3)
            self.assertFalse(os.path.exists(os.path.join(out3, "train-mhcc.txt")))
            train4 = read(out4, "train-mhcc.txt")
            self.assertTrue(train4.startswith(train3.rstrip("\n") + "\n\n"))
            # the notes on held-out chapters are in neither file
            held = [l.split(" on ")[1] for l in val.splitlines() if l.startswith("kjv.refs")]
            for ref in held:
                self.assertNotIn(f"mhcc.refs on {ref}\n", train4)
            self.assertEqual(train4.count("mhcc.refs on"), 66 * 3 - len(held))


if __name__ == "__main__":
    unittest.main()

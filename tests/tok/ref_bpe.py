#!/usr/bin/python3
"""Independent reference for the tokenizer tests: writes tests/tok/tok_golden.txt.

Written from the rules of doc/formats.md, "Pre-tokenizer rules" (gpt-2; llama3 and qwen2)
as a hand-made character scanner (no regex engine), with a textual BPE loop
(merge the lowest-ranked adjacent pair, leftmost first). It shares no code with the C
tokenizer. Run: /usr/bin/python3 tests/tok/ref_bpe.py [shared-dir] > tests/tok/tok_golden.txt
"""
import json
import os
import sys
import unicodedata


def byte_alphabet():
    keep = [b for b in range(256) if 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or b >= 0xAE]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def is_letter(c):
    return unicodedata.category(c).startswith("L")


def is_number(c):
    return unicodedata.category(c).startswith("N")


def is_space(c):
    return c.isspace()


def is_other(c):
    return not (is_space(c) or is_letter(c) or is_number(c))


def run(s, i, pred):
    while i < len(s) and pred(s[i]):
        i += 1
    return i


def whitespace_tail(s, i):
    """gpt-2 rules 5-6 (llama3/qwen2 rules 6-7): a whitespace run leaves its last
    character to what follows, unless it is a single character or ends the text."""
    k = run(s, i, is_space)
    if k == len(s) or k - i == 1:
        return k
    return k - 1


def split_gpt2(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        j = i + 1 if c == " " and i + 1 < len(s) else i
        if c == "'" and any(s.startswith(x, i + 1) for x in ("re", "ve", "ll")):
            k = i + 3
        elif c == "'" and i + 1 < len(s) and s[i + 1] in "stmd":
            k = i + 2
        elif is_letter(s[j]) and (j == i or not is_letter(c)):
            k = run(s, j, is_letter)
        elif is_number(s[j]) and (j == i or not is_number(c)):
            k = run(s, j, is_number)
        elif is_other(s[j]) and (j == i or not is_other(c)):
            k = run(s, j, is_other)
        else:
            k = whitespace_tail(s, i)
        out.append(s[i:k])
        i = k
    return out


def split_qwen2(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        low = s[i + 1:i + 3].lower()
        if c == "'" and low[:2] in ("re", "ve", "ll"):
            k = i + 3
        elif c == "'" and low[:1] in ("s", "t", "m", "d") and low[:1] != "":
            k = i + 2
        elif is_letter(c):
            k = run(s, i, is_letter)
        elif c not in "\r\n" and not is_number(c) and i + 1 < len(s) and is_letter(s[i + 1]):
            k = run(s, i + 1, is_letter)
        elif is_number(c):
            k = i + 1
        elif is_other(c) or (c == " " and i + 1 < len(s) and is_other(s[i + 1])):
            k = run(s, i + 1 if c == " " else i, is_other)
            k = run(s, k, lambda x: x in "\r\n")
        else:
            end = run(s, i, is_space)
            last_nl = max((p for p in range(i, end) if s[p] in "\r\n"), default=-1)
            k = last_nl + 1 if last_nl >= 0 else whitespace_tail(s, i)
        out.append(s[i:k])
        i = k
    return out


def bpe(word, ranks):
    sym = list(word)
    while len(sym) > 1:
        best, at = None, -1
        for i in range(len(sym) - 1):
            r = ranks.get((sym[i], sym[i + 1]))
            if r is not None and (best is None or r < best):
                best, at = r, i
        if best is None:
            break
        sym[at:at + 2] = [sym[at] + sym[at + 1]]
    return sym


def encoder(vocab_path, merges_path, splitter):
    with open(vocab_path, encoding="utf-8") as f:
        vocab = json.load(f)
    ranks = {}
    with open(merges_path, encoding="utf-8") as f:
        for r, line in enumerate(l for l in f.read().split("\n") if l and not l.startswith("#version")):
            a, b = line.split(" ")
            ranks.setdefault((a, b), r)
    alpha = byte_alphabet()

    def encode(text):
        ids = []
        for piece in splitter(text):
            mapped = "".join(alpha[b] for b in piece.encode("utf-8"))
            ids.extend(vocab[t] for t in bpe(mapped, ranks))
        return ids
    return encode


TEXTS = [
    "Hello world",
    "Hello, world! How are you today?",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure you'll agree: it's 3.14159, not 22/7!",
    "WE'LL SEE. They've said I'D go.",
    "Numbers: 1 12 123 1234 12345 1234567890",
    "  two leading spaces",
    "trailing spaces   ",
    "a\n\n  b",
    "line one\nline two\r\nline three\n",
    "\ttab\tseparated\tvalues",
    "hello!!\n\nworld",
    "(parenthesised) [bracketed] {braced}",
    "def f(x):\n    return x ** 2  # square\n",
    "int main(void) { return 0; }",
    "https://example.com/path?query=1&x=y",
    "email@example.org, phone +1-555-0100",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002",
    "\u3053\u3093\u306b\u3061\u306f\u4e16\u754c",
    "\U0001F600 \U0001F44D\U0001F3FD emoji \u2764\ufe0f test",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 \u0663\u0664",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism",
    "    indented code block",
    "x 5 y  6",
    "mixed123abc456",
    "... --- ___ *** !!! ???",
    "She said \"don't\" and left.",
    "tokenization is fun; detokenization too",
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared")
    tok = os.path.join(shared, "data", "tokenizers")
    encoders = [
        ("qwen2", encoder(os.path.join(tok, "dream-v0-instruct-7b", "vocab.json"),
                          os.path.join(tok, "dream-v0-instruct-7b", "merges.txt"), split_qwen2)),
        ("gpt2", encoder(os.path.join(tok, "gpt2", "gpt2-vocab.json"),
                         os.path.join(tok, "gpt2", "gpt2-merges.txt"), split_gpt2)),
    ]
    print("# generated by tests/tok/ref_bpe.py: <tokenizer> <text as hex> <ids>")
    for name, enc in encoders:
        for text in TEXTS:
            ids = enc(text)
            print(name, text.encode("utf-8").hex(), " ".join(str(i) for i in ids))


if __name__ == "__main__":
    main()

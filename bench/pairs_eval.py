#!/usr/bin/python3
"""pairs_eval.py - how well a model follows the instruction pairs of doc/default-model.md
("Instruction pairs"): translate a held-out verse from one Bible into the other.

    DIFFLM_LIBRARY=build/lib/libdifflm.so PYTHONPATH=bindings/python \\
        bench/pairs_eval.py [-m MODEL] [--pairs data/corpus/pairs-val.tsv] [-n 60] [-t 2]

Takes n examples per direction, evenly spaced through the file (tools/data/make_pairs.py
writes it), generates each answer greedily under every decoding configuration below, and
prints per configuration and direction:
  wer      word error rate of the answer against the reference verse (word-level edit
           distance / reference words; words are split on whitespace, punctuation kept)
  exact    share of answers equal to the reference
  ended    share of answers that ended with EOS inside gen_length
  passes   forward passes per answer, and seconds per answer (wall, this machine)
and, as the baseline that does nothing, the WER of copying the source verse unchanged.
"""
import argparse
import sys
import time

import difflm

CONFIGS = (
    # name, what, parameters beyond greedy LLaDA blocks with steps = gen_length
    ("reference", "1 token per step", {}),
    ("threshold", "threshold 0.9", {"parallel": "threshold", "threshold": 0.9}),
    ("early", "early stop", {"flags": difflm.lowlevel.GEN_EARLY_STOP}),
    ("all-dual", "threshold 0.9 + dual cache + early stop",
     {"parallel": "threshold", "threshold": 0.9, "cache": "dual",
      "flags": difflm.lowlevel.GEN_EARLY_STOP}),
)


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append("\n" if s[i + 1] == "n" else s[i + 1])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def read_pairs(path):
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            prompt, sep, answer = line.rstrip("\n").partition("\t")
            if sep:
                pairs.append((unescape(prompt), unescape(answer)))
    return pairs


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def wer(hyp, ref):
    r = ref.split()
    return edit_distance(hyp.split(), r) / max(len(r), 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--model", default="models/difflm-default.gguf")
    ap.add_argument("--pairs", default="data/corpus/pairs-val.tsv")
    ap.add_argument("-n", type=int, default=60, help="examples per direction")
    ap.add_argument("-g", "--gen-length", type=int, default=96)
    ap.add_argument("-b", "--block-length", type=int, default=32)
    ap.add_argument("-t", "--threads", type=int, default=0)
    ap.add_argument("-c", "--configs", default=",".join(c[0] for c in CONFIGS))
    ap.add_argument("--show", type=int, default=2, help="answers to print per direction")
    a = ap.parse_args()

    pairs = read_pairs(a.pairs)
    by_dir = {}
    for p, ans in pairs:
        by_dir.setdefault(p.split(":", 1)[0], []).append((p, ans))
    chosen = {d: [ex[(k * len(ex)) // a.n] for k in range(min(a.n, len(ex)))]
              for d, ex in by_dir.items()}
    want = a.configs.split(",")
    ctx = difflm.Context(a.model, n_threads=a.threads)
    eos = ctx.info.eos_id
    print(f"model {a.model}; {a.pairs}: {a.n} examples per direction; gen_length "
          f"{a.gen_length}, block {a.block_length}, greedy low-confidence remasking")
    print()
    print("| config | what | direction | WER | copy WER | exact | ended | passes | s/answer |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for name, what, extra in CONFIGS:
        if name not in want:
            continue
        for d, exs in chosen.items():
            w = cw = exact = ended = passes = 0.0
            t0 = time.perf_counter()
            shown = []
            for prompt, ref in exs:
                last = []

                def keep(step, last=last):
                    last[:] = [step]

                text = ctx.generate(prompt, on_step=keep, gen_length=a.gen_length,
                                    steps=a.gen_length, block_length=a.block_length, **extra)
                passes += last[0].index
                ended += eos in last[0].generated
                src = prompt.split(": ", 1)[1].split("\n", 1)[0]
                w += wer(text, ref)
                cw += wer(" " + src, ref)
                exact += text.strip() == ref.strip()
                if len(shown) < a.show:
                    shown.append((prompt, text, ref))
            secs = time.perf_counter() - t0
            k = len(exs)
            print(f"| {name} | {what} | {d} -> | {w / k:.3f} | {cw / k:.3f} | {exact / k:.3f} | "
                  f"{ended / k:.3f} | {passes / k:.1f} | {secs / k:.3f} |", flush=True)
            for prompt, text, ref in shown:
                print(f"    prompt: {prompt!r}\n    answer: {text!r}\n    reference: {ref!r}",
                      file=sys.stderr)
    ctx.close()


if __name__ == "__main__":
    main()

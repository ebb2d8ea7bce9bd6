#!/usr/bin/env python3
"""Infilling and confidences: the CLI against the independent reference sampler.

usage: compare_infill.py DIFFLM_CLI MODEL MASK_ID NAME [NAME ...]

For each named configuration runs `difflm --canvas-ids ... --print-confidences
--print-ids` and `tests/ref/refcli.py generate --canvas-ids ... --print-confidences` on
a canvas with holes (doc/sampling.md "Infilling") and requires, after every step, the
same tokens and steps at every position and probabilities and scores within 1e-5
(doc/sampling.md "Confidences"), and the same final canvas.
"""
import math
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REFCLI = os.path.join(HERE, "..", "ref", "refcli.py")
TOL = 1e-5

# M stands for the MASK id. Holes before, between and after fixed text.
CANVASES = {
    "between": "0,300,M,M,M,301,302,M,M,M,M,303,304,M,M,M",
    "leading": "M,M,M,M,300,301,M,M,M,M,M,302",
    "trailing": "0,300,301,302,M,M,M,M,M,M,M,M,M,M,M,M",
}

# name -> (canvas, schedule, remasking, steps, block_length, extra flags)
CONFIGS = {
    "blocks-between": ("between", "blocks", "low_confidence", 10, 4, []),
    "blocks-uneven": ("between", "blocks", "low_confidence", 5, 3, []),
    "blocks-leading": ("leading", "blocks", "low_confidence", 9, 4, []),
    "blocks-temp": ("between", "blocks", "low_confidence", 10, 4, ["--temp", "0.8", "--seed", "7"]),
    "blocks-random": ("between", "blocks", "random", 10, 5, ["--seed", "3"]),
    "blocks-cfg": ("between", "blocks", "low_confidence", 10, 4, ["--cfg", "1.5"]),
    "blocks-eos-flags": ("between", "blocks", "low_confidence", 10, 4,
                         ["--logits-eos-inf", "--conf-eos-eot-inf"]),
    "blocks-threshold": ("between", "blocks", "low_confidence", 10, 4, ["--threshold", "0.05"]),
    "blocks-factor": ("leading", "blocks", "low_confidence", 9, 4, ["--factor", "3"]),
    "timesteps-entropy": ("between", "timesteps", "entropy", 10, 0, []),
    "timesteps-maskgit": ("leading", "timesteps", "maskgit_plus", 5, 0, []),
    "timesteps-margin": ("between", "timesteps", "topk_margin", 6, 0, []),
    "timesteps-origin": ("between", "timesteps", "origin", 6, 0, ["--seed", "5"]),
    "timesteps-algtemp": ("leading", "timesteps", "entropy", 9, 0, ["--alg-temp", "0.5", "--seed", "2"]),
    "timesteps-threshold": ("between", "timesteps", "maskgit_plus", 10, 0, ["--threshold", "0.1"]),
    "early-stop": ("trailing", "blocks", "low_confidence", 12, 4, ["--early-stop"]),
}


def run(cmd):
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (" ".join(cmd), res.returncode, res.stderr))
    lines = [l for l in res.stdout.splitlines() if l.strip()]
    steps = []
    for l in lines[:-1]:
        f = l.split()
        assert f[0] == "confidences", l
        steps.append((int(f[1]), [tuple(x.split("/")) for x in f[2:]]))
    return steps, lines[-1]


def close(a, b):
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= TOL


def compare(ours, ref):
    (s1, c1), (s2, c2) = ours, ref
    if c1 != c2:
        return "final canvas %s vs %s" % (c1, c2)
    if len(s1) != len(s2):
        return "%d steps vs %d" % (len(s1), len(s2))
    for (k1, p1), (k2, p2) in zip(s1, s2):
        if k1 != k2 or len(p1) != len(p2):
            return "step %d vs %d" % (k1, k2)
        for i, (a, b) in enumerate(zip(p1, p2)):
            if a[0] != b[0] or a[1] != b[1] or not close(a[2], b[2]) or not close(a[3], b[3]):
                return "step %d position %d: %s vs %s" % (k1, i, "/".join(a), "/".join(b))
    return None


def main():
    cli, model, mask, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    failed = 0
    for name in names:
        canvas, schedule, remasking, steps, block, extra = CONFIGS[name]
        ids = CANVASES[canvas].replace("M", mask)
        common = ["--canvas-ids", ids, "--steps", str(steps), "--block-length", str(block),
                  "--schedule", schedule, "--remasking", remasking, "--print-confidences"]
        ours = run([cli, "-m", model, "--print-ids", "-t", "2"] + common + extra)
        ref = run([sys.executable, REFCLI, "generate", model] + common + extra)
        why = compare(ours, ref)
        failed += why is not None
        print("%-22s %s" % (name, "identical" if why is None else "DIFFERENT: " + why))
        # a test that cannot fail is no test: the configurations must run steps
        if not ours[0]:
            print("  no step ran")
            failed += 1
    print("%d passed, %d failed" % (len(names) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Greedy (and seeded) generations of the CLI against the independent reference sampler.

usage: compare_generate.py DIFFLM_CLI MODEL NAME [NAME ...]

For each named configuration, runs
    difflm -m MODEL --prompt-ids ... --print-ids <settings>
and tests/ref/refcli.py generate with the same settings, and requires identical canvases.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REFCLI = os.path.join(HERE, "..", "ref", "refcli.py")

PROMPT = "0,300,301,302,303,304"

# name -> (schedule, remasking, gen_length, steps, block_length, extra CLI flags
#          [, the reference's flags when they differ from the CLI's])
CONFIGS = {
    "blocks-16-16-8": ("blocks", "low_confidence", 16, 16, 8, []),
    "blocks-16-8-16": ("blocks", "low_confidence", 16, 8, 16, []),
    "blocks-24-12-8": ("blocks", "low_confidence", 24, 12, 8, []),
    "blocks-20-7-8": ("blocks", "low_confidence", 20, 7, 8, []),
    "blocks-32-8-32": ("blocks", "low_confidence", 32, 8, 32, []),
    "blocks-cfg": ("blocks", "low_confidence", 16, 8, 8, ["--cfg", "1.5"]),
    "blocks-eos": ("blocks", "low_confidence", 16, 8, 8, ["--logits-eos-inf", "--conf-eos-eot-inf"]),
    "blocks-random": ("blocks", "random", 16, 8, 8, ["--seed", "11"]),
    "blocks-temp": ("blocks", "low_confidence", 16, 8, 8, ["--temp", "0.7", "--seed", "3"]),
    "timesteps-entropy": ("timesteps", "entropy", 16, 16, 0, []),
    "timesteps-maskgit": ("timesteps", "maskgit_plus", 16, 8, 0, []),
    "timesteps-margin": ("timesteps", "topk_margin", 24, 12, 0, []),
    "timesteps-topp": ("timesteps", "maskgit_plus", 16, 8, 0, ["--top-p", "0.9", "--top-k", "20"]),
    "timesteps-origin": ("timesteps", "origin", 16, 8, 0, ["--seed", "5"]),
    "timesteps-algtemp": ("timesteps", "entropy", 16, 8, 0, ["--alg-temp", "0.5", "--seed", "9"]),
    # parallel decoding (doc/sampling.md "Parallel decoding"): the same rule on both sides
    "blocks-threshold": ("blocks", "low_confidence", 32, 32, 8, ["--threshold", "0.1"]),
    "blocks-factor": ("blocks", "low_confidence", 32, 32, 8, ["--factor", "3"]),
    "blocks-threshold-temp": ("blocks", "low_confidence", 32, 32, 8,
                              ["--threshold", "0.1", "--temp", "0.5", "--seed", "4"]),
    "timesteps-factor": ("timesteps", "topk_margin", 32, 32, 0, ["--factor", "3"]),
    "timesteps-threshold": ("timesteps", "maskgit_plus", 32, 32, 0, ["--threshold", "0.2"]),
    # threshold 1.0 commits one token per step: the reference schedule with steps = gen_length
    "blocks-threshold1-is-reference": ("blocks", "low_confidence", 32, 32, 8,
                                       ["--threshold", "1.0"], []),
    # early stop (a model whose EOS id is a token it predicts often: golden-*-eos.gguf)
    "blocks-early-stop": ("blocks", "low_confidence", 32, 32, 8, ["--early-stop"]),
    "blocks-early-stop-factor": ("blocks", "low_confidence", 32, 32, 8,
                                 ["--early-stop", "--factor", "3"]),
    "blocks-all-logits": ("blocks", "low_confidence", 16, 16, 8, ["--all-logits"]),
    # block diffusion (doc/sampling.md "Block diffusion") on block-causal models: the
    # block length is the model's. The random models' confidences are about 1/n_vocab,
    # hence the small thresholds. The CLI runs the exact block cache unless
    # --block-recompute; the reference recomputes the canvas every step.
    "bd-default": ("block_diffusion", "auto", 24, 12, 0, []),
    "bd-auto": ("auto", "auto", 24, 12, 0, []),
    "bd-counts": ("block_diffusion", "auto", 26, 26, 0, ["--block-threshold", "1"]),
    "bd-threshold": ("block_diffusion", "auto", 24, 12, 0, ["--block-threshold", "0.003"]),
    "bd-threshold0": ("block_diffusion", "auto", 24, 12, 0, ["--block-threshold", "0"]),
    "bd-editing": ("block_diffusion", "auto", 24, 12, 0,
                   ["--block-threshold", "0.003", "--editing-threshold", "0.002",
                    "--max-post-steps", "3"]),
    "bd-temp-editing": ("block_diffusion", "auto", 24, 12, 0,
                        ["--temp", "0.7", "--seed", "3", "--editing-threshold", "0.002",
                         "--max-post-steps", "2"]),
    "bd-topk-topp": ("block_diffusion", "auto", 24, 12, 0,
                     ["--temp", "0.9", "--top-k", "20", "--top-p", "0.9", "--seed", "5",
                      "--block-threshold", "0.05"]),
    "bd-random": ("block_diffusion", "random", 24, 12, 0, ["--seed", "7"]),
    "bd-margin-editing": ("block_diffusion", "topk_margin", 24, 12, 0,
                          ["--block-threshold", "0.001", "--editing-threshold", "0.001",
                           "--max-post-steps", "4"]),
    "bd-low-confidence": ("block_diffusion", "low_confidence", 24, 12, 0,
                          ["--temp", "0.7", "--seed", "2"]),
    "bd-eos-flags": ("block_diffusion", "auto", 24, 12, 0,
                     ["--conf-eos-eot-inf", "--logits-eos-inf", "--block-threshold", "0.003"]),
    "bd-cfg": ("block_diffusion", "auto", 24, 12, 0, ["--cfg", "1.5", "--block-recompute"],
               ["--cfg", "1.5"]),
    "bd-recompute": ("block_diffusion", "auto", 24, 12, 0,
                     ["--block-recompute", "--block-threshold", "0.003",
                      "--editing-threshold", "0.002", "--max-post-steps", "2"],
                     ["--block-threshold", "0.003", "--editing-threshold", "0.002",
                      "--max-post-steps", "2"]),
    "bd-early-stop": ("block_diffusion", "auto", 40, 20, 0,
                      ["--early-stop", "--block-threshold", "0.003"]),
    "bd-early-stop-editing": ("block_diffusion", "auto", 40, 20, 0,
                              ["--early-stop", "--editing-threshold", "0.002",
                               "--max-post-steps", "2"]),
}


def run(cmd):
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (" ".join(cmd), res.returncode, res.stderr))
    lines = [l for l in res.stdout.splitlines() if l.strip()]
    return [int(x) for x in lines[-1].split(",")]


def main():
    cli, model, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    failed = 0
    for name in names:
        schedule, remasking, gen, steps, block, extra = CONFIGS[name][:6]
        ref_extra = CONFIGS[name][6] if len(CONFIGS[name]) > 6 else extra
        common = ["--gen-length", str(gen), "--steps", str(steps), "--block-length", str(block),
                  "--schedule", schedule, "--remasking", remasking]
        ours = run([cli, "-m", model, "--prompt-ids", PROMPT, "--print-ids", "-t", "2"] + common
                   + extra)
        ref = run([sys.executable, REFCLI, "generate", model, "--prompt-ids", PROMPT] + common
                  + ref_extra)
        same = ours == ref
        failed += not same
        print("%-20s %s" % (name, "identical" if same else "DIFFERENT"))
        if not same:
            print("  difflm:    ", ours)
            print("  reference: ", ref)
    print("%d passed, %d failed" % (len(names) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

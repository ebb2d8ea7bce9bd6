#!/usr/bin/python3
"""Golden test: difflm's C forward pass against the independent numpy reference.

    golden_logits.py MKMODEL DIFFLM_LOGITS

For each tiny model (LLaDA MHA, LLaDA GQA, LLaDA tied with mask id 5 as in iLLaDA,
Dream with GQA, q/k/v biases, an output bias and no diffusion.shift_logits key, and
LLaDA-MoE with MHA and GQA: QK norm, softmax router, 3-D expert tensors), each
written in f32, f16 and bf16 by tools/difflm-mkmodel, and for id sequences of lengths 1,
7 and 33, runs tools/difflm-logits and the reference of tests/ref/refcli.py logits (its
Model, in this process, each file read once for its three sequences) and requires

    max |C - ref| <= 1e-4 * max(1, max |ref|)     (1e-4 of the logits' scale)

Both sides decode the same stored f16/bf16 values, so the tolerance is the same for
every type: what remains is float32 against float64 arithmetic."""

import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("DIFFLM_SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))
REF = os.path.join(SRC, "tests", "ref")
sys.dont_write_bytecode = True   # keep the source tree clean when meson runs us
sys.path.insert(0, REF)

import numpy as np  # noqa: E402

import gguf as G  # noqa: E402
from model import Model  # noqa: E402  (tests/ref/model.py, what refcli.py logits runs)

REL_TOL = 1e-4
VOCAB = 400

MODELS = {
    "llada-mha": ["--arch", "llada", "--n-embd", "64", "--n-layer", "2", "--n-head", "4",
                  "--n-head-kv", "4", "--n-ff", "96"],
    "llada-gqa": ["--arch", "llada", "--n-embd", "64", "--n-layer", "2", "--n-head", "8",
                  "--n-head-kv", "2", "--n-ff", "112"],
    "llada-tied-mask5": ["--arch", "llada", "--n-embd", "64", "--n-layer", "2", "--n-head", "4",
                         "--n-head-kv", "2", "--n-ff", "96", "--tied", "--mask-id", "5"],
    "dream-gqa-bias": ["--arch", "dream", "--n-embd", "64", "--n-layer", "2", "--n-head", "8",
                       "--n-head-kv", "2", "--n-ff", "128", "--no-shift-key",
                       "--output-bias"],
    # LLaDA-MoE: QK norm, NeoX RoPE, softmax top-k router over 3-D expert tensors
    "llada-moe-mha": ["--arch", "llada-moe", "--n-embd", "64", "--n-layer", "2", "--n-head", "4",
                      "--n-head-kv", "4", "--n-expert", "16", "--n-expert-used", "4",
                      "--n-ff-exp", "32"],
    "llada-moe-gqa": ["--arch", "llada-moe", "--n-embd", "64", "--n-layer", "3", "--n-head", "8",
                      "--n-head-kv", "2", "--n-expert", "8", "--n-expert-used", "2",
                      "--n-ff-exp", "48"],
}
TYPES = ("f32", "f16", "bf16")
LENGTHS = (1, 7, 33)


def run(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout + p.stderr


def read_logits(path, n, n_vocab):
    a = np.fromfile(path, dtype="<f4")
    if a.size != n * n_vocab:
        raise ValueError("%s holds %d floats, expected %d x %d" % (path, a.size, n, n_vocab))
    return a.reshape(n, n_vocab).astype(np.float64)


def check_fixture(name, ty, r):
    """The fixture has what its name promises (so the comparison tests what it says)."""
    problems = []
    arch = r.get("general.architecture")
    if name.startswith("dream"):
        if arch != "dream":
            problems.append("arch %r" % arch)
        if "blk.0.attn_q.bias" not in r.tensors:
            problems.append("no q bias")
        if "output.bias" not in r.tensors:
            problems.append("no output bias")
        if "diffusion.shift_logits" in r.kv:
            problems.append("has diffusion.shift_logits")
    elif name.startswith("llada-moe"):
        if arch != "llada-moe":
            problems.append("arch %r" % arch)
        t = r.tensors.get("blk.0.ffn_gate_exps.weight")
        if t is None or len(t.ne) != 3:
            problems.append("no 3-D expert tensor")
        if "blk.0.attn_q_norm.weight" not in r.tensors:
            problems.append("no q norm")
    else:
        if arch != "llada":
            problems.append("arch %r" % arch)
    if "tied" in name:
        if "output.weight" in r.tensors:
            problems.append("not tied")
        if r.get("tokenizer.ggml.mask_token_id") != 5:
            problems.append("mask id %r" % r.get("tokenizer.ggml.mask_token_id"))
    elif "output.weight" not in r.tensors:
        problems.append("tied")
    want = {"f32": G.GGML_F32, "f16": G.GGML_F16, "bf16": G.GGML_BF16}[ty]
    if r.tensor("blk.0.attn_q.weight").type != want:
        problems.append("attn_q type %s" % r.tensor("blk.0.attn_q.weight").type_name)
    return problems


def main():
    mkmodel, logits_tool = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(20240607)
    failures = 0
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in MODELS.items():
            for seed, ty in enumerate(TYPES):
                model = os.path.join(tmp, "%s-%s.gguf" % (name, ty))
                rc, out = run([mkmodel] + args + ["--vocab", str(VOCAB), "--type", ty,
                                                  "--seed", str(11 + seed), "-o", model])
                if rc != 0:
                    print("FAIL %s %s: mkmodel exited %d: %s" % (name, ty, rc, out.strip()))
                    failures += 1
                    continue
                r = G.GGUFReader(model)
                problems = check_fixture(name, ty, r)
                if problems:
                    print("FAIL %s %s: fixture: %s" % (name, ty, ", ".join(problems)))
                    failures += 1
                n_vocab = r.tensor("token_embd.weight").ne[1]
                try:
                    ref_model = Model(r)
                except Exception as e:  # noqa: BLE001 - any reference failure fails the case
                    print("FAIL %s %s: reference: %s" % (name, ty, e))
                    failures += 1
                    continue
                for n in LENGTHS:
                    id_list = [int(x) for x in rng.integers(0, n_vocab, n)]
                    ids = ",".join(str(x) for x in id_list)
                    c_out = os.path.join(tmp, "c.bin")
                    rc1, o1 = run([logits_tool, "-m", model, "--ids", ids, "-o", c_out, "-t", "2"])
                    if rc1 != 0:
                        print("FAIL %s %s n=%d: difflm-logits rc %d (%s)"
                              % (name, ty, n, rc1, o1.strip()))
                        failures += 1
                        continue
                    c = read_logits(c_out, n, n_vocab)
                    # as refcli.py writes it: float64, rounded to float32
                    ref = ref_model.logits(id_list).astype("<f4").astype(np.float64)
                    scale = max(1.0, float(np.max(np.abs(ref))))
                    err = float(np.max(np.abs(c - ref)))
                    rel = err / scale
                    worst = max(worst, rel)
                    ok = np.all(np.isfinite(c)) and rel <= REL_TOL
                    print("%s %-17s %-4s n=%-2d max|err| %.3e scale %.3f rel %.3e"
                          % ("ok  " if ok else "FAIL", name, ty, n, err, scale, rel))
                    if not ok:
                        failures += 1
        # bad input must fail cleanly
        model = os.path.join(tmp, "llada-mha-f32.gguf")
        if os.path.exists(model):
            for bad in (["--ids", str(VOCAB)], ["--ids", "-1"], ["--ids", "1,,2"],
                        ["--ids", "x"]):
                rc, out = run([logits_tool, "-m", model] + bad + ["-o", os.path.join(tmp, "x.bin")])
                if rc != 1 or not out.strip():
                    print("FAIL difflm-logits %s: rc %d, message %r" % (bad, rc, out))
                    failures += 1
            rc, out = run([logits_tool, "-m", os.path.join(tmp, "missing.gguf"), "--ids", "1",
                           "-o", os.path.join(tmp, "x.bin")])
            if rc != 1 or not out.strip():
                print("FAIL difflm-logits on a missing file: rc %d, %r" % (rc, out))
                failures += 1
    print("worst relative error %.3e (tolerance %.0e); %d failure(s)" % (worst, REL_TOL, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Quantized GGUF files end to end.

    golden_quant.py MKMODEL QUANTIZE LOGITS QUANT_THREADS

1. Per-tensor types. tools/difflm-quantize runs every preset on 2-layer and 8-layer
   LLaDA models (untied and tied), a Dream model with biases and a d=64 model whose rows
   no K block divides. The type of every tensor must equal what the rules of doc/formats.md,
   "Quantization presets", re-implemented below, give; every metadata key must be copied unchanged
   (general.file_type and general.quantization_version set to the preset's values).

2. Logits. For every weight type (--pure) and the K presets, difflm-logits on the
   quantized file against the reference of tests/ref/refcli.py (its Model, run in this
   process) on the same file (the reference dequantizes with tests/ref/quants.py and runs
   in float64):

       max |C - ref| <= REL_TOL * max(1, max |ref|)

   The C side quantizes activations to int8 per 32 values before every integer product
   (the reference does not), which costs up to amax/254 per activation. Measured on
   these random models: worst ~3e-2 of the logits' scale (2 layers, d=256), against
   ~2e-6 for f32 files; REL_TOL = 0.08 leaves margin for other seeds while any error in
   a block layout or kernel (which gives errors of the order of the logits themselves)
   still fails. The kernels are checked far more tightly in test_quant.c (bit-exact
   paths, a proven bound against a double reference).

3. Determinism. quant_threads runs each quantized file on 1-4 threads, pooled and not,
   and requires identical bits.
"""

import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("DIFFLM_SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(SRC, "tests", "ref"))

import numpy as np  # noqa: E402

import gguf as G  # noqa: E402
from model import Model  # noqa: E402  (tests/ref/model.py, what refcli.py logits runs)

REL_TOL = 0.08
VOCAB = 400

Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, F16, F32 = 2, 3, 6, 7, 8, 12, 13, 14, 1, 0
BLOCK = {Q4_0: 32, Q4_1: 32, Q5_0: 32, Q5_1: 32, Q8_0: 32, Q4_K: 256, Q5_K: 256, Q6_K: 256,
         F16: 1, F32: 1, 30: 1}
# preset -> (default type, llama ftype, rule)
PRESETS = {
    "Q4_0": (Q4_0, 2, ""), "Q4_1": (Q4_1, 3, ""), "Q5_0": (Q5_0, 8, ""), "Q5_1": (Q5_1, 9, ""),
    "Q8_0": (Q8_0, 7, ""), "Q4_K_S": (Q4_K, 14, "S"), "Q4_K_M": (Q4_K, 15, "M"),
    "Q5_K_S": (Q5_K, 16, "S"), "Q5_K_M": (Q5_K, 17, "M"), "Q6_K": (Q6_K, 18, ""),
}
PURE = {"q8_0": Q8_0, "q4_0": Q4_0, "q4_1": Q4_1, "q5_0": Q5_0, "q5_1": Q5_1, "q4_k": Q4_K,
        "q5_k": Q5_K, "q6_k": Q6_K}

MODELS = {
    "llada2": ["--arch", "llada", "--n-embd", "256", "--n-layer", "2", "--n-head", "4",
               "--n-head-kv", "2", "--n-ff", "512"],
    "llada8": ["--arch", "llada", "--n-embd", "256", "--n-layer", "8", "--n-head", "4",
               "--n-ff", "256"],
    "llada2-tied": ["--arch", "llada", "--n-embd", "256", "--n-layer", "2", "--n-head", "4",
                    "--n-ff", "512", "--tied"],
    "dream2-bias": ["--arch", "dream", "--n-embd", "256", "--n-layer", "2", "--n-head", "8",
                    "--n-head-kv", "2", "--n-ff", "512", "--output-bias"],
    "llada2-d64": ["--arch", "llada", "--n-embd", "64", "--n-layer", "2", "--n-head", "4",
                   "--n-ff", "96"],
}


def run(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout + p.stderr


def more_bits(i, n):
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def expected_type(preset, name, src_type, ne, n_layer, tied, pure_type=None):
    """doc/formats.md, "Quantization presets", written independently of the C tool."""
    if len(ne) < 2 or not name.endswith("weight") or "_norm.weight" in name \
            or "ffn_gate_inp" in name:
        return src_type
    if pure_type is not None:
        t = pure_type
    else:
        t, _, rule = PRESETS[preset]
        is_head = name == "output.weight" or (tied and name == "token_embd.weight")
        layer = int(name.split(".")[1]) if name.startswith("blk.") else -1
        if is_head:
            if ne[0] % BLOCK[t]:
                t = Q8_0
            elif t != Q8_0:
                t = Q6_K
        elif ("attn_v.weight" in name or "ffn_down" in name) and layer >= 0:
            if rule == "M" and more_bits(layer, n_layer):
                t = Q6_K
            elif rule == "S" and (("attn_v" in name and layer < 4) or
                                  ("ffn_down" in name and layer < n_layer // 8)):
                t = Q5_K
    if ne[0] % 256:
        t = {Q4_K: Q5_0, Q5_K: Q5_1, Q6_K: Q8_0}.get(t, t)
    if ne[0] % BLOCK[t]:
        t = F16
    return t


def check_types(src, out, preset, pure_type=None):
    problems = []
    n_layer = 1 + max(int(n.split(".")[1]) for n in src.tensors if n.startswith("blk."))
    tied = "output.weight" not in src.tensors
    for name, t in src.tensors.items():
        want = expected_type(preset, name, t.type, t.ne, n_layer, tied, pure_type)
        got = out.tensor(name).type
        if got != want:
            problems.append("%s: %s, expected %s" % (name, G.GGML_TYPES[got][0],
                                                     G.GGML_TYPES[want][0]))
        if out.tensor(name).ne != t.ne:
            problems.append("%s: shape %s, source %s" % (name, out.tensor(name).ne, t.ne))
    if list(out.tensors) != list(src.tensors):
        problems.append("tensor order or set differs")
    for key, val in src.kv.items():
        if key in ("general.file_type", "general.quantization_version"):
            continue
        ov = out.kv.get(key)
        same = (np.array_equal(ov, val) if isinstance(val, np.ndarray) else ov == val)
        if not same or out.kv_types.get(key) != src.kv_types.get(key):
            problems.append("key %s not copied" % key)
    ftype = PRESETS[preset][1] if pure_type is None else None
    if ftype is not None and out.get("general.file_type") != ftype:
        problems.append("general.file_type %r, expected %d" % (out.get("general.file_type"), ftype))
    if out.get("general.quantization_version") != 2:
        problems.append("general.quantization_version %r" % out.get("general.quantization_version"))
    return problems


def read_logits(path, n, n_vocab):
    a = np.fromfile(path, dtype="<f4")
    if a.size != n * n_vocab:
        raise ValueError("%s holds %d floats, expected %d x %d" % (path, a.size, n, n_vocab))
    return a.reshape(n, n_vocab).astype(np.float64)


def main():
    mkmodel, quantize, logits_tool, threads_tool = sys.argv[1:5]
    rng = np.random.default_rng(4)
    failures = 0
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for mname, margs in MODELS.items():
            src_path = os.path.join(tmp, mname + ".gguf")
            rc, out = run([mkmodel] + margs + ["--vocab", str(VOCAB), "--seed", "3", "-o",
                                               src_path])
            if rc:
                print("FAIL %s: mkmodel: %s" % (mname, out.strip()))
                failures += 1
                continue
            src = G.GGUFReader(src_path)
            jobs = [(p, None) for p in PRESETS]
            if mname in ("llada2", "llada2-tied", "dream2-bias"):
                jobs += [(p, t) for p, t in PURE.items()]
            for preset, pure_type in jobs:
                tag = "%s %s%s" % (mname, preset, "" if pure_type is None else " (pure)")
                qpath = os.path.join(tmp, "q.gguf")
                args = [quantize, "-t", "2"] + (["--pure"] if pure_type is not None else [])
                rc, out = run(args + [src_path, qpath, preset])
                if rc:
                    print("FAIL %s: difflm-quantize: %s" % (tag, out.strip()))
                    failures += 1
                    continue
                q = G.GGUFReader(qpath)
                problems = check_types(src, q, preset if pure_type is None else "Q8_0", pure_type)
                if pure_type is not None:
                    problems = [p for p in problems if not p.startswith("general.file_type")]
                if problems:
                    print("FAIL %s: %s" % (tag, "; ".join(problems[:6])))
                    failures += 1
                    continue
                types = sorted({G.GGML_TYPES[t.type][0] for t in q.tensors.values()})
                check_logits = pure_type is not None or preset in ("Q4_K_M", "Q5_K_M", "Q4_0") \
                    or mname == "llada2-d64"
                if not check_logits:
                    print("ok   %-28s types %s" % (tag, " ".join(types)))
                    continue
                # The reference in this process, as `refcli.py logits` computes it (float64,
                # rounded to the float32 it writes): the file read and dequantized once for
                # its three canvases, not once per canvas in a new interpreter.
                try:
                    ref_model = Model(qpath)
                except Exception as e:  # noqa: BLE001 - any reference failure fails the case
                    print("FAIL %s: reference: %s" % (tag, e))
                    failures += 1
                    continue
                for n in (1, 17, 40):
                    id_list = [int(x) for x in rng.integers(0, VOCAB, n)]
                    ids = ",".join(str(x) for x in id_list)
                    c_out = os.path.join(tmp, "c.bin")
                    rc1, o1 = run([logits_tool, "-m", qpath, "--ids", ids, "-o", c_out, "-t", "2"])
                    if rc1:
                        print("FAIL %s n=%d: difflm-logits %d (%s)" % (tag, n, rc1, o1.strip()))
                        failures += 1
                        continue
                    c = read_logits(c_out, n, VOCAB)
                    ref = ref_model.logits(id_list).astype("<f4").astype(np.float64)
                    scale = max(1.0, float(np.max(np.abs(ref))))
                    rel = float(np.max(np.abs(c - ref))) / scale
                    worst = max(worst, rel)
                    ok = bool(np.all(np.isfinite(c))) and rel <= REL_TOL
                    if not ok:
                        failures += 1
                    if not ok or n == 40:
                        print("%s %-28s n=%-2d rel err %.2e  types %s"
                              % ("ok  " if ok else "FAIL", tag, n, rel, " ".join(types)))
                if pure_type is not None or preset == "Q4_K_M":
                    rc, out = run([threads_tool, qpath])
                    if rc:
                        print("FAIL %s: thread determinism: %s" % (tag, out.strip()))
                        failures += 1
        # bad input fails cleanly
        rc, out = run([quantize, os.path.join(tmp, "llada2.gguf"), os.path.join(tmp, "x.gguf"),
                       "Q3_K_M"])
        if rc != 2 or "Q3_K_M" not in out:
            print("FAIL unknown preset: rc %d, %r" % (rc, out))
            failures += 1
        rc, out = run([quantize, os.path.join(tmp, "missing.gguf"), os.path.join(tmp, "x.gguf"),
                       "Q8_0"])
        if rc != 1 or not out.strip():
            print("FAIL missing input: rc %d, %r" % (rc, out))
            failures += 1
        qq = os.path.join(tmp, "qq.gguf")
        run([quantize, os.path.join(tmp, "llada2.gguf"), qq, "Q8_0"])
        rc, out = run([quantize, qq, os.path.join(tmp, "x.gguf"), "Q4_0"])
        if rc != 1 or "requantize" not in out:
            print("FAIL requantizing without --allow-requantize: rc %d, %r" % (rc, out))
            failures += 1
    print("worst relative logit error %.3e (tolerance %.2f); %d failure(s)"
          % (worst, REL_TOL, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Quantized formats against the independent numpy reference (tests/ref/quants.py).

    check_quants.py QUANT_DUMP

1. Dequantization: random blocks (random bytes with finite fp16 scales) dequantized by
   difflm must equal quants.py bit for bit, for every type.
2. Quantization, 32-element formats: difflm's output must equal, byte for byte, ggml's
   reference quantizers as doc/formats.md, "Reference quantizers", describes them, re-implemented here.
3. Quantization, K formats (own scale search): the blocks must decode (by quants.py)
   to within a per-type RMS error of the input (the error bounds also in test_quant.c).
"""

import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("DIFFLM_SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(SRC, "tests", "ref"))

import numpy as np  # noqa: E402

import quants  # noqa: E402

F32 = np.float32
# RMS error / RMS of the input, gaussian-like data, upper bounds (K formats).
K_RMS_BOUND = {12: 0.12, 13: 0.06, 14: 0.03}


def round_away(v):
    """C roundf: halves away from zero (exact in float64 for float32 inputs)."""
    v = v.astype(np.float64)
    return np.trunc(v + np.copysign(0.5, v))


def f16_bytes(x):
    return np.asarray(x, dtype=F32).astype("<f2").view(np.uint8).reshape(-1, 2)


def safe_inv(d):
    out = np.zeros_like(d)
    nz = d != 0
    out[nz] = F32(1.0) / d[nz]
    return out


def signed_extreme(x):
    idx = np.argmax(np.abs(x), axis=1)              # first of equal magnitudes
    return x[np.arange(x.shape[0]), idx][:, None]


def pack_nibbles(q):
    return (q[:, :16] | (q[:, 16:] << 4)).astype(np.uint8)


def ref_q8_0(x):
    x = x.reshape(-1, 32)
    d = (np.max(np.abs(x), axis=1, keepdims=True) / F32(127)).astype(F32)
    q = round_away(x * safe_inv(d)).astype(np.int8)
    return np.concatenate([f16_bytes(d), q.view(np.uint8)], axis=1)


def ref_q4_0(x):
    x = x.reshape(-1, 32)
    d = (signed_extreme(x) / F32(-8)).astype(F32)
    q = np.minimum(15, np.trunc(x * safe_inv(d) + F32(8.5))).astype(np.int32)
    return np.concatenate([f16_bytes(d), pack_nibbles(q)], axis=1)


def ref_q4_1(x):
    x = x.reshape(-1, 32)
    mn, mx = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
    d = ((mx - mn) / F32(15)).astype(F32)
    q = np.minimum(15, np.trunc((x - mn) * safe_inv(d) + F32(0.5))).astype(np.int32)
    return np.concatenate([f16_bytes(d), f16_bytes(mn), pack_nibbles(q)], axis=1)


def qh_bytes(q):
    bits = ((q >> 4) & 1).astype(np.uint64)
    qh = np.sum(bits << np.arange(32, dtype=np.uint64), axis=1).astype("<u4")
    return qh.view(np.uint8).reshape(-1, 4)


def ref_q5_0(x):
    x = x.reshape(-1, 32)
    d = (signed_extreme(x) / F32(-16)).astype(F32)
    q = np.minimum(31, np.trunc(x * safe_inv(d) + F32(16.5))).astype(np.int32)
    return np.concatenate([f16_bytes(d), qh_bytes(q), pack_nibbles(q & 15)], axis=1)


def ref_q5_1(x):
    x = x.reshape(-1, 32)
    mn, mx = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
    d = ((mx - mn) / F32(31)).astype(F32)
    q = np.trunc((x - mn) * safe_inv(d) + F32(0.5)).astype(np.int32)
    return np.concatenate([f16_bytes(d), f16_bytes(mn), qh_bytes(q), pack_nibbles(q & 15)],
                          axis=1)


REF_QUANT = {8: ref_q8_0, 2: ref_q4_0, 3: ref_q4_1, 6: ref_q5_0, 7: ref_q5_1}


def records(path):
    data = open(path, "rb").read()
    pos = 0
    while pos < len(data):
        ty, kind, nin, nout = np.frombuffer(data, dtype="<u4", count=4, offset=pos)
        pos += 16
        yield int(ty), int(kind), data[pos:pos + nin], data[pos + nin:pos + nin + nout]
        pos += int(nin) + int(nout)


def main():
    tool = sys.argv[1]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in (1, 2):
            out = os.path.join(tmp, "q.bin")
            subprocess.run([tool, out, str(seed)], check=True)
            for ty, kind, a, b in records(out):
                name = quants.BLOCKS[ty][0]
                if kind == 0:
                    ref = quants.dequantize(ty, a)
                    got = np.frombuffer(b, dtype="<f4")
                    same = ref.view(np.uint32) == got.view(np.uint32)
                    ok = ref.size == got.size and bool(np.all(same))
                    print("%s dequantize %-5s %6d values, %d differ" %
                          ("ok  " if ok else "FAIL", name, got.size, int(np.sum(~same))))
                    if not ok:
                        i = int(np.argmin(same))
                        print("     first at %d: difflm %r, reference %r" % (i, got[i], ref[i]))
                elif ty in REF_QUANT:
                    x = np.frombuffer(a, dtype="<f4")
                    ref = REF_QUANT[ty](x).reshape(-1)
                    got = np.frombuffer(b, dtype=np.uint8)
                    ok = ref.size == got.size and bool(np.array_equal(ref, got))
                    nd = int(np.sum(ref != got)) if ref.size == got.size else -1
                    print("%s quantize   %-5s %6d bytes, %d differ from ggml's reference" %
                          ("ok  " if ok else "FAIL", name, got.size, nd))
                else:
                    x = np.frombuffer(a, dtype="<f4").astype(np.float64)
                    y = quants.dequantize(ty, b).astype(np.float64)
                    rel = np.sqrt(np.mean((x - y) ** 2) / np.mean(x ** 2))
                    ok = rel <= K_RMS_BOUND[ty]
                    print("%s quantize   %-5s relative RMS error %.4f (bound %.2f)" %
                          ("ok  " if ok else "FAIL", name, rel, K_RMS_BOUND[ty]))
                failures += 0 if ok else 1
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

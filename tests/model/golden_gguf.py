#!/usr/bin/python3
"""The independent reference reader (tests/ref/gguf.py) accepts what difflm's C writer
produces, and reads back exactly the values written.

    golden_gguf.py GOLDEN_GGUF_WRITER [MKMODEL]

GOLDEN_GGUF_WRITER is tests/model/golden_gguf_writer (every value type, array type and
float tensor type, for GGUF v2 and v3 and alignments 32, 64 and 1); MKMODEL, if given,
is tools/difflm-mkmodel, whose fixtures of every arch and type must load too."""

import math
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("DIFFLM_SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.dont_write_bytecode = True   # keep the source tree clean when meson runs us
sys.path.insert(0, os.path.join(SRC, "tests", "ref"))

import numpy as np  # noqa: E402

import gguf as G  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


SCALARS = {
    "s.u8": (G.T_U8, 200), "s.i8": (G.T_I8, -100), "s.u16": (G.T_U16, 60000),
    "s.i16": (G.T_I16, -30000), "s.u32": (G.T_U32, 4000000000),
    "s.i32": (G.T_I32, -2000000000), "s.f32": (G.T_F32, 1.5), "s.bool": (G.T_BOOL, True),
    "s.str": (G.T_STRING, "h\u00e9llo"), "s.u64": (G.T_U64, 9223372036854775813),
    "s.i64": (G.T_I64, -4611686018427387904), "s.f64": (G.T_F64, -2.25),
    "s.empty_str": (G.T_STRING, ""), "s.false": (G.T_BOOL, False),
}
ARRAYS = {
    "a.u8": (G.T_U8, [0, 1, 255]), "a.i8": (G.T_I8, [-128, 0, 127]),
    "a.u16": (G.T_U16, [0, 65535]), "a.i16": (G.T_I16, [-32768, 32767]),
    "a.u32": (G.T_U32, [0, 4294967295]), "a.i32": (G.T_I32, [-1, 2, 3]),
    "a.f32": (G.T_F32, [0.25, float(np.float32(-1e30))]), "a.bool": (G.T_BOOL, [True, False, True]),
    "a.str": (G.T_STRING, ["a", "", "\u00fc"]), "a.u64": (G.T_U64, [0, 2 ** 64 - 1]),
    "a.i64": (G.T_I64, [-2 ** 63, 2 ** 63 - 1]), "a.f64": (G.T_F64, [0.5, -1e300]),
    "a.empty": (G.T_I32, []),
}


def check_writer_file(path, version, alignment):
    tag = "v%d/align %d: " % (version, alignment)
    try:
        r = G.GGUFReader(path)
    except G.GGUFError as e:
        check(False, tag + "reference reader rejected the C writer's file: %s" % e)
        return
    check(r.version == version, tag + "version %d" % r.version)
    check(r.alignment == (alignment or 32), tag + "alignment %d" % r.alignment)
    for k, (t, v) in SCALARS.items():
        check(r.kv_types.get(k) == t, tag + "%s type %r" % (k, r.kv_types.get(k)))
        check(r.kv.get(k) == v, tag + "%s = %r, want %r" % (k, r.kv.get(k), v))
    for k, (t, v) in ARRAYS.items():
        check(r.kv_types.get(k) == (G.T_ARRAY, t), tag + "%s type %r" % (k, r.kv_types.get(k)))
        got = r.kv.get(k)
        got = list(got) if got is not None else None
        check(got == v, tag + "%s = %r, want %r" % (k, got, v))
    names = list(r.tensors)
    check(names == ["t.f32", "t.f16", "t.bf16", "t.one"], tag + "tensor order %r" % names)
    if "t.f32" in r.tensors:
        a = r.tensor("t.f32")
        check(a.ne == [5, 3, 2] and a.shape == (2, 3, 5), tag + "t.f32 dims %r" % a.ne)
        want = (0.5 * np.arange(30) - 7.0).reshape(2, 3, 5)
        check(np.array_equal(a.array(), want), tag + "t.f32 values")
    if "t.f16" in r.tensors:
        want = [1.0, -2.0, float(np.float16(1.0 / 3.0)), 65504.0, 2.0 ** -24]
        check(list(r.tensor("t.f16").array()) == want, tag + "t.f16 values")
    if "t.bf16" in r.tensors:
        got = r.tensor("t.bf16").array()
        want = [[1.0, -3.0, float(np.uint32(0x3A830000).view(np.float32))],
                [float(np.uint32(0x00010000).view(np.float32)), -math.inf, 3.140625]]
        check(got.shape == (2, 3) and np.array_equal(got, np.array(want)), tag + "t.bf16 %r" % got)
    if "t.one" in r.tensors:
        check(r.tensor("t.one").array().tolist() == [[42.0]], tag + "t.one")
    for t in r.tensors.values():
        check((t.offset - r.data_start) % r.alignment == 0, tag + "%s misaligned" % t.name)


MK_CASES = [
    ["--arch", "llada"], ["--arch", "llada", "--tied", "--mask-id", "5"],
    ["--arch", "dream"], ["--arch", "dream", "--no-shift-key", "--output-bias"],
]


def main():
    writer = sys.argv[1]
    mkmodel = sys.argv[2] if len(sys.argv) > 2 else None
    with tempfile.TemporaryDirectory() as tmp:
        for version in (2, 3):
            for alignment in (0, 64, 1):
                path = os.path.join(tmp, "w%d_%d.gguf" % (version, alignment))
                rc = subprocess.run([writer, path, str(version), str(alignment)]).returncode
                check(rc == 0, "golden_gguf_writer %d %d exited %d" % (version, alignment, rc))
                if rc == 0:
                    check_writer_file(path, version, alignment)
        if mkmodel:
            for case in MK_CASES:
                for ty in ("f32", "f16", "bf16"):
                    path = os.path.join(tmp, "m.gguf")
                    args = [mkmodel] + case + ["--n-embd", "32", "--n-layer", "1", "--n-head", "4",
                                               "--n-head-kv", "2", "--n-ff", "48", "--vocab", "400",
                                               "--type", ty, "--seed", "3", "-o", path]
                    rc = subprocess.run(args).returncode
                    check(rc == 0, "%s exited %d" % (" ".join(args), rc))
                    if rc != 0:
                        continue
                    try:
                        r = G.GGUFReader(path)
                        check(len(r.tensors) > 0, "%s: no tensors" % case)
                        for t in r.tensors.values():
                            r.tensor_array(t)
                    except G.GGUFError as e:
                        check(False, "reference rejected mkmodel %s %s: %s" % (case, ty, e))
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok: the reference reader reads every C-written file exactly")
    return 0


if __name__ == "__main__":
    sys.exit(main())

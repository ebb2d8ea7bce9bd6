"""Unit tests of the reference GGUF reader (tests/ref/gguf.py) with files written from Python."""

import os
import struct
import sys
import unittest

sys.dont_write_bytecode = True   # keep the source tree clean when meson runs us
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import gguf as G  # noqa: E402
import ggufw as W  # noqa: E402


def small_file(version=3, alignment=None):
    w = W.Writer(version=version, alignment=alignment)
    for i, (t, v) in enumerate(W.ALL_SCALARS):
        w.add("s.%d" % i, t, v)
    w.add_array("a.str", G.T_STRING, ["a", "", "ü"])
    w.add_array("a.i32", G.T_I32, [-1, 2, 3])
    w.add_array("a.f64", G.T_F64, [0.5, -1e300])
    w.add_array("a.bool", G.T_BOOL, [True, False])
    w.add_array("a.empty", G.T_U8, [])
    w.add_tensor("m", np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5, G.GGML_F32)
    w.add_tensor("h", np.array([1.0, -2.0, 0.333333], np.float32), G.GGML_F16)
    w.add_tensor("b", np.array([[1.0, -3.0], [1e-3, 65504.0]], np.float32), G.GGML_BF16)
    return w


class TestReader(unittest.TestCase):
    def check_file(self, data):
        r = G.GGUFReader(data=data)
        for i, (t, v) in enumerate(W.ALL_SCALARS):
            got = r.kv["s.%d" % i]
            if t == G.T_F32:
                self.assertAlmostEqual(got, v, places=6)
            else:
                self.assertEqual(got, v)
            self.assertEqual(r.kv_types["s.%d" % i], t)
        self.assertEqual(r.kv["a.str"], ["a", "", "ü"])
        self.assertEqual(list(r.kv["a.i32"]), [-1, 2, 3])
        self.assertEqual(list(r.kv["a.f64"]), [0.5, -1e300])
        self.assertEqual(list(r.kv["a.bool"]), [True, False])
        self.assertEqual(len(r.kv["a.empty"]), 0)
        self.assertEqual(r.kv_types["a.i32"], (G.T_ARRAY, G.T_I32))
        m = r.tensor("m")
        self.assertEqual(m.ne, [4, 3])
        self.assertEqual(m.shape, (3, 4))
        self.assertTrue(np.array_equal(m.array(), np.arange(12).reshape(3, 4) - 5.5))
        h = r.tensor("h").array()
        self.assertTrue(np.allclose(h, [1.0, -2.0, 0.333333], atol=2e-4))
        self.assertEqual(h[2], float(np.float16(0.333333)))
        b = r.tensor("b").array()
        self.assertEqual(b[0, 0], 1.0)
        self.assertEqual(b[0, 1], -3.0)
        self.assertLess(abs(b[1, 0] - 1e-3), 1e-3 / 128)       # 8 bits of mantissa
        self.assertEqual(b[1, 1], 65536.0)                    # rounded to nearest even
        for name in ("m", "h", "b"):
            self.assertEqual((r.tensor(name).offset - r.data_start) % r.alignment, 0)
        return r

    def test_roundtrip_v3(self):
        r = self.check_file(small_file().to_bytes())
        self.assertEqual(r.version, 3)
        self.assertEqual(r.alignment, 32)

    def test_roundtrip_v2(self):
        self.assertEqual(self.check_file(small_file(version=2).to_bytes()).version, 2)

    def test_alignment_key(self):
        r = self.check_file(small_file(alignment=64).to_bytes())
        self.assertEqual(r.alignment, 64)

    def test_bf16_exact(self):
        # Values with 8 significant bits survive bf16 exactly.
        vals = np.array([1.5, -0.125, 3.0e38 // 2 ** 100 * 2 ** 100, 0.0], np.float32)
        vals = (vals.view(np.uint32) & 0xFFFF0000).view(np.float32)
        w = W.Writer()
        w.add_tensor("x", vals, G.GGML_BF16)
        r = G.GGUFReader(data=w.to_bytes())
        self.assertTrue(np.array_equal(r.tensor("x").array(np.float32), vals))

    def rejects(self, data, needle):
        with self.assertRaises(G.GGUFError) as cm:
            G.GGUFReader(data=bytes(data))
        self.assertIn(needle, str(cm.exception))

    def test_rejections(self):
        good = small_file().to_bytes()
        self.rejects(b"GGUX" + good[4:], "magic")
        self.rejects(good[:4] + struct.pack("<I", 1) + good[8:], "version")
        self.rejects(good[:4] + struct.pack("<I", 4) + good[8:], "version")
        last = G.GGUFReader(data=good).tensor("b")
        for cut in (3, 10, 30, 200, last.offset + last.nbytes - 1):
            with self.assertRaises(G.GGUFError):
                G.GGUFReader(data=good[:cut])
        # huge counts
        self.rejects(good[:8] + struct.pack("<Q", 2 ** 40) + good[16:], "exceed")

    def test_rejects_bad_layout(self):
        w = W.Writer()
        w.add("k", G.T_U32, 1)
        w.add("k", G.T_U32, 2)
        self.rejects(w.to_bytes(), "duplicate key")
        w = W.Writer()
        w.add_tensor("t", np.zeros(3), G.GGML_F32)
        w.add_tensor("t", np.zeros(3), G.GGML_F32)
        self.rejects(w.to_bytes(), "duplicate tensor")
        # a wrong offset (the strict contiguous rule)
        w = W.Writer()
        w.add_tensor("a", np.zeros(3), G.GGML_F32)
        w.add_tensor("b", np.zeros(3), G.GGML_F32)
        data = bytearray(w.to_bytes())
        # the second info's offset field is the 8 bytes before the padding
        name_at = data.find(struct.pack("<Q", 1) + b"b")
        off_at = name_at + 8 + 1 + 4 + 8 + 4
        self.assertEqual(struct.unpack_from("<Q", data, off_at)[0], 32)
        struct.pack_into("<Q", data, off_at, 64)
        self.rejects(data, "expected 32")
        # arrays of arrays
        w = W.Writer()
        w.add_array("x", G.T_ARRAY, [])
        self.rejects(w.to_bytes(), "arrays of arrays")
        # bad alignment value
        w = W.Writer(alignment=24)
        self.rejects(w.to_bytes(), "power of two")

    def test_tiny_model_loads(self):
        w = W.tiny_model("dream", n_head=4, n_head_kv=2, ttype=G.GGML_F16)
        r = G.GGUFReader(data=w.to_bytes())
        self.assertEqual(r.get("general.architecture"), "dream")
        self.assertEqual(r.tensor("blk.1.attn_k.weight").shape, (8, 16))
        self.assertEqual(r.tensor("blk.1.attn_k.weight").type_name, "F16")


if __name__ == "__main__":
    unittest.main()

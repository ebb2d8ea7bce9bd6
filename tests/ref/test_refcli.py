"""Tests of the reference command line (tests/ref/refcli.py) on models written from Python."""

import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True   # keep the source tree clean when meson runs us
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import ggufw as W  # noqa: E402
import sampler as S  # noqa: E402
from model import Model  # noqa: E402

REFCLI = os.path.join(HERE, "refcli.py")


def refcli(*args):
    p = subprocess.run([sys.executable, REFCLI] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout, p.stderr


class TestRefcli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.llada = os.path.join(cls.tmp.name, "llada.gguf")
        cls.dream = os.path.join(cls.tmp.name, "dream.gguf")
        W.tiny_model("llada", n_head=4, n_head_kv=2, vocab=40, seed=1).write(cls.llada)
        W.tiny_model("dream", n_head=4, n_head_kv=1, vocab=40, seed=2, shift_key=False,
                     out_bias=True).write(cls.dream)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_logits_file(self):
        out = os.path.join(self.tmp.name, "l.bin")
        ids = [3, 1, 4, 1, 5, 9, 2]
        rc, _, err = refcli("logits", self.llada, "--ids", ",".join(map(str, ids)), "-o", out)
        self.assertEqual(rc, 0, err)
        got = np.fromfile(out, dtype="<f4").reshape(len(ids), 40)
        want = Model(self.llada).logits(ids).astype(np.float32)
        self.assertTrue(np.array_equal(got, want))

    def test_logits_errors(self):
        out = os.path.join(self.tmp.name, "e.bin")
        self.assertEqual(refcli("logits", self.llada, "--ids", "40", "-o", out)[0], 1)
        self.assertEqual(refcli("logits", self.llada, "--ids", "1,x", "-o", out)[0], 1)
        self.assertEqual(refcli("logits", os.path.join(self.tmp.name, "none.gguf"),
                                "--ids", "1", "-o", out)[0], 1)

    def generate(self, path, prompt, **kw):
        args = ["generate", path, "--prompt-ids", ",".join(map(str, prompt))]
        for k, v in kw.items():
            args += ["--" + k.replace("_", "-"), v]
        rc, out, err = refcli(*args)
        self.assertEqual(rc, 0, err)
        return [int(x) for x in out.strip().split(",")]

    def test_generate_llada_matches_library(self):
        prompt = [1, 2, 3]
        got = self.generate(self.llada, prompt, gen_length=8, steps=4, block_length=4)
        m = Model(self.llada)
        want = S.generate(m.logits, prompt, S.Params(gen_length=8, steps=4, block_length=4),
                          S.Specials(39, 2, -1, 40), shift=False)
        self.assertEqual(got, want)
        self.assertEqual(got[:3], prompt)
        self.assertNotIn(39, got)

    def test_generate_dream_defaults(self):
        # auto: TIMESTEPS + ENTROPY, shifted logits (the file has no shift key)
        prompt = [5, 6]
        got = self.generate(self.dream, prompt, gen_length=6, steps=6, temp=0.7, top_p=0.9,
                            seed=4)
        m = Model(self.dream)
        p = S.Params(gen_length=6, steps=6, schedule="timesteps", remasking="entropy",
                     temperature=0.7, top_p=0.9, seed=4)
        want = S.generate(m.logits, prompt, p, S.Specials(39, 2, -1, 40), shift=True)
        self.assertEqual(got, want)

    def test_generate_errors(self):
        rc, _, err = refcli("generate", self.llada, "--prompt-ids", "39", "--gen-length", "4",
                            "--steps", "4")
        self.assertEqual(rc, 1)
        self.assertIn("MASK", err)
        rc, _, _ = refcli("generate", self.llada, "--prompt-ids", "1", "--gen-length", "8",
                          "--steps", "1", "--block-length", "4")
        self.assertEqual(rc, 1)


if __name__ == "__main__":
    unittest.main()

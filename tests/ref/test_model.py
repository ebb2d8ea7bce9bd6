"""Unit tests of the reference forward pass (tests/ref/model.py).

The vectorised numpy model is checked against a scalar, loop-by-loop transcription of
doc/formats.md, "The forward pass" (a second, deliberately naive implementation), and against
properties that follow from the facts: the LLaDA GGUF row permutation turns half-split
RoPE into adjacent-pair RoPE, GQA equals MHA with repeated K/V heads, attention is
bidirectional, and the head is tied when output.weight is absent."""

import math
import os
import sys
import unittest

sys.dont_write_bytecode = True   # keep the source tree clean when meson runs us
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import gguf as G  # noqa: E402
import ggufw as W  # noqa: E402
from model import Model  # noqa: E402


def load(w):
    return Model(G.GGUFReader(data=w.to_bytes()))


def naive_logits(m, ids, block=0):
    """Scalar loops over the same weights; no numpy broadcasting or matmul. block > 0:
    position i attends only to the positions j of its own block and earlier ones."""
    d, hd, nh, nkv = m.n_embd, m.head_dim, m.n_head, m.n_head_kv
    n = len(ids)

    def matvec(Wt, x, b=None):
        out = []
        for r in range(len(Wt)):
            s = 0.0
            for c in range(len(x)):
                s += Wt[r][c] * x[c]
            out.append(s + (b[r] if b is not None else 0.0))
        return out

    def rms(x, w):
        ms = sum(v * v for v in x) / len(x)
        return [x[i] / math.sqrt(ms + m.eps) * w[i] for i in range(len(x))]

    def rope(vec, pos):
        out = list(vec)
        for j in range(hd // 2):
            ang = pos * m.theta ** (-2.0 * j / hd)
            a, b = (j, j + hd // 2) if m.half_split else (2 * j, 2 * j + 1)
            out[a] = vec[a] * math.cos(ang) - vec[b] * math.sin(ang)
            out[b] = vec[a] * math.sin(ang) + vec[b] * math.cos(ang)
        return out

    x = [list(m.tok_embd[t]) for t in ids]
    for L in m.layers:
        h = [rms(x[i], L["attn_norm"]) for i in range(n)]
        q = [matvec(L["wq"], h[i], L["bq"]) for i in range(n)]
        k = [matvec(L["wk"], h[i], L["bk"]) for i in range(n)]
        v = [matvec(L["wv"], h[i], L["bv"]) for i in range(n)]
        qh = [[rope(q[i][a * hd:(a + 1) * hd], i) for a in range(nh)] for i in range(n)]
        kh = [[rope(k[i][a * hd:(a + 1) * hd], i) for a in range(nkv)] for i in range(n)]
        att = [[0.0] * (nh * hd) for _ in range(n)]
        for i in range(n):
            for a in range(nh):
                kv = a * nkv // nh
                seen = [j for j in range(n) if block == 0 or j // block <= i // block]
                sc = [sum(qh[i][a][e] * kh[j][kv][e] for e in range(hd)) / math.sqrt(hd)
                      for j in seen]
                mx = max(sc)
                ex = [0.0] * n
                for j, s in zip(seen, sc):
                    ex[j] = math.exp(s - mx)
                tot = sum(ex)
                for e in range(hd):
                    att[i][a * hd + e] = sum(ex[j] / tot * v[j][kv * hd + e] for j in range(n))
        for i in range(n):
            o = matvec(L["wo"], att[i])
            x[i] = [x[i][c] + o[c] for c in range(d)]
        for i in range(n):
            h = rms(x[i], L["ffn_norm"])
            gt = matvec(L["w_gate"], h)
            up = matvec(L["w_up"], h)
            act = [gt[f] / (1.0 + math.exp(-gt[f])) * up[f] for f in range(len(gt))]
            dn = matvec(L["w_down"], act)
            x[i] = [x[i][c] + dn[c] for c in range(d)]
    out = []
    for i in range(n):
        h = rms(x[i], m.output_norm)
        out.append(matvec(m.output, h, m.output_bias))
    return np.array(out)


SMALL = dict(n_embd=8, n_layer=2, n_head=2, n_ff=12, vocab=11)


class TestModel(unittest.TestCase):
    def compare_naive(self, **kw):
        m = load(W.tiny_model(**kw))
        ids = [3, 0, 7, 7, 1]
        ref = naive_logits(m, ids)
        got = m.logits(ids)
        self.assertEqual(got.shape, (5, m.n_vocab))
        err = np.max(np.abs(got - ref))
        self.assertLess(err, 1e-10 * max(1.0, np.max(np.abs(ref))), kw)

    def test_naive_llada_mha(self):
        self.compare_naive(arch="llada", n_head_kv=2, **SMALL)

    def test_naive_llada_gqa_tied(self):
        kw = dict(SMALL, n_head=4)
        self.compare_naive(arch="llada", n_head_kv=2, tied=True, **kw)

    def test_naive_dream_bias(self):
        kw = dict(SMALL, n_head=4)
        self.compare_naive(arch="dream", n_head_kv=1, out_bias=True, shift_key=False, **kw)

    def test_llada_permutation_equals_half_split(self):
        # doc/formats.md, "RoPE layouts": GGUF row 2j <- HF row j, row 2j+1 <- HF row hd/2 + j, per head.
        w = W.tiny_model(arch="llada", n_head_kv=2, seed=5, **SMALL)
        ll = load(w)
        hd = ll.head_dim
        unperm = np.empty(hd, dtype=np.int64)
        for j in range(hd // 2):
            unperm[j] = 2 * j           # HF row j lives at GGUF row 2j
            unperm[hd // 2 + j] = 2 * j + 1

        def to_hf(Wm, heads):
            return np.concatenate([Wm[a * hd:(a + 1) * hd][unperm] for a in range(heads)])
        hf = load(w)
        hf.half_split = True
        for L in hf.layers:
            L["wq"] = to_hf(L["wq"], hf.n_head)
            L["wk"] = to_hf(L["wk"], hf.n_head_kv)
        ids = [1, 4, 9, 2, 2, 0, 5]
        self.assertLess(np.max(np.abs(ll.logits(ids) - hf.logits(ids))), 1e-10)
        # and the permutation matters: without it the half-split result differs
        hf2 = load(w)
        hf2.half_split = True
        self.assertGreater(np.max(np.abs(ll.logits(ids) - hf2.logits(ids))), 1e-3)

    def test_gqa_equals_repeated_mha(self):
        kw = dict(SMALL, n_head=4)
        g = load(W.tiny_model(arch="dream", n_head_kv=2, seed=2, **kw))
        m = load(W.tiny_model(arch="dream", n_head_kv=4, seed=2, **kw))
        hd = g.head_dim
        for Lg, Lm in zip(g.layers, m.layers):
            for wk, bk in (("wk", "bk"), ("wv", "bv")):
                rep = [a // 2 for a in range(4)]   # q head a uses kv head a // (4/2)
                Lm[wk] = np.concatenate([Lg[wk][r * hd:(r + 1) * hd] for r in rep])
                Lm[bk] = np.concatenate([Lg[bk][r * hd:(r + 1) * hd] for r in rep])
            for key in ("attn_norm", "wq", "bq", "wo", "ffn_norm", "w_gate", "w_up", "w_down"):
                Lm[key] = Lg[key]
        m.tok_embd, m.output, m.output_norm = g.tok_embd, g.output, g.output_norm
        ids = [3, 1, 4, 1, 5]
        self.assertLess(np.max(np.abs(g.logits(ids) - m.logits(ids))), 1e-10)

    def test_bidirectional(self):
        m = load(W.tiny_model(arch="llada", n_head_kv=2, **SMALL))
        a = m.logits([1, 2, 3])
        b = m.logits([1, 2, 4])
        self.assertGreater(np.max(np.abs(a[0] - b[0])), 1e-6)

    def test_block_causal(self):
        """diffusion.block_length: bidirectional inside a block, causal across blocks."""
        for arch, kv in (("llada", 2), ("dream", 1)):
            m = load(W.tiny_model(arch=arch, n_head_kv=kv, **SMALL))
            self.assertEqual(m.block_length, 0)
            m.block_length = 2
            ids = [3, 0, 7, 7, 1]
            ref = naive_logits(m, ids, block=2)
            got = m.logits(ids)
            self.assertLess(np.max(np.abs(got - ref)), 1e-10 * max(1.0, np.max(np.abs(ref))))
            changed = m.logits([3, 0, 7, 7, 4])   # the last block only
            self.assertTrue(np.array_equal(got[:4], changed[:4]))
            self.assertGreater(np.max(np.abs(got[4] - changed[4])), 1e-6)
            inside = m.logits([3, 0, 7, 2, 1])    # position 3: block 1, seen by 2
            self.assertTrue(np.array_equal(got[:2], inside[:2]))
            self.assertGreater(np.max(np.abs(got[2] - inside[2])), 1e-6)
            m.block_length = 0
            self.assertGreater(np.max(np.abs(m.logits(ids)[0] - ref[0])), 1e-9)

    def test_tied_and_flags(self):
        m = load(W.tiny_model(arch="llada", n_head_kv=2, tied=True, mask_id=5, **SMALL))
        self.assertTrue(m.tied)
        self.assertIs(m.output, m.tok_embd)
        self.assertFalse(m.shift_logits)
        self.assertEqual(m.special_ids(), (5, 2, -1, 11))
        d = load(W.tiny_model(arch="dream", n_head_kv=1, shift_key=False, **SMALL))
        self.assertTrue(d.shift_logits)       # absent means shift
        self.assertTrue(d.half_split)
        self.assertFalse(load(W.tiny_model(arch="llada", n_head_kv=2, **SMALL)).half_split)

    def test_rejects(self):
        w = W.tiny_model(arch="llada", n_head_kv=2, **SMALL)
        w.kv = [kv for kv in w.kv if kv[0] != "llada.attention.layer_norm_rms_epsilon"]
        with self.assertRaises(G.GGUFError):
            load(w)
        w = W.tiny_model(arch="llada", n_head_kv=2, **SMALL)
        w.tensors = [t for t in w.tensors if t[0] != "blk.1.ffn_up.weight"]
        with self.assertRaises(G.GGUFError):
            load(w)
        m = load(W.tiny_model(arch="llada", n_head_kv=2, **SMALL))
        with self.assertRaises(ValueError):
            m.logits([11])


if __name__ == "__main__":
    unittest.main()

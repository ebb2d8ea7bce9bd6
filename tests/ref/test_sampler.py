"""Unit tests of the reference sampler (tests/ref/sampler.py) with synthetic logits."""

import os
import sys
import unittest

sys.dont_write_bytecode = True   # keep the source tree clean when meson runs us
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import sampler as S  # noqa: E402

NEG = -np.inf


def softmax(x):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max())
    return e / e.sum()


class TestRng(unittest.TestCase):
    def test_splitmix_seeding(self):
        # splitmix64's first output from state 0 is a well-known constant.
        self.assertEqual(S.Rng(0).s[0], 0xE220A8397B1DCDAF)

    def test_xoshiro_step(self):
        # Worked by hand from the algorithm for the state (1, 2, 3, 4).
        r = S.Rng(0)
        r.s = [1, 2, 3, 4]
        self.assertEqual([r.next_u64() for _ in range(3)], [11520, 0, 1509978240])

    def test_uniform_range_and_determinism(self):
        a, b = S.Rng(42), S.Rng(42)
        ua = a.uniforms(2000)
        self.assertTrue(np.array_equal(ua, b.uniforms(2000)))
        self.assertTrue(np.all(ua > 0) and np.all(ua < 1))
        self.assertLess(abs(ua.mean() - 0.5), 0.03)
        self.assertFalse(np.array_equal(ua[:10], S.Rng(43).uniforms(10)))

    def test_uniform_formula(self):
        r = S.Rng(7)
        s = list(r.s)
        x = r.next_u64()
        r2 = S.Rng(7)
        self.assertEqual(r2.s, s)
        self.assertEqual(r2.uniform(), ((x >> 11) + 0.5) / 2.0 ** 53)


class TestSchedules(unittest.TestCase):
    def test_block_counts(self):
        self.assertEqual(S.block_counts(10, 4), [3, 3, 2, 2])
        self.assertEqual(S.block_counts(32, 32), [1] * 32)
        self.assertEqual(S.block_counts(3, 5), [1, 1, 1, 0, 0])
        self.assertEqual(sum(S.block_counts(37, 6)), 37)

    def test_block_steps(self):
        self.assertEqual(S.block_steps(10, 4), [3, 3, 2, 2])
        self.assertEqual(S.block_steps(8, 4), [2, 2, 2, 2])
        with self.assertRaises(S.SamplerError):
            S.block_steps(3, 4)

    def test_timesteps_linspace(self):
        t = S.timesteps(32, 1e-3)
        self.assertEqual(t.dtype, np.float32)
        self.assertEqual(t[0], np.float32(1))
        self.assertEqual(t[-1], np.float32(1e-3))
        self.assertTrue(np.all(np.diff(t) < 0))
        self.assertTrue(np.allclose(t, np.linspace(1, 1e-3, 33), atol=1e-6))

    def test_dream_steps_equal_length(self):
        # doc/sampling.md, "Schedule TIMESTEPS": first step commits 0, last commits 2.
        for n in (32, 256, 512):
            c = S.timestep_counts(n, n, 1e-3)
            self.assertEqual(c[0], 0, n)
            self.assertEqual(c[-1], 2, n)
            self.assertEqual(sum(c), n)

    def test_dream_half_steps(self):
        c = S.timestep_counts(256, 128, 1e-3)
        self.assertEqual(sum(c), 256)
        self.assertEqual(c[-1], 3)
        self.assertTrue(all(k == 2 for k in c[1:-1]))


def fixed_logits(table):
    """A logits function that returns the same [n][V] table whatever the canvas."""
    table = np.asarray(table, dtype=np.float32)
    return lambda canvas: table[:len(canvas)]


class TestPredict(unittest.TestCase):
    sp = S.Specials(mask_id=3, eos_id=1, eot_id=2)

    def test_greedy_and_mask_excluded(self):
        p = S.Params(remasking="low_confidence")
        l = np.array([0.0, 1.0, 2.0, 9.0, 0.5], dtype=np.float32)
        x0, c = S.predict(l, p, self.sp, S.Rng(0))
        self.assertEqual(x0, 2)  # 3 is MASK
        ref = softmax([0.0, 1.0, 2.0, NEG, 0.5])[2]
        self.assertAlmostEqual(c, ref, places=12)

    def test_ties_lowest_id(self):
        p = S.Params()
        x0, _ = S.predict(np.array([1, 5, 5, 0, 5], np.float32), p, self.sp, S.Rng(0))
        self.assertEqual(x0, 1)

    def test_vocab_limit_and_eos_flag(self):
        l = np.array([0.0, 8.0, 1.0, 0.0, 7.0, 9.0], dtype=np.float32)
        sp = S.Specials(mask_id=3, eos_id=1, eot_id=2, n_vocab_tok=5)
        x0, _ = S.predict(l, S.Params(), sp, S.Rng(0))
        self.assertEqual(x0, 1)
        x0, _ = S.predict(l, S.Params(flags=S.FLAG_LOGITS_EOS_INF), sp, S.Rng(0))
        self.assertEqual(x0, 4)

    def test_confidence_eos_eot_inf(self):
        l = np.array([0.0, 8.0, 1.0, 0.0, 7.0], dtype=np.float32)
        p = S.Params(flags=S.FLAG_CONFIDENCE_EOS_EOT_INF)
        x0, c = S.predict(l, p, self.sp, S.Rng(0))
        self.assertEqual(x0, 1)
        self.assertEqual(c, 0.0)
        # a non-EOS choice: its confidence is taken without EOS/EoT in the softmax
        l2 = np.array([0.0, 8.0, 1.0, 0.0, 9.0], dtype=np.float32)
        _, c2 = S.predict(l2, p, self.sp, S.Rng(0))
        self.assertAlmostEqual(c2, softmax([0.0, NEG, NEG, NEG, 9.0])[4], places=12)

    def test_dream_confidences(self):
        l = np.array([2.0, 1.0, 0.5, 0.0, 1.5], dtype=np.float32)
        q = softmax([2.0, 1.0, 0.5, NEG, 1.5])
        _, c = S.predict(l, S.Params(remasking="maskgit_plus"), self.sp, S.Rng(0))
        self.assertAlmostEqual(c, q[0], places=12)
        _, c = S.predict(l, S.Params(remasking="topk_margin"), self.sp, S.Rng(0))
        self.assertAlmostEqual(c, q[0] - q[4], places=12)
        _, c = S.predict(l, S.Params(remasking="entropy"), self.sp, S.Rng(0))
        self.assertAlmostEqual(c, float(np.sum(q * np.log(q + 1e-10))), places=12)
        self.assertLess(c, 0)

    def test_temperature_divides_before_q(self):
        l = np.array([2.0, 1.0, 0.5, 0.0, 1.5], dtype=np.float32)
        p = S.Params(remasking="maskgit_plus", temperature=0.5)
        rng = S.Rng(3)
        x0, c = S.predict(l, p, self.sp, rng)
        q = softmax(np.array([2.0, 1.0, 0.5, NEG, 1.5]) / np.float64(np.float32(0.5)))
        self.assertAlmostEqual(c, q[x0], places=12)
        self.assertEqual(rng.n_draws, 5)   # one per vocabulary id, dropped ones included

    def test_top_p(self):
        # sorted probs of [3, 2, 1, 0] ~ 0.644, 0.237, 0.087, 0.032
        z = S.filter_logits(np.array([1.0, 3.0, 0.0, 2.0]), 0, 0.5, 0)
        self.assertEqual(list(np.isfinite(z)), [False, True, False, False])
        z = S.filter_logits(np.array([1.0, 3.0, 0.0, 2.0]), 0, 0.7, 0)
        self.assertEqual(list(np.isfinite(z)), [False, True, False, True])
        z = S.filter_logits(np.array([1.0, 3.0, 0.0, 2.0]), 0, 0.95, 0)
        self.assertEqual(list(np.isfinite(z)), [True, True, False, True])
        # ties sorted by id: the lower id survives a tight cut
        z = S.filter_logits(np.array([0.0, 5.0, 5.0, 0.0]), 0, 0.3, 0)
        self.assertEqual(list(np.isfinite(z)), [False, True, False, False])

    def test_top_k(self):
        z = S.filter_logits(np.array([1.0, 3.0, 0.0, 2.0, 2.0]), 0, 1.0, 2)
        self.assertEqual(list(np.isfinite(z)), [False, True, False, True, True])  # >= k-th
        z = S.filter_logits(np.array([1.0, 3.0, 0.0]), 0, 1.0, 5)
        self.assertTrue(np.all(np.isfinite(z)))

    def test_gumbel_samples_q(self):
        l = np.log(np.array([0.5, 0.3, 0.2, 1e-30, 1e-30], dtype=np.float64)).astype(np.float32)
        sp = S.Specials(mask_id=4)
        p = S.Params(temperature=1.0)
        rng = S.Rng(11)
        counts = np.zeros(5)
        n = 3000
        for _ in range(n):
            x0, _ = S.predict(l, p, sp, rng)
            counts[x0] += 1
        self.assertEqual(counts[4], 0)
        freq = counts[:3] / n
        # binomial standard error ~ 0.009; allow 4 sigma
        self.assertTrue(np.all(np.abs(freq - [0.5, 0.3, 0.2]) < 0.04), freq)

    def test_random_rule_draws(self):
        rng = S.Rng(5)
        ref = S.Rng(5)
        _, c = S.predict(np.zeros(5, np.float32), S.Params(remasking="random"), self.sp, rng)
        self.assertEqual(c, ref.uniform())
        rng = S.Rng(5)
        S.predict(np.zeros(5, np.float32), S.Params(remasking="origin", temperature=1), self.sp, rng)
        self.assertEqual(rng.n_draws, 6)


class TestGenerate(unittest.TestCase):
    V = 8
    MASK = 7

    def table(self, n, seed=0):
        return np.random.default_rng(seed).standard_normal((n, self.V)).astype(np.float32) * 3

    def test_blocks_greedy_order(self):
        prompt = [1, 2]
        G, B = 8, 4
        T = self.table(len(prompt) + G)
        p = S.Params(gen_length=G, steps=4, block_length=B)
        sp = S.Specials(self.MASK)
        g = S.Generation(fixed_logits(T), prompt, p, sp)
        order = []
        while not g.done():
            before = list(g.canvas)
            g.step()
            order.append([i for i in range(len(before)) if before[i] != g.canvas[i]])
        self.assertEqual([len(x) for x in order], [2, 2, 2, 2])
        # semi-AR: block 0 (positions 2..5) finishes before block 1 starts
        self.assertTrue(all(2 <= i < 6 for x in order[:2] for i in x))
        self.assertTrue(all(6 <= i < 10 for x in order[2:] for i in x))
        # with fixed logits each position commits its own argmax (MASK excluded)
        Tm = T.copy()
        Tm[:, self.MASK] = -np.inf
        self.assertEqual(g.canvas[2:], [int(np.argmax(Tm[i])) for i in range(2, 10)])
        # within block 0, the first step takes the two most confident positions
        conf = [softmax(Tm[i])[np.argmax(Tm[i])] for i in range(2, 6)]
        first = sorted(range(4), key=lambda i: -conf[i])[:2]
        self.assertEqual(sorted(order[0]), sorted(2 + i for i in first))

    def test_canvas_blocks_over_holes(self):
        # doc/sampling.md "Infilling": blocks are runs of block_length generated
        # positions in canvas order, spanning the fixed text between holes
        M = self.MASK
        canvas = [1, M, M, 2, 3, M, M, M, 4, M]
        T = self.table(len(canvas))
        sp = S.Specials(M)
        g = S.Generation(fixed_logits(T), None, S.Params(steps=6, block_length=3), sp, canvas=canvas)
        self.assertEqual(g.p.gen_length, 6)
        self.assertEqual([(lo, hi) for (lo, hi), _, _ in g._plan], [(1, 6)] * 3 + [(6, 10)] * 3)
        regions = []
        while not g.done():
            before = list(g.canvas)
            g.step()
            regions.append([i for i in range(len(before)) if before[i] != g.canvas[i]])
        self.assertEqual(sorted(i for r in regions[:3] for i in r), [1, 2, 5])
        self.assertEqual(sorted(i for r in regions[3:] for i in r), [6, 7, 9])
        for i in (0, 3, 4, 8):
            self.assertEqual(g.canvas[i], canvas[i])
        conf = g.confidences()
        self.assertEqual([c[1] for c in conf][:5], [-1, conf[1][1], conf[2][1], -1, -1])
        for i, (t, st, prob, score) in enumerate(conf):
            if canvas[i] == M:
                self.assertEqual(t, g.canvas[i])
                self.assertTrue(1 <= st <= 6)
                self.assertAlmostEqual(prob, score)   # low_confidence: the same number
            else:
                self.assertTrue(st == -1 and np.isnan(prob) and np.isnan(score))
        # [prompt | MASK x G] as a canvas is the prompt generation itself
        a = S.Generation(fixed_logits(T), [1, 2], S.Params(gen_length=8, steps=4, block_length=4), sp)
        b = S.Generation(fixed_logits(T), None, S.Params(steps=4, block_length=4), sp,
                         canvas=[1, 2] + [M] * 8)
        self.assertEqual(a.run(), b.run())
        # CFG masks every fixed position; early stop needs no fixed text after a MASK
        with self.assertRaises(S.SamplerError):
            S.Generation(fixed_logits(T), None, S.Params(flags=S.FLAG_EARLY_STOP), sp, canvas=canvas)

    def test_confidences_of_masked_positions(self):
        M = self.MASK
        T = self.table(6)
        sp = S.Specials(M)
        g = S.Generation(fixed_logits(T), [1], S.Params(gen_length=5, steps=5, block_length=5), sp)
        self.assertEqual(g.confidences()[1][:2], (-1, 0))   # nothing predicted yet
        g.step()
        for i, (t, st, prob, _) in enumerate(g.confidences()[1:], 1):
            if g.canvas[i] == M:
                Tm = T[i].copy()
                Tm[M] = -np.inf
                self.assertEqual((t, st), (int(np.argmax(Tm)), 0))
                self.assertAlmostEqual(prob, softmax(Tm)[t])

    def test_blocks_uneven_and_skipped(self):
        sp = S.Specials(self.MASK)
        T = self.table(10)
        # gen 7, block 3 -> blocks of 3, 3, 1; steps 5 -> 2, 2, 1 steps
        g = S.Generation(fixed_logits(T), [0], S.Params(gen_length=7, steps=5, block_length=3), sp)
        g.run()
        self.assertEqual(g.committed, [2, 1, 2, 1, 1])
        # more steps than masks: zero-count steps are skipped
        g = S.Generation(fixed_logits(T), [0], S.Params(gen_length=4, steps=8, block_length=0), sp)
        g.run()
        self.assertEqual(g.committed, [1, 1, 1, 1])
        self.assertNotIn(self.MASK, g.canvas)

    def test_errors(self):
        sp = S.Specials(self.MASK)
        T = self.table(10)
        with self.assertRaises(S.SamplerError):
            S.generate(fixed_logits(T), [0], S.Params(gen_length=8, steps=1, block_length=4), sp)
        with self.assertRaises(S.SamplerError):
            S.generate(fixed_logits(T), [self.MASK], S.Params(gen_length=4, steps=4), sp)

    def test_shift(self):
        # Each row prefers a different token; with shift, position p gets row p-1's choice.
        V = self.V
        T = np.full((6, V), -5.0, dtype=np.float32)
        for r in range(6):
            T[r, r % 6] = 5.0
        sp = S.Specials(self.MASK)
        p = S.Params(gen_length=4, steps=4, block_length=4)
        c0 = S.generate(fixed_logits(T), [6, 6], p, sp, shift=False)
        c1 = S.generate(fixed_logits(T), [6, 6], p, sp, shift=True)
        self.assertEqual(c0[2:], [2, 3, 4, 5])
        self.assertEqual(c1[2:], [1, 2, 3, 4])

    def test_cfg(self):
        V, M = self.V, self.MASK
        cond = np.zeros((4, V), np.float32)
        cond[:, 1] = 1.0
        cond[:, 2] = 0.8
        un = np.zeros((4, V), np.float32)
        un[:, 1] = 1.0
        un[:, 2] = 0.0

        def fn(canvas):
            return un if canvas[0] == M else cond
        sp = S.Specials(M)
        base = S.Params(gen_length=2, steps=2, block_length=2)
        self.assertEqual(S.generate(fn, [0, 0], base, sp)[2:], [1, 1])
        # un + 2*(cond-un): column 1 stays 1.0, column 2 becomes 1.6
        with_cfg = S.Params(gen_length=2, steps=2, block_length=2, cfg=1.0)
        self.assertEqual(S.generate(fn, [0, 0], with_cfg, sp)[2:], [2, 2])

    def test_timesteps_confidence(self):
        sp = S.Specials(self.MASK)
        T = self.table(40, seed=3)
        p = S.Params(gen_length=32, steps=32, schedule="timesteps", remasking="entropy")
        g = S.Generation(fixed_logits(T), [0], p, sp)
        g.run()
        self.assertEqual(g.committed, [k for k in S.timestep_counts(32, 32, 1e-3) if k])
        self.assertNotIn(self.MASK, g.canvas)

    def test_timesteps_origin_and_seed(self):
        sp = S.Specials(self.MASK)
        T = self.table(20, seed=4)
        mk = lambda seed: S.Params(gen_length=16, steps=8, schedule="timesteps",  # noqa: E731
                                   remasking="origin", temperature=1.0, seed=seed)
        a = S.Generation(fixed_logits(T), [0], mk(1), sp)
        a.run()
        b = S.generate(fixed_logits(T), [0], mk(1), sp)
        c = S.generate(fixed_logits(T), [0], mk(2), sp)
        self.assertEqual(a.canvas, b)
        self.assertNotEqual(b, c)
        self.assertNotIn(self.MASK, b)
        self.assertEqual(sum(a.committed), 16)

    def test_alg_temp_draws(self):
        sp = S.Specials(self.MASK)
        T = self.table(12, seed=5)
        p = S.Params(gen_length=8, steps=4, schedule="timesteps", remasking="maskgit_plus",
                     alg_temp=0.5, seed=9)
        g = S.Generation(fixed_logits(T), [0], p, sp)
        g.run()
        # greedy tokens need no draws; each step draws one per candidate
        cands = 0
        left = 8
        for k in g.committed:
            cands += left
            left -= k
        self.assertEqual(g.rng.n_draws, cands)
        self.assertNotIn(self.MASK, g.canvas)


if __name__ == "__main__":
    unittest.main()

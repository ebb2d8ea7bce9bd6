"""Unit tests of the reference block diffusion schedule (tests/ref/block_sampler.py) with
synthetic logits: the counts, LLaDA2's threshold commit, 2.1's editing and post steps,
padding, the starting block and the early stop, each worked out by hand from
doc/sampling.md "Block diffusion"."""

import math
import os
import sys
import unittest

sys.dont_write_bytecode = True   # keep the source tree clean when meson runs us
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import block_sampler as BS  # noqa: E402
import sampler as S  # noqa: E402

V, MASK, EOS = 10, 9, 8
SP = S.Specials(MASK, eos_id=EOS)


def strength(conf):
    """The logit a that gives a token probability conf against 8 other finite logits of 0
    (the MASK column is never a choice): e^a / (e^a + 8) = conf."""
    return math.log(8 * conf / (1 - conf))


def table(targets):
    """logits_fn from {position: (token, confidence)} (or a function of the canvas giving
    that map); other positions predict token 0 with probability 1/9."""
    def fn(canvas):
        t = targets(canvas) if callable(targets) else targets
        out = np.zeros((len(canvas), V), dtype=np.float32)
        for p, (tok, conf) in t.items():
            if p < len(canvas):
                out[p, tok] = strength(conf)
        return out
    return fn


def run(targets, prompt, gen, steps, B, **kw):
    bp = BS.BlockParams(gen, steps, B, **kw)
    g = BS.BlockGeneration(table(targets), prompt, bp, SP)
    g.run()
    return g


class TestRules(unittest.TestCase):
    def test_block_steps(self):
        self.assertEqual(BS.block_steps(12, 3), 4)
        self.assertEqual(BS.block_steps(13, 3), 4)
        self.assertEqual(BS.block_steps(2, 3), 1)      # at least one

    def test_scheduled(self):
        self.assertEqual([BS.scheduled(8, 6, j) for j in range(6)], [2, 2, 1, 1, 1, 1])
        self.assertEqual(BS.scheduled(8, 6, 6), 8)      # past the steps: every MASK left
        self.assertEqual([BS.scheduled(32, 4, j) for j in range(4)], [8] * 4)
        self.assertEqual([BS.scheduled(4, 8, j) for j in range(8)], [1, 1, 1, 1, 0, 0, 0, 0])

    def test_commit_count(self):
        self.assertEqual(BS.commit_count([0.99, 0.97, 0.5], 2, 0.95), 2)   # enough above
        self.assertEqual(BS.commit_count([0.99, 0.5, 0.4], 2, 0.95), 2)    # the schedule
        self.assertEqual(BS.commit_count([0.99, 0.98, 0.97, 0.1], 1, 0.95), 3)
        self.assertEqual(BS.commit_count([0.1], 3, 0.95), 1)               # capped
        self.assertEqual(BS.commit_count([0.95, 0.2], 1, 0.95), 1)         # strictly above
        self.assertEqual(BS.commit_count([0.9, 0.8], 0, 1.0), 0)

    def test_params_refused(self):
        for kw in (dict(block_threshold=1.5), dict(editing_threshold=1.0),
                   dict(max_post_steps=-1), dict(remasking="origin")):
            with self.assertRaises(S.SamplerError):
                BS.BlockParams(8, 4, 4, **kw).check()
        with self.assertRaises(S.SamplerError):
            BS.BlockParams(8, 4, 0).check()


class TestGeneration(unittest.TestCase):
    def test_padding_and_start_block(self):
        g = run({}, [1, 2, 3, 4, 5], 10, 6, 4, block_threshold=1.0)
        self.assertEqual(len(g.canvas), 16)             # 15 padded to whole blocks of 4
        self.assertEqual(g.canvas[:5], [1, 2, 3, 4, 5])
        self.assertNotIn(MASK, g.canvas)
        # blocks 1..3 decoded, 6 // 3 = 2 steps each: block 1 holds 3 MASKs (counts 2, 1),
        # blocks 2 and 3 four (2, 2)
        self.assertEqual(g.committed, [2, 1, 2, 2, 2, 2])

    def test_threshold_commits_all_above(self):
        confs = {4: (1, 0.99), 5: (2, 0.97), 6: (3, 0.96), 7: (4, 0.5)}
        g = run(confs, [1, 2, 3, 4], 8, 8, 4)              # 4 steps a block, counts 1
        self.assertEqual(g.committed[0], 3)                # three above 0.95
        self.assertEqual(g.canvas[4:8], [1, 2, 3, 4])
        self.assertEqual(g.commit_step[4:8], [1, 1, 1, 2])
        g = run(confs, [1, 2, 3, 4], 8, 8, 4, block_threshold=1.0)
        self.assertEqual(g.committed[:4], [1, 1, 1, 1])    # the counts only
        self.assertEqual(g.commit_step[4:8], [1, 2, 3, 4])  # most confident first

    def test_schedule_wins_when_few_above(self):
        # one above the threshold, scheduled 2: the two most confident commit
        confs = {0: (1, 0.99), 1: (2, 0.3), 2: (3, 0.6), 3: (4, 0.2)}
        g = run(confs, [], 4, 2, 4)
        self.assertEqual(g.committed, [2, 2])
        self.assertEqual(g.commit_step[:4], [1, 2, 1, 2])

    def test_editing_and_post_steps(self):
        # position 0 predicts 1 (confidence 0.99) while position 1 is MASK, then 2 (0.9);
        # position 1 always predicts 3 (0.5). One block of 2, 2 steps, counts 1 and 1.
        def targets(c):
            return {0: (2, 0.9) if c[1] != MASK else (1, 0.99), 1: (3, 0.5)}
        plain = run(targets, [], 2, 2, 2)
        self.assertEqual((plain.canvas, plain.committed), ([1, 3], [1, 1]))
        # editing without post steps: step 2 still sees position 1 masked, so position 0
        # predicts its own token; the block ends with its last MASK
        g = run(targets, [], 2, 2, 2, editing_threshold=0.8)
        self.assertEqual((g.canvas, g.committed), ([1, 3], [1, 1]))
        # one post step: it edits position 0 (2 differs, 0.9 > 0.8)
        g = run(targets, [], 2, 2, 2, editing_threshold=0.8, max_post_steps=1)
        self.assertEqual((g.canvas, g.committed), ([2, 3], [1, 1, 1]))
        self.assertEqual(g.commit_step, [3, 2])
        self.assertEqual(g.pred[0][:2], (3, 2))
        # up to three: the second post step edits nothing and ends the block
        g = run(targets, [], 2, 2, 2, editing_threshold=0.8, max_post_steps=3)
        self.assertEqual((g.canvas, g.committed), ([2, 3], [1, 1, 1, 0]))
        # an editing threshold above the confidence: one post step that edits nothing
        g = run(targets, [], 2, 2, 2, editing_threshold=0.95, max_post_steps=3)
        self.assertEqual((g.canvas, g.committed), ([1, 3], [1, 1, 0]))
        # the prompt is never edited: position 0 fixed, position 1 generated
        g = run({0: (7, 0.99), 1: (3, 0.99)}, [5], 1, 1, 2, editing_threshold=0.5,
                max_post_steps=2)
        self.assertEqual((g.canvas, g.committed), ([5, 3], [1, 0]))

    def test_early_stop(self):
        # block 0 = [1, 2, M, M], scheduled 2 at its first step: EOS (0.99) and 5 commit;
        # the text ends at position 2, so every later MASK (block 1, the padding) is EOS
        confs = {2: (EOS, 0.99), 3: (5, 0.2), 4: (5, 0.2)}
        g = run(confs, [1, 2], 6, 6, 4, flags=S.FLAG_EARLY_STOP)
        self.assertTrue(g.stopped)
        self.assertEqual(g.canvas, [1, 2, EOS, 5] + [EOS] * 4)
        self.assertEqual(g.committed, [6])
        self.assertEqual(g.filled, [False] * 4 + [True] * 4)
        g = run(confs, [1, 2], 6, 6, 4)
        self.assertFalse(g.stopped)
        self.assertEqual(g.canvas[4], 5)


if __name__ == "__main__":
    unittest.main()

"""Reference of the block diffusion schedule (doc/sampling.md "Block diffusion"): LLaDA2's
threshold commits and LLaDA2.1's token editing, in plain Python + numpy.

Written from doc/sampling.md, not from lib/sched. One prediction is sampler.predict_full
(the same per-candidate rules and random stream as the other schedules); the logits come
from a logits function over the whole canvas, which for a block-causal model (the
reference model.Model honours diffusion.block_length) is what the library's exact block
cache reproduces. So this recomputes everything at every step, as the Hugging Face
reference does.
"""

import numpy as np

import sampler
from sampler import FLAG_EARLY_STOP, Rng, SamplerError, f32, predict_full, text_end


def block_steps(steps, n_blocks):
    """Denoising steps of each decoded block: steps / n_blocks, at least 1."""
    return max(1, steps // n_blocks)


def scheduled(block_length, s, j):
    """The scheduled count of step j (0-based) of a block with s steps: block_length
    split evenly (the first block_length mod s steps one more); every remaining MASK
    from step s on."""
    if j >= s:
        return block_length
    return block_length // s + (1 if j < block_length % s else 0)


def commit_count(ranked_conf, sched, threshold):
    """ranked_conf: the MASK candidates' confidences, descending. All of those above the
    threshold if they are at least the scheduled count, else the scheduled count (at
    most all of them)."""
    high = sum(1 for c in ranked_conf if c > float(threshold))
    if high >= sched:
        return high
    return min(sched, len(ranked_conf))


class BlockParams:
    """The sampler.Params fields the schedule reads, and its own three."""

    def __init__(self, gen_length, steps, block_length, remasking="low_confidence",
                 temperature=0.0, top_k=0, top_p=1.0, cfg=0.0, seed=0, flags=0,
                 block_threshold=0.95, editing_threshold=0.0, max_post_steps=0):
        self.p = sampler.Params(gen_length=gen_length, steps=steps, block_length=block_length,
                                schedule="blocks", remasking=remasking,
                                temperature=temperature, top_k=top_k, top_p=top_p, cfg=cfg,
                                seed=seed, flags=flags)
        self.block_threshold = f32(block_threshold)
        self.editing_threshold = f32(editing_threshold)
        self.max_post_steps = int(max_post_steps)

    def check(self):
        self.p.check()
        if self.p.block_length < 1:
            raise SamplerError("block diffusion needs the model's block length > 0")
        if self.p.remasking == "origin":
            raise SamplerError("block diffusion needs a confidence rule, not origin")
        if not 0 <= self.block_threshold <= 1:
            raise SamplerError("block_threshold must be in [0, 1]")
        if not 0 <= self.editing_threshold < 1:
            raise SamplerError("editing_threshold must be in [0, 1)")
        if self.max_post_steps < 0:
            raise SamplerError("max_post_steps must be >= 0")


class BlockGeneration:
    """The canvas and its steps; run() goes to completion. logits_fn(canvas) ->
    [len(canvas)][n_vocab] unshifted logits; shift: position p reads row p - 1 (row 0
    for p = 0)."""

    def __init__(self, logits_fn, prompt, bp, specials, shift=False):
        bp.check()
        p, B, mask = bp.p, bp.p.block_length, specials.mask_id
        prompt = [int(x) for x in prompt]
        if mask in prompt:
            raise SamplerError("the prompt contains the MASK id %d" % mask)
        n = len(prompt) + p.gen_length
        length = -(-n // B) * B
        self.canvas = prompt + [mask] * (length - len(prompt))
        self.fixed = [i < len(prompt) for i in range(length)]
        self.P = len(prompt)
        self.logits_fn, self.bp, self.p, self.sp, self.shift = logits_fn, bp, p, specials, shift
        self.B = B
        self.n_blocks = length // B
        self.block = len(prompt) // B
        self.s = block_steps(p.steps, self.n_blocks - self.block)
        self.j = 0                     # denoising steps run in the current block
        self.post = 0                  # editing-only steps run in it
        self.rng = Rng(p.seed)
        self.steps_run = 0
        self.committed = []            # per step: tokens written (commits, edits, fills)
        self.stopped = False
        self.pred = [None] * length    # (step, x0, probability, score) of the last prediction
        self.commit_step = [0] * length
        self.filled = [False] * length

    def editing(self):
        return self.bp.editing_threshold > 0

    def done(self):
        return self.stopped or self.block >= self.n_blocks

    def _logits(self):
        cond = np.asarray(self.logits_fn(self.canvas), dtype=np.float32)
        if self.p.cfg > 0:
            un_canvas = [self.sp.mask_id if f else x for x, f in zip(self.canvas, self.fixed)]
            un = np.asarray(self.logits_fn(un_canvas), dtype=np.float32)
            cond = (un + (self.p.cfg + f32(1)) * (cond - un)).astype(np.float32)
        return cond

    def step(self):
        mask, B = self.sp.mask_id, self.B
        lo, hi = self.block * B, (self.block + 1) * B
        cands = [i for i in range(lo, hi)
                 if self.canvas[i] == mask or (self.editing() and not self.fixed[i])]
        logits = self._logits()
        step_no = self.steps_run + 1
        pred = {}
        for pos in cands:      # in position order: the random draws follow it
            row = max(pos - 1, 0) if self.shift else pos
            pred[pos] = predict_full(logits[row], self.p, self.sp, self.rng)
        written = 0
        masked = [pos for pos in cands if self.canvas[pos] == mask]
        edits = 0
        for pos in cands:
            x0, c, prob = pred[pos]
            if self.canvas[pos] == mask:
                self.pred[pos] = (step_no, x0, prob, c)
            elif x0 != self.canvas[pos] and c > float(self.bp.editing_threshold):
                self.canvas[pos] = x0
                self.commit_step[pos] = step_no
                self.pred[pos] = (step_no, x0, prob, c)
                edits += 1
        if masked:
            order = sorted(masked, key=lambda pos: (-pred[pos][1], pos))
            k = commit_count([pred[pos][1] for pos in order], scheduled(B, self.s, self.j),
                             self.bp.block_threshold)
            for pos in order[:k]:
                self.canvas[pos] = pred[pos][0]
                self.commit_step[pos] = step_no
            written += k
            self.j += 1
        else:
            self.post += 1
        written += edits
        if (self.p.flags & FLAG_EARLY_STOP) and mask in self.canvas:
            end = text_end(self.canvas, self.P, self.sp)
            fill = self.sp.eos_id if self.sp.eos_id >= 0 else self.sp.eot_id
            if end is not None and fill >= 0:
                for i in range(end + 1, len(self.canvas)):
                    if self.canvas[i] == mask:
                        self.canvas[i] = fill
                        self.commit_step[i] = step_no
                        self.filled[i] = True
                        written += 1
                self.stopped = True
        self.steps_run += 1
        self.committed.append(written)
        if not self.stopped and mask not in self.canvas[lo:hi] and (
                not self.editing() or self.post >= self.bp.max_post_steps
                or (not masked and edits == 0)):
            self.block += 1
            self.j = self.post = 0
        return written

    def run(self):
        while not self.done():
            self.step()
        return self.canvas

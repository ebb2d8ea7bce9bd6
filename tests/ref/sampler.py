"""Reference denoising sampler: the contract of doc/sampling.md, in plain Python + numpy.

Written from doc/sampling.md ("The published samplers" included), not from
lib/sched. It takes a logits function (canvas ids -> [len(canvas)][n_vocab] unshifted
logits) so it is tested with synthetic logits and run with the reference model.

Precision follows the contract: logits rows are float32; temperature, top_p, eps, cfg
and alg_temp are float32 parameters; the BLOCKS counts are integer arithmetic; the
TIMESTEPS times and ratios are float32; everything probabilistic (softmax, Gumbel keys,
confidences) is double.
"""

import math

import numpy as np

MASK64 = (1 << 64) - 1

SCHEDULES = ("blocks", "timesteps")
REMASKINGS = ("low_confidence", "random", "origin", "maskgit_plus", "topk_margin", "entropy")
CONFIDENCE_RULES = ("low_confidence", "random", "maskgit_plus", "topk_margin", "entropy")

PARALLELS = ("none", "threshold", "factor")

FLAG_LOGITS_EOS_INF = 1
FLAG_CONFIDENCE_EOS_EOT_INF = 2
FLAG_EARLY_STOP = 4
FLAG_ALL_LOGITS = 8          # which head rows are computed: no effect on the tokens
FLAG_NAMES = {"logits_eos_inf": FLAG_LOGITS_EOS_INF,
              "confidence_eos_eot_inf": FLAG_CONFIDENCE_EOS_EOT_INF,
              "early_stop": FLAG_EARLY_STOP,
              "all_logits": FLAG_ALL_LOGITS}
KNOWN_FLAGS = FLAG_LOGITS_EOS_INF | FLAG_CONFIDENCE_EOS_EOT_INF | FLAG_EARLY_STOP | FLAG_ALL_LOGITS

f32 = np.float32


class SamplerError(ValueError):
    pass


# ---------------------------------------------------------------- random stream

def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK64


class Rng:
    """xoshiro256** seeded with the first four outputs of splitmix64 started at `seed`."""

    def __init__(self, seed):
        sm = seed & MASK64
        s = []
        for _ in range(4):
            sm = (sm + 0x9E3779B97F4A7C15) & MASK64
            z = sm
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            s.append(z ^ (z >> 31))
        self.s = s
        self.n_draws = 0

    def next_u64(self):
        s0, s1, s2, s3 = self.s
        result = (_rotl((s1 * 5) & MASK64, 7) * 9) & MASK64
        t = (s1 << 17) & MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def uniform(self):
        """Strictly inside (0, 1): ((x >> 11) + 0.5) * 2^-53."""
        self.n_draws += 1
        return ((self.next_u64() >> 11) + 0.5) * (2.0 ** -53)

    def uniforms(self, n):
        return np.array([self.uniform() for _ in range(n)], dtype=np.float64)


# ---------------------------------------------------------------- parameters

class Params:
    """The generation settings, with AUTO already resolved by the caller."""

    def __init__(self, gen_length=128, steps=128, block_length=32, schedule="blocks",
                 remasking="low_confidence", temperature=0.0, top_k=0, top_p=1.0,
                 cfg=0.0, eps=1e-3, alg_temp=0.0, seed=0, flags=0, parallel="none",
                 threshold=0.9, factor=1.0):
        self.gen_length = int(gen_length)
        self.steps = int(steps)
        self.block_length = int(block_length)
        self.schedule = schedule
        self.remasking = remasking
        self.temperature = f32(temperature)
        self.top_k = int(top_k)
        self.top_p = f32(top_p)
        self.cfg = f32(cfg)
        self.eps = f32(eps)
        self.alg_temp = f32(alg_temp)
        self.seed = int(seed)
        self.flags = int(flags)
        self.parallel = parallel
        self.threshold = f32(threshold)
        self.factor = f32(factor)

    def check(self):
        if self.schedule not in SCHEDULES:
            raise SamplerError("schedule %r is not one of %s" % (self.schedule, SCHEDULES))
        if self.remasking not in REMASKINGS:
            raise SamplerError("remasking %r is not one of %s" % (self.remasking, REMASKINGS))
        if self.gen_length < 1:
            raise SamplerError("gen_length must be >= 1")
        if self.steps < 1:
            raise SamplerError("steps must be >= 1")
        if self.block_length < 0:
            raise SamplerError("block_length must be >= 0")
        if self.top_k < 0:
            raise SamplerError("top_k must be >= 0")
        if not self.temperature >= 0:
            raise SamplerError("temperature must be >= 0")
        if self.schedule == "timesteps" and not (0 <= self.eps < 1):
            raise SamplerError("eps must be in [0, 1)")
        if self.flags & ~KNOWN_FLAGS:
            raise SamplerError("unknown flags 0x%x" % self.flags)
        if self.parallel not in PARALLELS:
            raise SamplerError("parallel %r is not one of %s" % (self.parallel, PARALLELS))
        if self.parallel == "threshold" and not 0 < self.threshold <= 1:
            raise SamplerError("threshold must be in (0, 1]")
        if self.parallel == "factor" and not (self.factor > 0 and math.isfinite(self.factor)):
            raise SamplerError("factor must be > 0")
        if self.parallel != "none" and self.remasking == "origin":
            raise SamplerError("parallel decoding needs a confidence rule, not origin")


class Specials:
    """Token ids the sampler must know: -1 where the model has none. n_vocab_tok is the
    tokenizer's vocabulary size; logits columns at or past it are never chosen."""

    def __init__(self, mask_id, eos_id=-1, eot_id=-1, n_vocab_tok=None):
        self.mask_id = int(mask_id)
        self.eos_id = int(eos_id)
        self.eot_id = int(eot_id)
        self.n_vocab_tok = n_vocab_tok


# ---------------------------------------------------------------- schedules

def block_counts(n, s):
    """BLOCKS: step j of s commits n div s, plus one for j < n mod s."""
    return [n // s + (1 if j < n % s else 0) for j in range(s)]


def block_steps(steps, nb):
    """BLOCKS: steps spread over nb blocks; block b gets steps/nb, plus one for b < steps mod nb."""
    if steps < nb:
        raise SamplerError("steps (%d) < number of blocks (%d)" % (steps, nb))
    return [steps // nb + (1 if b < steps % nb else 0) for b in range(nb)]


def timesteps(steps, eps):
    """t = linspace(1, eps, steps + 1) in float32, computed as PyTorch's CPU kernel does."""
    eps = f32(eps)
    step = f32(f32(eps - f32(1)) / f32(steps))
    t = np.empty(steps + 1, dtype=np.float32)
    half = (steps + 1) // 2
    for i in range(steps + 1):
        if i < half:
            t[i] = f32(f32(1) + f32(step * f32(i)))
        else:
            t[i] = f32(eps - f32(step * f32(steps - i)))
    return t


def timestep_ratio(t, i):
    return f32(f32(1) - f32(t[i + 1] / t[i]))


def timestep_counts(gen_length, steps, eps):
    """TIMESTEPS, confidence rules: the count committed at each step (0 = skipped)."""
    t = timesteps(steps, eps)
    m = gen_length
    out = []
    for i in range(steps):
        if i == steps - 1:
            k = m
        else:
            k = min(m, int(f32(f32(m) * timestep_ratio(t, i))))
        out.append(k)
        m -= k
    return out


# ---------------------------------------------------------------- one prediction

def _softmax(z):
    """softmax in double; z may contain -inf (at least one entry finite)."""
    z = np.asarray(z, dtype=np.float64)
    m = np.max(z)
    e = np.exp(z - m)
    return e / np.sum(e)


def filter_logits(l, temperature, top_p, top_k):
    """Step 2: z = l / T (T > 0), then top-p, then top-k; dropped entries are -inf. Double."""
    z = np.asarray(l, dtype=np.float64).copy()
    if temperature > 0:
        z = z / float(temperature)
    n = z.size
    if 0 < top_p < 1:
        order = np.lexsort((np.arange(n), -z))          # descending, ties by id
        p = _softmax(z[order])
        run = np.cumsum(p)
        drop = np.zeros(n, dtype=bool)
        drop[1:] = run[:-1] > float(top_p)
        z[order[drop]] = -np.inf
    if 0 < top_k < n:
        kth = np.sort(z)[::-1][top_k - 1]
        z[z < kth] = -np.inf
    return z


def predict(l, p, sp, rng):
    """Steps 1-6 for one candidate position. l: float32 logits row (copied).
    Returns (x0, confidence)."""
    x0, c, _ = predict_full(l, p, sp, rng)
    return x0, c


def predict_full(l, p, sp, rng):
    """predict, and the probability "Confidences" reports: softmax(l)[x0] of the row
    after step 1, before step 5. Returns (x0, confidence, probability)."""
    l = np.array(l, dtype=np.float32)
    n = l.size
    # 1. columns that can never be chosen
    l[sp.mask_id] = -np.inf
    if sp.n_vocab_tok is not None and sp.n_vocab_tok < n:
        l[sp.n_vocab_tok:] = -np.inf
    if (p.flags & FLAG_LOGITS_EOS_INF) and sp.eos_id >= 0:
        l[sp.eos_id] = -np.inf
    # 2. the filtered distribution
    z = filter_logits(l, p.temperature, p.top_p, p.top_k)
    # 3. the token
    if p.temperature > 0:
        u = rng.uniforms(n)
        x0 = int(np.argmax(z + (-np.log(-np.log(u)))))
    else:
        x0 = int(np.argmax(z))
    # 4. the position's own draw
    r = rng.uniform() if p.remasking in ("random", "origin") else None
    ld = l.astype(np.float64)
    prob = float(_softmax(ld)[x0]) if np.isfinite(ld).any() else 0.0
    # 5. predicted EOS/EoT commit last
    if p.flags & FLAG_CONFIDENCE_EOS_EOT_INF:
        for t in (sp.eos_id, sp.eot_id):
            if t >= 0:
                ld[t] = -np.inf
                z[t] = -np.inf
    # 6. the confidence
    rule = p.remasking
    if rule == "low_confidence":
        c = float(_softmax(ld)[x0])
    elif rule in ("random", "origin"):
        c = r
    else:
        q = _softmax(z)
        if rule == "maskgit_plus":
            c = float(q[x0])
        elif rule == "topk_margin":
            top = np.sort(q)[::-1]
            c = float(top[0] - (top[1] if top.size > 1 else 0.0))
        elif rule == "entropy":
            c = float(np.sum(q * np.log(q + 1e-10)))
        else:
            raise SamplerError("unknown remasking %r" % rule)
    return x0, c, prob


def threshold_count(sorted_conf, threshold):
    """Threshold rule on confidences sorted descending: the first always, then every
    other >= threshold (a prefix, since they are sorted)."""
    if not sorted_conf:
        return 0
    n = 1
    while n < len(sorted_conf) and sorted_conf[n] >= float(threshold):
        n += 1
    return n


def factor_count(sorted_conf, factor):
    """Factor rule: scan ranks r = 1..N; rank 1 passes; rank r fails when c_r is below
    1 - factor/(r+1). The first failure at r < N commits r - 1; reaching the last rank
    (failing there or not at all) commits all N."""
    n = len(sorted_conf)
    for r in range(2, n + 1):
        if sorted_conf[r - 1] < 1.0 - float(factor) / (r + 1):
            return n if r == n else r - 1
    return n


def text_end(canvas, lo, sp):
    """Early stop: the first EOS/EoT at or after lo if every position before it is
    decoded, else None."""
    for i in range(lo, len(canvas)):
        t = canvas[i]
        if t == sp.mask_id:
            return None
        if t in (sp.eos_id, sp.eot_id) and t >= 0:
            return i
    return None


def choose_top(cands, conf, k):
    """The k candidates with the largest confidence; ties go to the lower position."""
    order = sorted(range(len(cands)), key=lambda i: (-conf[i], cands[i]))
    return [cands[i] for i in order[:k]]


# ---------------------------------------------------------------- the whole generation

class Generation:
    """Holds the canvas and runs steps; `run()` goes to completion.

    logits_fn(canvas) -> array [len(canvas)][n_vocab] of unshifted logits.
    shift: the logits of position p come from row p - 1 (row 0 for p = 0)."""

    def __init__(self, logits_fn, prompt, params, specials, shift=False, canvas=None):
        """canvas: doc/sampling.md "Infilling": the whole canvas with MASK anywhere
        (prompt is then ignored and gen_length becomes the number of MASKs)."""
        if canvas is not None:
            canvas = [int(x) for x in canvas]
            params.gen_length = sum(1 for x in canvas if x == specials.mask_id)
        params.check()
        if canvas is None:
            prompt = [int(x) for x in prompt]
            if specials.mask_id in prompt:
                raise SamplerError("the prompt contains the MASK id %d" % specials.mask_id)
            canvas = prompt + [specials.mask_id] * params.gen_length
        self.logits_fn = logits_fn
        self.p = params
        self.sp = specials
        self.shift = shift
        self.canvas = canvas
        # the generated positions g_0 < g_1 < ... and the fixed ones
        self.gen = [i for i, x in enumerate(canvas) if x == specials.mask_id]
        self.fixed = [x != specials.mask_id for x in canvas]
        self.P = self.gen[0]
        if (params.flags & FLAG_EARLY_STOP) and any(self.fixed[self.P:]):
            raise SamplerError("early stop with fixed text after a MASK")
        # Confidences: per position (step, x0, probability, score) of its last prediction,
        # and the step that committed it (0 = none), the fill flag of an early stop
        self.pred = [None] * len(canvas)
        self.commit_step = [0] * len(canvas)
        self.filled = [False] * len(canvas)
        self.rng = Rng(params.seed)
        self.steps_run = 0
        self.committed = []          # per step run: count committed
        self.stopped = False
        self._block = 0              # parallel rules on BLOCKS: the current block
        self._plan = [] if params.parallel != "none" else list(self._plan_steps())

    def _plan_steps(self):
        """Yields (candidate region (lo, hi), count or None for ORIGIN, is_last, ratio)."""
        p, G, g = self.p, self.p.gen_length, self.gen
        if p.schedule == "blocks":
            bl = p.block_length if p.block_length > 0 and p.block_length <= G else G
            nb = -(-G // bl)
            per_block = block_steps(p.steps, nb)
            for b in range(nb):
                first, last = b * bl, min((b + 1) * bl, G) - 1
                lo, hi = g[first], g[last] + 1
                for k in block_counts(last - first + 1, per_block[b]):
                    if k > 0:
                        yield (lo, hi), k, None
        else:
            t = timesteps(p.steps, p.eps)
            if p.remasking == "origin":
                for i in range(p.steps):
                    last = i == p.steps - 1
                    yield (g[0], g[-1] + 1), None, (None if last else timestep_ratio(t, i))
            else:
                for k in timestep_counts(G, p.steps, p.eps):
                    if k > 0:
                        yield (g[0], g[-1] + 1), k, None

    def _logits(self):
        cond = np.asarray(self.logits_fn(self.canvas), dtype=np.float32)
        if self.p.cfg > 0:
            un_canvas = [self.sp.mask_id if f else x for x, f in zip(self.canvas, self.fixed)]
            un = np.asarray(self.logits_fn(un_canvas), dtype=np.float32)
            cond = (un + (self.p.cfg + f32(1)) * (cond - un)).astype(np.float32)
        return cond

    def n_masked(self):
        return sum(1 for x in self.canvas if x == self.sp.mask_id)

    def done(self):
        if self.n_masked() == 0:
            return True
        return self.p.parallel == "none" and self.steps_run >= len(self._plan)

    def _rule_region(self):
        """Parallel rules: BLOCKS run each block until it has no MASK; TIMESTEPS choose
        from the whole generated region."""
        p, G, g = self.p, self.p.gen_length, self.gen
        if p.schedule != "blocks":
            return g[0], g[-1] + 1
        bl = p.block_length if p.block_length > 0 and p.block_length <= G else G
        while True:
            b = self._block
            lo, hi = g[b * bl], g[min((b + 1) * bl, G) - 1] + 1
            if any(self.canvas[i] == self.sp.mask_id for i in range(lo, hi)):
                return lo, hi
            self._block += 1

    def step(self):
        """Runs the next step; returns the number committed."""
        if self.p.parallel != "none":
            (lo, hi), k, ratio = self._rule_region(), "rule", None
        else:
            (lo, hi), k, ratio = self._plan[self.steps_run]
        mask = self.sp.mask_id
        cands = [i for i in range(lo, hi) if self.canvas[i] == mask]
        logits = self._logits()
        x0s, confs = [], []
        for pos in cands:
            row = max(pos - 1, 0) if self.shift else pos
            x0, c, prob = predict_full(logits[row], self.p, self.sp, self.rng)
            x0s.append(x0)
            confs.append(c)
            self.pred[pos] = (self.steps_run + 1, x0, prob, c)
        if k == "rule":
            order = sorted(range(len(cands)), key=lambda i: (-confs[i], cands[i]))
            ranked = [confs[i] for i in order]
            if self.p.parallel == "threshold":
                n = threshold_count(ranked, self.p.threshold)
            else:
                n = factor_count(ranked, self.p.factor)
            win = [cands[i] for i in order[:n]]
        elif k is None:
            # ORIGIN on TIMESTEPS: each candidate commits with probability ratio.
            win = [cands[i] for i in range(len(cands))
                   if ratio is None or confs[i] < float(ratio)]
        else:
            k = min(k, len(cands))
            if self.p.schedule == "timesteps" and self.p.alg_temp > 0:
                at = float(self.p.alg_temp)
                keys = [confs[i] / at - math.log(-math.log(self.rng.uniform()))
                        for i in range(len(cands))]
                win = choose_top(cands, keys, k)
            else:
                win = choose_top(cands, confs, k)
        pick = dict(zip(cands, x0s))
        for pos in win:
            self.canvas[pos] = pick[pos]
            self.commit_step[pos] = self.steps_run + 1
        n = len(win)
        if (self.p.flags & FLAG_EARLY_STOP) and self.n_masked() > 0:
            end = text_end(self.canvas, self.P, self.sp)
            fill = self.sp.eos_id if self.sp.eos_id >= 0 else self.sp.eot_id
            if end is not None and fill >= 0:
                for i in range(end + 1, len(self.canvas)):
                    if self.canvas[i] == mask:
                        self.canvas[i] = fill
                        self.commit_step[i] = self.steps_run + 1
                        self.filled[i] = True
                        n += 1
                self.stopped = True
        self.steps_run += 1
        self.committed.append(n)
        return n

    def confidences(self):
        """doc/sampling.md "Confidences": per position (token, step, probability, score),
        NaN where there is none; step -1 fixed, 0 still masked."""
        nan = float("nan")
        out = []
        for i, t in enumerate(self.canvas):
            pr = self.pred[i]
            if self.fixed[i]:
                out.append((t, -1, nan, nan))
            elif t != self.sp.mask_id:
                if self.filled[i]:
                    out.append((t, self.commit_step[i], nan, nan))
                else:
                    out.append((t, self.commit_step[i], pr[2], pr[3]))
            elif pr is not None and pr[0] == self.steps_run:
                out.append((pr[1], 0, pr[2], pr[3]))
            else:
                out.append((-1, 0, nan, nan))
        return out

    def run(self):
        while not self.done():
            self.step()
        return self.canvas


def generate(logits_fn, prompt, params, specials, shift=False, canvas=None):
    return Generation(logits_fn, prompt, params, specials, shift, canvas).run()

"""difflm_score against an independent reference: LLaDA's Monte Carlo ELBO computed
here from its definition (doc/api.md, "Scoring") over the numpy reference model
(tests/ref/model.py), with the same random stream re-implemented in Python (the
xoshiro256** of tests/ref/sampler.py; the bounded draw, the partial Fisher-Yates and
the stratified counts written from the documented rules). So both sides draw the same
masks, and the estimates (a mean of mc losses, each a sum of cross-entropies) must agree
to the float32-vs-float64 difference of the forward passes: within 1e-4 relative. The C
side also runs with 1, 2 and 3 threads and must print the same bits.

usage: ref_score.py SCORE_IDS LLADA.gguf DREAM.gguf"""
import math
import os
import subprocess
import sys

SRC = os.environ.get("DIFFLM_SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(SRC, "tests", "ref"))

import numpy as np  # noqa: E402

from gguf import GGUFReader  # noqa: E402
from model import Model  # noqa: E402
from sampler import Rng  # noqa: E402


def below(rng, n):
    """Uniform in [0, n): draws until x >= 2^64 mod n, then x mod n."""
    reject = (1 << 64) % n
    while True:
        x = rng.next_u64()
        if x >= reject:
            return x % n


def choose(rng, m, L):
    """The first m steps of a Fisher-Yates shuffle of 0..L-1."""
    idx = list(range(L))
    for i in range(m):
        j = i + below(rng, L - i)
        idx[i], idx[j] = idx[j], idx[i]
    return idx[:m]


def count(k, L, b, i):
    """((round(k + i*L/b) - 1) mod L) + 1, exact rational, ties to even."""
    num, den = k * b + i * L, b
    q, r = divmod(num, den)
    if 2 * r > den or (2 * r == den and q % 2 == 1):
        q += 1
    return (q - 1) % L + 1


def reference(model, mask_id, prompt, answer, mc, batch, seed):
    L, P = len(answer), len(prompt)
    shift = 1 if model.shift_logits else 0
    rng = Rng(seed)
    losses, iter_means = [], []
    for _ in range(mc // batch):
        k = 1 + below(rng, L)
        row_losses = []
        for i in range(batch):
            m = count(k, L, batch, i)
            masked = choose(rng, m, L)
            noisy = np.array(prompt + answer, dtype=np.int64)
            for p in masked:
                noisy[P + p] = mask_id
            lg = model.logits(noisy)
            ce = 0.0
            for p in masked:
                row = lg[P + p - shift]
                mx = row.max()
                ce += mx + math.log(np.exp(row - mx).sum()) - row[answer[p]]
            row_losses.append(ce * L / m)
        losses += row_losses
        iter_means.append(sum(row_losses) / batch)
    nll = sum(losses) / len(losses)
    if len(iter_means) >= 2:
        var = np.var(iter_means, ddof=1) / len(iter_means)
    else:
        var = np.var(losses, ddof=1) / batch
    return nll, var


def run_c(tool, path, threads, mc, batch, seed, prompt, answer):
    ids = lambda v: ",".join(map(str, v)) if v else "-"  # noqa: E731
    out = subprocess.run([tool, path, str(threads), str(mc), str(batch), str(seed), ids(prompt),
                          ids(answer)], check=True, capture_output=True, text=True).stdout
    f = out.split()
    return float(f[0]), float(f[1]), int(f[3]), int(f[4]), out


def main():
    tool, llada, dream = sys.argv[1:4]
    failures = 0
    cases = [
        # path, prompt, answer, mc, batch, seed
        (llada, [0, 300, 301], [17, 44, 92, 150, 201, 260, 333, 8], 8, 4, 3),
        (llada, [], [55, 66, 77, 88, 99], 6, 3, 11),            # no prompt: unconditional
        (llada, [0], [120, 121, 122, 123, 124, 125, 126], 5, 5, 0),   # one iteration
        (dream, [300], [17, 44, 92, 150, 201, 260], 8, 2, 5),   # shifted logits
        (dream, [10, 20], [30, 40, 50], 4, 4, 42),
    ]
    for path, prompt, answer, mc, batch, seed in cases:
        g = GGUFReader(path)
        mask_id = g.get("tokenizer.ggml.mask_token_id")
        model = Model(g)
        want_nll, want_var = reference(model, mask_id, prompt, answer, mc, batch, seed)
        outs = []
        for threads in (1, 2, 3):
            nll, var, n_tok, n_iter, raw = run_c(tool, path, threads, mc, batch, seed, prompt,
                                                  answer)
            outs.append(raw)
            assert n_tok == len(answer) and n_iter == mc // batch, raw
        same = len(set(outs)) == 1
        rel = abs(nll - want_nll) / max(1.0, abs(want_nll))
        rel_var = abs(var - want_var) / max(1e-3, abs(want_var))
        ok = same and rel < 1e-4 and rel_var < 1e-3
        failures += not ok
        print("%s %s prompt %d answer %d mc %d batch %d: C %.8f (var %.6g), reference %.8f "
              "(var %.6g), rel %.2e, threads 1/2/3 %s" % (
                  "ok  " if ok else "FAIL", os.path.basename(path), len(prompt), len(answer),
                  mc, batch, nll, var, want_nll, want_var, rel,
                  "identical" if same else "DIFFER"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

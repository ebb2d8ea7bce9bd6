/* elbo_draw.h - the random choices and the per-row loss of LLaDA's Monte Carlo likelihood
 * estimator (difflm_score, lib/ctx/ctx_score.c). doc/api.md, "Scoring", is the contract:
 * the order of the draws and the formulas below are what the independent reference
 * (tests/score/ref_score.py) re-implements. Pure functions; nothing allocates. */
#ifndef DL_ELBO_DRAW_H
#define DL_ELBO_DRAW_H

#include <stdint.h>

#include "sample/sample.h"

/* A uniform integer in [0, n), n >= 1, from the generation's stream without modulo bias:
 * draws x = dl_rng_next until x >= 2^64 mod n, then returns x mod n. */
uint64_t dl_rng_below(dl_rng *rng, uint64_t n);

/* Chooses m of the L positions 0..L-1 uniformly (every m-subset equally likely) by the
 * first m steps of a Fisher-Yates shuffle of 0..L-1: step i swaps idx[i] with
 * idx[i + dl_rng_below(rng, L - i)].
 *   idx: [L] scratch and out: idx[0..m) holds the chosen positions (in draw order).
 * 1 <= m <= L. Draws exactly m numbers through dl_rng_below. */
void dl_elbo_choose(int32_t *idx, dl_rng *rng, int32_t m, int32_t L);

/* The stratified mask count of row i of a batch of b (LLaDA's get_log_likelihood): one
 * k uniform in 1..L per batch, row i gets round(k + i*L/b) wrapped into 1..L, i.e.
 * ((round(k + i*L/b) - 1) mod L) + 1, the value computed exactly over the common
 * denominator b and ties rounded to even (as torch.round). Every row's count is
 * uniform on 1..L (but for rows on a rounding tie, a bias LLaDA's estimator shares),
 * while a batch covers light and heavy masking alike. k in 1..L, 0 <= i < b, L >= 1, b >= 1. */
int32_t dl_elbo_count(int32_t k, int32_t L, int32_t b, int32_t i);

/* -log softmax(logits)[target] in double. logits: [n_vocab]. +inf when the row is all
 * -inf; NaN in, NaN out. */
double dl_row_nll(const float *logits, int32_t target, int32_t n_vocab);

#endif

/* plan.h - inside lib/sched: the transfer-count plans and the choice of winners.
 * Pure functions, kept apart from the state machine in sched.c so tests can call them. */
#ifndef DL_SCHED_PLAN_H
#define DL_SCHED_PLAN_H

#include <stdint.h>

#include "sample/sample.h"

/* ---------------------------------------------------------------- BLOCKS (LLaDA) */

/* Tokens committed at step j (0-based) of a block that starts with n_masks masks and has
 * block_steps steps: n_masks div block_steps, plus one for j < n_masks mod block_steps. */
int32_t dl_block_step_count(int32_t n_masks, int32_t block_steps, int32_t j);

/* Number of blocks: ceil(gen_length / block_length); block_length 0 means gen_length. */
int32_t dl_block_count(int32_t gen_length, int32_t block_length);

/* The steps that commit something, in order. counts: [gen_length] out, tokens per step;
 * block_of: [gen_length] out, the block of each step. Needs steps >= dl_block_count().
 * Returns how many steps were written (at most gen_length). */
int32_t dl_plan_blocks(int32_t *counts, int32_t *block_of, int32_t gen_length, int32_t steps,
                       int32_t block_length);

/* ---------------------------------------------------------------- TIMESTEPS (Dream) */

/* t[i] of linspace(1, eps, steps + 1) in float32, the way PyTorch's CPU kernel computes it
 * (from the start for the first half, from the end for the second). 0 <= i <= steps. */
float dl_dream_time(int32_t i, int32_t steps, float eps);

/* 1 - t[i+1] / t[i] in float32, for 0 <= i < steps. */
float dl_dream_ratio(int32_t i, int32_t steps, float eps);

/* Tokens a confidence rule commits at step i with n_masked masks left:
 * (int)((float)n_masked * ratio), all of them on the last step; clamped to [0, n_masked]. */
int32_t dl_dream_step_count(int32_t n_masked, int32_t i, int32_t steps, float eps);

/* The non-zero counts of a confidence rule over all steps, in order. counts: [gen_length]
 * out. Returns how many were written (at most gen_length). Costs O(steps). */
int32_t dl_plan_timesteps(int32_t *counts, int32_t gen_length, int32_t steps, float eps);

/* ---------------------------------------------------------------- choosing winners */

/* One candidate's sort key. */
typedef struct dl_keyed {
    double key;
    int32_t idx;        /* candidate index (ascending position order) */
} dl_keyed;

/* ranked: [c] out, the candidates ordered by key descending, lower index first on ties;
 * key: [c] in (no NaN). The first k of ranked are the top-k. */
void dl_rank_candidates(dl_keyed *ranked, const double *key, int32_t c);

/* Gumbel keys for sampling positions without replacement from softmax(conf / alg_temp):
 * key[i] = conf[i] / alg_temp + gumbel(u_i), one uniform per candidate in order.
 * key: [c] out; conf: [c] in. alg_temp > 0. */
void dl_gumbel_keys(double *key, const double *conf, float alg_temp, dl_rng *rng, int32_t c);

/* ---------------------------------------------------------------- parallel decoding */

/* Threshold rule: how many of the ranked candidates commit. ranked: [c] by key
 * descending (dl_rank_candidates). The first always commits; every other commits when
 * its key is >= threshold. Since ranked is sorted, that is max(1, #{key >= threshold})
 * (0 when c is 0). */
int32_t dl_threshold_count(const dl_keyed *ranked, int32_t c, double threshold);

/* Factor rule (Fast-dLLM get_transfer_index_dynamic): scan ranks r = 1..c of ranked
 * ([c] by key descending); rank 1 always passes, rank r >= 2 fails when its key is below
 * 1 - factor / (r + 1). Returns r - 1 for the first failing r < c, and c when the scan
 * reaches the last rank (failing there or never failing: the code's edge case). */
int32_t dl_factor_count(const dl_keyed *ranked, int32_t c, double factor);

/* ---------------------------------------------------------------- block diffusion (block.c) */

/* Denoising steps each block gets: steps / n_blocks, at least 1 (n_blocks >= 1). */
int32_t dl_bd_block_steps(int32_t steps, int32_t n_blocks);

/* The scheduled count of step j (0-based) of a block: block_length split evenly over
 * block_steps, the first block_length mod block_steps steps one more (LLaDA2 counts
 * from the block length, not from the block's masks); every remaining MASK
 * (block_length) once j >= block_steps, so a block always completes. */
int32_t dl_bd_scheduled(int32_t block_length, int32_t block_steps, int32_t j);

/* LLaDA2's commit rule over the c masked candidates ranked by confidence (ranked: [c]
 * by key descending): every candidate with key > threshold when they are at least
 * `scheduled`, else the `scheduled` most confident (at most c). Returns how many of
 * ranked's first entries commit. */
int32_t dl_bd_commit_count(const dl_keyed *ranked, int32_t c, int32_t scheduled,
                           double threshold);

/* LLaDA2.1's token editing: 1 when a committed token `cur` is replaced by the new
 * prediction x0 of confidence conf (x0 differs and conf > threshold; threshold <= 0:
 * editing is off, never). */
int dl_bd_edits(int32_t cur, int32_t x0, double conf, double threshold);

/* ---------------------------------------------------------------- early stop */

/* Where the text ends, if it has ended: the first position e in [lo, hi) of canvas
 * holding eos or eot, provided every position in [lo, e) is decoded (not mask);
 * -1 otherwise (a MASK comes first, or no end token). eos / eot may be -1 (absent).
 * canvas: [hi] */
int32_t dl_text_end(const int32_t *canvas, int32_t lo, int32_t hi, int32_t mask, int32_t eos,
                    int32_t eot);

#endif

/* sample.h - the seeded random stream and the per-row helpers of one prediction.
 *
 * Everything here is a pure function over raw rows (outputs first, dimensions last) or
 * a tiny generator state; nothing allocates. doc/sampling.md is the contract: the order
 * of random draws, the filtering rules and the confidence formulas come from there.
 * A logits row holds no NaN when it reaches these helpers (dl_row_clean runs first). */
#ifndef DL_SAMPLE_H
#define DL_SAMPLE_H

#include <stdint.h>

/* ---------------------------------------------------------------- random stream */

/* splitmix64: one u64 of state (trivial to checkpoint), advanced by each call. The only
 * copy in the tree: the trainer, the test-model writer and dl_rng_seed draw from it. */
uint64_t dl_splitmix64_next(uint64_t *state);
/* (next >> 11) * 2^-53: uniform in [0, 1) with 53 bits (0 is possible). */
double dl_splitmix64_uniform(uint64_t *state);
/* Uniform in [0, n) for n >= 1, by rejection (exactly uniform). */
uint64_t dl_splitmix64_below(uint64_t *state, uint64_t n);

/* xoshiro256** state. */
typedef struct dl_rng {
    uint64_t s[4];
} dl_rng;

/* The four state words are the first four outputs of splitmix64 started at seed. */
void dl_rng_seed(dl_rng *rng, uint64_t seed);
uint64_t dl_rng_next(dl_rng *rng);
/* ((bits >> 11) + 0.5) * 2^-53, with the one value that rounds to 1 replaced by 1 - 2^-53:
 * strictly inside (0, 1), so log(u) and log(-log u) are finite. */
double dl_uniform_from_bits(uint64_t bits);
double dl_rng_uniform(dl_rng *rng);
/* Standard Gumbel noise -log(-log u) for u in (0, 1). */
double dl_gumbel(double u);

/* ---------------------------------------------------------------- filtering */

/* One entry of a row being ranked: larger value first, lower id first on ties. */
typedef struct dl_ranked {
    float value;
    int32_t id;
} dl_ranked;

/* l: [n] in/out. NaN becomes -inf, so every comparison below is total. */
void dl_row_clean(float *l, int32_t n);

/* z: [n] out, l: [n] in. z = l / T for T > 0, else a copy of l. */
void dl_row_temperature(float *z, const float *l, float temperature, int32_t n);

/* Nucleus filtering. z: [n] in/out (dropped entries become -inf); scratch: [n].
 * In the order (value desc, id asc), entry j is dropped when the running sum of
 * softmax(z) (double) through entry j-1 exceeds top_p. Call only for 0 < top_p < 1.
 * The fast version sorts only the head of the row that can survive; the naive twin sorts
 * the whole row. Both give bit-identical rows. */
void dl_row_top_p(float *z, dl_ranked *scratch, float top_p, int32_t n);
void dl_row_top_p_naive(float *z, dl_ranked *scratch, float top_p, int32_t n);

/* Keeps the entries >= the k-th largest value (ties all survive). z: [n] in/out;
 * scratch: [n]. k <= 0 or k >= n keeps everything. The fast version selects in O(n);
 * the naive twin sorts. */
void dl_row_top_k(float *z, float *scratch, int32_t k, int32_t n);
void dl_row_top_k_naive(float *z, float *scratch, int32_t k, int32_t n);

/* ---------------------------------------------------------------- choosing a token */

/* Index of the largest entry of x: [n], the lowest index on ties (0 when all are -inf). */
int32_t dl_row_argmax(const float *x, int32_t n);

/* Samples from softmax(z): draws one uniform per entry (all n of them, so the stream
 * does not depend on z) and returns the argmax of z_v + gumbel(u_v) in double, lowest
 * index on ties (0 when all of z is -inf). z: [n]. */
int32_t dl_row_sample_gumbel(const float *z, dl_rng *rng, int32_t n);

/* ---------------------------------------------------------------- confidences (double) */

/* softmax(x)[id]; x: [n]. A row that is all -inf has softmax 0 everywhere. */
double dl_row_softmax_at(const float *x, int32_t id, int32_t n);
/* softmax(x): largest minus second largest (0 on a tie; q1 when only one entry is finite). */
double dl_row_top2_margin(const float *x, int32_t n);
/* sum_v q_v * log(q_v + 1e-10) with q = softmax(x): negative entropy, larger = surer. */
double dl_row_neg_entropy(const float *x, int32_t n);

#endif

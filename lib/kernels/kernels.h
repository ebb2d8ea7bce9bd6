/* kernels.h - the tensor kernels of the forward pass.
 *
 * llm.c style: pure functions over raw row-major float arrays, outputs first, dimensions
 * last, a shape comment on every tensor argument. They allocate nothing, keep no state
 * and never fail: callers check sizes before calling. Every fast kernel has a naive
 * twin named *_ref (kernels_ref.c) that tests compare it against; the twins use double
 * accumulation and the plainest loops, so they double as the definition of each kernel. */
#ifndef DL_KERNELS_H
#define DL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* --- normalisation and activation */

/* out[n] = x[n] / sqrt(mean(x[n]^2) + eps) * w.  out may alias x.
 *   out: [N][C] out;  x: [N][C];  w: [C] */
void dl_rmsnorm(float *out, const float *x, const float *w, float eps, int N, int C);
void dl_rmsnorm_ref(float *out, const float *x, const float *w, float eps, int N, int C);

/* out = silu(gate) * up, silu(g) = g / (1 + exp(-g)).  out may alias gate or up.
 *   out, gate, up: [n] */
void dl_silu_mul(float *out, const float *gate, const float *up, size_t n);
void dl_silu_mul_ref(float *out, const float *gate, const float *up, size_t n);

/* --- matrix product
 * out[n][m] (+)= sum_k x[n][k] * w[m][k] + bias[m]: a row-major activation times a
 * weight stored as PyTorch's nn.Linear [out][in] (GGUF ne0 = K, ne1 = M).
 *   out: [N][ldo] out, columns 0..M used (ldo >= M lets a caller fill column chunks);
 *   x: [N][K];  w: [M][K];  bias: [M] or NULL.
 * accumulate != 0 adds to what out holds (a residual add in the same pass). */
void dl_matmul(float *out, const float *x, const float *w, const float *bias, int accumulate,
               int N, int K, int M, int ldo);
void dl_matmul_ref(float *out, const float *x, const float *w, const float *bias, int accumulate,
                   int N, int K, int M, int ldo);

/* The loop dl_matmul uses when built without BLAS (no bias); always built so that
 * tests cover it.  out: [N][ldo] out;  x: [N][K];  w: [M][K] */
void dl_matmul_portable(float *out, const float *x, const float *w, int accumulate,
                        int N, int K, int M, int ldo);

/* Sets the BLAS thread count (process-global; only calls into BLAS when it changes).
 * A no-op without BLAS. n < 1 means 1. The model keeps BLAS at one thread and
 * parallelises over fixed-shape tasks itself: OpenBLAS's own threading changes the
 * summation order with the thread count, and results must not. */
void dl_blas_set_threads(int n);

/* --- rotary position embedding */

enum dl_rope_pairing {
    DL_ROPE_PAIR_ADJACENT = 0,  /* rotates (2i, 2i+1): GGUF llada (permuted q/k rows) */
    DL_ROPE_PAIR_HALF = 1,      /* rotates (i, i + hd/2): HF / NeoX, GGUF dream */
    DL_ROPE_PAIR_HALF_IN = 2,   /* rotates (i, i + hd/2) and writes pair i at (2i, 2i+1):
                                   HF LLaDA q/k come out as the permuted GGUF rows give
                                   them under ADJACENT, bit for bit (hd <= DL_ROPE_MAX_HD) */
};
#define DL_ROPE_MAX_HD 1024

/* Angle table: cs[t][i] = {cos, sin} of pos[t] * theta^(-2i/hd), computed in double.
 *   cs: [T][hd/2][2] out;  pos: [T].  hd must be even. */
void dl_rope_table(float *cs, const int32_t *pos, float theta, int T, int hd);

/* Rotates every head of every token in place with a dl_rope_table table.
 *   x: [T][n_heads][hd] in/out;  cs: [T][hd/2][2] */
void dl_rope(float *x, const float *cs, int pairing, int T, int n_heads, int hd);
/* The twin computes its angles itself from the positions (no table), in double, for
 * every pairing (hd <= DL_ROPE_MAX_HD, as dl_rope).
 *   x: [T][n_heads][hd] in/out;  pos: [T] */
void dl_rope_ref(float *x, const int32_t *pos, float theta, int pairing, int T, int n_heads, int hd);

/* --- attention
 * Bidirectional (no mask) multi-head attention with grouped K/V: query head h reads K/V
 * head h / (n_head / n_head_kv). Scores are scaled by 1/sqrt(hd); softmax subtracts the
 * row maximum. Works one head at a time through the caller's score scratch.
 *   out: [n_q][n_head][hd] out;  scores: [n_q][n_kv] scratch;
 *   q: [n_q][n_head][hd];  k, v: [n_kv][n_head_kv][hd].
 * n_head must be a multiple of n_head_kv. */
void dl_attention(float *out, float *scores, const float *q, const float *k, const float *v,
                  int n_q, int n_kv, int n_head, int n_head_kv, int hd);
/* One head (the building block of dl_attention, for callers that split the work):
 *   out: [n_q][ldq] out, columns 0..hd;  scores: [n_q][n_kv] scratch;
 *   q: [n_q][ldq];  k, v: [n_kv][ldkv] (only columns 0..hd are read) */
void dl_attention_head(float *out, float *scores, const float *q, const float *k, const float *v,
                       int n_q, int n_kv, int hd, int ldq, int ldkv);
/* The loops dl_attention uses when built without BLAS; always built for the tests.
 *   out: [n_q][n_head][hd] out;  scores: [n_q][n_kv] scratch;  q, k, v as above */
void dl_attention_portable(float *out, float *scores, const float *q, const float *k,
                           const float *v, int n_q, int n_kv, int n_head, int n_head_kv, int hd);
/* The twin needs no scratch (it recomputes scores per query row in double). */
void dl_attention_ref(float *out, const float *q, const float *k, const float *v,
                      int n_q, int n_kv, int n_head, int n_head_kv, int hd);

/* --- element type conversion (exact. f16 NaNs keep sign and payload and come out quiet,
 * as F16C's vcvtph2ps does; bf16 is the top half of a float, so its bits carry over) */

/* out[i] = (float)in[i].  out: [n] out;  in: [n] IEEE binary16 bits */
void dl_f16_to_f32_row(float *out, const uint16_t *in, size_t n);
void dl_f16_to_f32_row_ref(float *out, const uint16_t *in, size_t n);
/* out[i] = (float)in[i].  out: [n] out;  in: [n] bfloat16 bits (the top half of a float) */
void dl_bf16_to_f32_row(float *out, const uint16_t *in, size_t n);
void dl_bf16_to_f32_row_ref(float *out, const uint16_t *in, size_t n);

float dl_f16_to_f32(uint16_t h);
float dl_bf16_to_f32(uint16_t h);
/* Round to nearest, ties to even; overflow gives inf, NaN stays NaN. For writers. */
uint16_t dl_f32_to_f16(float f);
uint16_t dl_f32_to_bf16(float f);

#endif

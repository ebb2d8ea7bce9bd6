/* kernels_backward.h - backward passes of the forward kernels in kernels.h (for the
 * trainer), plus the loss the trainer puts on top of them.
 *
 * Same conventions as kernels.h: pure functions over row-major float arrays, outputs
 * first, dimensions last, a shape comment on every tensor argument, no allocation, no
 * failure. "d<name>" is the gradient of the loss with respect to <name>. Gradients that
 * several consumers feed (a residual stream, a weight used by every row, K/V shared by
 * a head group) are ACCUMULATED (+=) so that callers can chain sub-layers without extra
 * buffers; the comment of each function says which outputs are overwritten instead.
 * Products go through sgemm when built with BLAS; the *_ref twins use double loops and
 * define what the fast versions compute. */
#ifndef DL_KERNELS_BACKWARD_H
#define DL_KERNELS_BACKWARD_H

#include <stddef.h>
#include <stdint.h>

/* --- matrix product: backward of dl_matmul (out = x w^T, no bias)
 *   dx: [N][K] in/out, += dout w   (NULL: not wanted)
 *   dw: [M][K] in/out, += dout^T x (NULL: not wanted)
 *   dout: [N][M];  x: [N][K];  w: [M][K] */
void dl_matmul_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                        int N, int K, int M);
/* The weight half alone over strided views, so that callers can cut dw into tiles
 * (each tile's sum over n is then one fixed-shape product).
 *   dw: [M][ldw] in/out, columns 0..K, += dout^T x;
 *   dout: [N][ldd] (columns 0..M);  x: [N][ldx] (columns 0..K) */
void dl_matmul_backward_w(float *dw, const float *dout, const float *x, int N, int K, int M,
                          int ldd, int ldx, int ldw);
void dl_matmul_backward_ref(float *dx, float *dw, const float *dout, const float *x,
                            const float *w, int N, int K, int M);

/* --- RMSNorm: backward of dl_rmsnorm. The inverse rms is recomputed from x exactly as
 * the forward computes it (double sum), so nothing but x has to be kept.
 *   dx: [N][C] in/out (+=);  dw: [C] in/out (+=);
 *   dout: [N][C];  x: [N][C] (the forward's input);  w: [C] */
void dl_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                         float eps, int N, int C);

/* --- SwiGLU: backward of dl_silu_mul (out = silu(gate) * up).
 *   dgate, dup: [n] out (overwritten; dgate may alias gate and dup may alias up);
 *   dout, gate, up: [n] */
void dl_silu_mul_backward(float *dgate, float *dup, const float *dout, const float *gate,
                          const float *up, size_t n);

/* --- RoPE: backward of dl_rope. A rotation's adjoint is the rotation by the opposite
 * angle, applied in place to the gradient.
 *   dx: [T][n_heads][hd] in/out;  cs: [T][hd/2][2] (dl_rope_table) */
void dl_rope_backward(float *dx, const float *cs, int pairing, int T, int n_heads, int hd);

/* --- attention: backward of dl_attention_head for one head, from the probabilities the
 * forward left in its score scratch (p = softmax(q k^T / sqrt(hd))).
 *   dq: [n_q][ldq] out (overwritten, columns 0..hd);
 *   dk, dv: [n_kv][ldkv] in/out (+=, columns 0..hd: query heads of one group add up);
 *   scratch: dl_attention_backward_scratch(n_q, n_kv, hd) floats;
 *   dout: [n_q][ldq] gradient of the head's output;  p: [n_q][n_kv];
 *   q: [n_q][ldq];  k, v: [n_kv][ldkv] */
void dl_attention_head_backward(float *dq, float *dk, float *dv, float *scratch,
                                const float *dout, const float *p, const float *q,
                                const float *k, const float *v, int n_q, int n_kv, int hd,
                                int ldq, int ldkv);
/* Floats of scratch dl_attention_head_backward needs for one head of that shape. */
size_t dl_attention_backward_scratch(int n_q, int n_kv, int hd);
void dl_attention_head_backward_ref(float *dq, float *dk, float *dv, const float *dout,
                                    const float *p, const float *q, const float *k,
                                    const float *v, int n_q, int n_kv, int hd, int ldq, int ldkv);

/* --- token embedding: backward of the row lookup x[n] = table[tokens[n]].
 *   dtable: [V][C] in/out (+=);  dout: [N][C];  tokens: [N] (each in [0, V)) */
void dl_embedding_backward(float *dtable, const float *dout, const int32_t *tokens, int N, int C);

/* --- cross-entropy over logits, forward and backward in one pass:
 * loss[n] = logsumexp(logits[n]) - logits[n][targets[n]] (in double, max-subtracted);
 * dlogits[n] = (softmax(logits[n]) - onehot(targets[n])) * dloss[n].
 *   dlogits: [N][V] out (may alias logits);  loss: [N] out;
 *   logits: [N][V];  targets: [N] (each in [0, V));  dloss: [N] weight of each row */
void dl_xent_forward_backward(float *dlogits, float *loss, const float *logits,
                              const int32_t *targets, const float *dloss, int N, int V);

#endif

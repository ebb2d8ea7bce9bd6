/* layers_backward.h - the backward twins of layers.h's blocks: the final norm, the
 * attention block and the SwiGLU block, composed from lib/kernels' backward kernels
 * (kernels_backward.h) as the forward blocks are composed from the forward ones. The
 * trainer (tools/train/model_train.c) runs them over the activations its forward pass
 * kept (layers.h, keep = 1); they exist so that a change to a block is made, and tested
 * (tests/train: a double-precision model with finite differences), beside its forward.
 *
 * Gradients: a block's weight gradients are written through G, a dl_layer whose weights
 * are F32 views of writable memory (the trainer binds G to its gradient buffer), and are
 * accumulated (+=). The stream's gradient dres is updated in place: on entry d(x_out),
 * on return d(x), the residual branch included.
 *
 * Work is cut into tasks whose shapes the caller fixes (row_chunk; one task per sequence
 * and K/V head for the attention) and partial sums are reduced in task order, so the
 * results are bitwise the same for any number of threads. */
#ifndef DL_MODEL_LAYERS_BACKWARD_H
#define DL_MODEL_LAYERS_BACKWARD_H

#include "core/pool.h"
#include "model/layers.h"
#include "model/model.h"

/* dx (+)= dy . w over the n rows of dy (accumulate 0: dx's old values are not read).
 *   dx: [n][w->ne0] (in/)out;  dy: [n][w->ne1] */
typedef void (*dl_linear_dx_fn)(void *ctx, float *dx, const float *dy, const dl_weight *w,
                                int accumulate, int n);
/* dw += dy^T . x.  dw: [w->ne1][w->ne0] in/out (the gradient of w);  dy: [n][w->ne1];
 * x: [n][w->ne0] */
typedef void (*dl_linear_dw_fn)(void *ctx, float *dw, const float *dy, const float *x,
                                const dl_weight *w, int n);

/* How a caller runs the backward blocks. */
typedef struct dl_exec_backward {
    dl_pool *pool;              /* every task runs here (NULL: on the caller alone) */
    dl_linear_dx_fn dx;         /* the products' input gradients */
    dl_linear_dw_fn dw;         /* and their weight gradients */
    void *linear_ctx;
    int row_chunk;              /* rows per elementwise task and per norm-weight partial */
    float *norm_part;           /* [ceil(R / row_chunk)][E] scratch: norm-weight partials */
    float *dp;                  /* [pool threads][dp_stride] scratch: attention heads */
    size_t dp_stride;           /* >= dl_attention_backward_scratch of the largest sequence */
} dl_exec_backward;

/* The attention block's gradient scratch (every array overwritten). */
typedef struct dl_attn_grads {
    float *dxn;                 /* [R][E] */
    float *datt, *dq;           /* [R][n_head * hd] */
    float *dk, *dv;             /* [R][n_head_kv * hd] */
} dl_attn_grads;

/* The SwiGLU block's gradient scratch (every array overwritten). */
typedef struct dl_ffn_grads {
    float *dxn;                 /* [R][E] */
    float *dh, *dgate, *dup;    /* [R][F] */
} dl_ffn_grads;

/* Of out = rmsnorm(x) * w: dx += d(x), dw += d(w).
 *   dx, dout, x: [R][E];  dw: [E] in/out;  w: [E] F32 */
void dl_layer_norm_backward(const dl_exec_backward *bx, float *dx, float *dw, const float *dout,
                            const float *x, const dl_weight *w, float eps, int R, int E);

/* Of dl_layer_ffn (x_out = x + W_down(silu(W_gate xn) * W_up xn)): dres from d(x_out) to
 * d(x); G's w_gate, w_up, w_down and ffn_norm gradients accumulated.
 *   dres: [R][E] in/out;  a: the forward's activations;  x: [R][E] the block's input */
void dl_layer_ffn_backward(const dl_exec_backward *bx, float *dres, const dl_layer *G,
                           const dl_ffn_grads *g, const dl_ffn_acts *a, const float *x,
                           const dl_layer *L, const dl_hparams *hp, int R);

/* Of dl_layer_attention without biases or cache, with the probabilities kept (p->keep,
 * one sequence per query run: n_q == n_k, q0 == k0): dres from d(x_out) to d(x); G's wq,
 * wk, wv, wo and attn_norm gradients accumulated.
 *   dres: [R][E] in/out;  a: the forward's activations (q, k after RoPE);  x: [R][E] the
 *   block's input;  rope_cs: [R][hd/2][2] as in the forward */
void dl_layer_attention_backward(const dl_exec_backward *bx, float *dres, const dl_layer *G,
                                 const dl_attn_grads *g, const dl_attn_acts *a, const float *x,
                                 const dl_layer *L, const dl_hparams *hp, const float *rope_cs,
                                 const dl_attn_plan *p, int R);

#endif

/* layers.h - the transformer's forward layers, shared by the inference pass
 * (model_forward.c) and the trainer (tools/train/model_train.c): one implementation of
 * the embedding, the norms, the attention block, the SwiGLU block and the output head.
 *
 * Each function is a pure function over raw pointers (outputs first, dimensions last).
 * Weights are read as dl_weight, and every product goes through the dl_linear the
 * caller supplies: inference binds it to dl_weight_matmul over the mapped (possibly
 * quantized) weights, the trainer to its fixed f32 or bf16 tiles over f32 master
 * weights. Where the activations go is the caller's choice too: inference points them
 * at scratch reused by every layer and updates the residual stream in place; the
 * trainer points them at per-layer arrays that its backward reads (the kernels' backward
 * twins sit beside them in lib/kernels, declared in kernels_backward.h).
 *
 * Work is cut into tasks whose shapes the caller fixes (row_chunk, the attention's query
 * block), never the thread count, and tasks write disjoint outputs: results are bitwise
 * the same for any number of threads. */
#ifndef DL_MODEL_LAYERS_H
#define DL_MODEL_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "model/model.h"

/* out (+)= x . w^T + bias over the n rows of x, for every row of w.
 *   out: [n][w->ne1] (in/)out;  x: [n][w->ne0] (with row_groups, [roundup(n, 16)] rows
 *   whose padding is readable: see dl_weight_matmul);  bias: [w->ne1] f32 or NULL */
typedef void (*dl_linear_fn)(void *ctx, float *out, const float *x, const dl_weight *w,
                             const float *bias, int accumulate, int row_groups, int n);

/* How a caller runs the layers. */
typedef struct dl_exec {
    dl_pool *pool;              /* elementwise tasks run here (NULL: on the caller alone) */
    int n_threads;              /* SwiGLU without a pool: threads started per call */
    dl_linear_fn linear;        /* every product */
    void *linear_ctx;
    float *vec;                 /* [max(E, Dq, Dkv)] a norm or bias vector widened to f32;
                                 * NULL is fine when every such vector is F32 */
    int row_chunk;              /* rows per elementwise task (norms, SwiGLU) */
    const int32_t *seg_start;   /* NULL: the R rows are one segment. Else n_seg + 1 row
                                 * indices, seg_start[0] = 0, seg_start[n_seg] = R: the
                                 * rows of several canvases (a batch). Elementwise tasks
                                 * are cut at row_chunk from each segment's first row, so
                                 * a segment's rows round as they do alone. */
    int n_seg;
} dl_exec;

/* The sequences of one attention call: sequence s's queries are rows q0 .. q0+n_q of
 * q and out, its keys and values rows k0 .. k0+n_k of k and v; it attends over those
 * keys only (bidirectional inside the sequence, nothing across sequences). */
typedef struct dl_attn_seq {
    int32_t q0, n_q, k0, n_k;
} dl_attn_seq;

/* Inference's KV cache at one layer: the block's fresh rows src .. src+n of k and v
 * are written over cache rows dst .. dst+n, and attention reads the cache instead. */
typedef struct dl_attn_cache {
    float *k, *v;               /* [*][n_head_kv * hd] */
    int32_t src, dst, n;
} dl_attn_cache;

/* Where the attention's scores go. keep != 0 (training): the softmax probabilities of
 * sequence s, head h are kept at probs + (s * n_head + h) * stride as [n_q][n_k];
 * keep == 0 (inference): probs holds max_workers slots of stride floats, one per
 * running thread, each at least q_block * (the largest n_k) floats. */
typedef struct dl_attn_plan {
    const dl_attn_seq *seqs;
    int32_t n_seq;
    int32_t q_block;            /* queries per task */
    const dl_attn_cache *cache; /* NULL: the block's own keys and values */
    float *probs;
    size_t stride;
    int keep;
    int max_workers;            /* keep == 0: a pool wider than this runs without it */
    /* The block-causal mask (inference only, keep == 0): mask_block > 0, a query at
     * absolute position P attends to keys 0 .. (P / mask_block + 1) * mask_block - 1
     * of its sequence (bidirectional inside a block, causal across blocks). Every
     * sequence's first query sits at absolute position q_pos0 and its first key at 0.
     * Query tiles are cut at block starts and then every q_block queries from each
     * block's start, so a block's rows get the same tiles (and bits) whichever pass
     * computes them. mask_block 0: every query sees every key of its sequence. */
    int32_t mask_block;
    int32_t q_pos0;
} dl_attn_plan;

/* The attention block's activations. Inference: x_out == x and scratch reused by
 * every layer; training: one set per layer. */
typedef struct dl_attn_acts {
    float *xn;                  /* [R][E] rmsnorm(x) * attn_norm */
    float *q;                   /* [R][n_head][hd] after RoPE */
    float *k, *v;               /* [R][n_head_kv][hd] the rows' own, k after RoPE */
    float *att;                 /* [R][n_head][hd] attention output */
} dl_attn_acts;

/* The MoE block's scratch (model/moe.c), for R rows, k = n_expert_used, X = n_expert,
 * P = R + DL_ROW_GROUP (an expert's rows padded to whole row groups). */
typedef struct dl_moe_acts {
    float *logits;              /* [R][X] router logits */
    int32_t *ids;               /* [R][k] the chosen experts of each row */
    float *w;                   /* [R][k] their weights */
    int32_t *start;             /* [X + 1] where each expert's rows begin in rows[] */
    int32_t *cursor;            /* [X] */
    int32_t *rows;              /* [R * k] row indices grouped by expert, ascending */
    float *rw;                  /* [R * k] the weight of each grouped row */
    double *route;              /* [X + n_group] router scratch */
    float *xg;                  /* [P][E] one expert's gathered inputs */
    float *g, *u;               /* [P][max(n_ff_exp, n_ff_shexp)] */
    float *y;                   /* [P][E] one expert's outputs */
    float *acc;                 /* [R][E] the weighted sum of the routed experts */
} dl_moe_acts;

/* The SwiGLU block's activations; h may be gate (in place). */
typedef struct dl_ffn_acts {
    float *xn;                  /* [R][E] rmsnorm(x) * ffn_norm */
    float *gate, *up;           /* [R][F] before the activation */
    float *h;                   /* [R][F] silu(gate) * up */
    const dl_moe_acts *moe;     /* MoE layers' scratch (NULL: dense only) */
} dl_ffn_acts;

/* x: [R][E] out, the embedding rows of tokens[0 .. R) (widened to f32). */
void dl_layer_embed(float *x, const dl_weight *tok_embd, const int32_t *tokens, int R);

/* out = rmsnorm(x) * w, tasks of ex->row_chunk rows.  out, x: [R][E];  w: [E] */
void dl_layer_norm(const dl_exec *ex, float *out, const float *x, const dl_weight *w, float eps,
                   int R, int E);

/* x_out = x + Wo . attention(rope(Wq xn + bq), rope(Wk xn + bk), Wv xn + bv), with
 * xn = rmsnorm(x) * attn_norm; x_out may be x (in place).
 *   x_out, x: [R][E];  rope_cs: [R][hd/2][2] (dl_rope_table of the rows' positions);
 *   a: the activations (above);  p: the sequences, scores and cache (above) */
void dl_layer_attention(const dl_exec *ex, float *x_out, const dl_attn_acts *a, const float *x,
                        const dl_layer *L, const dl_hparams *hp, const float *rope_cs,
                        const dl_attn_plan *p, int R);

/* x_out = x + W_down (silu(W_gate xn) * (W_up xn)), xn = rmsnorm(x) * ffn_norm; x_out
 * may be x.  x_out, x: [R][E] */
void dl_layer_ffn(const dl_exec *ex, float *x_out, const dl_ffn_acts *a, const float *x,
                  const dl_layer *L, const dl_hparams *hp, int R);

/* x_out = x + shared(xn) + sum over the row's chosen experts e of w_e * expert_e(xn),
 * xn = rmsnorm(x) * ffn_norm, each expert (and the shared one, when the layer has it)
 * a SwiGLU block; the router of the model's row (arch.h) chooses (model/moe.c). Rows are
 * grouped by expert, one product per active expert on its weights in place; the
 * weighted results are summed per row in ascending expert order, so results are
 * bitwise the same for any thread count and any rows that come with a row.
 *   x_out, x: [R][E] (x_out may be x);  a->moe: the scratch (above) */
void dl_layer_moe(const dl_exec *ex, float *x_out, const dl_ffn_acts *a, const float *x,
                  const dl_layer *L, const dl_hparams *hp, int R);

/* logits[i] = w . hidden[rows[i]] + bias for i < n_rows.
 *   logits: [n_rows][w->ne1] out;  hidden: [*][E];  rows: [n_rows] (NULL: hidden's rows
 *   0 .. n_rows in order, read in place);  gathered: [roundup(n_rows, group)][E] scratch
 *   (unused when rows is NULL);  group > 1: the product runs in fixed groups of that many
 *   rows (zero padded), so a row's logits do not depend on the rows that come with it. */
void dl_layer_head(const dl_exec *ex, float *logits, float *gathered, const float *hidden,
                   const int32_t *rows, int n_rows, int group, const dl_weight *w,
                   const float *bias, int E);

#endif

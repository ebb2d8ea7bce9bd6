/* model.h - the transformers of the architecture table (arch.h): hyperparameters, weight
 * table, forward pass.
 *
 * A dl_model borrows its weights from a dl_gguf (pointers into the mapping) and never
 * copies them. dl_model_forward runs one bidirectional pass over a canvas and writes
 * logits for the rows asked for; it allocates nothing: all activations and scratch
 * come from a caller buffer of dl_model_scratch_size(max_tokens) bytes. */
#ifndef DL_MODEL_H
#define DL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "difflm.h"
#include "fmt/gguf.h"
#include "model/arch.h"

typedef struct dl_hparams {
    int32_t arch;               /* DIFFLM_ARCH_*: the id of the model's row (arch.c) */
    int32_t n_vocab;            /* rows of the embedding / output matrix */
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim;
    int32_t n_ff;
    int32_t n_ctx_train;
    float rms_eps;
    float rope_theta;
    int32_t n_rot;              /* dimensions RoPE turns per head (rope.dimension_count) */
    int32_t rope_layout;        /* enum dl_rope_layout */
    int32_t shift_logits;       /* 1: logits for position p come from row p-1 */
    int32_t tied_output;        /* 1: no output.weight, the head is token_embd */
    /* mixture of experts (DL_FFN_MOE rows; 0 elsewhere) */
    int32_t n_expert;           /* routed experts per MoE layer */
    int32_t n_expert_used;      /* experts each row goes to (top-k) */
    int32_t n_ff_exp;           /* one expert's FFN width */
    int32_t n_ff_shexp;         /* the shared expert's width (0: none) */
    int32_t n_group;            /* DL_ROUTER_SIGMOID_GROUP: expert groups (1: no grouping) */
    int32_t topk_group;         /* ... groups kept per row */
    int32_t n_dense_lead;       /* the first layers with a dense FFN (n_ff wide) */
    float routed_scale;         /* routed weights' factor (1: none) */
    uint64_t n_params;
    int32_t block_length;       /* diffusion.block_length: > 0, attention is block-causal
                                   (bidirectional inside blocks of this many positions,
                                   causal across them); 0 bidirectional */
} dl_hparams;

/* A weight matrix or vector as stored: ne[0] = row length (input dim), ne[1] = rows. */
typedef struct dl_weight {
    const void *data;           /* NULL when absent (optional tensors) */
    uint32_t type;              /* ggml type id */
    int64_t ne0, ne1;
    const void *panels;         /* in a model's packed copy (dl_model_pack), which a
                                   context that packs runs: data in the panels of its
                                   precision, read instead of data by the products; else
                                   NULL (products pack as they go) */
} dl_weight;

typedef struct dl_layer {
    dl_weight attn_norm, wq, wk, wv, wo, bq, bk, bv;
    dl_weight q_norm, k_norm;   /* [head_dim] per-head RMSNorm of q / k (absent: none) */
    dl_weight ffn_norm, w_gate, w_up, w_down;
    /* MoE layers: the router, its selection bias, the experts as n_expert views each
     * (slices of a 3-D GGUF tensor or an HF folder's per-expert tensors, never copied;
     * the arrays live in dl_model.experts) and the shared expert */
    dl_weight router, router_bias;
    dl_weight *exp_gate, *exp_up, *exp_down;
    dl_weight sh_gate, sh_up, sh_down;
} dl_layer;

typedef struct dl_model {
    const dl_arch *arch;        /* the row of general.architecture (arch.c) */
    dl_hparams hp;
    dl_weight tok_embd, output_norm, output, output_bias;
    dl_layer *layers;           /* hp.n_layer entries, heap */
    dl_weight *experts;         /* the layers' expert views, heap (NULL: dense) */
    int32_t n_threads;          /* used by forward; set by the owner */
    struct dl_pool *pool;       /* the owner's thread pool (NULL: n_threads threads started
                                   per parallel region); set by the owner */
    int32_t precision;          /* enum dl_precision of the float-weight products (0, exact,
                                   after load); set by the owner */
} dl_model;

/* How products over F32/F16/BF16 weights compute (difflm.h DIFFLM_PRECISION_*, same
 * values). Quantized weights always run their integer kernels. */
enum dl_precision {
    DL_PRECISION_EXACT = 0,     /* f32 operands, one fma chain per output (kernels/gemm.h) */
    DL_PRECISION_BF16 = 1,      /* operands rounded to bf16, f32 sums (kernels/gemm_bf16.h) */
};

/* Reads hyperparameters and binds every tensor of the file's architecture (a row of
 * arch.c), checking names, shapes and types. Types the kernels lack (IQ*, Q2_K, Q3_K, ...) give
 * DIFFLM_E_UNSUPPORTED naming the tensor and its type. g must outlive the model. */
int dl_model_load(dl_model **out, const dl_gguf *g, dl_log *log, dl_err *err);
void dl_model_free(dl_model *m);   /* NULL is fine */

/* Where a loader finds tensors by name: a GGUF file, or a safetensors set under the
 * row's HF names (dl_arch.hf_names). find returns 0 and *t (NULL when absent), or a
 * status naming the tensor (a dtype difflm does not compute with). */
typedef struct dl_tensor_src {
    const void *ctx;
    int (*find)(const void *ctx, const char *name, const dl_gguf_tensor **t, dl_err *err);
    int hf_names;               /* 1: look tensors up by the row's HF names */
    size_t n_tensors;           /* the source's tensor count (bounds the layer count) */
} dl_tensor_src;

/* Binds row a's tensors from src under hyperparameters hp (everything but n_vocab,
 * which the embedding gives unless hp says it, and n_params), with the checks of
 * dl_model_load. The source's data must outlive the model. */
int dl_model_load_src(dl_model **out, const dl_arch *a, const dl_hparams *hp,
                      const dl_tensor_src *src, dl_err *err);

/* The `{arch}.*` hyperparameters of row a from g (hparams.c): every field of hp but
 * n_vocab and n_params, which come from the tensors, each key checked for range. The
 * loader's reader, and the trainer's when it starts from a file. log may be NULL. */
int dl_hparams_read(dl_hparams *hp, const dl_arch *a, const dl_gguf *g, const dl_log *log,
                    dl_err *err);

/* Writes hp as row a's keys, in the order llama.cpp's converters use (hparams.c): the
 * `{arch}.*` keys, then diffusion.shift_logits and (when > 0) diffusion.block_length. Writers of models (test fixtures, the
 * trainer's export) use it so that every file spells the schema as the loader reads it.
 * key_length / value_length are written when the flag asks or when the head dimension
 * is not n_embd / n_head. Returns 0 or the writer's status. */
#define DL_HP_WRITE_HEAD_LENGTHS 1u   /* always write key_length and value_length */
#define DL_HP_WRITE_NO_SHIFT_KEY 2u   /* leave diffusion.shift_logits out (as Dream's converter) */
int dl_hparams_write(dl_gguf_writer *w, const dl_arch *a, const dl_hparams *hp, unsigned flags);

/* The size a dimension symbol (enum dl_dim) stands for under hp; 0 for DL_DIM_NONE. */
int64_t dl_hparams_dim(const dl_hparams *hp, int dim);

/* Bytes of scratch dl_model_forward needs for up to max_tokens tokens, and
 * dl_model_logits for up to max_rows rows. */
size_t dl_model_scratch_size(const dl_model *m, int32_t max_tokens);
size_t dl_model_logits_scratch_size(const dl_model *m, int32_t max_rows);

/* One forward pass over tokens[0..n_tokens) at positions 0..n_tokens-1, bidirectional.
 *   hidden: [n_tokens][n_embd] out, the final-normed hidden states (input of the head).
 *   scratch: dl_model_scratch_size(m, n_tokens) bytes, DL_ALIGN-aligned.
 * cancel (may be NULL) is read atomically between layers (another thread may set it
 * with __atomic_store_n); non-zero stops the pass with
 * DIFFLM_E_CANCELLED. Returns 0 or a negative status. Allocates nothing. */
int dl_model_forward(const dl_model *m, void *scratch, const int32_t *tokens, int32_t n_tokens,
                     float *hidden, const int *cancel, dl_err *err);

/* The output head for selected rows: logits[i] = head(hidden[rows[i]]).
 *   hidden: [*][n_embd] from dl_model_forward;  rows: n_rows indices, any order,
 *   duplicates allowed;  logits: [n_rows][n_vocab] out (unshifted; Dream's output bias
 *   included);  scratch: dl_model_logits_scratch_size(m, n_rows) bytes. */
void dl_model_logits(const dl_model *m, void *scratch, const float *hidden, const int32_t *rows,
                     int32_t n_rows, float *logits);

/* ---------------------------------------------------------------- batches
 * Several canvases in one pass: their rows are concatenated, so every product reads
 * its weights once for all of them, while attention runs per canvas (block diagonal:
 * a canvas never sees another's keys) and each canvas has its own positions 0 .. n-1.
 * Every row's result is bitwise what dl_model_forward gives for its canvas alone: the
 * products compute rows independently (on the OpenBLAS path, which does not, they run
 * per canvas), and the elementwise tasks are cut from each canvas's first row. */

#define DL_MAX_BATCH 64           /* canvases in one batched pass */

typedef struct dl_canvas_seg {
    const int32_t *tokens;      /* [n_tokens] */
    int32_t n_tokens;           /* >= 1 */
} dl_canvas_seg;

/* Bytes of scratch for a batched pass of up to max_rows rows in all, each canvas at most
 * max_tokens long. (max_tokens, max_tokens) is dl_model_scratch_size(max_tokens). */
size_t dl_model_batch_scratch_size(const dl_model *m, int32_t max_rows, int32_t max_tokens);

/* One pass over the canvases segs[0 .. n_seg) (1 <= n_seg <= DL_MAX_BATCH).
 *   hidden: [sum of n_tokens][n_embd] out, canvas 0's rows first, then canvas 1's, ...
 *   scratch: dl_model_batch_scratch_size(m, >= the rows, >= the longest canvas) bytes.
 * Returns 0 or E_INVALID_ARG (counts, ids) / E_CANCELLED. Allocates nothing. */
int dl_model_forward_batch(const dl_model *m, void *scratch, const dl_canvas_seg *segs,
                           int32_t n_seg, float *hidden, const int *cancel, dl_err *err);

/* ---------------------------------------------------------------- KV caches
 * Fast-dLLM's approximate caches (doc/sampling.md, "KV caches"). A full pass at a
 * block's first step stores every layer's K (after RoPE) and V for the whole canvas;
 * the block's later steps run only some rows through the layers, and those rows attend
 * over the stored K/V, their own fresh K/V written over it first. */

typedef struct dl_kv_cache {
    float *k, *v;               /* [n_layer][max_tokens][dkv] each */
    int32_t max_tokens;
    int32_t dkv;                /* n_head_kv * head_dim */
} dl_kv_cache;

/* Bytes of a cache for canvases up to max_tokens (keys and values of every layer);
 * SIZE_MAX on overflow. */
size_t dl_kv_cache_size(const dl_model *m, int32_t max_tokens);

/* Lays a cache over mem (dl_kv_cache_size bytes, float-aligned). */
void dl_kv_cache_bind(dl_kv_cache *kv, const dl_model *m, void *mem, int32_t max_tokens);

/* One pass, in general: rows [row0, row0 + n_rows) of tokens[0 .. n_tokens) go through
 * the layers at their absolute positions. Without a cache (kv NULL) every row must go
 * (row0 0, n_rows n_tokens) and attention is over those rows. With a cache, the fresh
 * K/V of rows [fresh0, fresh0 + n_fresh) (inside the computed rows) overwrite the
 * cache at every layer, and attention is over the cache's rows 0 .. n_tokens-1: rows
 * outside the fresh range are seen as the cache holds them (frozen). */
typedef struct dl_pass {
    const int32_t *tokens;      /* [n_tokens] the canvas */
    int32_t n_tokens;
    int32_t row0, n_rows;
    dl_kv_cache *kv;            /* NULL: a plain pass */
    int32_t fresh0, n_fresh;
} dl_pass;

/* Runs a pass. hidden: [n_rows][n_embd] out, the final-normed states of the computed
 * rows (row row0 first). scratch: dl_model_scratch_size(m, n_tokens) bytes. Returns 0
 * or E_INVALID_ARG (ranges, ids) / E_CANCELLED. Allocates nothing. */
int dl_model_pass(const dl_model *m, void *scratch, const dl_pass *p, float *hidden,
                  const int *cancel, dl_err *err);

/* The full pass that refreshes a cache: exactly dl_model_forward (same arithmetic, same
 * hidden states, bitwise) and, as a side effect, every row's K/V stored in kv. */
int dl_model_forward_fill(const dl_model *m, void *scratch, const int32_t *tokens,
                          int32_t n_tokens, float *hidden, dl_kv_cache *kv,
                          const int *cancel, dl_err *err);

/* A cached step: rows [row0, row0 + n_rows) go through the layers and refresh their own
 * K/V in the cache; every other row is represented by its cached K/V.
 * Dual cache: the block. Prefix cache: the block and everything after it.
 * hidden: [n_rows][n_embd] out. */
int dl_model_forward_cached(const dl_model *m, void *scratch, const int32_t *tokens,
                            int32_t n_tokens, int32_t row0, int32_t n_rows, float *hidden,
                            dl_kv_cache *kv, const int *cancel, dl_err *err);

#endif

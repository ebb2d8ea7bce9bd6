/* train.h - difflm-train internals: a LLaDA-architecture masked diffusion LM trained in
 * the GGUF layout (adjacent-pair RoPE, tied embeddings, GQA, SwiGLU, RMSNorm, no
 * biases), so the export writes the parameters as they are.
 *
 * Pieces, one file each: params.c (shapes, the tensor table, init), data.c (the token
 * stream cached next to the corpus, window sampling), objective.c (LLaDA masking and
 * loss weights), model_train.c (forward with saved activations, backward), adamw.c
 * (schedule, clipping, update), checkpoint.c, export.c, init_from.c (weights from a
 * GGUF), train_loop.c (the run), train_main.c (the command line). */
#ifndef DL_TRAIN_H
#define DL_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "difflm_internal.h"

#define TR_MAX_LAYERS 64
#define TR_PATH_MAX 1024

/* --- model shape */
typedef struct tr_config {
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff;
    int32_t n_ctx;              /* canvas length: BOS + n_ctx - 1 corpus tokens */
    float rope_theta, rms_eps;
} tr_config;

/* --- optimisation and run settings */
typedef struct tr_hyper {
    int32_t batch;              /* sequences per step */
    int64_t steps;              /* total steps (the schedule's length) */
    int64_t warmup;             /* linear warmup steps */
    float lr, min_lr_frac;      /* peak lr; cosine decays to min_lr_frac * lr */
    float wd, beta1, beta2, adam_eps, clip;
    float cut_frac;             /* share of sequences cut to a random shorter length */
    uint64_t seed;
    int64_t ckpt_every, eval_every, log_every;
    int32_t eval_windows;       /* fixed validation windows */
    int32_t threads;
    int32_t bf16;               /* products with bf16 operands and f32 sums (kernels/gemm_bf16.h) */
    float sft_frac;             /* share of a step's sequences that are instruction pairs (sft.c) */
} tr_hyper;

void tr_config_default(tr_config *c);
void tr_hyper_default(tr_hyper *h);
int tr_config_check(const tr_config *c, dl_err *err);

/* --- parameters: one float buffer in GGUF tensor order, seen by the forward as a
 * dl_model of F32 weights (lib/model/model.h), the struct inference binds to a file */
typedef struct tr_tensor {
    char name[48];              /* GGUF name */
    int id, layer;              /* its descriptor (dl_tensor_id, lib/model/arch.h); its layer
                                 * (-1 for the global ones) */
    size_t offset;              /* floats from the start of the buffer */
    int64_t ne0, ne1;           /* ne0 = row length; ne1 = rows (1 for a vector) */
    int is_matrix;              /* gets weight decay and F16 on export */
} tr_tensor;

#define TR_N_TENSORS(L) (2 + 9 * (L))

size_t tr_n_params(const tr_config *c);
/* Fills out[0 .. TR_N_TENSORS(n_layer)) and returns the count. */
int tr_tensor_table(const tr_config *c, tr_tensor *out);
/* The hyperparameters lib/model's layers read: llada, adjacent-pair RoPE, tied head. */
void tr_hparams(dl_hparams *hp, const tr_config *c);
/* w: F32 views of base's tensors; layers: [c->n_layer] records w->layers points to. */
void tr_bind(dl_model *w, dl_layer *layers, const float *base, const tr_config *c);
/* The dl_weight of m that tensor t of the table binds. */
const dl_weight *tr_tensor_weight(const dl_model *m, const tr_tensor *t);
/* Deterministic init from seed: matrices N(0, 0.02) (output projections scaled by
 * 1/sqrt(2 n_layer)), norms 1. */
void tr_init_params(float *params, const tr_config *c, uint64_t seed);

/* --- random numbers: the library's splitmix64 (sample/sample.h: dl_splitmix64_next,
 * _uniform in [0, 1), _below), a single u64 of state that the checkpoint stores */

/* --- a step's sequences, stacked row after row */
typedef struct tr_batch {
    int32_t max_seq, max_len;
    int32_t n_seq, n_rows;
    int32_t *seq_start, *seq_len;   /* [max_seq] */
    int32_t *seq_fixed;             /* [max_seq] leading positions never masked: the BOS, and
                                     * an instruction pair's prompt */
    int32_t *clean;                 /* [max_seq * max_len] the true tokens */
    int32_t *input;                 /* [max_seq * max_len] with masks applied */
    int32_t *pos;                   /* [max_seq * max_len] position within its sequence */
    int32_t n_masked;
    int32_t *mask_rows, *targets;   /* [max_seq * max_len] */
    float *weights;                 /* [max_seq * max_len] loss weight of each masked row */
} tr_batch;

int tr_batch_init(tr_batch *b, int32_t max_seq, int32_t max_len, dl_err *err);
void tr_batch_free(tr_batch *b);

/* --- data: the corpus as one token stream, documents separated by EOS */
typedef struct tr_data {
    uint16_t *tok;
    size_t n;
} tr_data;

/* Whole file into a malloc'd buffer (NUL-terminated). */
int tr_slurp(const char *path, char **buf, size_t *n, dl_err *err);

/* Tokenizes text_path (documents separated by blank lines) with the tokenizer in
 * tok_path, or reads the cache text_path + ".tok" when it matches the text and the
 * tokenizer. Logs progress to stderr when verbose. */
int tr_data_load(tr_data *d, const char *text_path, const char *tok_path, int verbose,
                 dl_err *err);
void tr_data_free(tr_data *d);

/* n_seq sequences [BOS] + a random window; with probability cut_frac a sequence is
 * cut to a length uniform in [2, max_len]. Sets clean, pos, seq_*; input = clean. */
void tr_sample_batch(tr_batch *b, const tr_data *d, int32_t n_seq, float cut_frac, int32_t bos,
                     uint64_t *rng);
/* Windows first .. first+n_seq-1 of n_total evenly spaced full-length windows. */
void tr_val_batch(tr_batch *b, const tr_data *d, int32_t first, int32_t n_seq, int32_t n_total,
                  int32_t bos);

/* --- instruction pairs (sft.c): "PROMPT<TAB>RESPONSE" lines, each a sequence
 * [BOS] prompt response EOS ... padded with EOS, the prompt never masked */
typedef struct tr_sft_example {
    size_t off;                 /* first token in tr_sft.tok */
    int32_t n_prompt, n_resp;
} tr_sft_example;

typedef struct tr_sft {
    uint16_t *tok;              /* every example's prompt then response tokens */
    tr_sft_example *ex;
    size_t n;
    size_t n_dropped;           /* examples that do not fit max_len with one EOS */
} tr_sft;

int tr_sft_load(tr_sft *s, const char *path, const char *tok_path, int32_t max_len,
                dl_err *err);
void tr_sft_free(tr_sft *s);
/* Appends n_seq examples drawn uniformly, each padded to a length uniform between its
 * own + 1 EOS and max_len (the batch keeps what it holds). */
void tr_sft_sample(tr_batch *b, const tr_sft *s, int32_t n_seq, int32_t bos, int32_t eos,
                   uint64_t *rng);
/* Examples first .. first+n_seq-1 of n_total evenly spaced ones (the batch is reset). */
void tr_sft_val_batch(tr_batch *b, const tr_sft *s, int32_t first, int32_t n_seq,
                      int32_t n_total, int32_t bos, int32_t eos);

/* --- objective (LLaDA): per sequence t ~ U(0,1), p = (1 - 1e-3) t + 1e-3; every
 * position from seq_fixed on (all but the BOS, or an instruction pair's response) is
 * masked with probability p. A masked row's weight is 1 / (p * (len - fixed) * n_norm):
 * the sum over rows of weight * CE is the batch mean of each sequence's 1/p-weighted
 * masked cross-entropy per maskable token. */
#define TR_MASK_EPS 1e-3
void tr_apply_mask(tr_batch *b, int32_t mask_id, int32_t n_norm, uint64_t *rng);

/* --- the trainable model and its activations */
typedef struct tr_model tr_model;

int tr_model_new(tr_model **out, const tr_config *c, int32_t max_seq, int32_t n_threads,
                 dl_err *err);
void tr_model_free(tr_model *m);
float *tr_model_params(tr_model *m);
float *tr_model_grads(tr_model *m);
size_t tr_model_n_params(const tr_model *m);
/* Products in f32 (0, the default) or with bf16 operands and f32 sums (1). */
void tr_model_set_bf16(tr_model *m, int on);

/* Forward over the batch (and backward into the gradients, zeroed first, when
 * `backward`). Returns sum over masked rows of weight * cross-entropy. */
double tr_forward_backward(tr_model *m, const tr_batch *b, int backward);
/* Logits of every position of one sequence (positions 0..T-1).
 *   logits: [T][n_vocab] out.  T <= n_ctx and T <= max_seq * n_ctx. */
void tr_forward_logits(tr_model *m, const int32_t *tokens, int32_t T, float *logits);

/* --- optimiser */
float tr_lr_at(const tr_hyper *h, int64_t step);
double tr_grad_norm(const float *g, size_t n);
/* One AdamW update (t = 1-based step count for bias correction) of every tensor;
 * gradients are multiplied by grad_scale (clipping) first. */
void tr_adamw_update(float *params, float *m, float *v, const float *grads,
                     const tr_config *c, const tr_hyper *h, float lr, float grad_scale,
                     int64_t t);

/* --- checkpoint: everything a run needs to continue exactly */
typedef struct tr_state {
    tr_config cfg;
    tr_hyper hp;
    int64_t step;               /* steps completed */
    int64_t tokens_seen;
    uint64_t data_rng, mask_rng;
    double elapsed;             /* seconds of training so far */
    char tokenizer[TR_PATH_MAX], train[TR_PATH_MAX], val[TR_PATH_MAX];
    char sft[TR_PATH_MAX], sft_val[TR_PATH_MAX];   /* instruction pairs ("" = none) */
} tr_state;

/* Writes path atomically (path.tmp, fsync, rename). p, m, v: [n] each. */
int tr_ckpt_save(const char *path, const tr_state *st, const float *p, const float *m,
                 const float *v, size_t n, dl_err *err);
/* Reads a checkpoint; p, m, v are malloc'd [n] (any of them may be NULL: skipped). */
int tr_ckpt_load(const char *path, tr_state *st, float **p, float **m, float **v, size_t *n,
                 dl_err *err);

/* --- export: a llada GGUF with the tokenizer's tokenizer.* keys. wtype: DL_TYPE_F16 or
 * DL_TYPE_F32 for the matrices; vectors are F32. */
int tr_export_gguf(const char *path, const tr_config *c, const float *params,
                   const char *tokenizer_path, uint32_t wtype, dl_err *err);

/* --- init from a model: a llada GGUF (F32 / F16 / BF16 tensors, tied head, the trainer's
 * tensor names) as the starting point of a fresh run. cfg is in/out: fields that are 0
 * (head_dim always) take the file's shape, the others must equal it. *params is
 * malloc'd [tr_n_params(cfg)]. Errors name the key or tensor at fault. With grow,
 * cfg->n_layer may exceed the file's: the model is grown in depth, computing what the
 * file's does (init_from.c). */
int tr_init_from_gguf(const char *path, tr_config *cfg, int grow, float **params, dl_err *err);

/* --- a run */
typedef struct tr_opts {
    tr_config cfg;
    tr_hyper hp;
    const char *tokenizer, *train, *val;
    const char *sft, *sft_val;  /* instruction pairs for hp.sft_frac of each step, and the
                                 * held-out ones evaluated beside val (both or neither) */
    const char *init_from;      /* fresh run: weights and shape from this GGUF; its tokenizer.*
                                 * keys serve when tokenizer is NULL. cfg fields left 0 come
                                 * from the file (see tr_init_from_gguf) */
    int grow;                   /* with init_from: cfg.n_layer may exceed the file's */
    const char *ckpt_dir;       /* checkpoint: ckpt_dir/ckpt.bin */
    const char *log_csv;        /* NULL: ckpt_dir/log.csv */
    int resume;                 /* continue from ckpt_dir/ckpt.bin */
    int64_t stop_after;         /* > 0: stop (with a checkpoint) once this step is done */
    int64_t end_at;             /* > 0 with --resume: end the run (and its cosine decay) at this step */
    int precision_given;        /* with --resume: hp.bf16 replaces the checkpoint's setting */
    int64_t bench;              /* > 0: time this many steps, write nothing */
    int verbose;
} tr_opts;

int tr_train(const tr_opts *o, dl_err *err);

#endif

/* ctx.h - the private context: a reference to a shared model, and what one generation
 * at a time needs of its own: scheduler, thread pool, the arena every step works in,
 * last error, cancel flag. api.c checks arguments and calls ctx_api.h. */
#ifndef DL_CTX_H
#define DL_CTX_H

#include "core/core.h"
#include "core/pool.h"
#include "fmt/gguf.h"
#include "ctx/ctx_api.h"
#include "ctx/model_obj.h"
#include "model/model.h"
#include "sched/sched.h"
#include "tok/tok.h"

struct difflm_ctx {
    dl_mem mem;                 /* the allocator of everything the context owns */
    dl_log log;
    dl_err err;                 /* detail of the last failure */
    struct difflm_model *lm;    /* shared, read-only; the context holds a reference */
    dl_model model_run;         /* a private copy of *lm->model carrying this context's
                                   pool and thread count (the shared one is never
                                   written); the weights it points at are shared */
    const dl_model *model;      /* &model_run */
    const dl_tok *tok;          /* lm->tok */
    dl_sched *sched;

    int32_t max_canvas;
    int32_t n_threads;
    dl_pool *pool;              /* n_threads threads (the caller's included), kept for
                                   the context's life; the model's products run on it */
    int32_t mask_id;            /* lm->mask_id */
    int32_t n_tok_vocab;        /* lm->n_tok_vocab */
    int32_t logit_rows;         /* rows per head chunk */

    /* Arena pieces (one allocation). */
    void *arena;
    void *fwd_scratch;          /* dl_model_scratch_size(max_canvas) */
    void *head_scratch;         /* dl_model_logits_scratch_size(logit_rows) */
    float *hidden;              /* [max_canvas][n_embd] conditional pass */
    float *hidden_un;           /* [max_canvas][n_embd] CFG's unconditional pass */
    float *logits;              /* [logit_rows][n_vocab] */
    float *logits_un;           /* [logit_rows][n_vocab] */
    int32_t *pos;               /* [max_canvas] candidate positions of a step */
    int32_t *rows;              /* [logit_rows] hidden rows for one head chunk */
    int32_t *canvas_un;         /* [max_canvas] CFG's unconditional canvas */
    void *kv_mem;               /* dl_kv_cache_size(max_canvas): untouched (so not resident)
                                   until a generation uses a cache */
    dl_kv_cache kv;

    /* Generation state. */
    int have_canvas;
    float cfg_scale;
    int32_t cache;              /* DIFFLM_CACHE_* of this generation */
    uint32_t gen_flags;         /* DIFFLM_GEN_* of this generation */
    int block_diffusion;        /* this generation runs DIFFLM_SCHEDULE_BLOCK_DIFFUSION */
    int32_t bd_kv_rows;         /* block diffusion: kv holds the final K/V of canvas rows
                                   [0, bd_kv_rows) (whole finished blocks) */
    int32_t hidden_row0;        /* this step's hidden[i] is canvas row hidden_row0 + i */
    int32_t hidden_rows;
    difflm_step_fn step_fn;
    void *step_user;
    int cancel;                 /* written with __atomic_store_n from any thread */

    /* Batches (ctx_batch.c): up to max_batch canvases advanced by one pass. The arena's
     * forward scratch and hidden states are sized for max_batch * max_canvas rows. */
    int32_t max_batch;
    dl_sched *batch_sched[DL_MAX_BATCH];  /* [0] is sched; [1 .. max_batch) the batch's own */
    int32_t batch_n;            /* canvases of the batch begun (0: no batch) */
    int32_t batch_row0[DL_MAX_BATCH];     /* this step's first hidden row of each canvas
                                             (-1: it took no rows) */
};

/* The pieces of dl_ctx_begin that a canvas begin (ctx_infill.c) shares: the checks of
 * the parameters that are the context's (CFG, cache), AUTO resolved into the
 * scheduler's form, and the generation's settings kept once the scheduler has begun. */
int dl_ctx_check_gen(struct difflm_ctx *c, const difflm_gen_params *g);
void dl_ctx_resolve_params(const struct difflm_ctx *c, const difflm_gen_params *g,
                           dl_sched_params *sp);
void dl_ctx_set_gen(struct difflm_ctx *c, const difflm_gen_params *g);

/* A block diffusion step's forward pass (ctx_block.c) for the block [lo, hi): the rows
 * the exact KV cache lacks and the block's, against the cache (or, with
 * DIFFLM_GEN_BLOCK_RECOMPUTE, the canvas up to hi recomputed); sets hidden_row0/rows. */
int dl_ctx_block_forward(struct difflm_ctx *c, const int32_t *canvas, int32_t lo, int32_t hi);

/* A batch has begun and not every canvas of it is complete. */
int dl_ctx_batch_unfinished(const struct difflm_ctx *c);

#endif

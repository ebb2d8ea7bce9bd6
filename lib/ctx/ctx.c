/* ctx.c - context lifetime and the step loop: forward pass(es), head over the candidate
 * rows in chunks, scheduler predict/commit. Nothing here allocates after create. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctx/ctx.h"
#include "difflm.h"
#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "model/model_weights.h"

_Static_assert(DIFFLM_PRECISION_EXACT == DL_PRECISION_EXACT &&
               DIFFLM_PRECISION_BF16 == DL_PRECISION_BF16, "precision values");

#if DL_HAVE_BLAS
#include <cblas.h>
#endif

/* Lays out every arena piece; with a measuring arena (base NULL) it only sums sizes. */
static void ctx_layout(struct difflm_ctx *c, dl_arena *a) {
    const dl_hparams *hp = &c->model->hp;
    size_t canvas = (size_t)c->max_canvas, rows = (size_t)c->logit_rows;
    size_t batch_rows = canvas * (size_t)c->max_batch;   // <= DL_MAX_CANVAS (ctx_size)
    // a batch's pass: max_batch canvases of max_canvas rows (one canvas: the plain size)
    c->fwd_scratch = dl_arena_alloc(a, dl_model_batch_scratch_size(c->model, (int32_t)batch_rows,
                                                                   c->max_canvas));
    c->head_scratch = dl_arena_alloc(a, dl_model_logits_scratch_size(c->model, c->logit_rows));
    c->hidden = dl_arena_alloc(a, batch_rows * (size_t)hp->n_embd * sizeof(float));
    c->hidden_un = dl_arena_alloc(a, canvas * (size_t)hp->n_embd * sizeof(float));
    c->logits = dl_arena_alloc(a, rows * (size_t)hp->n_vocab * sizeof(float));
    c->logits_un = dl_arena_alloc(a, rows * (size_t)hp->n_vocab * sizeof(float));
    c->pos = dl_arena_alloc(a, canvas * sizeof(int32_t));
    c->rows = dl_arena_alloc(a, rows * sizeof(int32_t));
    c->canvas_un = dl_arena_alloc(a, canvas * sizeof(int32_t));
    c->kv_mem = dl_arena_alloc(a, dl_kv_cache_size(c->model, c->max_canvas));
}

/* Which f32 GEMM the matrix products use; OpenBLAS names the kernel set it picked, which
 * matters: Debian 12's build falls back to slow Prescott kernels on recent Xeons. */
static const char *blas_name(void) {
#if DL_HAVE_BLAS
    return openblas_get_corename();
#else
    return "none (portable kernels)";
#endif
}

/* The canvas the context serves: the request, or the model's context up to 2048. */
static int32_t resolve_max_canvas(const struct difflm_model *lm, const difflm_ctx_params *p) {
    int32_t n_ctx = lm->model->hp.n_ctx_train;
    int32_t mc = p->max_canvas > 0 ? p->max_canvas : DL_MIN(n_ctx, 2048);
    return mc > 0 ? mc : 2048;
}

/* The largest canvas a context may be created for: far above any model's context, low
 * enough that every size the arena and scheduler derive from it fits in an int. */
#define DL_MAX_CANVAS (1 << 22)

/* Sizes the context for lm and p: max_canvas, logit_rows and, through a measuring
 * layout, the arena. Allocates nothing. */
static int ctx_size(struct difflm_ctx *c, const struct difflm_model *lm,
                    const difflm_ctx_params *p, size_t *arena, dl_err *err) {
    c->lm = (struct difflm_model *)lm;
    c->model_run = *lm->model;
    c->model = &c->model_run;
    c->n_threads = p->n_threads > 0 ? p->n_threads : dl_cpu_count();
    c->model_run.n_threads = c->n_threads;   // the scratch has a score block per thread
    if (p->precision != DIFFLM_PRECISION_EXACT && p->precision != DIFFLM_PRECISION_BF16)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "precision %d is not DIFFLM_PRECISION_EXACT (0) "
                       "or DIFFLM_PRECISION_BF16 (1)", (int)p->precision);
    c->model_run.precision = p->precision;   // the products' scratch depends on it
    c->max_canvas = resolve_max_canvas(lm, p);
    if (c->max_canvas > DL_MAX_CANVAS)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "max_canvas %d is above the limit of %d",
                       c->max_canvas, DL_MAX_CANVAS);
    c->max_batch = p->max_batch > 0 ? p->max_batch : 1;
    if (c->max_batch > DL_MAX_BATCH)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "max_batch %d is above the limit of %d",
                       c->max_batch, DL_MAX_BATCH);
    if ((int64_t)c->max_batch * c->max_canvas > DL_MAX_CANVAS)
        return dl_fail(err, DIFFLM_E_INVALID_ARG,
                       "max_batch %d times max_canvas %d is above the limit of %d rows",
                       c->max_batch, c->max_canvas, DL_MAX_CANVAS);
    c->logit_rows = DL_MIN(c->max_canvas, 32);
    dl_arena a = {0};
    ctx_layout(c, &a);
    if (a.used == SIZE_MAX)
        return dl_fail(err, DIFFLM_E_NOMEM, "arena size overflows for max_canvas %d",
                       c->max_canvas);
    *arena = a.used;
    return 0;
}

/* The bytes of the packed copy of the weights a context with parameters p uses on lm
 * (0: none; the copy may exist already, made by another context). */
static size_t packed_copy_bytes(const struct difflm_model *lm, const difflm_ctx_params *p) {
    if (p->pack_weights == DIFFLM_PACK_OFF)
        return 0;
    size_t bytes = dl_model_pack_size(lm->model, p->precision);
    if (p->pack_weights == DIFFLM_PACK_AUTO && p->precision == DIFFLM_PRECISION_EXACT &&
        bytes > DIFFLM_PACK_AUTO_MAX)
        return 0;
    return bytes;
}

int dl_ctx_memory_required(const struct difflm_model *lm, const difflm_ctx_params *p,
                           size_t *bytes, dl_err *err) {
    struct difflm_ctx c = {0};
    size_t arena = 0, total;
    int rc = ctx_size(&c, lm, p, &arena, err);
    if (rc != 0)
        return rc;
    size_t sched, scheds;   // the context's scheduler and the batch's other ones
    sched = dl_sched_memory(c.max_canvas, lm->model->hp.n_vocab);
    if (dl_mul_size(sched, (size_t)c.max_batch, &scheds) ||
        dl_add_size(arena, scheds, &total) ||
        dl_add_size(total, sizeof(struct difflm_ctx), &total) ||
        dl_add_size(total, dl_model_obj_has_packed((struct difflm_model *)lm, p->precision)
                               ? 0 : packed_copy_bytes(lm, p), &total))
        return dl_fail(err, DIFFLM_E_NOMEM, "context size overflows for max_canvas %d",
                       c.max_canvas);
    *bytes = total;
    return 0;
}

/* The float matrices packed once, so a step does not pack them again (a quarter of a
 * bf16 step on a 150M model, ~15% of an exact KV-cached pass on the default model): the
 * model's copy for this precision, made now if no context made it before. */
static int pack_weights(struct difflm_ctx *c, const difflm_ctx_params *p, dl_err *err) {
    size_t bytes = packed_copy_bytes(c->lm, p);
    if (!bytes)
        return 0;
    const dl_packed_copy *pk;
    int rc = dl_model_obj_packed(c->lm, c->model_run.precision, bytes, c->pool, c->n_threads,
                                 &pk, err);
    if (rc != 0)
        return rc;
    c->model_run.layers = pk->layers;
    c->model_run.output = pk->output;
    c->model_run.tok_embd = pk->tok_embd;
    dl_logf(&c->log, DIFFLM_LOG_INFO, "the float weights packed once (%s panels, the model's "
            "copy), %.1f MiB", c->model_run.precision == DL_PRECISION_BF16 ? "bf16" : "f32 product",
            (double)bytes / (1 << 20));
    return 0;
}

int dl_ctx_create(struct difflm_ctx **out, struct difflm_model *lm, const difflm_ctx_params *p,
                  dl_err *err) {
    *out = NULL;
    struct difflm_ctx *c = dl_calloc(1, sizeof *c);
    if (!c)
        return dl_fail(err, DIFFLM_E_NOMEM, "cannot allocate the context");
    c->mem = (dl_mem){p->alloc_fn, p->free_fn, p->alloc_user};
    if (!c->mem.alloc)
        c->mem = lm->mem;
    c->log = p->log_fn ? (dl_log){p->log_fn, p->log_user, p->log_level} : lm->log;
    dl_model_obj_retain(lm);
    size_t arena_bytes = 0;
    int rc = ctx_size(c, lm, p, &arena_bytes, err);
    if (rc != 0)
        goto fail;
    c->tok = lm->tok;
    c->mask_id = lm->mask_id;
    c->n_tok_vocab = lm->n_tok_vocab;
    const dl_hparams *hp = &c->model->hp;
    const dl_tok_special *sp = dl_tok_specials(c->tok);
    if (c->max_canvas > hp->n_ctx_train)
        dl_logf(&c->log, DIFFLM_LOG_WARN, "max_canvas %d exceeds the model's context length %d",
                c->max_canvas, hp->n_ctx_train);
    if ((rc = dl_pool_create(&c->pool, c->n_threads, err)) != 0)
        goto fail;
    c->model_run.pool = c->pool;
    if (dl_gemm_backend() == DL_GEMM_OPENBLAS) {
        // the pool runs the products' tiles, each a single-threaded sgemm: OpenBLAS's own
        // threads would oversubscribe the cores and change the sums' order. Its count is
        // process-wide, so it is set here, once per context on that backend, and said.
        dl_blas_set_threads(1);
        dl_logf(&c->log, DIFFLM_LOG_INFO, "OpenBLAS products: its thread count set to 1");
    }

    rc = dl_sched_create(&c->sched, c->max_canvas, hp->n_vocab, c->mask_id, sp->eos, sp->eot, err);
    if (rc != 0)
        goto fail;
    c->batch_sched[0] = c->sched;
    for (int32_t i = 1; i < c->max_batch; i++)
        if ((rc = dl_sched_create(&c->batch_sched[i], c->max_canvas, hp->n_vocab, c->mask_id,
                                  sp->eos, sp->eot, err)) != 0)
            goto fail;

    c->arena = dl_aligned_alloc(arena_bytes);
    if (!c->arena) {
        rc = dl_fail(err, DIFFLM_E_NOMEM, "cannot allocate the %zu-byte arena (max_canvas %d)",
                     arena_bytes, c->max_canvas);
        goto fail;
    }
    dl_arena a = {.base = c->arena, .size = arena_bytes};
    ctx_layout(c, &a);
    dl_kv_cache_bind(&c->kv, c->model, c->kv_mem, c->max_canvas);
    if ((rc = pack_weights(c, p, err)) != 0)
        goto fail;

    dl_logf(&c->log, DIFFLM_LOG_INFO,
            "%s model: %d layers, d=%d, heads %d/%d, ff %d, vocab %d, %llu parameters; "
            "mask id %d; max canvas %d; arena %.1f MiB; %d threads; OpenBLAS core: %s",
            c->model->arch->name, hp->n_layer, hp->n_embd,
            hp->n_head, hp->n_head_kv, hp->n_ff, hp->n_vocab, (unsigned long long)hp->n_params,
            c->mask_id, c->max_canvas, (double)a.size / (1 << 20), c->n_threads, blas_name());
    char feat[192], paths[192];
    dl_logf(&c->log, DIFFLM_LOG_INFO, "CPU features: %s; %s", dl_cpu_features_str(feat, sizeof feat),
            dl_weight_paths_str(paths, sizeof paths, c->model_run.precision));
    *out = c;
    return 0;
fail:
    dl_ctx_free(c);
    return rc;
}

void dl_ctx_free(struct difflm_ctx *c) {
    if (!c)
        return;
    dl_sched_free(c->sched);
    for (int32_t i = 1; i < DL_MAX_BATCH; i++)
        dl_sched_free(c->batch_sched[i]);
    dl_pool_free(c->pool);
    dl_aligned_free(c->arena);
    struct difflm_model *lm = c->lm;
    dl_free(c);
    dl_model_obj_release(lm);   // under the model's allocator, perhaps the last reference
}

/* Resolves AUTO settings and copies the public parameters into the scheduler's form. */
void dl_ctx_resolve_params(const struct difflm_ctx *c, const difflm_gen_params *g,
                           dl_sched_params *sp) {
    sp->gen_length = g->gen_length;
    sp->steps = g->steps;
    sp->block_length = g->block_length;
    sp->schedule = g->schedule;
    if (sp->schedule == DIFFLM_SCHEDULE_AUTO)
        // a block-causal model (a block length in its file) decodes block by block; else
        // the row's schedule (arch.c), and the caches refresh per block, so with one even
        // Dream runs in blocks
        sp->schedule = c->model->hp.block_length > 0 ? DIFFLM_SCHEDULE_BLOCK_DIFFUSION
                       : g->cache == DIFFLM_CACHE_NONE ? c->model->arch->schedule
                                                       : DIFFLM_SCHEDULE_BLOCKS;
    if (sp->schedule == DIFFLM_SCHEDULE_BLOCK_DIFFUSION)
        sp->block_length = c->model->hp.block_length;   // the model's, whatever g says
    sp->remasking = g->remasking;
    if (sp->remasking == DIFFLM_REMASK_AUTO)
        // block diffusion: LLaDA2's confidence is the chosen token's probability under
        // the sampling distribution (tempered, filtered): MASKGIT_PLUS's
        sp->remasking = sp->schedule == DIFFLM_SCHEDULE_TIMESTEPS ? DIFFLM_REMASK_ENTROPY
                      : sp->schedule == DIFFLM_SCHEDULE_BLOCK_DIFFUSION
                          ? DIFFLM_REMASK_MASKGIT_PLUS
                          : DIFFLM_REMASK_LOW_CONFIDENCE;
    sp->temperature = g->temperature;
    sp->top_k = g->top_k;
    sp->top_p = g->top_p;
    sp->eps = g->eps;
    sp->alg_temp = g->alg_temp;
    sp->flags = g->flags;
    sp->seed = g->seed;
    sp->parallel = g->parallel;
    sp->threshold = g->threshold;
    sp->factor = g->factor;
    // Under a cache a step after the block's first computes no row before the block,
    // so shifted logits cannot predict the block's first position then (doc/sampling.md, "KV caches").
    sp->force_block_first = c->model->hp.shift_logits && g->cache != DIFFLM_CACHE_NONE &&
                            sp->schedule == DIFFLM_SCHEDULE_BLOCKS;
    sp->block_threshold = g->block_threshold;
    sp->editing_threshold = g->editing_threshold;
    sp->max_post_steps = g->max_post_steps;
}

int dl_ctx_begin(struct difflm_ctx *c, const int32_t *prompt, int32_t n,
                 const difflm_gen_params *g) {
    c->have_canvas = 0;
    c->batch_n = 0;   // a context runs one generation at a time: this one ends a batch
    __atomic_store_n(&c->cancel, 0, __ATOMIC_SEQ_CST);
    // the canvas bound first: it is the constraint a too-long request breaks, whatever
    // else is wrong with the parameters (steps, blocks) for such a length
    dl_sched_params sp;
    dl_ctx_resolve_params(c, g, &sp);
    int64_t len = dl_sched_canvas_padded_len(&sp, (int64_t)n + DL_MAX(g->gen_length, 0));
    if (len > c->max_canvas)
        return dl_fail(&c->err, DIFFLM_E_TOO_LONG,
                       "prompt of %d tokens plus gen_length %d%s exceeds max_canvas %d", n,
                       g->gen_length,
                       len > (int64_t)n + DL_MAX(g->gen_length, 0) ? " padded to whole blocks"
                                                                    : "",
                       c->max_canvas);
    int rc = dl_ctx_check_gen(c, g);
    if (rc != 0)
        return rc;
    rc = dl_sched_begin(c->sched, &sp, prompt, n, &c->err);
    if (rc != 0)
        return rc;
    dl_ctx_set_gen(c, g);
    c->block_diffusion = sp.schedule == DIFFLM_SCHEDULE_BLOCK_DIFFUSION;
    return DIFFLM_OK;
}

int dl_ctx_check_gen(struct difflm_ctx *c, const difflm_gen_params *g) {
    if (!(g->cfg_scale >= 0.0f) || !isfinite(g->cfg_scale))
        return dl_fail(&c->err, DIFFLM_E_INVALID_ARG, "cfg_scale must be a finite value >= 0, got %g",
                       (double)g->cfg_scale);
    if (g->cache != DIFFLM_CACHE_NONE && g->cache != DIFFLM_CACHE_PREFIX &&
        g->cache != DIFFLM_CACHE_DUAL)
        return dl_fail(&c->err, DIFFLM_E_INVALID_ARG,
                       "cache %d is not NONE (0), PREFIX (1) or DUAL (2)", g->cache);
    if (g->cache != DIFFLM_CACHE_NONE && g->schedule == DIFFLM_SCHEDULE_TIMESTEPS)
        return dl_fail(&c->err, DIFFLM_E_INVALID_ARG,
                       "a KV cache needs the BLOCKS schedule (it is refreshed per block)");
    if (g->cache != DIFFLM_CACHE_NONE && g->cfg_scale > 0.0f)
        return dl_fail(&c->err, DIFFLM_E_UNSUPPORTED,
                       "a KV cache with classifier-free guidance is not supported");
    const int block_model = c->model->hp.block_length > 0;
    const int bd = g->schedule == DIFFLM_SCHEDULE_BLOCK_DIFFUSION ||
                   (g->schedule == DIFFLM_SCHEDULE_AUTO && block_model);
    if (g->schedule == DIFFLM_SCHEDULE_BLOCK_DIFFUSION && !block_model)
        return dl_fail(&c->err, DIFFLM_E_INVALID_ARG,
                       "the block diffusion schedule needs a block-causal model (one whose file "
                       "has diffusion.block_length); this %s model attends bidirectionally",
                       c->model->arch->name);
    if (bd && g->cache != DIFFLM_CACHE_NONE)
        return dl_fail(&c->err, DIFFLM_E_INVALID_ARG,
                       "the block diffusion schedule keeps its own exact KV cache: cache must be "
                       "NONE (Fast-dLLM's approximate caches are for the other schedules)");
    if (bd && g->cfg_scale > 0.0f && !(g->flags & DIFFLM_GEN_BLOCK_RECOMPUTE))
        return dl_fail(&c->err, DIFFLM_E_UNSUPPORTED,
                       "classifier-free guidance with the block KV cache is not supported "
                       "(DIFFLM_GEN_BLOCK_RECOMPUTE runs it without the cache)");
    if ((g->flags & DIFFLM_GEN_BLOCK_RECOMPUTE) && !bd)
        return dl_fail(&c->err, DIFFLM_E_INVALID_ARG,
                       "DIFFLM_GEN_BLOCK_RECOMPUTE needs the block diffusion schedule");
    return 0;
}

void dl_ctx_set_gen(struct difflm_ctx *c, const difflm_gen_params *g) {
    c->cfg_scale = g->cfg_scale;
    c->cache = g->cache;
    c->gen_flags = g->flags;
    c->step_fn = g->step_fn;
    c->step_user = g->step_user;
    c->have_canvas = 1;
    c->block_diffusion = 0;
    c->bd_kv_rows = 0;   // the cache holds nothing of this canvas yet
}

/* Logits for this step's hidden rows c->rows[0 .. n) into c->logits: CFG combined,
 * ids past the tokenizer's vocabulary hidden. */
static void head_rows(struct difflm_ctx *c, int32_t n) {
    const dl_hparams *hp = &c->model->hp;
    size_t V = (size_t)hp->n_vocab;
    dl_model_logits(c->model, c->head_scratch, c->hidden, c->rows, n, c->logits);
    if (c->cfg_scale > 0.0f) {
        dl_model_logits(c->model, c->head_scratch, c->hidden_un, c->rows, n, c->logits_un);
        dl_cfg_combine(c->logits, c->logits_un, c->cfg_scale, (size_t)n * V);
    }
    if (c->n_tok_vocab < hp->n_vocab)
        for (int32_t i = 0; i < n; i++)
            for (size_t v = (size_t)c->n_tok_vocab; v < V; v++)
                c->logits[(size_t)i * V + v] = -INFINITY;
}

/* The hidden row (of this step's) that predicts canvas position p: p itself, or p - 1
 * for shifted logits (row 0 for p = 0); -1 when this step did not compute it. */
static int32_t source_row(const struct difflm_ctx *c, int32_t p) {
    int32_t r = (c->model->hp.shift_logits && p > 0 ? p - 1 : p) - c->hidden_row0;
    return r >= 0 && r < c->hidden_rows ? r : -1;
}

/* Predictions for the n_cand candidates in c->pos, the head run only over their rows,
 * in chunks of logit_rows. */
static int predict_candidates(struct difflm_ctx *c, int32_t n_cand) {
    for (int32_t first = 0; first < n_cand; first += c->logit_rows) {
        int32_t n = DL_MIN(c->logit_rows, n_cand - first);
        for (int32_t i = 0; i < n; i++)
            if ((c->rows[i] = source_row(c, c->pos[first + i])) < 0)
                return dl_fail(&c->err, DIFFLM_E_INTERNAL,
                               "position %d has no hidden row in this step's rows [%d, %d)",
                               c->pos[first + i], c->hidden_row0,
                               c->hidden_row0 + c->hidden_rows);
        head_rows(c, n);
        dl_sched_predict(c->sched, first, n, c->logits);
    }
    return 0;
}

/* DIFFLM_GEN_ALL_LOGITS: the head runs over every hidden row of the step (what a
 * runtime without candidate selection pays); the candidates are predicted from those
 * rows one at a time. A row that predicts two positions (p = 0 and 1 when shifted) is
 * recomputed for the second, since prediction edits its row in place. */
static int predict_from_all_rows(struct difflm_ctx *c, int32_t n_cand) {
    const size_t V = (size_t)c->model->hp.n_vocab;
    int32_t next = 0, prev_row = -1;
    for (int32_t r0 = 0; r0 < c->hidden_rows; r0 += c->logit_rows) {
        int32_t n = DL_MIN(c->logit_rows, c->hidden_rows - r0);
        for (int32_t i = 0; i < n; i++)
            c->rows[i] = r0 + i;
        head_rows(c, n);
        for (; next < n_cand; next++) {
            int32_t r = source_row(c, c->pos[next]);
            if (r < 0)
                return dl_fail(&c->err, DIFFLM_E_INTERNAL,
                               "position %d has no hidden row in this step", c->pos[next]);
            if (r >= r0 + n)
                break;
            if (r == prev_row) {
                int32_t keep = c->rows[0];
                c->rows[0] = r;
                head_rows(c, 1);
                dl_sched_predict(c->sched, next, 1, c->logits);
                c->rows[0] = keep;
                for (int32_t i = 0; i < n; i++)
                    c->rows[i] = r0 + i;
                head_rows(c, n);   // the chunk again: its rows were overwritten
            } else {
                dl_sched_predict(c->sched, next, 1, c->logits + (size_t)(r - r0) * V);
            }
            prev_row = r;
        }
    }
    return next == n_cand ? 0
                          : dl_fail(&c->err, DIFFLM_E_INTERNAL, "candidates past the hidden rows");
}

/* This step's forward pass(es): the whole canvas, or under a cache the whole canvas at
 * a block's first step (refreshing the cache) and the block (dual) or the block and
 * everything after it (prefix) at its later steps. */
static int step_forward(struct difflm_ctx *c, const int32_t *canvas, int32_t L) {
    int32_t lo, hi;
    int block_first = dl_sched_region(c->sched, &lo, &hi);
    if (c->block_diffusion)
        return dl_ctx_block_forward(c, canvas, lo, hi);
    c->hidden_row0 = 0;
    c->hidden_rows = L;
    if (c->cache == DIFFLM_CACHE_NONE) {
        int rc = dl_model_forward(c->model, c->fwd_scratch, canvas, L, c->hidden, &c->cancel,
                                  &c->err);
        if (rc == 0 && c->cfg_scale > 0.0f) {
            // every fixed position (the prompt, a canvas's text) masked
            const uint8_t *fixed = dl_sched_fixed(c->sched);
            for (int32_t i = 0; i < L; i++)
                c->canvas_un[i] = fixed[i] ? c->mask_id : canvas[i];
            rc = dl_model_forward(c->model, c->fwd_scratch, c->canvas_un, L, c->hidden_un,
                                  &c->cancel, &c->err);
        }
        return rc;
    }
    if (block_first)
        return dl_model_forward_fill(c->model, c->fwd_scratch, canvas, L, c->hidden, &c->kv,
                                     &c->cancel, &c->err);
    c->hidden_row0 = lo;
    c->hidden_rows = (c->cache == DIFFLM_CACHE_DUAL ? hi : L) - lo;
    return dl_model_forward_cached(c->model, c->fwd_scratch, canvas, L, lo, c->hidden_rows,
                                   c->hidden, &c->kv, &c->cancel, &c->err);
}

int dl_ctx_step(struct difflm_ctx *c) {
    if (!c->have_canvas)
        return dl_fail(&c->err, DIFFLM_E_STATE, "no canvas: call difflm_generate_begin first");
    if (dl_sched_done(c->sched))
        return DIFFLM_DONE;
    if (__atomic_load_n(&c->cancel, __ATOMIC_SEQ_CST))
        return dl_fail(&c->err, DIFFLM_E_CANCELLED, "generation was cancelled");

    const int32_t *canvas = dl_sched_canvas(c->sched);
    int32_t L = dl_sched_canvas_len(c->sched);
    int32_t n_cand = dl_sched_positions(c->sched, c->pos);
    int rc = step_forward(c, canvas, L);
    if (rc == 0)
        rc = (c->gen_flags & DIFFLM_GEN_ALL_LOGITS) ? predict_from_all_rows(c, n_cand)
                                                    : predict_candidates(c, n_cand);
    if (rc != 0)
        return rc;

    int32_t n_committed = 0;
    rc = dl_sched_commit(c->sched, &n_committed);
    if (rc < 0)
        return rc;

    if (c->step_fn) {
        difflm_step_info info = {
            .struct_size = sizeof info,
            .step = dl_sched_steps_done(c->sched),
            .total_steps = dl_sched_total_steps(c->sched),
            .n_committed = n_committed,
            .n_masked = dl_sched_n_masked(c->sched),
            .prompt_length = dl_sched_prompt_len(c->sched),
            .canvas = dl_sched_canvas(c->sched),
            .canvas_length = (size_t)dl_sched_canvas_len(c->sched),
        };
        if (c->step_fn(&info, c->step_user) != 0) {
            __atomic_store_n(&c->cancel, 1, __ATOMIC_SEQ_CST);
            return dl_fail(&c->err, DIFFLM_E_CANCELLED, "stopped by the step callback at step %d",
                           info.step);
        }
    }
    return rc;
}

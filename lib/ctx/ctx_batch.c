/* ctx_batch.c - batches: up to max_batch canvases, each with its own scheduler (its
 * canvas, schedule state and random stream), advanced by one forward pass over all
 * their rows (dl_model_forward_batch). The head and the scheduler then run per canvas
 * exactly as the single step does (ctx.c), so each canvas commits the tokens it would
 * alone: the pass gives its rows the same bits, the head computes rows independently
 * (fixed row groups), and the scheduler never sees the other canvases. */
#include <math.h>
#include <string.h>

#include "ctx/ctx.h"

int dl_ctx_batch_unfinished(const struct difflm_ctx *c) {
    for (int32_t i = 0; i < c->batch_n; i++)
        if (!dl_sched_done(c->batch_sched[i]))
            return 1;
    return 0;
}

/* What a batch cannot run (yet): each would need state per canvas the batch lacks. */
static int check_supported(struct difflm_ctx *c, const difflm_gen_params *g) {
    if (!(g->cfg_scale >= 0.0f) || !isfinite(g->cfg_scale))
        return dl_fail(&c->err, DIFFLM_E_INVALID_ARG,
                       "cfg_scale must be a finite value >= 0, got %g", (double)g->cfg_scale);
    if (g->cfg_scale > 0.0f)
        return dl_fail(&c->err, DIFFLM_E_UNSUPPORTED,
                       "a batch does not run classifier-free guidance (cfg_scale > 0)");
    if (g->cache != DIFFLM_CACHE_NONE && g->cache != DIFFLM_CACHE_PREFIX &&
        g->cache != DIFFLM_CACHE_DUAL)
        return dl_fail(&c->err, DIFFLM_E_INVALID_ARG,
                       "cache %d is not NONE (0), PREFIX (1) or DUAL (2)", g->cache);
    if (g->cache != DIFFLM_CACHE_NONE)
        return dl_fail(&c->err, DIFFLM_E_UNSUPPORTED, "a batch does not run the KV caches");
    if (g->flags & DIFFLM_GEN_ALL_LOGITS)
        return dl_fail(&c->err, DIFFLM_E_UNSUPPORTED,
                       "a batch does not run DIFFLM_GEN_ALL_LOGITS (a measuring mode)");
    if (g->schedule == DIFFLM_SCHEDULE_BLOCK_DIFFUSION ||
        (g->schedule == DIFFLM_SCHEDULE_AUTO && c->model->hp.block_length > 0))
        return dl_fail(&c->err, DIFFLM_E_UNSUPPORTED,
                       "a batch does not run the block diffusion schedule (its KV cache is per "
                       "canvas); name another schedule for a block model's batch");
    return 0;
}

int dl_ctx_batch_begin(struct difflm_ctx *c, const int32_t *const *prompts, const size_t *n,
                       size_t n_canvases, const uint64_t *seeds, const difflm_gen_params *g) {
    c->have_canvas = 0;   // a context runs one generation at a time: this ends a single one
    c->batch_n = 0;
    __atomic_store_n(&c->cancel, 0, __ATOMIC_SEQ_CST);
    if (n_canvases == 0)
        return dl_fail(&c->err, DIFFLM_E_INVALID_ARG, "difflm_batch_begin: no canvases");
    if (n_canvases > (size_t)c->max_batch)
        return dl_fail(&c->err, DIFFLM_E_INVALID_ARG,
                       "difflm_batch_begin: %zu canvases exceed the context's max_batch %d "
                       "(difflm_ctx_params.max_batch)", n_canvases, c->max_batch);
    for (size_t i = 0; i < n_canvases; i++) {
        if (!prompts[i] && n[i] > 0)
            return dl_fail(&c->err, DIFFLM_E_INVALID_ARG,
                           "difflm_batch_begin: prompts[%zu] is NULL with n[%zu] = %zu", i, i,
                           n[i]);
        // the canvas bound first, as difflm_generate_begin
        if (n[i] > (size_t)c->max_canvas ||
            (int64_t)n[i] + DL_MAX(g->gen_length, 0) > c->max_canvas)
            return dl_fail(&c->err, DIFFLM_E_TOO_LONG,
                           "canvas %zu: prompt of %zu tokens plus gen_length %d exceeds "
                           "max_canvas %d", i, n[i], g->gen_length, c->max_canvas);
    }
    int rc = check_supported(c, g);
    if (rc != 0)
        return rc;
    dl_sched_params sp;
    dl_ctx_resolve_params(c, g, &sp);
    for (size_t i = 0; i < n_canvases; i++) {
        sp.seed = seeds ? seeds[i] : g->seed;
        rc = dl_sched_begin(c->batch_sched[i], &sp, prompts[i], (int32_t)n[i], &c->err);
        if (rc != 0) {
            char msg[sizeof c->err.msg];
            memcpy(msg, c->err.msg, sizeof msg);
            return dl_fail(&c->err, rc, "canvas %zu: %s", i, msg);
        }
    }
    c->cfg_scale = 0.0f;
    c->cache = DIFFLM_CACHE_NONE;
    c->gen_flags = g->flags;
    c->step_fn = g->step_fn;
    c->step_user = g->step_user;
    c->batch_n = (int32_t)n_canvases;
    return DIFFLM_OK;
}

/* The hidden row (of this step's batch) that predicts position p of canvas i: p, or p - 1
 * with shifted logits (row 0 for p = 0), past the rows of the canvases before it. */
static int32_t batch_row(const struct difflm_ctx *c, int32_t i, int32_t p) {
    return c->batch_row0[i] + (c->model->hp.shift_logits && p > 0 ? p - 1 : p);
}

/* Canvas i's candidates predicted from its rows of the batch's hidden states, the head
 * in chunks of logit_rows as a single step runs it. */
static void predict_canvas(struct difflm_ctx *c, int32_t i) {
    const size_t V = (size_t)c->model->hp.n_vocab;
    dl_sched *s = c->batch_sched[i];
    int32_t n_cand = dl_sched_positions(s, c->pos);
    for (int32_t first = 0; first < n_cand; first += c->logit_rows) {
        int32_t n = DL_MIN(c->logit_rows, n_cand - first);
        for (int32_t k = 0; k < n; k++)
            c->rows[k] = batch_row(c, i, c->pos[first + k]);
        dl_model_logits(c->model, c->head_scratch, c->hidden, c->rows, n, c->logits);
        if (c->n_tok_vocab < (int32_t)V)   // ids past the tokenizer's vocabulary never win
            for (int32_t k = 0; k < n; k++)
                for (size_t v = (size_t)c->n_tok_vocab; v < V; v++)
                    c->logits[(size_t)k * V + v] = -INFINITY;
        dl_sched_predict(s, first, n, c->logits);
    }
}

int dl_ctx_batch_step(struct difflm_ctx *c) {
    if (c->batch_n == 0)
        return dl_fail(&c->err, DIFFLM_E_STATE, "no batch: call difflm_batch_begin first");
    if (!dl_ctx_batch_unfinished(c))
        return DIFFLM_DONE;
    if (__atomic_load_n(&c->cancel, __ATOMIC_SEQ_CST))
        return dl_fail(&c->err, DIFFLM_E_CANCELLED, "batch was cancelled");

    // the canvases still denoising, their rows one after the other
    dl_canvas_seg segs[DL_MAX_BATCH];
    int32_t n_seg = 0, rows = 0;
    for (int32_t i = 0; i < c->batch_n; i++) {
        c->batch_row0[i] = -1;
        if (dl_sched_done(c->batch_sched[i]))
            continue;
        segs[n_seg].tokens = dl_sched_canvas(c->batch_sched[i]);
        segs[n_seg].n_tokens = dl_sched_canvas_len(c->batch_sched[i]);
        c->batch_row0[i] = rows;
        rows += segs[n_seg++].n_tokens;
    }
    int rc = dl_model_forward_batch(c->model, c->fwd_scratch, segs, n_seg, c->hidden, &c->cancel,
                                    &c->err);
    if (rc != 0)
        return rc;

    int32_t committed[DL_MAX_BATCH] = {0};
    for (int32_t i = 0; i < c->batch_n; i++) {
        if (c->batch_row0[i] < 0)
            continue;
        predict_canvas(c, i);
        rc = dl_sched_commit(c->batch_sched[i], &committed[i]);
        if (rc < 0)
            return rc;
    }

    for (int32_t i = 0; c->step_fn && i < c->batch_n; i++) {
        if (c->batch_row0[i] < 0)
            continue;
        const dl_sched *s = c->batch_sched[i];
        difflm_step_info info = {
            .struct_size = sizeof info,
            .step = dl_sched_steps_done(s),
            .total_steps = dl_sched_total_steps(s),
            .n_committed = committed[i],
            .n_masked = dl_sched_n_masked(s),
            .prompt_length = dl_sched_prompt_len(s),
            .canvas = dl_sched_canvas(s),
            .canvas_length = (size_t)dl_sched_canvas_len(s),
            .batch_index = i,
        };
        if (c->step_fn(&info, c->step_user) != 0) {
            __atomic_store_n(&c->cancel, 1, __ATOMIC_SEQ_CST);
            return dl_fail(&c->err, DIFFLM_E_CANCELLED,
                           "stopped by the step callback at step %d of canvas %d", info.step, i);
        }
    }
    return dl_ctx_batch_unfinished(c) ? DIFFLM_OK : DIFFLM_DONE;
}

int dl_ctx_batch_canvas(const struct difflm_ctx *c, size_t i, int32_t *out, size_t cap,
                        size_t *n_out) {
    if (c->batch_n == 0)
        return DIFFLM_E_STATE;
    if (i >= (size_t)c->batch_n)
        return DIFFLM_E_INVALID_ARG;
    const dl_sched *s = c->batch_sched[i];
    size_t n = (size_t)dl_sched_canvas_len(s);
    *n_out = n;
    if (cap < n)
        return DIFFLM_E_BUFFER_TOO_SMALL;
    memcpy(out, dl_sched_canvas(s), n * sizeof *out);
    return dl_sched_done(s) ? DIFFLM_DONE : DIFFLM_OK;
}

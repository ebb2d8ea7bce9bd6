/* ctx.c - context lifetime and the step loop: forward pass(es), head over the candidate
 * rows in chunks, scheduler predict/commit. Nothing here allocates after create. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctx/ctx.h"

#if DL_HAVE_BLAS
#include <cblas.h>
#endif

/* Lays out every arena piece; with a measuring arena (base NULL) it only sums sizes. */
static void ctx_layout(struct difflm_ctx *c, dl_arena *a) {
    const dl_hparams *hp = &c->model->hp;
    size_t canvas = (size_t)c->max_canvas, rows = (size_t)c->logit_rows;
    c->fwd_scratch = dl_arena_alloc(a, dl_model_scratch_size(c->model, c->max_canvas));
    c->head_scratch = dl_arena_alloc(a, dl_model_logits_scratch_size(c->model, c->logit_rows));
    c->hidden = dl_arena_alloc(a, canvas * (size_t)hp->n_embd * sizeof(float));
    c->hidden_un = dl_arena_alloc(a, canvas * (size_t)hp->n_embd * sizeof(float));
    c->logits = dl_arena_alloc(a, rows * (size_t)hp->n_vocab * sizeof(float));
    c->logits_un = dl_arena_alloc(a, rows * (size_t)hp->n_vocab * sizeof(float));
    c->pos = dl_arena_alloc(a, canvas * sizeof(int32_t));
    c->rows = dl_arena_alloc(a, rows * sizeof(int32_t));
    c->canvas_un = dl_arena_alloc(a, canvas * sizeof(int32_t));
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

int dl_ctx_create(struct difflm_ctx **out, const difflm_params *p, dl_err *err) {
    *out = NULL;
    struct difflm_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return dl_fail(err, DIFFLM_E_NOMEM, "cannot allocate the context");
    c->log = (dl_log){p->log_fn, p->log_user, p->log_level};
    int rc = dl_gguf_open(&c->gguf, p->model_path, err);
    if (rc == 0)
        rc = dl_model_load(&c->model, c->gguf, &c->log, err);
    if (rc == 0)
        rc = dl_tok_load(&c->tok, c->gguf, err);
    if (rc != 0)
        goto fail;

    const dl_hparams *hp = &c->model->hp;
    const dl_tok_special *sp = dl_tok_specials(c->tok);
    c->n_tok_vocab = DL_MIN(dl_tok_n_vocab(c->tok), hp->n_vocab);
    c->mask_id = p->mask_token_id >= 0 ? p->mask_token_id : sp->mask;
    if (c->mask_id < 0 || c->mask_id >= hp->n_vocab) {
        rc = dl_fail(err, c->mask_id < 0 ? DIFFLM_E_FORMAT : DIFFLM_E_INVALID_ARG,
                     c->mask_id < 0 ? "the file has no tokenizer.ggml.mask_token_id; set "
                                      "difflm_params.mask_token_id"
                                    : "mask token id %d is outside the vocabulary of %d",
                     c->mask_id, hp->n_vocab);
        goto fail;
    }
    c->max_canvas = p->max_canvas > 0 ? p->max_canvas : DL_MIN(hp->n_ctx_train, 2048);
    if (c->max_canvas <= 0)
        c->max_canvas = 2048;
    if (c->max_canvas > hp->n_ctx_train)
        dl_logf(&c->log, DIFFLM_LOG_WARN, "max_canvas %d exceeds the model's context length %d",
                c->max_canvas, hp->n_ctx_train);
    c->n_threads = p->n_threads > 0 ? p->n_threads : dl_cpu_count();
    c->model->n_threads = c->n_threads;
    c->logit_rows = DL_MIN(c->max_canvas, 32);

    rc = dl_sched_create(&c->sched, c->max_canvas, hp->n_vocab, c->mask_id, sp->eos, sp->eot, err);
    if (rc != 0)
        goto fail;

    dl_arena a = {0};
    ctx_layout(c, &a);
    if (a.used == SIZE_MAX) {
        rc = dl_fail(err, DIFFLM_E_NOMEM, "arena size overflows for max_canvas %d", c->max_canvas);
        goto fail;
    }
    c->arena = dl_aligned_alloc(a.used);
    if (!c->arena) {
        rc = dl_fail(err, DIFFLM_E_NOMEM, "cannot allocate the %zu-byte arena (max_canvas %d)",
                     a.used, c->max_canvas);
        goto fail;
    }
    a = (dl_arena){.base = c->arena, .size = a.used};
    ctx_layout(c, &a);

    dl_logf(&c->log, DIFFLM_LOG_INFO,
            "%s model: %d layers, d=%d, heads %d/%d, ff %d, vocab %d, %llu parameters; "
            "mask id %d; max canvas %d; arena %.1f MiB; %d threads; OpenBLAS core: %s",
            hp->arch == DIFFLM_ARCH_DREAM ? "dream" : "llada", hp->n_layer, hp->n_embd,
            hp->n_head, hp->n_head_kv, hp->n_ff, hp->n_vocab, (unsigned long long)hp->n_params,
            c->mask_id, c->max_canvas, (double)a.size / (1 << 20), c->n_threads, blas_name());
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
    dl_tok_free(c->tok);
    dl_model_free(c->model);
    dl_gguf_close(c->gguf);
    dl_aligned_free(c->arena);
    free(c);
}

/* Resolves AUTO settings and copies the public parameters into the scheduler's form. */
static void resolve_params(const struct difflm_ctx *c, const difflm_gen_params *g,
                           dl_sched_params *sp) {
    sp->gen_length = g->gen_length;
    sp->steps = g->steps;
    sp->block_length = g->block_length;
    sp->schedule = g->schedule;
    if (sp->schedule == DIFFLM_SCHEDULE_AUTO)
        sp->schedule = c->model->hp.arch == DIFFLM_ARCH_DREAM ? DIFFLM_SCHEDULE_TIMESTEPS
                                                              : DIFFLM_SCHEDULE_BLOCKS;
    sp->remasking = g->remasking;
    if (sp->remasking == DIFFLM_REMASK_AUTO)
        sp->remasking = sp->schedule == DIFFLM_SCHEDULE_TIMESTEPS ? DIFFLM_REMASK_ENTROPY
                                                                  : DIFFLM_REMASK_LOW_CONFIDENCE;
    sp->temperature = g->temperature;
    sp->top_k = g->top_k;
    sp->top_p = g->top_p;
    sp->eps = g->eps;
    sp->alg_temp = g->alg_temp;
    sp->flags = g->flags;
    sp->seed = g->seed;
}

int dl_ctx_begin(struct difflm_ctx *c, const int32_t *prompt, int32_t n,
                 const difflm_gen_params *g) {
    c->have_canvas = 0;
    __atomic_store_n(&c->cancel, 0, __ATOMIC_SEQ_CST);
    if (!(g->cfg_scale >= 0.0f) || !isfinite(g->cfg_scale))
        return dl_fail(&c->err, DIFFLM_E_INVALID_ARG, "cfg_scale must be a finite value >= 0, got %g",
                       (double)g->cfg_scale);
    dl_sched_params sp;
    resolve_params(c, g, &sp);
    int rc = dl_sched_begin(c->sched, &sp, prompt, n, &c->err);
    if (rc != 0)
        return rc;
    c->cfg_scale = g->cfg_scale;
    c->step_fn = g->step_fn;
    c->step_user = g->step_user;
    c->have_canvas = 1;
    return DIFFLM_OK;
}

/* Head logits for candidate positions pos[first .. first+n): map positions to hidden rows
 * (Dream predicts p from row p-1), combine CFG, hide ids past the tokenizer's vocabulary. */
static void head_chunk(struct difflm_ctx *c, int32_t first, int32_t n) {
    const dl_hparams *hp = &c->model->hp;
    for (int32_t i = 0; i < n; i++) {
        int32_t p = c->pos[first + i];
        c->rows[i] = hp->shift_logits && p > 0 ? p - 1 : p;
    }
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
    int rc = dl_model_forward(c->model, c->fwd_scratch, canvas, L, c->hidden, &c->cancel, &c->err);
    if (rc == 0 && c->cfg_scale > 0.0f) {
        int32_t P = dl_sched_prompt_len(c->sched);
        for (int32_t i = 0; i < L; i++)
            c->canvas_un[i] = i < P ? c->mask_id : canvas[i];
        rc = dl_model_forward(c->model, c->fwd_scratch, c->canvas_un, L, c->hidden_un, &c->cancel,
                              &c->err);
    }
    if (rc != 0)
        return rc;

    for (int32_t first = 0; first < n_cand; first += c->logit_rows) {
        int32_t n = DL_MIN(c->logit_rows, n_cand - first);
        head_chunk(c, first, n);
        dl_sched_predict(c->sched, first, n, c->logits);
    }
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

/* api.c - the only file with exported functions: argument checks, parameter-struct
 * versioning, status mapping. Everything else is hidden (-fvisibility=hidden). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ctx/ctx.h"

#define API DIFFLM_API

/* --------------------------------------------------------------- versioned structs */

/* Copies a caller's struct of `src_size` bytes over `dst` (already holding defaults).
 * Older, smaller structs keep the defaults of the fields they lack; newer, larger ones
 * are accepted only when every byte this library does not know is zero. */
static int copy_versioned(void *dst, size_t dst_size, const void *src, uint32_t src_size,
                          size_t min_size, const char *what, dl_err *err) {
    if (src_size < min_size)
        return dl_fail(err, DIFFLM_E_INVALID_ARG,
                       "%s.struct_size is %u, smaller than any released version (%zu); "
                       "call %s_init()", what, src_size, min_size, what);
    const uint8_t *s = src;
    for (size_t i = dst_size; i < src_size; i++)
        if (s[i] != 0)
            return dl_fail(err, DIFFLM_E_INVALID_ARG,
                           "%s has unknown non-zero bytes past offset %zu (built against a "
                           "newer difflm.h?)", what, dst_size);
    memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
    ((uint32_t *)dst)[0] = (uint32_t)dst_size;
    return 0;
}

/* The first released layouts end here; anything smaller is not a real struct. */
#define PARAMS_MIN_SIZE offsetof(difflm_params, log_user) + sizeof(void *)
#define GEN_MIN_SIZE offsetof(difflm_gen_params, step_user) + sizeof(void *)

API void difflm_params_init(difflm_params *p) {
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->mask_token_id = -1;
    p->log_level = DIFFLM_LOG_WARN;
}

API void difflm_gen_params_init(difflm_gen_params *g) {
    if (!g)
        return;
    memset(g, 0, sizeof *g);
    g->struct_size = sizeof *g;
    g->gen_length = 128;
    g->steps = 128;
    g->block_length = 32;
    g->schedule = DIFFLM_SCHEDULE_AUTO;
    g->remasking = DIFFLM_REMASK_AUTO;
    g->top_p = 1.0f;
    g->eps = 1e-3f;
    g->parallel = DIFFLM_PARALLEL_NONE;
    g->threshold = 0.9f;
    g->factor = 1.0f;
    g->cache = DIFFLM_CACHE_NONE;
}

/* --------------------------------------------------------------- version */

API const char *difflm_version(void) { return DIFFLM_VERSION_STRING; }
API uint32_t difflm_version_number(void) { return DIFFLM_VERSION_NUMBER; }
API uint32_t difflm_abi_version(void) { return DIFFLM_ABI_VERSION; }

/* --------------------------------------------------------------- context */

/* Records a failure on the context (when there is one) and returns its status. */
static int fail(difflm_ctx *ctx, int status, const char *msg) {
    if (ctx)
        dl_fail(&ctx->err, status, "%s", msg);
    return status;
}

API difflm_ctx *difflm_create(const difflm_params *p, int *status) {
    dl_err err = {0};
    difflm_params prm;
    difflm_params_init(&prm);
    int rc;
    difflm_ctx *ctx = NULL;
    if (!p)
        rc = dl_fail(&err, DIFFLM_E_INVALID_ARG, "params is NULL");
    else
        rc = copy_versioned(&prm, sizeof prm, p, p->struct_size, PARAMS_MIN_SIZE,
                            "difflm_params", &err);
    if (rc == 0 && !prm.model_path)
        rc = dl_fail(&err, DIFFLM_E_INVALID_ARG, "difflm_params.model_path is NULL");
    if (rc == 0 && (prm.n_threads < 0 || prm.max_canvas < 0 || prm.mask_token_id < -1))
        rc = dl_fail(&err, DIFFLM_E_INVALID_ARG,
                     "n_threads and max_canvas must be >= 0, mask_token_id >= -1");
    if (rc == 0)
        rc = dl_ctx_create(&ctx, &prm, &err);
    if (rc != 0) {
        dl_log lg = {prm.log_fn, prm.log_user, prm.log_level};
        dl_logf(&lg, DIFFLM_LOG_ERROR, "difflm_create: %s: %s", difflm_status_str(rc), err.msg);
    }
    if (status)
        *status = rc;
    return ctx;
}

API void difflm_free(difflm_ctx *ctx) { dl_ctx_free(ctx); }

API const char *difflm_last_error(const difflm_ctx *ctx) {
    return ctx ? ctx->err.msg : "context is NULL";
}

API int difflm_model_info_get(const difflm_ctx *ctx, difflm_model_info *out) {
    if (!ctx || !out || out->struct_size < offsetof(difflm_model_info, n_params))
        return DIFFLM_E_INVALID_ARG;
    const dl_hparams *hp = &ctx->model->hp;
    const dl_tok_special *sp = dl_tok_specials(ctx->tok);
    difflm_model_info info = {
        .struct_size = sizeof info,
        .arch = hp->arch,
        .n_vocab = hp->n_vocab,
        .n_ctx_train = hp->n_ctx_train,
        .max_canvas = ctx->max_canvas,
        .n_layer = hp->n_layer,
        .n_embd = hp->n_embd,
        .n_head = hp->n_head,
        .n_head_kv = hp->n_head_kv,
        .n_ff = hp->n_ff,
        .shift_logits = hp->shift_logits,
        .mask_id = ctx->mask_id,
        .bos_id = sp->bos,
        .eos_id = sp->eos,
        .eot_id = sp->eot,
        .add_bos = sp->add_bos,
        .n_params = hp->n_params,
    };
    size_t n = out->struct_size < sizeof info ? out->struct_size : sizeof info;
    memcpy(out, &info, n);
    out->struct_size = (uint32_t)n;
    return DIFFLM_OK;
}

/* --------------------------------------------------------------- tokenizer */

API int difflm_tokenize(difflm_ctx *ctx, const char *text, size_t len, uint32_t flags,
                        difflm_token *out, size_t cap, size_t *n_out) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    if ((!text && len) || !n_out || (!out && cap))
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_tokenize: NULL text, out or n_out");
    if (flags & ~(DIFFLM_TOKENIZE_ADD_BOS | DIFFLM_TOKENIZE_PARSE_SPECIAL))
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_tokenize: unknown flags");
    return dl_tok_encode(ctx->tok, text ? text : "", len, flags, out, cap, n_out, &ctx->err);
}

API int difflm_detokenize(difflm_ctx *ctx, const difflm_token *ids, size_t n, uint32_t flags,
                          char *out, size_t cap, size_t *n_out) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    if ((!ids && n) || !n_out || (!out && cap))
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_detokenize: NULL ids, out or n_out");
    if (flags & ~DIFFLM_DETOKENIZE_SPECIAL)
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_detokenize: unknown flags");
    return dl_tok_decode(ctx->tok, ids, n, flags, out, cap, n_out, &ctx->err);
}

API int difflm_chat_format(difflm_ctx *ctx, const difflm_chat_message *msgs, size_t n,
                           int32_t add_assistant, char *out, size_t cap, size_t *n_out) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    if ((!msgs && n) || !n_out || (!out && cap))
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_chat_format: NULL msgs, out or n_out");
    return dl_tok_chat(ctx->tok, msgs, n, add_assistant != 0, out, cap, n_out, &ctx->err);
}

/* --------------------------------------------------------------- generation */

API int difflm_generate_begin(difflm_ctx *ctx, const difflm_token *prompt, size_t n,
                              const difflm_gen_params *g) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    ctx->have_canvas = 0;
    if ((!prompt && n) || !g)
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_generate_begin: NULL prompt or params");
    if (n > (size_t)ctx->max_canvas)
        return dl_fail(&ctx->err, DIFFLM_E_TOO_LONG, "prompt of %zu tokens exceeds max_canvas %d",
                       n, ctx->max_canvas);
    difflm_gen_params gp;
    difflm_gen_params_init(&gp);
    int rc = copy_versioned(&gp, sizeof gp, g, g->struct_size, GEN_MIN_SIZE, "difflm_gen_params",
                            &ctx->err);
    if (rc != 0)
        return rc;
    return dl_ctx_begin(ctx, prompt, (int32_t)n, &gp);
}

API int difflm_generate_step(difflm_ctx *ctx) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    return dl_ctx_step(ctx);
}

API int difflm_canvas(const difflm_ctx *ctx, difflm_token *out, size_t cap, size_t *n_out) {
    if (!ctx || !n_out || (!out && cap))
        return DIFFLM_E_INVALID_ARG;
    if (!ctx->have_canvas)
        return DIFFLM_E_STATE;
    size_t n = (size_t)dl_sched_canvas_len(ctx->sched);
    *n_out = n;
    if (cap < n)
        return DIFFLM_E_BUFFER_TOO_SMALL;
    memcpy(out, dl_sched_canvas(ctx->sched), n * sizeof *out);
    return DIFFLM_OK;
}

API void difflm_cancel(difflm_ctx *ctx) {
    if (ctx)
        __atomic_store_n(&ctx->cancel, 1, __ATOMIC_SEQ_CST);
}

/* The generated tokens up to (not including) the first EOS or end-of-turn. */
static size_t generated_length(const difflm_ctx *ctx, const int32_t *gen, size_t n) {
    const dl_tok_special *sp = dl_tok_specials(ctx->tok);
    for (size_t i = 0; i < n; i++)
        if ((sp->eos >= 0 && gen[i] == sp->eos) || (sp->eot >= 0 && gen[i] == sp->eot))
            return i;
    return n;
}

API int difflm_sample(difflm_ctx *ctx, const char *prompt, const difflm_gen_params *g,
                      char *out, size_t cap, size_t *n_out) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    if (!prompt || !g || !n_out || (!out && cap))
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_sample: NULL prompt, params, out or n_out");
    /* The prompt's ids go through the canvas_un buffer, which is free between steps. */
    int32_t *ids = ctx->canvas_un;
    size_t n_ids = 0;
    uint32_t flags = DIFFLM_TOKENIZE_PARSE_SPECIAL;
    if (dl_tok_specials(ctx->tok)->add_bos)
        flags |= DIFFLM_TOKENIZE_ADD_BOS;
    int rc = dl_tok_encode(ctx->tok, prompt, strlen(prompt), flags, ids, (size_t)ctx->max_canvas,
                           &n_ids, &ctx->err);
    if (rc == DIFFLM_E_BUFFER_TOO_SMALL)
        return dl_fail(&ctx->err, DIFFLM_E_TOO_LONG, "prompt of %zu tokens exceeds max_canvas %d",
                       n_ids, ctx->max_canvas);
    if (rc == 0)
        rc = difflm_generate_begin(ctx, ids, n_ids, g);
    while (rc == DIFFLM_OK)
        rc = dl_ctx_step(ctx);
    if (rc != DIFFLM_DONE)
        return rc;
    const int32_t *canvas = dl_sched_canvas(ctx->sched);
    size_t P = (size_t)dl_sched_prompt_len(ctx->sched);
    size_t n_gen = generated_length(ctx, canvas + P, (size_t)dl_sched_canvas_len(ctx->sched) - P);
    rc = dl_tok_decode(ctx->tok, canvas + P, n_gen, 0, out, cap ? cap - 1 : 0, n_out, &ctx->err);
    if (rc == DIFFLM_E_BUFFER_TOO_SMALL || (rc == 0 && cap == 0))
        return dl_fail(&ctx->err, DIFFLM_E_BUFFER_TOO_SMALL, "output needs %zu bytes plus NUL",
                       *n_out);
    if (rc == 0)
        out[*n_out] = '\0';
    return rc;
}

/* api.c - the only file with exported functions: argument checks, parameter-struct
 * versioning, the allocator scope of each call, status mapping. It sees the model and
 * the context only through lib/ctx/ctx_api.h. Everything else is hidden
 * (-fvisibility=hidden). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ctx/ctx_api.h"

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
#define MODEL_PARAMS_MIN_SIZE offsetof(difflm_model_params, alloc_user) + sizeof(void *)
#define CTX_PARAMS_MIN_SIZE offsetof(difflm_ctx_params, alloc_user) + sizeof(void *)

API void difflm_params_init(difflm_params *p) {
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->mask_token_id = -1;
    p->log_level = DIFFLM_LOG_WARN;
    p->max_batch = 1;
}

API void difflm_model_params_init(difflm_model_params *p) {
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->mask_token_id = -1;
    p->log_level = DIFFLM_LOG_WARN;
}

API void difflm_ctx_params_init(difflm_ctx_params *p) {
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->log_level = DIFFLM_LOG_WARN;
    p->max_batch = 1;
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
    g->block_threshold = 0.95f;
    g->editing_threshold = 0.0f;
    g->max_post_steps = 0;
}

/* --------------------------------------------------------------- status, version */

API const char *difflm_status_str(int status) {
    switch (status) {
#define STATUS_TEXT_(name, value, text) \
    case value:                         \
        return text;
        DIFFLM_STATUS_LIST(STATUS_TEXT_)
#undef STATUS_TEXT_
    default:
        return "unknown status";
    }
}

API const char *difflm_status_name(int status) {
    switch (status) {
#define STATUS_NAME_(name, value, text) \
    case value:                         \
        return "DIFFLM_" #name;
        DIFFLM_STATUS_LIST(STATUS_NAME_)
#undef STATUS_NAME_
    default:
        return "DIFFLM_UNKNOWN_STATUS";
    }
}


API const char *difflm_version(void) { return DIFFLM_VERSION_STRING; }
API uint32_t difflm_version_number(void) { return DIFFLM_VERSION_NUMBER; }
API uint32_t difflm_abi_version(void) { return DIFFLM_ABI_VERSION; }

/* --------------------------------------------------------------- models and contexts */

/* Every call on an object runs in that object's allocator scope (core.h). */
#define IN_SCOPE(mem, expr)                                                            \
    do {                                                                               \
        const dl_mem *prev_ = dl_mem_enter(mem);                                       \
        expr;                                                                          \
        dl_mem_leave(prev_);                                                           \
    } while (0)

/* Records a failure on the context (when there is one) and returns its status. */
static int fail(difflm_ctx *ctx, int status, const char *msg) {
    if (ctx)
        dl_fail(dl_ctx_err(ctx), status, "%s", msg);
    return status;
}

static void log_failure(difflm_log_fn fn, void *user, int32_t level, const char *call, int rc,
                        const dl_err *err) {
    dl_log lg = {fn, user, level};
    dl_logf(&lg, DIFFLM_LOG_ERROR, "%s: %s: %s", call, difflm_status_str(rc), err->msg);
}

static int check_allocator(difflm_alloc_fn a, difflm_free_fn f, const char *what, dl_err *err) {
    if (!a != !f)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "%s: alloc_fn and free_fn go together", what);
    return 0;
}

API difflm_model *difflm_model_load(const difflm_model_params *p, int *status) {
    dl_err err = {0};
    difflm_model_params prm;
    difflm_model_params_init(&prm);
    int rc;
    difflm_model *m = NULL;
    if (!p)
        rc = dl_fail(&err, DIFFLM_E_INVALID_ARG, "params is NULL");
    else
        rc = copy_versioned(&prm, sizeof prm, p, p->struct_size, MODEL_PARAMS_MIN_SIZE,
                            "difflm_model_params", &err);
    if (rc == 0 && (!prm.path + !prm.data + !prm.read_fn) != 2)
        rc = dl_fail(&err, DIFFLM_E_INVALID_ARG, "difflm_model_params: give exactly one of "
                     "path, data and read_fn");
    if (rc == 0 && prm.mask_token_id < -1)
        rc = dl_fail(&err, DIFFLM_E_INVALID_ARG, "mask_token_id must be >= -1");
    if (rc == 0)
        rc = check_allocator(prm.alloc_fn, prm.free_fn, "difflm_model_params", &err);
    if (rc == 0) {
        dl_mem mem = {prm.alloc_fn, prm.free_fn, prm.alloc_user};
        IN_SCOPE(&mem, rc = dl_model_obj_load(&m, &prm, &err));
    }
    if (rc != 0)
        log_failure(prm.log_fn, prm.log_user, prm.log_level, "difflm_model_load", rc, &err);
    if (status)
        *status = rc;
    return m;
}

API void difflm_model_free(difflm_model *model) {
    dl_model_obj_release(model);   // enters the model's own scope
}

/* Copies info into a caller's struct of out->struct_size bytes (an older, smaller one
 * gets the fields it has). */
static int give_info(difflm_model_info *out, const difflm_model_info *info) {
    size_t n = out->struct_size < sizeof *info ? out->struct_size : sizeof *info;
    memcpy(out, info, n);
    out->struct_size = (uint32_t)n;
    return DIFFLM_OK;
}

#define INFO_MIN_SIZE offsetof(difflm_model_info, n_params)

API int difflm_model_describe(const difflm_model *model, difflm_model_info *out) {
    if (!model || !out || out->struct_size < INFO_MIN_SIZE)
        return DIFFLM_E_INVALID_ARG;
    difflm_model_info info;
    dl_model_obj_info(model, &info);
    return give_info(out, &info);
}

static int check_pack(int32_t pack, const char *what, dl_err *err) {
    if (pack == DIFFLM_PACK_AUTO || pack == DIFFLM_PACK_OFF || pack == DIFFLM_PACK_ON)
        return 0;
    return dl_fail(err, DIFFLM_E_INVALID_ARG, "%s.pack_weights %d is not DIFFLM_PACK_AUTO (0), "
                   "DIFFLM_PACK_OFF (1) or DIFFLM_PACK_ON (2)", what, (int)pack);
}

/* Checks and versions ctx params; fills *prm. */
static int ctx_params(const difflm_ctx_params *p, difflm_ctx_params *prm, dl_err *err) {
    difflm_ctx_params_init(prm);
    if (!p)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "params is NULL");
    int rc = copy_versioned(prm, sizeof *prm, p, p->struct_size, CTX_PARAMS_MIN_SIZE,
                            "difflm_ctx_params", err);
    if (rc == 0 && (prm->n_threads < 0 || prm->max_canvas < 0 || prm->max_batch < 0))
        rc = dl_fail(err, DIFFLM_E_INVALID_ARG, "n_threads, max_canvas and max_batch must be >= 0");
    if (rc == 0)
        rc = check_allocator(prm->alloc_fn, prm->free_fn, "difflm_ctx_params", err);
    if (rc == 0)
        rc = check_pack(prm->pack_weights, "difflm_ctx_params", err);
    return rc;
}

/* The allocator a context on model with these params uses: its own, or the model's. */
static const dl_mem *ctx_mem(const difflm_model *model, const difflm_ctx_params *p, dl_mem *own) {
    *own = (dl_mem){p->alloc_fn, p->free_fn, p->alloc_user};
    return own->alloc ? own : dl_model_obj_mem(model);
}

API difflm_ctx *difflm_ctx_create(difflm_model *model, const difflm_ctx_params *p, int *status) {
    dl_err err = {0};
    difflm_ctx_params prm;
    difflm_ctx_params_init(&prm);
    difflm_ctx *ctx = NULL;
    int rc = model ? ctx_params(p, &prm, &err)
                   : dl_fail(&err, DIFFLM_E_INVALID_ARG, "model is NULL");
    if (rc == 0) {
        dl_mem own;
        IN_SCOPE(ctx_mem(model, &prm, &own), rc = dl_ctx_create(&ctx, model, &prm, &err));
    }
    if (rc != 0 && p)
        log_failure(prm.log_fn, prm.log_user, prm.log_level, "difflm_ctx_create", rc, &err);
    if (status)
        *status = rc;
    return ctx;
}

API int difflm_ctx_memory_required(const difflm_model *model, const difflm_ctx_params *p,
                                   size_t *bytes) {
    dl_err err = {0};
    difflm_ctx_params prm;
    if (!model || !bytes)
        return DIFFLM_E_INVALID_ARG;
    int rc = ctx_params(p, &prm, &err);
    return rc != 0 ? rc : dl_ctx_memory_required(model, &prm, bytes, &err);
}

API difflm_model *difflm_ctx_model(const difflm_ctx *ctx) {
    return ctx ? dl_ctx_lm(ctx) : NULL;
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
    if (rc == 0 && (prm.n_threads < 0 || prm.max_canvas < 0 || prm.mask_token_id < -1 ||
                    prm.max_batch < 0))
        rc = dl_fail(&err, DIFFLM_E_INVALID_ARG,
                     "n_threads, max_canvas and max_batch must be >= 0, mask_token_id >= -1");
    if (rc == 0 && prm.precision != DIFFLM_PRECISION_EXACT && prm.precision != DIFFLM_PRECISION_BF16)
        rc = dl_fail(&err, DIFFLM_E_INVALID_ARG, "difflm_params.precision %d is not "
                     "DIFFLM_PRECISION_EXACT (0) or DIFFLM_PRECISION_BF16 (1)", (int)prm.precision);
    if (rc == 0)
        rc = check_pack(prm.pack_weights, "difflm_params", &err);
    if (rc == 0) {
        difflm_model_params mp;
        difflm_model_params_init(&mp);
        mp.path = prm.model_path;
        mp.mask_token_id = prm.mask_token_id;
        mp.log_level = prm.log_level;
        mp.log_fn = prm.log_fn;
        mp.log_user = prm.log_user;
        difflm_ctx_params cp;
        difflm_ctx_params_init(&cp);
        cp.n_threads = prm.n_threads;
        cp.max_canvas = prm.max_canvas;
        cp.max_batch = prm.max_batch;
        cp.precision = prm.precision;
        cp.pack_weights = prm.pack_weights;
        difflm_model *m = NULL;
        // the C library's allocator, even when called from a callback inside a host's scope
        IN_SCOPE(NULL, rc = dl_model_obj_load(&m, &mp, &err));
        if (rc == 0)   // the context inherits the model's log
            IN_SCOPE(NULL, rc = dl_ctx_create(&ctx, m, &cp, &err));
        dl_model_obj_release(m);   // the context holds the only reference now
    }
    if (rc != 0)
        log_failure(prm.log_fn, prm.log_user, prm.log_level, "difflm_create", rc, &err);
    if (status)
        *status = rc;
    return ctx;
}

API void difflm_free(difflm_ctx *ctx) {
    if (ctx)
        IN_SCOPE(dl_ctx_mem(ctx), dl_ctx_free(ctx));
}

API const char *difflm_last_error(const difflm_ctx *ctx) {
    return ctx ? dl_ctx_last_error(ctx) : "context is NULL";
}

API int difflm_model_info_get(const difflm_ctx *ctx, difflm_model_info *out) {
    if (!ctx || !out || out->struct_size < INFO_MIN_SIZE)
        return DIFFLM_E_INVALID_ARG;
    difflm_model_info info;
    dl_ctx_info(ctx, &info);
    return give_info(out, &info);
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
    int rc;
    IN_SCOPE(dl_ctx_mem(ctx), rc = dl_ctx_tokenize(ctx, text ? text : "", len, flags, out, cap,
                                                   n_out));
    return rc;
}

API int difflm_detokenize(difflm_ctx *ctx, const difflm_token *ids, size_t n, uint32_t flags,
                          char *out, size_t cap, size_t *n_out) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    if ((!ids && n) || !n_out || (!out && cap))
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_detokenize: NULL ids, out or n_out");
    if (flags & ~DIFFLM_DETOKENIZE_SPECIAL)
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_detokenize: unknown flags");
    int rc;
    IN_SCOPE(dl_ctx_mem(ctx), rc = dl_ctx_detokenize(ctx, ids, n, flags, out, cap, n_out));
    return rc;
}

API int difflm_chat_format(difflm_ctx *ctx, const difflm_chat_message *msgs, size_t n,
                           int32_t add_assistant, char *out, size_t cap, size_t *n_out) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    if ((!msgs && n) || !n_out || (!out && cap))
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_chat_format: NULL msgs, out or n_out");
    int rc;
    IN_SCOPE(dl_ctx_mem(ctx), rc = dl_ctx_chat(ctx, msgs, n, add_assistant != 0, out, cap, n_out));
    return rc;
}

/* --------------------------------------------------------------- generation */

/* A current-size copy of the caller's gen params, or an error on the context. */
static int gen_params(difflm_ctx *ctx, const difflm_gen_params *g, difflm_gen_params *gp) {
    difflm_gen_params_init(gp);
    return copy_versioned(gp, sizeof *gp, g, g->struct_size, GEN_MIN_SIZE, "difflm_gen_params",
                          dl_ctx_err(ctx));
}

API int difflm_generate_begin(difflm_ctx *ctx, const difflm_token *prompt, size_t n,
                              const difflm_gen_params *g) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    if ((!prompt && n) || !g)
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_generate_begin: NULL prompt or params");
    if (n > INT32_MAX)
        return dl_fail(dl_ctx_err(ctx), DIFFLM_E_TOO_LONG, "prompt of %zu tokens", n);
    difflm_gen_params gp;
    int rc = gen_params(ctx, g, &gp);
    if (rc == 0)
        IN_SCOPE(dl_ctx_mem(ctx), rc = dl_ctx_begin(ctx, prompt, (int32_t)n, &gp));
    return rc;
}

API int difflm_generate_step(difflm_ctx *ctx) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    int rc;
    IN_SCOPE(dl_ctx_mem(ctx), rc = dl_ctx_step(ctx));
    return rc;
}

API int difflm_canvas(const difflm_ctx *ctx, difflm_token *out, size_t cap, size_t *n_out) {
    if (!ctx || !n_out || (!out && cap))
        return DIFFLM_E_INVALID_ARG;
    return dl_ctx_canvas(ctx, out, cap, n_out);
}

API void difflm_cancel(difflm_ctx *ctx) {
    if (ctx)
        dl_ctx_cancel(ctx);
}

API int difflm_sample(difflm_ctx *ctx, const char *prompt, const difflm_gen_params *g,
                      char *out, size_t cap, size_t *n_out) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    if (!prompt || !g || !n_out || (!out && cap))
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_sample: NULL prompt, params, out or n_out");
    difflm_gen_params gp;
    int rc = gen_params(ctx, g, &gp);
    if (rc == 0)
        IN_SCOPE(dl_ctx_mem(ctx), rc = dl_ctx_sample(ctx, prompt, &gp, out, cap, n_out));
    return rc;
}

/* --------------------------------------------------------------- batches */

API int difflm_batch_begin(difflm_ctx *ctx, const difflm_token *const *prompts, const size_t *n,
                           size_t n_canvases, const uint64_t *seeds, const difflm_gen_params *g) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    if (!prompts || !n || !g)
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_batch_begin: NULL prompts, n or params");
    difflm_gen_params gp;
    int rc = gen_params(ctx, g, &gp);
    if (rc == 0)
        IN_SCOPE(dl_ctx_mem(ctx),
                 rc = dl_ctx_batch_begin(ctx, prompts, n, n_canvases, seeds, &gp));
    return rc;
}

API int difflm_batch_step(difflm_ctx *ctx) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    int rc;
    IN_SCOPE(dl_ctx_mem(ctx), rc = dl_ctx_batch_step(ctx));
    return rc;
}

API int difflm_batch_canvas(const difflm_ctx *ctx, size_t i, difflm_token *out, size_t cap,
                            size_t *n_out) {
    if (!ctx || !n_out || (!out && cap))
        return DIFFLM_E_INVALID_ARG;
    return dl_ctx_batch_canvas(ctx, i, out, cap, n_out);
}

/* --------------------------------------------------------------- logits */

API int difflm_logits(difflm_ctx *ctx, const difflm_token *ids, size_t n, const int32_t *rows,
                      size_t n_rows, float *out, size_t cap, size_t *n_out) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    if (n_out)
        *n_out = 0;
    if (!ids || !n_out || (!out && cap))
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_logits: NULL ids, out or n_out");
    if (!rows && n_rows)
        return fail(ctx, DIFFLM_E_INVALID_ARG,
                    "difflm_logits: rows is NULL (all rows) but n_rows is not 0");
    int rc;
    IN_SCOPE(dl_ctx_mem(ctx), rc = dl_ctx_logits(ctx, ids, n, rows, n_rows, out, cap, n_out));
    return rc;
}

/* --------------------------------------------------------------- scoring */

#define SCORE_PARAMS_MIN_SIZE sizeof(difflm_score_params)
#define SCORE_RESULT_MIN_SIZE (offsetof(difflm_score_result, se) + sizeof(double))

API void difflm_score_params_init(difflm_score_params *p) {
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->mc = 128;
    p->batch = 16;
}

API int difflm_score(difflm_ctx *ctx, const difflm_token *prompt, size_t n_prompt,
                     const difflm_token *ids, size_t n, const difflm_score_params *p,
                     difflm_score_result *out) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    if (!out || out->struct_size < SCORE_RESULT_MIN_SIZE)
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_score: out is NULL or its struct_size "
                    "is smaller than any released difflm_score_result");
    if ((!prompt && n_prompt) || (!ids && n))
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_score: NULL prompt or ids with a "
                    "non-zero count");
    difflm_score_params prm;
    difflm_score_params_init(&prm);
    if (p) {
        int rc = copy_versioned(&prm, sizeof prm, p, p->struct_size, SCORE_PARAMS_MIN_SIZE,
                                "difflm_score_params", dl_ctx_err(ctx));
        if (rc != 0)
            return rc;
    }
    difflm_score_result res;
    memset(&res, 0, sizeof res);
    int rc;
    IN_SCOPE(dl_ctx_mem(ctx), rc = dl_ctx_score(ctx, prompt, n_prompt, ids, n, &prm, &res));
    if (rc != 0)
        return rc;
    const uint32_t size = out->struct_size < sizeof res ? out->struct_size : (uint32_t)sizeof res;
    res.struct_size = size;
    memcpy(out, &res, size);
    return DIFFLM_OK;
}

/* --------------------------------------------------------------- infilling, confidences */

API int difflm_generate_begin_canvas(difflm_ctx *ctx, const difflm_token *canvas, size_t n,
                                     const difflm_gen_params *g) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    if ((!canvas && n) || !g)
        return fail(ctx, DIFFLM_E_INVALID_ARG,
                    "difflm_generate_begin_canvas: NULL canvas or params");
    if (n > INT32_MAX)
        return dl_fail(dl_ctx_err(ctx), DIFFLM_E_TOO_LONG, "canvas of %zu tokens", n);
    difflm_gen_params gp;
    int rc = gen_params(ctx, g, &gp);
    if (rc == 0)
        IN_SCOPE(dl_ctx_mem(ctx), rc = dl_ctx_begin_canvas(ctx, canvas, (int32_t)n, &gp));
    return rc;
}

API int difflm_infill_canvas(difflm_ctx *ctx, const char *text, uint32_t flags,
                             difflm_token *out, size_t cap, size_t *n_out) {
    if (!ctx)
        return DIFFLM_E_INVALID_ARG;
    if (!text || !n_out || (!out && cap))
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_infill_canvas: NULL text, out or n_out");
    if (flags & ~(DIFFLM_TOKENIZE_ADD_BOS | DIFFLM_TOKENIZE_PARSE_SPECIAL))
        return fail(ctx, DIFFLM_E_INVALID_ARG, "difflm_infill_canvas: unknown flags");
    int rc;
    IN_SCOPE(dl_ctx_mem(ctx), rc = dl_ctx_infill_canvas(ctx, text, flags, out, cap, n_out));
    return rc;
}

API int difflm_confidences(const difflm_ctx *ctx, difflm_token *token, int32_t *step,
                           float *prob, float *score, size_t cap, size_t *n_out) {
    if (!ctx || !n_out)
        return DIFFLM_E_INVALID_ARG;
    return dl_ctx_confidences(ctx, token, step, prob, score, cap, n_out);
}

/* --------------------------------------------------------------- converting model files */

#define CONVERT_PARAMS_MIN_SIZE offsetof(difflm_convert_params, alloc_user) + sizeof(void *)

API void difflm_convert_params_init(difflm_convert_params *p) {
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->log_level = DIFFLM_LOG_WARN;
}

API int difflm_convert_type_supported(const char *type) {
    return dl_ctx_convert_type_supported(type);
}

API int difflm_convert(const difflm_convert_params *p) {
    dl_err err = {0};
    difflm_convert_params prm;
    difflm_convert_params_init(&prm);
    int rc;
    if (!p)
        rc = dl_fail(&err, DIFFLM_E_INVALID_ARG, "params is NULL");
    else
        rc = copy_versioned(&prm, sizeof prm, p, p->struct_size, CONVERT_PARAMS_MIN_SIZE,
                            "difflm_convert_params", &err);
    if (rc == 0 && (!prm.input || !prm.output))
        rc = dl_fail(&err, DIFFLM_E_INVALID_ARG, "difflm_convert_params: input and output "
                     "are required");
    if (rc == 0 && prm.n_threads < 0)
        rc = dl_fail(&err, DIFFLM_E_INVALID_ARG, "n_threads must be >= 0");
    if (rc == 0)
        rc = check_allocator(prm.alloc_fn, prm.free_fn, "difflm_convert_params", &err);
    if (rc == 0) {
        dl_mem mem = {prm.alloc_fn, prm.free_fn, prm.alloc_user};
        IN_SCOPE(&mem, rc = dl_ctx_convert(&prm, &err));
    }
    if (rc != 0)
        log_failure(prm.log_fn, prm.log_user, prm.log_level, "difflm_convert", rc, &err);
    return rc;
}

/* ctx_api.h - what the API layer (lib/api.c) may call: the model object and the
 * context behind opaque pointers. api.c checks arguments, versions parameter structs,
 * enters the object's allocator and maps statuses; everything else happens here. */
#ifndef DL_CTX_API_H
#define DL_CTX_API_H

#include "difflm.h"
#include "core/core.h"

/* ---- models (model_obj.c) */

/* Loads p->path under p's allocator (entered by the caller). */
int dl_model_obj_load(struct difflm_model **out, const difflm_model_params *p, dl_err *err);
void dl_model_obj_retain(struct difflm_model *m);
/* Drops a reference; the last one frees the model under its own allocator. */
void dl_model_obj_release(struct difflm_model *m);
/* Fills info (max_canvas 0) from the model. */
void dl_model_obj_info(const struct difflm_model *m, difflm_model_info *info);
const dl_mem *dl_model_obj_mem(const struct difflm_model *m);

/* ---- contexts (ctx.c, ctx_calls.c); the caller has entered dl_ctx_mem(ctx) */

/* Creates a context on lm (taking a reference) under the allocator already entered. */
int dl_ctx_create(struct difflm_ctx **out, struct difflm_model *lm, const difflm_ctx_params *p,
                  dl_err *err);
/* The heap a context with these parameters allocates up front. */
int dl_ctx_memory_required(const struct difflm_model *lm, const difflm_ctx_params *p,
                           size_t *bytes, dl_err *err);
void dl_ctx_free(struct difflm_ctx *ctx);
const dl_mem *dl_ctx_mem(const struct difflm_ctx *ctx);
dl_err *dl_ctx_err(struct difflm_ctx *ctx);
const char *dl_ctx_last_error(const struct difflm_ctx *ctx);
struct difflm_model *dl_ctx_lm(const struct difflm_ctx *ctx);
void dl_ctx_info(const struct difflm_ctx *ctx, difflm_model_info *info);

int dl_ctx_tokenize(struct difflm_ctx *ctx, const char *text, size_t len, uint32_t flags,
                    int32_t *out, size_t cap, size_t *n_out);
int dl_ctx_detokenize(struct difflm_ctx *ctx, const int32_t *ids, size_t n, uint32_t flags,
                      char *out, size_t cap, size_t *n_out);
int dl_ctx_chat(struct difflm_ctx *ctx, const difflm_chat_message *msgs, size_t n,
                int add_assistant, char *out, size_t cap, size_t *n_out);

/* generate_begin with a checked, current-size copy of the parameters. */
int dl_ctx_begin(struct difflm_ctx *ctx, const int32_t *prompt, int32_t n,
                 const difflm_gen_params *g);
int dl_ctx_step(struct difflm_ctx *ctx);
int dl_ctx_canvas(const struct difflm_ctx *ctx, int32_t *out, size_t cap, size_t *n_out);
/* Tokenize, generate to DONE, detokenize up to the first EOS/EoT (difflm_sample). */
int dl_ctx_sample(struct difflm_ctx *ctx, const char *prompt, const difflm_gen_params *g,
                  char *out, size_t cap, size_t *n_out);
/* Safe from any thread. */
void dl_ctx_cancel(struct difflm_ctx *ctx);

/* ---- batches (ctx_batch.c), after api.c's pointer checks (prompts, n, g non-NULL;
 * g a current-size copy) */
int dl_ctx_batch_begin(struct difflm_ctx *ctx, const int32_t *const *prompts, const size_t *n,
                       size_t n_canvases, const uint64_t *seeds, const difflm_gen_params *g);
int dl_ctx_batch_step(struct difflm_ctx *ctx);
int dl_ctx_batch_canvas(const struct difflm_ctx *ctx, size_t i, int32_t *out, size_t cap,
                        size_t *n_out);

/* ---- logits (ctx_logits.c): difflm_logits after api.c's pointer checks (ids, n_out
 * non-NULL; out non-NULL when cap > 0; rows NULL only with n_rows 0). */
int dl_ctx_logits(struct difflm_ctx *ctx, const int32_t *ids, size_t n, const int32_t *rows,
                  size_t n_rows, float *out, size_t cap, size_t *n_out);

/* ---- scoring (ctx_score.c): difflm_score after api.c's pointer checks and with a
 * checked, current-size copy of the parameters; fills every field of out but
 * struct_size, only on success. */
int dl_ctx_score(struct difflm_ctx *ctx, const int32_t *prompt, size_t n_prompt,
                 const int32_t *ids, size_t n, const difflm_score_params *p,
                 difflm_score_result *out);

/* ---- infilling (ctx_infill.c) and confidences (ctx_confidence.c), after api.c's
 * pointer checks */
int dl_ctx_begin_canvas(struct difflm_ctx *ctx, const int32_t *canvas, int32_t n,
                        const difflm_gen_params *g);
int dl_ctx_infill_canvas(struct difflm_ctx *ctx, const char *text, uint32_t flags, int32_t *out,
                         size_t cap, size_t *n_out);
int dl_ctx_confidences(const struct difflm_ctx *ctx, int32_t *token, int32_t *step, float *prob,
                       float *score, size_t cap, size_t *n_out);

/* ---- conversion (ctx_convert.c), with a checked, current-size copy of the parameters
 * (n_threads >= 0), under the allocator the caller entered */
int dl_ctx_convert(const difflm_convert_params *p, dl_err *err);
int dl_ctx_convert_type_supported(const char *type);

#endif

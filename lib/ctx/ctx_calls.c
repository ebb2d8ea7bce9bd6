/* ctx_calls.c - the context's share of the public calls that are not the step loop:
 * accessors, the tokenizer through the shared model, the canvas, and sample(). */
#include <string.h>

#include "ctx/ctx.h"

const dl_mem *dl_ctx_mem(const struct difflm_ctx *c) {
    return &c->mem;
}

dl_err *dl_ctx_err(struct difflm_ctx *c) {
    return &c->err;
}

const char *dl_ctx_last_error(const struct difflm_ctx *c) {
    return c->err.msg;
}

struct difflm_model *dl_ctx_lm(const struct difflm_ctx *c) {
    return c->lm;
}

void dl_ctx_info(const struct difflm_ctx *c, difflm_model_info *info) {
    dl_model_obj_info(c->lm, info);
    info->max_canvas = c->max_canvas;
}

void dl_ctx_cancel(struct difflm_ctx *c) {
    __atomic_store_n(&c->cancel, 1, __ATOMIC_SEQ_CST);
}

int dl_ctx_tokenize(struct difflm_ctx *c, const char *text, size_t len, uint32_t flags,
                    int32_t *out, size_t cap, size_t *n_out) {
    return dl_tok_encode(c->tok, text, len, flags, out, cap, n_out, &c->err);
}

int dl_ctx_detokenize(struct difflm_ctx *c, const int32_t *ids, size_t n, uint32_t flags,
                      char *out, size_t cap, size_t *n_out) {
    return dl_tok_decode(c->tok, ids, n, flags, out, cap, n_out, &c->err);
}

int dl_ctx_chat(struct difflm_ctx *c, const difflm_chat_message *msgs, size_t n,
                int add_assistant, char *out, size_t cap, size_t *n_out) {
    return dl_tok_chat(c->tok, msgs, n, add_assistant, out, cap, n_out, &c->err);
}

int dl_ctx_canvas(const struct difflm_ctx *c, int32_t *out, size_t cap, size_t *n_out) {
    if (!c->have_canvas)
        return DIFFLM_E_STATE;
    size_t n = (size_t)dl_sched_canvas_len(c->sched);
    *n_out = n;
    if (cap < n)
        return DIFFLM_E_BUFFER_TOO_SMALL;
    memcpy(out, dl_sched_canvas(c->sched), n * sizeof *out);
    return DIFFLM_OK;
}

/* The generated tokens up to (not including) the first EOS or end-of-turn. */
static size_t generated_length(const struct difflm_ctx *c, const int32_t *gen, size_t n) {
    const dl_tok_special *sp = dl_tok_specials(c->tok);
    for (size_t i = 0; i < n; i++)
        if ((sp->eos >= 0 && gen[i] == sp->eos) || (sp->eot >= 0 && gen[i] == sp->eot))
            return i;
    return n;
}

int dl_ctx_sample(struct difflm_ctx *c, const char *prompt, const difflm_gen_params *g,
                  char *out, size_t cap, size_t *n_out) {
    /* The prompt's ids go through the canvas_un buffer, which is free between steps. */
    int32_t *ids = c->canvas_un;
    size_t n_ids = 0;
    uint32_t flags = DIFFLM_TOKENIZE_PARSE_SPECIAL;
    if (dl_tok_specials(c->tok)->add_bos)
        flags |= DIFFLM_TOKENIZE_ADD_BOS;
    c->have_canvas = 0;
    c->batch_n = 0;   // one generation at a time: this one ends a batch
    int rc = dl_tok_encode(c->tok, prompt, strlen(prompt), flags, ids, (size_t)c->max_canvas,
                           &n_ids, &c->err);
    if (rc == DIFFLM_E_BUFFER_TOO_SMALL)
        return dl_fail(&c->err, DIFFLM_E_TOO_LONG, "prompt of %zu tokens exceeds max_canvas %d",
                       n_ids, c->max_canvas);
    if (rc == 0)
        rc = dl_ctx_begin(c, ids, (int32_t)n_ids, g);
    while (rc == DIFFLM_OK)
        rc = dl_ctx_step(c);
    if (rc != DIFFLM_DONE)
        return rc;
    const int32_t *canvas = dl_sched_canvas(c->sched);
    size_t P = (size_t)dl_sched_prompt_len(c->sched);
    size_t n_gen = generated_length(c, canvas + P, (size_t)dl_sched_canvas_len(c->sched) - P);
    rc = dl_tok_decode(c->tok, canvas + P, n_gen, 0, out, cap ? cap - 1 : 0, n_out, &c->err);
    if (rc == DIFFLM_E_BUFFER_TOO_SMALL || (rc == 0 && cap == 0))
        return dl_fail(&c->err, DIFFLM_E_BUFFER_TOO_SMALL, "output needs %zu bytes plus NUL",
                       *n_out);
    if (rc == 0)
        out[*n_out] = '\0';
    return rc;
}

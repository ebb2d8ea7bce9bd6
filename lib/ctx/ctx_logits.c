/* ctx_logits.c - difflm_logits: one forward pass over a host's ids and the output head
 * over the rows it asks for, in the context's arena. The pieces it uses (the forward
 * scratch, the hidden states, the head's scratch and one chunk of logits) are free
 * between steps: a step fills and consumes them, so a generation in progress keeps its
 * canvas, schedule, random stream and KV cache, which this file never touches. */
#include <string.h>

#include "ctx/ctx.h"

/* A generation (or a batch) has begun and not completed: a cancel request is then its too. */
static int generation_unfinished(const struct difflm_ctx *c) {
    return (c->have_canvas && !dl_sched_done(c->sched)) || dl_ctx_batch_unfinished(c);
}

static int cancelled(struct difflm_ctx *c) {
    return __atomic_load_n(&c->cancel, __ATOMIC_SEQ_CST) != 0;
}

/* The pass and the head; out has room for n_rows * V floats. */
static int run(struct difflm_ctx *c, const int32_t *ids, int32_t n, const int32_t *rows,
               size_t n_rows, float *out) {
    const size_t V = (size_t)c->model->hp.n_vocab;
    int rc = dl_model_forward(c->model, c->fwd_scratch, ids, n, c->hidden, &c->cancel, &c->err);
    if (rc != 0)
        return rc;
    for (size_t first = 0; first < n_rows; first += (size_t)c->logit_rows) {
        if (cancelled(c))
            return dl_fail(&c->err, DIFFLM_E_CANCELLED, "logits cancelled after %zu of %zu rows",
                           first, n_rows);
        int32_t k = (int32_t)DL_MIN((size_t)c->logit_rows, n_rows - first);
        const int32_t *r = c->rows;
        if (rows)
            r = rows + first;
        else   // all rows: first .. first + k - 1, which fit an int32 (n does)
            for (int32_t i = 0; i < k; i++)
                c->rows[i] = (int32_t)first + i;
        // into the arena's chunk (aligned, as the head's products expect), then out
        dl_model_logits(c->model, c->head_scratch, c->hidden, r, k, c->logits);
        memcpy(out + first * V, c->logits, (size_t)k * V * sizeof(float));
    }
    return 0;
}

int dl_ctx_logits(struct difflm_ctx *c, const int32_t *ids, size_t n, const int32_t *rows,
                  size_t n_rows, float *out, size_t cap, size_t *n_out) {
    *n_out = 0;
    const int32_t V = c->model->hp.n_vocab;
    if (n == 0)
        return dl_fail(&c->err, DIFFLM_E_INVALID_ARG, "difflm_logits: no ids (n is 0)");
    if (n > (size_t)c->max_canvas)
        return dl_fail(&c->err, DIFFLM_E_TOO_LONG, "difflm_logits: %zu ids exceed max_canvas %d",
                       n, c->max_canvas);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return dl_fail(&c->err, DIFFLM_E_INVALID_ARG,
                           "difflm_logits: id %d at index %zu is outside the vocabulary [0, %d)",
                           ids[i], i, V);
    if (!rows)
        n_rows = n;
    size_t need;   // before the rows are read: a count that overflows names no real array
    if (dl_mul_size(n_rows, (size_t)V, &need))
        return dl_fail(&c->err, DIFFLM_E_INVALID_ARG,
                       "difflm_logits: %zu rows of %d logits overflow a size_t", n_rows, V);
    if (rows)
        for (size_t i = 0; i < n_rows; i++)
            if (rows[i] < 0 || (size_t)rows[i] >= n)
                return dl_fail(&c->err, DIFFLM_E_INVALID_ARG,
                               "difflm_logits: rows[%zu] = %d is outside the canvas [0, %zu)", i,
                               rows[i], n);
    if (cap < need) {
        *n_out = need;
        return dl_fail(&c->err, DIFFLM_E_BUFFER_TOO_SMALL,
                       "difflm_logits: needs %zu floats, the buffer holds %zu", need, cap);
    }
    int unfinished = generation_unfinished(c);
    int rc = cancelled(c) ? dl_fail(&c->err, DIFFLM_E_CANCELLED, "logits cancelled before the pass")
                          : run(c, ids, (int32_t)n, rows, n_rows, out);
    if (rc == DIFFLM_E_CANCELLED && !unfinished)
        __atomic_store_n(&c->cancel, 0, __ATOMIC_SEQ_CST);   // the request is spent
    if (rc != 0)
        return rc;
    *n_out = need;
    return DIFFLM_OK;
}

/* ctx_confidence.c - difflm_confidences: what each canvas position had when it was
 * committed, or what the last step predicts for it (doc/sampling.md "Confidences"). */
#include "ctx/ctx.h"

int dl_ctx_confidences(const struct difflm_ctx *c, int32_t *token, int32_t *step, float *prob,
                       float *score, size_t cap, size_t *n_out) {
    if (!c->have_canvas)
        return DIFFLM_E_STATE;
    size_t n = (size_t)dl_sched_canvas_len(c->sched);
    *n_out = n;
    if (cap < n)
        return DIFFLM_E_BUFFER_TOO_SMALL;
    dl_sched_confidences(c->sched, token, step, prob, score);
    return DIFFLM_OK;
}

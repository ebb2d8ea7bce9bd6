/* infill.c - generation over a canvas the host lays out: MASK ids anywhere, the other
 * positions fixed (doc/sampling.md "Infilling"). The state machine in sched.c runs it
 * unchanged: its blocks and regions are defined over the MASK positions in canvas
 * order, which for [prompt | MASK x gen_length] are the positions after the prompt. */
#include "sched/sched.h"
#include "sched/sched_priv.h"

int dl_sched_begin_canvas(dl_sched *s, const dl_sched_params *p, const int32_t *canvas,
                          int32_t n, dl_err *err) {
    if (!s || !p || (n > 0 && !canvas))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_sched_begin_canvas: NULL argument");
    if (p->schedule == DIFFLM_SCHEDULE_BLOCK_DIFFUSION)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "infilling with the block diffusion schedule "
                       "is not supported (its blocks are the canvas's, decoded left to right)");
    int32_t *buf = dl_sched_reset(s);
    int32_t max_canvas, n_vocab, mask_id;
    dl_sched_limits(s, &max_canvas, &n_vocab, &mask_id);
    if (n > max_canvas)
        return dl_fail(err, DIFFLM_E_TOO_LONG, "canvas of %d tokens exceeds the canvas of %d", n,
                       max_canvas);
    int32_t n_masks = 0, first_mask = -1, last_fixed = -1;
    for (int32_t i = 0; i < n; i++) {
        if (canvas[i] < 0 || canvas[i] >= n_vocab)
            return dl_fail(err, DIFFLM_E_INVALID_ARG,
                           "canvas token %d at position %d is outside the vocabulary of %d",
                           canvas[i], i, n_vocab);
        if (canvas[i] == mask_id) {
            if (first_mask < 0)
                first_mask = i;
            n_masks++;
        } else {
            last_fixed = i;
        }
    }
    if (n_masks == 0)
        return dl_fail(err, DIFFLM_E_INVALID_ARG,
                       "the canvas of %d tokens has no MASK (id %d) to fill", n, mask_id);
    dl_sched_params q = *p;
    q.gen_length = n_masks;
    int rc = dl_sched_check(s, &q, err);
    if (rc != 0)
        return rc;
    // Early stop fills everything after the text's end with EOS: meaningless when fixed
    // text follows a hole (the text goes on after it).
    if ((q.flags & DIFFLM_GEN_EARLY_STOP) && last_fixed > first_mask)
        return dl_fail(err, DIFFLM_E_INVALID_ARG,
                       "early stop needs every MASK after the canvas's fixed text; position %d "
                       "is fixed and follows the MASK at %d",
                       last_fixed, first_mask);
    for (int32_t i = 0; i < n; i++)
        buf[i] = canvas[i];
    return dl_sched_start(s, &q, n);
}

/* ctx_block.c - the forward pass of a block diffusion step (doc/sampling.md "Block
 * diffusion"). Under a block-causal mask no row sees a later block, so the K/V of every
 * finished block is what a full recompute gives: the cache keeps them, and a step runs
 * only the rows whose K/V it lacks (the prompt's whole blocks at the first step, the
 * block that just finished at the next block's first step) plus the current block's. */
#include "ctx/ctx.h"

/* The recompute path: the canvas up to the block's end (the mask makes every later row
 * irrelevant to the block's), CFG's unconditional pass beside it. */
static int recompute(struct difflm_ctx *c, const int32_t *canvas, int32_t hi) {
    c->hidden_row0 = 0;
    c->hidden_rows = hi;
    int rc = dl_model_forward(c->model, c->fwd_scratch, canvas, hi, c->hidden, &c->cancel,
                              &c->err);
    if (rc == 0 && c->cfg_scale > 0.0f) {
        const uint8_t *fixed = dl_sched_fixed(c->sched);
        for (int32_t i = 0; i < hi; i++)
            c->canvas_un[i] = fixed[i] ? c->mask_id : canvas[i];
        rc = dl_model_forward(c->model, c->fwd_scratch, c->canvas_un, hi, c->hidden_un,
                              &c->cancel, &c->err);
    }
    return rc;
}

int dl_ctx_block_forward(struct difflm_ctx *c, const int32_t *canvas, int32_t lo, int32_t hi) {
    if (c->gen_flags & DIFFLM_GEN_BLOCK_RECOMPUTE)
        return recompute(c, canvas, hi);
    // shifted logits predict the block's first position from the row before it, whose
    // K/V the cache already holds (recomputing it writes the same values back)
    int32_t need = c->model->hp.shift_logits && lo > 0 ? lo - 1 : lo;
    int32_t r0 = DL_MIN(c->bd_kv_rows, need);
    dl_pass p = { canvas, hi, r0, hi - r0, &c->kv, r0, hi - r0 };
    c->hidden_row0 = r0;
    c->hidden_rows = hi - r0;
    int rc = dl_model_pass(c->model, c->fwd_scratch, &p, c->hidden, &c->cancel, &c->err);
    if (rc == 0)
        c->bd_kv_rows = lo;   // the rows before the block are final now, and cached
    return rc;
}

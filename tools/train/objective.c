/* objective.c - LLaDA's forward process on a batch: one noise level per sequence,
 * independent masking at that level, and the 1/p loss weights. */
#include "train.h"

void tr_apply_mask(tr_batch *b, int32_t mask_id, int32_t n_norm, uint64_t *rng) {
    b->n_masked = 0;
    for (int32_t s = 0; s < b->n_seq; s++) {
        int32_t start = b->seq_start[s], len = b->seq_len[s], fixed = b->seq_fixed[s];
        double t = dl_splitmix64_uniform(rng);
        double p = (1.0 - TR_MASK_EPS) * t + TR_MASK_EPS;
        float w = (float)(1.0 / (p * (double)(len - fixed) * (double)n_norm));
        /* position 0 is the BOS every canvas starts with, and an instruction pair's
         * prompt follows it: never masked, never scored */
        for (int32_t i = 0; i < fixed; i++)
            b->input[start + i] = b->clean[start + i];
        for (int32_t i = fixed; i < len; i++) {
            int32_t r = start + i;
            b->input[r] = b->clean[r];
            if (dl_splitmix64_uniform(rng) < p) {
                b->input[r] = mask_id;
                b->mask_rows[b->n_masked] = r;
                b->targets[b->n_masked] = b->clean[r];
                b->weights[b->n_masked] = w;
                b->n_masked++;
            }
        }
    }
}

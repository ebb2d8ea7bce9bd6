/* schedule.c - how many tokens each step commits: LLaDA's per-block linear counts and
 * Dream's float32 timestep schedule. */
#include "sched/plan.h"

#define DL_PLAN_MIN(a, b) ((a) < (b) ? (a) : (b))

int32_t dl_block_step_count(int32_t n_masks, int32_t block_steps, int32_t j) {
    return n_masks / block_steps + (j < n_masks % block_steps ? 1 : 0);
}

int32_t dl_block_count(int32_t gen_length, int32_t block_length) {
    if (block_length <= 0 || block_length > gen_length)
        return 1;
    return (int32_t)(((int64_t)gen_length + block_length - 1) / block_length);
}

int32_t dl_plan_blocks(int32_t *counts, int32_t *block_of, int32_t gen_length, int32_t steps,
                       int32_t block_length) {
    int32_t bl = block_length <= 0 || block_length > gen_length ? gen_length : block_length;
    int32_t nb = dl_block_count(gen_length, bl);
    int32_t n = 0;
    for (int32_t b = 0; b < nb; b++) {
        int32_t first = b * bl;
        int32_t n_masks = DL_PLAN_MIN(bl, gen_length - first);
        int32_t block_steps = steps / nb + (b < steps % nb ? 1 : 0);
        // Steps past n_masks would commit nothing: they are skipped, not run.
        int32_t live = DL_PLAN_MIN(block_steps, n_masks);
        for (int32_t j = 0; j < live; j++) {
            counts[n] = dl_block_step_count(n_masks, block_steps, j);
            block_of[n] = b;
            n++;
        }
    }
    return n;
}

/* The float32 steps below go through volatile temporaries so that the compiler can
 * neither fuse a multiply-add nor keep extra precision: the counts must match a float32
 * reference bit for bit. */

float dl_dream_time(int32_t i, int32_t steps, float eps) {
    volatile float step = (eps - 1.0f) / (float)steps;
    volatile float offset;
    // (steps + 1) / 2 without the overflow of steps + 1 at INT32_MAX
    if (i < steps / 2 + steps % 2) {
        offset = step * (float)i;
        return 1.0f + offset;
    }
    offset = step * (float)(steps - i);
    return eps - offset;
}

float dl_dream_ratio(int32_t i, int32_t steps, float eps) {
    volatile float now = dl_dream_time(i, steps, eps);
    volatile float next = dl_dream_time(i + 1, steps, eps);
    volatile float frac = next / now;
    return 1.0f - frac;
}

int32_t dl_dream_step_count(int32_t n_masked, int32_t i, int32_t steps, float eps) {
    if (i == steps - 1)
        return n_masked;
    volatile float want = (float)n_masked * dl_dream_ratio(i, steps, eps);
    float w = want;
    if (!(w > 0.0f))
        return 0;
    if (w >= (float)n_masked)
        return n_masked;
    return (int32_t)w;
}

int32_t dl_plan_timesteps(int32_t *counts, int32_t gen_length, int32_t steps, float eps) {
    int32_t n = 0, left = gen_length;
    for (int32_t i = 0; i < steps && left > 0; i++) {
        int32_t k = dl_dream_step_count(left, i, steps, eps);
        if (k > 0) {
            counts[n++] = k;
            left -= k;
        }
    }
    return n;
}

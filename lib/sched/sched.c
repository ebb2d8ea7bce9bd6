/* sched.c - the denoising state machine: canvas, candidates, predictions, commits.
 * doc/sampling.md is the contract; plan.h holds the counts and the ranking. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched/plan.h"
#include "sched/sched.h"
#include "sched/sched_priv.h"

struct dl_sched {
    int32_t max_canvas, n_vocab, mask_id, eos_id, eot_id;

    /* the generation (set by begin) */
    int begun;
    dl_sched_params p;          /* block_length resolved (> 0) */
    int32_t fallback_id;        /* the lowest id that may be predicted */
    int32_t *canvas;            /* [max_canvas] */
    int32_t n_prompt, len, n_masked;   /* n_prompt: the fixed positions before the
                                          first MASK (a canvas: infill.c) */
    int32_t *gen_pos;           /* [max_canvas] the positions that were MASK at begin, in
                                   canvas order: the blocks are runs of these */
    uint8_t *fixed;             /* [max_canvas] 1 where begin's canvas held a token */
    int32_t *plan_count;        /* [max_canvas] tokens per planned step (confidence rules) */
    int32_t *plan_block;        /* [max_canvas] BLOCKS: the block of each planned step */
    int32_t total_steps, steps_done;
    dl_rng rng;
    int stopped;                /* ended by DIFFLM_GEN_EARLY_STOP */

    /* the region the current step chooses from */
    int32_t region_lo, region_hi;
    int region_first;           /* this step is the region's first */
    int32_t block;              /* BLOCKS: the current block (-1 before the first step);
                                   BLOCK_DIFFUSION: the current block of the canvas */

    /* BLOCK_DIFFUSION (block.c has the rules) */
    int32_t bd_n_blocks;        /* canvas blocks (len / block_length) */
    int32_t bd_block_steps;     /* denoising steps per block */
    int32_t bd_step;            /* steps the current block has run while it had MASKs */
    int32_t bd_post;            /* editing steps it has run since its last MASK */
    int bd_done;
    int32_t *bd_idx;            /* [max_canvas] the step's masked candidates */

    /* the current step */
    int32_t *cand;              /* [max_canvas] candidate positions, ascending */
    int32_t n_cand;
    int32_t *x0;                /* [max_canvas] per candidate */
    double *conf;               /* [max_canvas] per candidate */
    double *key;                /* [max_canvas] per candidate (alg_temp keys) */
    dl_keyed *ranked;           /* [max_canvas] */
    int32_t n_pred;             /* candidates predicted so far */
    int pred_broken;            /* predict was called out of order this step */
    dl_rng rng_step;            /* rng at the start of this step's predictions */
    double *prob;               /* [max_canvas] per candidate: softmax(l)[x0] */

    /* what each position had when it was last predicted or committed (confidence.c) */
    int32_t *commit_step;       /* [max_canvas] 1-based step that committed it, 0 if none */
    int32_t *pred_step;         /* [max_canvas] 1-based step that last predicted it */
    int32_t *pred_x0;           /* [max_canvas] that step's x0 */
    double *pred_prob;          /* [max_canvas] its probability */
    double *pred_conf;          /* [max_canvas] its confidence under the rule */

    /* one row at a time */
    float *z;                   /* [n_vocab] the filtered logits */
    float *kth;                 /* [n_vocab] top-k selection scratch */
    dl_ranked *sorted;          /* [n_vocab] top-p sorting scratch */
};

static void *alloc_array(size_t n, size_t elem, int *failed) {
    size_t bytes;
    if (*failed || dl_mul_size(n, elem, &bytes) != 0) {
        *failed = 1;
        return NULL;
    }
    void *p = dl_calloc(1, bytes ? bytes : 1);
    if (!p)
        *failed = 1;
    return p;
}

/* Allocates (s non-NULL) or only measures (s NULL) the per-canvas and per-vocabulary
 * arrays; returns their bytes (not counting the allocator's block headers). */
static size_t sched_arrays(dl_sched *s, size_t mc, size_t nv, int *failed) {
    size_t total = 0;
#define SCHED_ARRAY(field, n)                                                \
    do {                                                                     \
        total += (n) * sizeof *s->field;                                     \
        if (s)                                                               \
            s->field = alloc_array((n), sizeof *s->field, failed);           \
    } while (0)
    SCHED_ARRAY(canvas, mc);
    SCHED_ARRAY(plan_count, mc);
    SCHED_ARRAY(plan_block, mc);
    SCHED_ARRAY(cand, mc);
    SCHED_ARRAY(x0, mc);
    SCHED_ARRAY(conf, mc);
    SCHED_ARRAY(key, mc);
    SCHED_ARRAY(ranked, mc);
    SCHED_ARRAY(gen_pos, mc);
    SCHED_ARRAY(fixed, mc);
    SCHED_ARRAY(prob, mc);
    SCHED_ARRAY(commit_step, mc);
    SCHED_ARRAY(pred_step, mc);
    SCHED_ARRAY(pred_x0, mc);
    SCHED_ARRAY(pred_prob, mc);
    SCHED_ARRAY(pred_conf, mc);
    SCHED_ARRAY(bd_idx, mc);
    SCHED_ARRAY(z, nv);
    SCHED_ARRAY(kth, nv);
    SCHED_ARRAY(sorted, nv);
#undef SCHED_ARRAY
    return total;
}

size_t dl_sched_memory(int32_t max_canvas, int32_t n_vocab) {
    int failed = 0;
    return sizeof(dl_sched) + sched_arrays(NULL, (size_t)max_canvas, (size_t)n_vocab, &failed);
}

int dl_sched_create(dl_sched **out, int32_t max_canvas, int32_t n_vocab, int32_t mask_id,
                    int32_t eos_id, int32_t eot_id, dl_err *err) {
    if (!out)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_sched_create: out is NULL");
    *out = NULL;
    if (max_canvas < 1)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "scheduler: max_canvas must be >= 1, got %d",
                       max_canvas);
    if (n_vocab < 2)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "scheduler: n_vocab must be >= 2, got %d",
                       n_vocab);
    if (mask_id < 0 || mask_id >= n_vocab)
        return dl_fail(err, DIFFLM_E_INVALID_ARG,
                       "scheduler: mask id %d is outside the vocabulary of %d", mask_id, n_vocab);
    if (eos_id < -1 || eos_id >= n_vocab)
        return dl_fail(err, DIFFLM_E_INVALID_ARG,
                       "scheduler: eos id %d is outside the vocabulary of %d", eos_id, n_vocab);
    if (eot_id < -1 || eot_id >= n_vocab)
        return dl_fail(err, DIFFLM_E_INVALID_ARG,
                       "scheduler: eot id %d is outside the vocabulary of %d", eot_id, n_vocab);

    dl_sched *s = dl_calloc(1, sizeof *s);
    if (!s)
        return dl_fail(err, DIFFLM_E_NOMEM, "scheduler: out of memory");
    s->max_canvas = max_canvas;
    s->n_vocab = n_vocab;
    s->mask_id = mask_id;
    s->eos_id = eos_id;
    s->eot_id = eot_id;
    int failed = 0;
    sched_arrays(s, (size_t)max_canvas, (size_t)n_vocab, &failed);
    if (failed) {
        dl_sched_free(s);
        return dl_fail(err, DIFFLM_E_NOMEM,
                       "scheduler: out of memory for a canvas of %d and a vocabulary of %d",
                       max_canvas, n_vocab);
    }
    *out = s;
    return 0;
}

void dl_sched_free(dl_sched *s) {
    if (!s)
        return;
    dl_free(s->canvas);
    dl_free(s->plan_count);
    dl_free(s->plan_block);
    dl_free(s->cand);
    dl_free(s->x0);
    dl_free(s->conf);
    dl_free(s->key);
    dl_free(s->ranked);
    dl_free(s->gen_pos);
    dl_free(s->fixed);
    dl_free(s->prob);
    dl_free(s->commit_step);
    dl_free(s->pred_step);
    dl_free(s->pred_x0);
    dl_free(s->pred_prob);
    dl_free(s->pred_conf);
    dl_free(s->bd_idx);
    dl_free(s->z);
    dl_free(s->kth);
    dl_free(s->sorted);
    dl_free(s);
}

/* ---------------------------------------------------------------- begin */

static int is_known_remasking(int32_t r) {
    return r >= DIFFLM_REMASK_LOW_CONFIDENCE && r <= DIFFLM_REMASK_ENTROPY;
}

static int check_params(const dl_sched *s, const dl_sched_params *p, dl_err *err) {
    const uint32_t known_flags = DIFFLM_GEN_LOGITS_EOS_INF | DIFFLM_GEN_CONFIDENCE_EOS_EOT_INF |
                                 DIFFLM_GEN_EARLY_STOP | DIFFLM_GEN_ALL_LOGITS |
                                 DIFFLM_GEN_BLOCK_RECOMPUTE;
    if (p->gen_length < 1)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "gen_length must be >= 1, got %d",
                       p->gen_length);
    if (p->steps < 1)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "steps must be >= 1, got %d", p->steps);
    if (p->schedule != DIFFLM_SCHEDULE_BLOCKS && p->schedule != DIFFLM_SCHEDULE_TIMESTEPS &&
        p->schedule != DIFFLM_SCHEDULE_BLOCK_DIFFUSION)
        return dl_fail(err, DIFFLM_E_INVALID_ARG,
                       "schedule %d is not BLOCKS (%d), TIMESTEPS (%d) or BLOCK_DIFFUSION (%d)%s",
                       p->schedule, DIFFLM_SCHEDULE_BLOCKS, DIFFLM_SCHEDULE_TIMESTEPS,
                       DIFFLM_SCHEDULE_BLOCK_DIFFUSION,
                       p->schedule == DIFFLM_SCHEDULE_AUTO ? " (AUTO must be resolved first)"
                                                           : "");
    if (!is_known_remasking(p->remasking))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "remasking %d is not a known rule%s",
                       p->remasking,
                       p->remasking == DIFFLM_REMASK_AUTO ? " (AUTO must be resolved first)" : "");
    if (!(p->temperature >= 0.0f) || !isfinite(p->temperature))
        return dl_fail(err, DIFFLM_E_INVALID_ARG,
                       "temperature must be a finite value >= 0, got %g", (double)p->temperature);
    if (!(p->top_p > 0.0f))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "top_p must be > 0 (1 = off), got %g",
                       (double)p->top_p);
    if (p->top_k < 0)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "top_k must be >= 0 (0 = off), got %d",
                       p->top_k);
    if (!(p->eps > 0.0f && p->eps < 1.0f))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "eps must be inside (0, 1), got %g",
                       (double)p->eps);
    if (!(p->alg_temp >= 0.0f) || !isfinite(p->alg_temp))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "alg_temp must be a finite value >= 0, got %g",
                       (double)p->alg_temp);
    if (p->block_length < 0)
        return dl_fail(err, DIFFLM_E_INVALID_ARG,
                       "block_length must be >= 0 (0 = gen_length), got %d", p->block_length);
    if (p->schedule == DIFFLM_SCHEDULE_BLOCK_DIFFUSION) {
        if (p->block_length < 1)
            return dl_fail(err, DIFFLM_E_INVALID_ARG,
                           "the block diffusion schedule needs a block length > 0 (the model's)");
        if (p->parallel != DIFFLM_PARALLEL_NONE)
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "the block diffusion schedule has its own "
                           "threshold rule (block_threshold); parallel must be NONE");
        if (p->remasking == DIFFLM_REMASK_ORIGIN)
            return dl_fail(err, DIFFLM_E_INVALID_ARG,
                           "the block diffusion schedule needs a confidence rule; ORIGIN has none");
        if (!(p->block_threshold >= 0.0f && p->block_threshold <= 1.0f))
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "block_threshold must be inside [0, 1], "
                           "got %g", (double)p->block_threshold);
        if (!(p->editing_threshold >= 0.0f && p->editing_threshold < 1.0f))
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "editing_threshold must be inside [0, 1) "
                           "(0 = off), got %g", (double)p->editing_threshold);
        if (p->max_post_steps < 0)
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "max_post_steps must be >= 0, got %d",
                           p->max_post_steps);
    }
    if (p->flags & ~known_flags)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "flags 0x%x has unknown bits 0x%x",
                       (unsigned)p->flags, (unsigned)(p->flags & ~known_flags));
    if (p->parallel != DIFFLM_PARALLEL_NONE && p->parallel != DIFFLM_PARALLEL_THRESHOLD &&
        p->parallel != DIFFLM_PARALLEL_FACTOR)
        return dl_fail(err, DIFFLM_E_INVALID_ARG,
                       "parallel %d is not NONE (0), THRESHOLD (1) or FACTOR (2)", p->parallel);
    if (p->parallel == DIFFLM_PARALLEL_THRESHOLD && !(p->threshold > 0.0f && p->threshold <= 1.0f))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "threshold must be inside (0, 1], got %g",
                       (double)p->threshold);
    if (p->parallel == DIFFLM_PARALLEL_FACTOR && !(p->factor > 0.0f && isfinite(p->factor)))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "factor must be a finite value > 0, got %g",
                       (double)p->factor);
    if (p->parallel != DIFFLM_PARALLEL_NONE && p->remasking == DIFFLM_REMASK_ORIGIN)
        return dl_fail(err, DIFFLM_E_INVALID_ARG,
                       "parallel decoding needs a confidence rule; ORIGIN has none");
    if (p->force_block_first && p->schedule != DIFFLM_SCHEDULE_BLOCKS)
        return dl_fail(err, DIFFLM_E_INVALID_ARG,
                       "committing a block's first position needs the BLOCKS schedule");
    if (p->schedule == DIFFLM_SCHEDULE_TIMESTEPS && p->parallel == DIFFLM_PARALLEL_NONE) {
        // ORIGIN runs a forward pass at every step; beyond gen_length steps the expected
        // commits per step fall below one, and most steps would run a pass for nothing.
        if (p->remasking == DIFFLM_REMASK_ORIGIN && p->steps > p->gen_length)
            return dl_fail(err, DIFFLM_E_INVALID_ARG,
                           "steps (%d) must be <= gen_length (%d) with ORIGIN remasking on the "
                           "TIMESTEPS schedule (every ORIGIN step runs a forward pass)",
                           p->steps, p->gen_length);
        // the confidence rules' plan walks every step once
        if (p->steps > DL_SCHED_MAX_TIMESTEPS)
            return dl_fail(err, DIFFLM_E_INVALID_ARG,
                           "steps (%d) must be <= %d on the TIMESTEPS schedule", p->steps,
                           DL_SCHED_MAX_TIMESTEPS);
    }
    if (p->schedule == DIFFLM_SCHEDULE_BLOCKS && p->parallel == DIFFLM_PARALLEL_NONE) {
        int32_t nb = dl_block_count(p->gen_length, p->block_length);
        if (p->steps < nb)
            return dl_fail(err, DIFFLM_E_INVALID_ARG,
                           "steps (%d) must be >= the number of blocks (%d = ceil(gen_length %d "
                           "/ block_length %d))",
                           p->steps, nb, p->gen_length, p->block_length);
    }
    (void)s;
    return 0;
}

static int32_t first_predictable_id(const dl_sched *s, uint32_t flags) {
    for (int32_t v = 0; v < s->n_vocab; v++) {
        if (v == s->mask_id)
            continue;
        if ((flags & DIFFLM_GEN_LOGITS_EOS_INF) && v == s->eos_id)
            continue;
        return v;
    }
    return -1;
}

/* Block b covers the generated positions gen_pos[b * block_length ..] (at most
 * block_length of them): the canvas span [*lo, *hi) from its first to its last. For
 * [prompt | MASK x gen_length] that is the prompt's end plus b * block_length on. */
static void block_span(const dl_sched *s, int32_t b, int32_t *lo, int32_t *hi) {
    int32_t first = b * s->p.block_length;
    int32_t last = DL_MIN(first + s->p.block_length, s->p.gen_length) - 1;
    *lo = s->gen_pos[first];
    *hi = s->gen_pos[last] + 1;
}

static int32_t block_masks(const dl_sched *s, int32_t b) {
    int32_t lo, hi;
    block_span(s, b, &lo, &hi);
    int32_t n = 0;
    for (int32_t i = lo; i < hi; i++)
        n += s->canvas[i] == s->mask_id;
    return n;
}

static int bd_editing(const dl_sched *s) {
    return s->p.editing_threshold > 0.0f;
}

/* BLOCK_DIFFUSION: the MASKs left in canvas block b. */
static int32_t bd_block_masks(const dl_sched *s, int32_t b) {
    int32_t n = 0, B = s->p.block_length;
    for (int32_t i = b * B; i < (b + 1) * B; i++)
        n += s->canvas[i] == s->mask_id;
    return n;
}

/* BLOCK_DIFFUSION: an upper bound on the steps left (each block runs at most its
 * denoising steps while it has MASKs, then its editing steps). */
static int32_t bd_steps_left(const dl_sched *s) {
    if (s->bd_done)
        return 0;
    int32_t post = bd_editing(s) ? s->p.max_post_steps : 0;
    int64_t cur = bd_block_masks(s, s->block) > 0
                      ? (int64_t)DL_MAX(s->bd_block_steps - s->bd_step, 1) + post
                      : DL_MAX(post - s->bd_post, 0);
    int64_t rest = (int64_t)(s->bd_n_blocks - s->block - 1) * ((int64_t)s->bd_block_steps + post);
    int64_t n = cur + rest;
    return n > INT32_MAX ? INT32_MAX : (int32_t)n;
}

/* steps done + steps left, saturated: max_post_steps may be as large as INT32_MAX */
static int32_t bd_total_steps(const dl_sched *s) {
    int64_t n = (int64_t)s->steps_done + bd_steps_left(s);
    return n > INT32_MAX ? INT32_MAX : (int32_t)n;
}

/* Fills the candidate list of the next step and marks where its random draws start. */
static void prepare_step(dl_sched *s) {
    int32_t lo = s->gen_pos[0], hi = s->gen_pos[s->p.gen_length - 1] + 1;
    int first = s->steps_done == 0;
    if (s->p.schedule == DIFFLM_SCHEDULE_BLOCK_DIFFUSION) {
        lo = s->block * s->p.block_length;
        hi = lo + s->p.block_length;
        first = s->bd_step == 0 && s->bd_post == 0;
        s->region_lo = lo;
        s->region_hi = hi;
        s->region_first = first;
        s->n_cand = 0;
        for (int32_t i = lo; i < hi; i++)
            if (s->canvas[i] == s->mask_id || (bd_editing(s) && !s->fixed[i]))
                s->cand[s->n_cand++] = i;
        s->n_pred = 0;
        s->pred_broken = 0;
        s->rng_step = s->rng;
        return;
    }
    if (s->p.schedule == DIFFLM_SCHEDULE_BLOCKS) {
        int32_t b;
        if (s->p.parallel == DIFFLM_PARALLEL_NONE) {
            b = s->plan_block[s->steps_done];
        } else {
            // A rule's block runs until it has no MASK left; n_masked > 0 here, so some
            // block at or after the current one still has one.
            b = s->block < 0 ? 0 : s->block;
            while (block_masks(s, b) == 0)
                b++;
        }
        first = b != s->block;
        s->block = b;
        block_span(s, b, &lo, &hi);
    }
    s->region_lo = lo;
    s->region_hi = hi;
    s->region_first = first;
    s->n_cand = 0;
    for (int32_t i = lo; i < hi; i++)
        if (s->canvas[i] == s->mask_id)
            s->cand[s->n_cand++] = i;
    s->n_pred = 0;
    s->pred_broken = 0;
    s->rng_step = s->rng;
}

int dl_sched_begin(dl_sched *s, const dl_sched_params *p, const int32_t *prompt, int32_t n_prompt,
                   dl_err *err) {
    if (!s || !p)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_sched_begin: scheduler or params is NULL");
    s->begun = 0;
    int rc = check_params(s, p, err);
    if (rc != 0)
        return rc;
    if (n_prompt < 0 || (n_prompt > 0 && !prompt))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "prompt of %d tokens %s", n_prompt,
                       n_prompt < 0 ? "has a negative length" : "is NULL");
    for (int32_t i = 0; i < n_prompt; i++) {
        if (prompt[i] < 0 || prompt[i] >= s->n_vocab)
            return dl_fail(err, DIFFLM_E_INVALID_ARG,
                           "prompt token %d at position %d is outside the vocabulary of %d",
                           prompt[i], i, s->n_vocab);
        if (prompt[i] == s->mask_id)
            return dl_fail(err, DIFFLM_E_INVALID_ARG,
                           "prompt position %d holds the MASK id %d", i, s->mask_id);
    }
    int64_t len = dl_sched_canvas_padded_len(p, (int64_t)n_prompt + p->gen_length);
    if (len > s->max_canvas)
        return dl_fail(err, DIFFLM_E_TOO_LONG,
                       "prompt (%d) + gen_length (%d) = %lld%s exceeds the canvas of %d", n_prompt,
                       p->gen_length, (long long)len,
                       len > (int64_t)n_prompt + p->gen_length ? " (padded to whole blocks)" : "",
                       s->max_canvas);
    int32_t fallback = first_predictable_id(s, p->flags);
    if (fallback < 0)
        return dl_fail(err, DIFFLM_E_INVALID_ARG,
                       "no token id can be predicted (vocabulary of %d without MASK%s)",
                       s->n_vocab, (p->flags & DIFFLM_GEN_LOGITS_EOS_INF) ? " and EOS" : "");
    if (n_prompt > 0)
        memcpy(s->canvas, prompt, (size_t)n_prompt * sizeof *prompt);
    for (int32_t i = n_prompt; i < (int32_t)len; i++)
        s->canvas[i] = s->mask_id;
    return dl_sched_start(s, p, (int32_t)len);
}

int64_t dl_sched_canvas_padded_len(const dl_sched_params *p, int64_t n) {
    if (p->schedule != DIFFLM_SCHEDULE_BLOCK_DIFFUSION || p->block_length < 1)
        return n;
    return (n + p->block_length - 1) / p->block_length * p->block_length;
}

int dl_sched_check(const dl_sched *s, const dl_sched_params *p, dl_err *err) {
    int rc = check_params(s, p, err);
    if (rc == 0 && first_predictable_id(s, p->flags) < 0)
        rc = dl_fail(err, DIFFLM_E_INVALID_ARG,
                     "no token id can be predicted (vocabulary of %d without MASK%s)", s->n_vocab,
                     (p->flags & DIFFLM_GEN_LOGITS_EOS_INF) ? " and EOS" : "");
    return rc;
}

int dl_sched_start(dl_sched *s, const dl_sched_params *p, int32_t len) {
    s->p = *p;
    if (s->p.schedule != DIFFLM_SCHEDULE_BLOCK_DIFFUSION &&
        (s->p.block_length == 0 || s->p.block_length > s->p.gen_length))
        s->p.block_length = s->p.gen_length;
    s->fallback_id = first_predictable_id(s, p->flags);
    s->len = len;
    s->n_masked = 0;
    for (int32_t i = 0; i < len; i++) {
        s->fixed[i] = s->canvas[i] != s->mask_id;
        if (!s->fixed[i])
            s->gen_pos[s->n_masked++] = i;
        s->commit_step[i] = s->pred_step[i] = 0;
    }
    s->n_prompt = s->gen_pos[0];
    s->steps_done = 0;
    s->stopped = 0;
    s->block = -1;

    if (s->p.schedule == DIFFLM_SCHEDULE_BLOCK_DIFFUSION) {
        // [prompt | MASK ...] over whole blocks: decoding starts at the block holding the
        // prompt's end; the blocks before it are the prompt's, prefilled once
        s->p.gen_length = s->n_masked;
        s->bd_n_blocks = len / s->p.block_length;
        s->block = s->n_prompt / s->p.block_length;
        s->bd_block_steps = dl_bd_block_steps(s->p.steps, s->bd_n_blocks - s->block);
        s->bd_step = s->bd_post = 0;
        s->bd_done = 0;
        s->total_steps = bd_steps_left(s);
    } else if (s->p.parallel != DIFFLM_PARALLEL_NONE)
        s->total_steps = s->p.gen_length;   // an upper bound: every step commits one at least
    else if (s->p.schedule == DIFFLM_SCHEDULE_BLOCKS)
        s->total_steps = dl_plan_blocks(s->plan_count, s->plan_block, s->p.gen_length,
                                        s->p.steps, s->p.block_length);
    else if (s->p.remasking == DIFFLM_REMASK_ORIGIN)
        s->total_steps = s->p.steps;   // each step draws its own count
    else
        s->total_steps = dl_plan_timesteps(s->plan_count, s->p.gen_length, s->p.steps,
                                           s->p.eps);
    dl_rng_seed(&s->rng, p->seed);
    s->begun = 1;
    prepare_step(s);
    return 0;
}

/* ---------------------------------------------------------------- accessors */

const int32_t *dl_sched_canvas(const dl_sched *s) { return s->canvas; }
int32_t dl_sched_canvas_len(const dl_sched *s) { return s->begun ? s->len : 0; }
int32_t dl_sched_prompt_len(const dl_sched *s) { return s->begun ? s->n_prompt : 0; }
int32_t dl_sched_n_masked(const dl_sched *s) { return s->begun ? s->n_masked : 0; }
int32_t dl_sched_total_steps(const dl_sched *s) { return s->begun ? s->total_steps : 0; }
int32_t dl_sched_steps_done(const dl_sched *s) { return s->begun ? s->steps_done : 0; }

int dl_sched_done(const dl_sched *s) {
    if (s->begun && s->p.schedule == DIFFLM_SCHEDULE_BLOCK_DIFFUSION)
        return s->bd_done;   // editing steps may follow the last MASK
    return !s->begun || s->n_masked == 0 || s->steps_done >= s->total_steps;
}

int dl_sched_region(const dl_sched *s, int32_t *lo, int32_t *hi) {
    if (dl_sched_done(s)) {
        *lo = *hi = 0;
        return 0;
    }
    *lo = s->region_lo;
    *hi = s->region_hi;
    return s->region_first;
}

int dl_sched_stopped_early(const dl_sched *s) { return s->begun && s->stopped; }

int32_t dl_sched_positions(const dl_sched *s, int32_t *pos) {
    if (dl_sched_done(s))
        return 0;
    memcpy(pos, s->cand, (size_t)s->n_cand * sizeof *pos);
    return s->n_cand;
}

/* ---------------------------------------------------------------- predict */

static int uses_position_draw(int32_t remasking) {
    return remasking == DIFFLM_REMASK_RANDOM || remasking == DIFFLM_REMASK_ORIGIN;
}

/* One candidate: doc/sampling.md "Per candidate position", steps 1-6. l: [n_vocab] in/out. */
static void predict_row(dl_sched *s, int32_t i, float *l) {
    const dl_sched_params *p = &s->p;
    const int32_t V = s->n_vocab;
    float *z = s->z;

    dl_row_clean(l, V);
    l[s->mask_id] = -INFINITY;
    if ((p->flags & DIFFLM_GEN_LOGITS_EOS_INF) && s->eos_id >= 0)
        l[s->eos_id] = -INFINITY;

    dl_row_temperature(z, l, p->temperature, V);
    if (p->top_p > 0.0f && p->top_p < 1.0f)
        dl_row_top_p(z, s->sorted, p->top_p, V);
    if (p->top_k > 0)
        dl_row_top_k(z, s->kth, p->top_k, V);

    int32_t x0 = p->temperature > 0.0f ? dl_row_sample_gumbel(z, &s->rng, V)
                                       : dl_row_argmax(z, V);
    if (z[x0] == -INFINITY)
        x0 = s->fallback_id;   // nothing finite to choose from (all logits -inf or NaN)

    double r = uses_position_draw(p->remasking) ? dl_rng_uniform(&s->rng) : 0.0;
    // what difflm_confidences reports: the model's probability of x0, before step 5
    double prob = dl_row_softmax_at(l, x0, V);
    s->prob[i] = isnan(prob) ? 0.0 : prob;

    if (p->flags & DIFFLM_GEN_CONFIDENCE_EOS_EOT_INF) {
        if (s->eos_id >= 0)
            l[s->eos_id] = z[s->eos_id] = -INFINITY;
        if (s->eot_id >= 0)
            l[s->eot_id] = z[s->eot_id] = -INFINITY;
    }

    double c;
    switch (p->remasking) {
    case DIFFLM_REMASK_LOW_CONFIDENCE:
        c = (p->flags & DIFFLM_GEN_CONFIDENCE_EOS_EOT_INF) ? dl_row_softmax_at(l, x0, V) : prob;
        break;
    case DIFFLM_REMASK_MASKGIT_PLUS: c = dl_row_softmax_at(z, x0, V); break;
    case DIFFLM_REMASK_TOPK_MARGIN: c = dl_row_top2_margin(z, V); break;
    case DIFFLM_REMASK_ENTROPY: c = dl_row_neg_entropy(z, V); break;
    default: c = r; break;   // RANDOM, ORIGIN
    }
    s->x0[i] = x0;
    s->conf[i] = isnan(c) ? -INFINITY : c;
}

void dl_sched_predict(dl_sched *s, int32_t first, int32_t n, float *logits) {
    if (dl_sched_done(s))
        return;
    if (first == 0) {
        // A fresh pass over the list (e.g. after a cancelled step) replays the same draws.
        s->rng = s->rng_step;
        s->n_pred = 0;
        s->pred_broken = 0;
    }
    if (first != s->n_pred || n < 0 || n > s->n_cand - first || (n > 0 && !logits)) {
        s->pred_broken = 1;
        return;
    }
    for (int32_t i = 0; i < n; i++)
        predict_row(s, first + i, logits + (size_t)i * (size_t)s->n_vocab);
    s->n_pred += n;
}

/* ---------------------------------------------------------------- commit */

static int32_t write_winner(dl_sched *s, int32_t i) {
    s->canvas[s->cand[i]] = s->x0[i];
    s->commit_step[s->cand[i]] = s->steps_done + 1;
    return 1;
}

/* Keeps this step's predictions per position, for difflm_confidences (a committed
 * position keeps those of the step that committed it unless an edit replaces it). */
static void record_predictions(dl_sched *s) {
    for (int32_t i = 0; i < s->n_cand; i++) {
        int32_t pos = s->cand[i];
        if (s->canvas[pos] != s->mask_id)
            continue;
        s->pred_step[pos] = s->steps_done + 1;
        s->pred_x0[pos] = s->x0[i];
        s->pred_prob[pos] = s->prob[i];
        s->pred_conf[pos] = s->conf[i];
    }
}

/* How many of the ranked candidates this step commits. */
static int32_t commit_count(const dl_sched *s, int32_t c) {
    switch (s->p.parallel) {
    case DIFFLM_PARALLEL_THRESHOLD: return dl_threshold_count(s->ranked, c, (double)s->p.threshold);
    case DIFFLM_PARALLEL_FACTOR: return dl_factor_count(s->ranked, c, (double)s->p.factor);
    default: return DL_MIN(s->plan_count[s->steps_done], c);
    }
}

/* DIFFLM_GEN_EARLY_STOP: once the text has ended, the MASKs after its end become EOS
 * (EoT when the model has no EOS). Returns the positions filled. */
static int32_t early_stop(dl_sched *s) {
    int32_t fill = s->eos_id >= 0 ? s->eos_id : s->eot_id;
    int32_t end = dl_text_end(s->canvas, s->n_prompt, s->len, s->mask_id, s->eos_id, s->eot_id);
    if (end < 0 || fill < 0)
        return 0;
    int32_t n = 0;
    for (int32_t i = end + 1; i < s->len; i++)
        if (s->canvas[i] == s->mask_id) {
            s->canvas[i] = fill;
            s->commit_step[i] = s->steps_done + 1;
            s->pred_step[i] = 0;   // filled, not predicted
            n++;
        }
    s->stopped = 1;
    return n;
}

/* BLOCK_DIFFUSION's commit (doc/sampling.md "Block diffusion"): edits of the block's
 * committed tokens, then LLaDA2's threshold rule over its MASKs, then the early stop,
 * then the block ends when it has no MASK left and no editing step to run. Returns the
 * tokens written. */
static int32_t bd_commit(dl_sched *s) {
    const dl_sched_params *p = &s->p;
    const int32_t c = s->n_cand;
    int32_t nm = 0, edits = 0, written = 0;
    for (int32_t i = 0; i < c; i++) {
        int32_t pos = s->cand[i];
        if (s->canvas[pos] == s->mask_id) {
            s->bd_idx[nm] = i;
            s->key[nm++] = s->conf[i];
        } else if (dl_bd_edits(s->canvas[pos], s->x0[i], s->conf[i],
                               (double)p->editing_threshold)) {
            write_winner(s, i);
            s->pred_step[pos] = s->steps_done + 1;
            s->pred_x0[pos] = s->x0[i];
            s->pred_prob[pos] = s->prob[i];
            s->pred_conf[pos] = s->conf[i];
            edits++;
        }
    }
    if (nm > 0) {
        dl_rank_candidates(s->ranked, s->key, nm);
        int32_t k = dl_bd_commit_count(s->ranked, nm,
                                       dl_bd_scheduled(p->block_length, s->bd_block_steps,
                                                       s->bd_step),
                                       (double)p->block_threshold);
        for (int32_t j = 0; j < k; j++)
            written += write_winner(s, s->bd_idx[s->ranked[j].idx]);
        s->n_masked -= written;
        s->bd_step++;
    } else {
        s->bd_post++;
    }
    written += edits;
    if ((p->flags & DIFFLM_GEN_EARLY_STOP) && s->n_masked > 0) {
        int32_t filled = early_stop(s);
        s->n_masked -= filled;
        written += filled;
    }
    if (s->stopped) {
        s->bd_done = 1;
        return written;
    }
    if (bd_block_masks(s, s->block) == 0 &&
        (!bd_editing(s) || s->bd_post >= p->max_post_steps || (nm == 0 && edits == 0))) {
        s->block++;
        s->bd_step = s->bd_post = 0;
        s->bd_done = s->block >= s->bd_n_blocks;
    }
    return written;
}

int dl_sched_commit(dl_sched *s, int32_t *n_committed) {
    int32_t written = 0;
    if (n_committed)
        *n_committed = 0;
    if (!s->begun)
        return DIFFLM_E_STATE;
    if (dl_sched_done(s))
        return DIFFLM_DONE;
    if (s->pred_broken || s->n_pred != s->n_cand)
        return DIFFLM_E_STATE;

    const dl_sched_params *p = &s->p;
    const int32_t c = s->n_cand;
    record_predictions(s);
    if (p->schedule == DIFFLM_SCHEDULE_BLOCK_DIFFUSION) {
        written = bd_commit(s);
        s->steps_done++;
        s->total_steps = bd_total_steps(s);
        if (n_committed)
            *n_committed = written;
        if (dl_sched_done(s))
            return DIFFLM_DONE;
        prepare_step(s);
        return 0;
    }
    if (p->schedule == DIFFLM_SCHEDULE_TIMESTEPS && p->remasking == DIFFLM_REMASK_ORIGIN) {
        int32_t i_step = s->steps_done;
        int last = i_step == p->steps - 1;
        double ratio = last ? 0.0 : (double)dl_dream_ratio(i_step, p->steps, p->eps);
        for (int32_t i = 0; i < c; i++)
            if (last || s->conf[i] < ratio)
                written += write_winner(s, i);
    } else {
        const double *key = s->conf;
        if (p->schedule == DIFFLM_SCHEDULE_TIMESTEPS && p->alg_temp > 0.0f &&
            p->parallel == DIFFLM_PARALLEL_NONE) {
            // (the parallel rules compare confidences, so they rank by confidence too)
            dl_gumbel_keys(s->key, s->conf, p->alg_temp, &s->rng, c);
            key = s->key;
        } else if (p->force_block_first && s->region_first && c > 0 &&
                   s->cand[0] == s->region_lo) {
            memcpy(s->key, s->conf, (size_t)c * sizeof *s->key);
            s->key[0] = INFINITY;   // ranks first: committed by every rule
            key = s->key;
        }
        dl_rank_candidates(s->ranked, key, c);
        int32_t k = commit_count(s, c);
        for (int32_t j = 0; j < k; j++)
            written += write_winner(s, s->ranked[j].idx);
    }
    s->n_masked -= written;
    if ((p->flags & DIFFLM_GEN_EARLY_STOP) && s->n_masked > 0) {
        int32_t filled = early_stop(s);
        s->n_masked -= filled;
        written += filled;
    }
    s->steps_done++;
    if (p->parallel != DIFFLM_PARALLEL_NONE || s->stopped)
        // Each later step commits one token at least: the bound shrinks as steps commit more.
        s->total_steps = s->steps_done + s->n_masked;
    if (n_committed)
        *n_committed = written;
    if (dl_sched_done(s))
        return DIFFLM_DONE;
    prepare_step(s);
    return 0;
}

/* ---------------------------------------------------------------- CFG */

void dl_cfg_combine(float *cond, const float *un, float scale, size_t n) {
    const float w = scale + 1.0f;
    for (size_t i = 0; i < n; i++)
        cond[i] = un[i] + w * (cond[i] - un[i]);
}

/* ---------------------------------------------------------------- infill.c's view */

int32_t *dl_sched_reset(dl_sched *s) {
    s->begun = 0;
    return s->canvas;
}

void dl_sched_limits(const dl_sched *s, int32_t *max_canvas, int32_t *n_vocab, int32_t *mask_id) {
    *max_canvas = s->max_canvas;
    *n_vocab = s->n_vocab;
    *mask_id = s->mask_id;
}

const uint8_t *dl_sched_fixed(const dl_sched *s) { return s->fixed; }

/* ---------------------------------------------------------------- confidences */

void dl_sched_confidences(const dl_sched *s, int32_t *token, int32_t *step, float *prob,
                          float *score) {
    for (int32_t i = 0; i < s->len; i++) {
        int32_t t = s->canvas[i], st, pred = s->pred_step[i];
        int have;   // a prediction to report
        if (s->fixed[i]) {
            st = DIFFLM_CONF_FIXED;
            have = 0;
        } else if (t != s->mask_id) {
            st = s->commit_step[i];
            have = pred == st;   // not an early stop's fill
        } else {
            st = DIFFLM_CONF_MASKED;
            have = pred > 0 && pred == s->steps_done;   // the last step predicted it
            t = have ? s->pred_x0[i] : -1;
        }
        if (token)
            token[i] = t;
        if (step)
            step[i] = st;
        if (prob)
            prob[i] = have ? (float)s->pred_prob[i] : NAN;
        if (score)
            score[i] = have ? (float)s->pred_conf[i] : NAN;
    }
}

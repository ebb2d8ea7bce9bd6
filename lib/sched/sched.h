/* sched.h - the denoising scheduler: mask state, transfer schedules, remasking rules.
 *
 * It works on a canvas of token ids and on logits handed to it, never on the model, so
 * it is tested with synthetic logits. One step is:
 *     n = dl_sched_positions(s, pos);        which canvas positions need predictions
 *     for chunks of pos: dl_sched_predict(s, first, count, logits_of_those_positions);
 *     dl_sched_commit(s, &n_committed);      choose and write the winners
 * The caller maps positions to model rows (Dream's shift) and combines CFG logits
 * before predict. All memory is allocated by dl_sched_create; steps allocate nothing. */
#ifndef DL_SCHED_H
#define DL_SCHED_H

#include <stdint.h>

#include "core/core.h"
#include "difflm.h"
#include "sample/sample.h"

/* The most steps the TIMESTEPS schedule plans (its confidence-rule plan costs O(steps)
 * time at begin: about 40 ms at this bound). Under ORIGIN steps are bounded by gen_length
 * instead. BLOCKS plans in O(gen_length) and takes any steps. doc/sampling.md. */
#define DL_SCHED_MAX_TIMESTEPS (1 << 20)

/* The resolved generation settings (AUTO values already replaced). */
typedef struct dl_sched_params {
    int32_t gen_length;
    int32_t steps;
    int32_t block_length;       /* BLOCKS: 0 = gen_length. BLOCK_DIFFUSION: the model's
                                   block length (> 0), blocks of the whole canvas */
    int32_t schedule;           /* DIFFLM_SCHEDULE_BLOCKS, _TIMESTEPS or _BLOCK_DIFFUSION */
    int32_t remasking;          /* DIFFLM_REMASK_* except AUTO */
    float temperature;
    int32_t top_k;              /* 0 = off */
    float top_p;                /* >= 1 = off */
    float eps;
    float alg_temp;
    uint32_t flags;             /* DIFFLM_GEN_* */
    uint64_t seed;
    int32_t parallel;           /* DIFFLM_PARALLEL_*: counts from the rule, not the plan */
    float threshold;            /* PARALLEL_THRESHOLD: in (0, 1] */
    float factor;               /* PARALLEL_FACTOR: > 0 */
    int32_t force_block_first;  /* BLOCKS: at a block's first step its first position
                                   commits whatever its confidence (shifted logits under
                                   a KV cache: later steps cannot predict it) */
    float block_threshold;      /* BLOCK_DIFFUSION: LLaDA2's commit threshold, [0, 1] */
    float editing_threshold;    /* BLOCK_DIFFUSION: 2.1's token editing, [0, 1); 0 = off */
    int32_t max_post_steps;     /* BLOCK_DIFFUSION with editing: steps after the last MASK */
} dl_sched_params;

typedef struct dl_sched dl_sched;

/* The bytes dl_sched_create allocates for these sizes. */
size_t dl_sched_memory(int32_t max_canvas, int32_t n_vocab);
/* Allocates a scheduler for canvases up to max_canvas over a vocabulary of n_vocab.
 * eos_id / eot_id may be -1. Returns 0 or E_NOMEM / E_INVALID_ARG. */
int dl_sched_create(dl_sched **out, int32_t max_canvas, int32_t n_vocab, int32_t mask_id,
                    int32_t eos_id, int32_t eot_id, dl_err *err);
void dl_sched_free(dl_sched *s);   /* NULL is fine */

/* Checks the parameters (E_INVALID_ARG naming the bad one) and sets the canvas to
 * [prompt | MASK x gen_length] (E_TOO_LONG past max_canvas). BLOCK_DIFFUSION pads it
 * with MASK to whole blocks: dl_sched_canvas_padded_len(n_prompt + gen_length). */
int dl_sched_begin(dl_sched *s, const dl_sched_params *p, const int32_t *prompt, int32_t n_prompt,
                   dl_err *err);

const int32_t *dl_sched_canvas(const dl_sched *s);
int32_t dl_sched_canvas_len(const dl_sched *s);
int32_t dl_sched_prompt_len(const dl_sched *s);
int32_t dl_sched_n_masked(const dl_sched *s);       /* MASKs left in the canvas */
int32_t dl_sched_total_steps(const dl_sched *s);    /* steps planned in all */
int32_t dl_sched_steps_done(const dl_sched *s);
int dl_sched_done(const dl_sched *s);               /* 1 when nothing is left to do */

/* The region the next step chooses from: [*lo, *hi) of the canvas (BLOCKS: the block;
 * BLOCK_DIFFUSION: the whole block [b * B, (b + 1) * B), prompt positions included;
 * TIMESTEPS: the generated region). Returns 1 when the next step is the region's first
 * (where a KV cache is refreshed), 0 otherwise or when done. */
int dl_sched_region(const dl_sched *s, int32_t *lo, int32_t *hi);

/* The canvas length begin lays out for n positions under p: n, or for BLOCK_DIFFUSION n
 * rounded up to a multiple of p->block_length. */
int64_t dl_sched_canvas_padded_len(const dl_sched_params *p, int64_t n);

/* 1 if the generation ended early (DIFFLM_GEN_EARLY_STOP). */
int dl_sched_stopped_early(const dl_sched *s);

/* Positions (ascending) that need predictions this step; returns how many (0 when done).
 * pos must hold max_canvas entries. BLOCK_DIFFUSION with editing: the block's committed
 * generated positions too (a prediction that differs may replace them). */
int32_t dl_sched_positions(const dl_sched *s, int32_t *pos);

/* Predictions for positions pos[first .. first+n) of this step's list, from their logits
 * [n][n_vocab] (modified in place: filtering, EOS suppression). Calls must cover the list
 * in order, each position once. */
void dl_sched_predict(dl_sched *s, int32_t first, int32_t n, float *logits);

/* Chooses which predictions to keep, writes them into the canvas, advances the schedule.
 * *n_committed = tokens written (with an early stop, the EOS fill included). Returns 0, or DIFFLM_DONE when the canvas is complete
 * (also when called after that), or DIFFLM_E_STATE (nothing changed) when no begin
 * succeeded or the predict calls of this step did not cover the list in order.
 * Calling predict again from first = 0 restarts the step with the same random draws. */
int dl_sched_commit(dl_sched *s, int32_t *n_committed);

/* Sets the canvas to a copy of canvas[0 .. n), the host's layout with MASK ids anywhere
 * (infill.c): the MASK positions are generated (p->gen_length is ignored and set to
 * their count), the others stay fixed. BLOCKS cuts the MASK positions, in canvas order,
 * into runs of block_length; TIMESTEPS works over all of them (doc/sampling.md
 * "Infilling"). E_TOO_LONG past max_canvas (checked first), E_INVALID_ARG for ids outside
 * the vocabulary, a canvas without MASK, bad parameters, or DIFFLM_GEN_EARLY_STOP with a
 * fixed token after a MASK. */
int dl_sched_begin_canvas(dl_sched *s, const dl_sched_params *p, const int32_t *canvas,
                          int32_t n, dl_err *err);

/* 1 at the positions begin's canvas fixed (the prompt, a canvas's text), 0 at the
 * generated ones. [dl_sched_canvas_len] */
const uint8_t *dl_sched_fixed(const dl_sched *s);

/* difflm_confidences for the current state, into arrays of dl_sched_canvas_len entries
 * (any may be NULL): token, the 1-based step that committed it (DIFFLM_CONF_FIXED,
 * DIFFLM_CONF_MASKED), the probability and the rule's confidence (NaN where none). */
void dl_sched_confidences(const dl_sched *s, int32_t *token, int32_t *step, float *prob,
                          float *score);

/* CFG: logits = un + (scale + 1) * (cond - un), in place into cond. n = rows * n_vocab. */
void dl_cfg_combine(float *cond, const float *un, float scale, size_t n);

#endif

/* test_block_sched.c - the block diffusion schedule (DIFFLM_SCHEDULE_BLOCK_DIFFUSION) on
 * synthetic logits: padding, the first decoded block, LLaDA2's threshold rule with its
 * scheduled minimum, the per-block step counts, 2.1's token editing and its post steps,
 * early stop, and the pure rules of block.c. No model. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "sched/plan.h"
#include "sched/sched.h"

#define V 16          /* ids 0..14 are tokens, 15 is MASK */
#define MASK 15
#define EOS 2
#define MAXC 64

/* The logit that gives token t probability p when every other id (MASK aside: the
 * scheduler sets it to -inf) has logit 0. */
static float logit_for(double p) {
    return (float)log(p * (V - 2) / (1.0 - p));
}

/* What the synthetic model says at each canvas position: token and its probability. */
typedef struct oracle {
    int32_t tok[MAXC];
    double p[MAXC];
} oracle;

static void row_for(float *row, const oracle *o, int32_t pos) {
    for (int v = 0; v < V; v++)
        row[v] = 0.0f;
    row[o->tok[pos]] = logit_for(o->p[pos]);
}

/* One step: predictions for the step's candidates from the oracle, then the commit. */
static int step(dl_sched *s, const oracle *o, int32_t *n_committed) {
    static int32_t pos[MAXC];
    static float logits[MAXC * V];
    int32_t n = dl_sched_positions(s, pos);
    for (int32_t i = 0; i < n; i++)
        row_for(logits + (size_t)i * V, o, pos[i]);
    dl_sched_predict(s, 0, n, logits);
    return dl_sched_commit(s, n_committed);
}

static dl_sched *make(void) {
    dl_sched *s = NULL;
    dl_err e = {0};
    ck_assert_int_eq(dl_sched_create(&s, MAXC, V, MASK, EOS, -1, &e), 0);
    return s;
}

static dl_sched_params params(int32_t gen, int32_t steps, int32_t B) {
    dl_sched_params p;
    memset(&p, 0, sizeof p);
    p.gen_length = gen;
    p.steps = steps;
    p.block_length = B;
    p.schedule = DIFFLM_SCHEDULE_BLOCK_DIFFUSION;
    p.remasking = DIFFLM_REMASK_LOW_CONFIDENCE;
    p.top_p = 1.0f;
    p.eps = 1e-3f;
    p.block_threshold = 0.95f;
    return p;
}

static const int32_t k_prompt[] = {3, 4, 5, 6, 7};

START_TEST(test_rules) {
    /* scheduled counts split the block length, then everything */
    ck_assert_int_eq(dl_bd_block_steps(10, 3), 3);
    ck_assert_int_eq(dl_bd_block_steps(2, 3), 1);
    int32_t sum = 0;
    for (int j = 0; j < 5; j++)
        sum += dl_bd_scheduled(32, 5, j);
    ck_assert_int_eq(sum, 32);
    ck_assert_int_eq(dl_bd_scheduled(32, 5, 0), 7);
    ck_assert_int_eq(dl_bd_scheduled(32, 5, 4), 6);
    ck_assert_int_eq(dl_bd_scheduled(4, 8, 5), 0);
    ck_assert_int_eq(dl_bd_scheduled(4, 8, 8), 4);
    /* threshold with the scheduled minimum; strictly above the threshold */
    dl_keyed r[4] = {{0.99, 2}, {0.97, 0}, {0.95, 1}, {0.10, 3}};
    ck_assert_int_eq(dl_bd_commit_count(r, 4, 1, 0.95), 2);   // two above, at least one
    ck_assert_int_eq(dl_bd_commit_count(r, 4, 2, 0.95), 2);
    ck_assert_int_eq(dl_bd_commit_count(r, 4, 3, 0.95), 3);   // fewer above: top 3
    ck_assert_int_eq(dl_bd_commit_count(r, 4, 9, 0.95), 4);   // clamped to the masks
    ck_assert_int_eq(dl_bd_commit_count(r, 4, 0, 0.995), 0);  // none scheduled, none above
    ck_assert_int_eq(dl_bd_commit_count(r, 4, 1, 1.0), 1);    // threshold 1: the schedule
    ck_assert_int_eq(dl_bd_commit_count(r, 4, 0, 0.0), 4);
    /* editing: differs and above */
    ck_assert(dl_bd_edits(3, 4, 0.9, 0.5));
    ck_assert(!dl_bd_edits(3, 3, 0.9, 0.5));
    ck_assert(!dl_bd_edits(3, 4, 0.5, 0.5));
    ck_assert(!dl_bd_edits(3, 4, 0.9, 0.0));   // off
}
END_TEST

/* Prompt 5, gen 3, B 4: the canvas is padded to 8 and decoding starts at block 1. With
 * steps 2 the block's counts are [2, 2]; one candidate above 0.95 is fewer than 2, so
 * the two most confident commit; then the last. */
START_TEST(test_padding_and_threshold_minimum) {
    dl_sched *s = make();
    dl_err e = {0};
    dl_sched_params p = params(3, 2, 4);
    ck_assert_int_eq(dl_sched_canvas_padded_len(&p, 8), 8);
    ck_assert_int_eq(dl_sched_canvas_padded_len(&p, 9), 12);
    ck_assert_int_eq(dl_sched_begin(s, &p, k_prompt, 5, &e), 0);
    ck_assert_int_eq(dl_sched_canvas_len(s), 8);
    ck_assert_int_eq(dl_sched_n_masked(s), 3);
    int32_t lo, hi;
    ck_assert_int_eq(dl_sched_region(s, &lo, &hi), 1);
    ck_assert_int_eq(lo, 4);
    ck_assert_int_eq(hi, 8);
    oracle o;
    for (int i = 0; i < MAXC; i++) {
        o.tok[i] = 8;
        o.p[i] = 0.5;
    }
    o.tok[5] = 9, o.p[5] = 0.99;
    o.tok[6] = 10, o.p[6] = 0.6;
    o.tok[7] = 11, o.p[7] = 0.3;
    int32_t n;
    ck_assert_int_eq(step(s, &o, &n), 0);
    ck_assert_int_eq(n, 2);
    const int32_t *c = dl_sched_canvas(s);
    ck_assert_int_eq(c[5], 9);
    ck_assert_int_eq(c[6], 10);
    ck_assert_int_eq(c[7], MASK);
    ck_assert_int_eq(dl_sched_region(s, &lo, &hi), 0);
    ck_assert_int_eq(step(s, &o, &n), DIFFLM_DONE);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(dl_sched_canvas(s)[7], 11);
    ck_assert_int_eq(dl_sched_steps_done(s), 2);
    ck_assert_int_eq(dl_sched_total_steps(s), 2);
    dl_sched_free(s);
}
END_TEST

/* Every candidate above the threshold commits in one step, more than scheduled; the
 * next block starts at the next step. */
START_TEST(test_threshold_commits_many) {
    dl_sched *s = make();
    dl_err e = {0};
    dl_sched_params p = params(8, 8, 4);   // blocks 1 .. 3 (canvas 16), 2 steps each: [2, 2]
    ck_assert_int_eq(dl_sched_begin(s, &p, k_prompt, 5, &e), 0);
    ck_assert_int_eq(dl_sched_canvas_len(s), 16);
    oracle o;
    for (int i = 0; i < MAXC; i++) {
        o.tok[i] = 8 + i % 5;
        o.p[i] = 0.98;
    }
    o.p[6] = 0.2;
    int32_t n, lo, hi;
    ck_assert_int_eq(step(s, &o, &n), 0);
    ck_assert_int_eq(n, 2);   // 5 and 7
    ck_assert_int_eq(dl_sched_canvas(s)[6], MASK);
    ck_assert_int_eq(step(s, &o, &n), 0);
    ck_assert_int_eq(n, 1);   // 6 by the schedule's minimum
    ck_assert_int_eq(dl_sched_region(s, &lo, &hi), 1);
    ck_assert_int_eq(lo, 8);
    ck_assert_int_eq(step(s, &o, &n), 0);
    ck_assert_int_eq(n, 4);   // the whole block at once
    ck_assert_int_eq(dl_sched_region(s, &lo, &hi), 1);
    ck_assert_int_eq(lo, 12);
    ck_assert_int_eq(step(s, &o, &n), DIFFLM_DONE);
    ck_assert_int_eq(dl_sched_steps_done(s), 4);
    dl_sched_free(s);
}
END_TEST

/* Token editing: a committed token whose new prediction differs with confidence above
 * editing_threshold is replaced, in the denoising steps and in up to max_post_steps
 * steps after the block's last MASK; a post step that edits nothing ends the block. */
START_TEST(test_editing) {
    dl_sched *s = make();
    dl_err e = {0};
    dl_sched_params p = params(3, 1, 4);   // one step per block: all 3 MASKs at once
    p.editing_threshold = 0.8f;
    p.max_post_steps = 3;
    ck_assert_int_eq(dl_sched_begin(s, &p, k_prompt, 5, &e), 0);
    oracle o;
    for (int i = 0; i < MAXC; i++) {
        o.tok[i] = 8;
        o.p[i] = 0.5;
    }
    int32_t n, pos[MAXC];
    ck_assert_int_eq(step(s, &o, &n), 0);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(dl_sched_n_masked(s), 0);
    ck_assert(!dl_sched_done(s));   // post steps follow
    // the committed positions are candidates now, the prompt's never
    ck_assert_int_eq(dl_sched_positions(s, pos), 3);
    ck_assert_int_eq(pos[0], 5);
    o.tok[6] = 12, o.p[6] = 0.9;   // confident and different: replaced
    o.tok[7] = 13, o.p[7] = 0.7;   // different but not confident enough
    ck_assert_int_eq(step(s, &o, &n), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(dl_sched_canvas(s)[6], 12);
    ck_assert_int_eq(dl_sched_canvas(s)[7], 8);
    int32_t tok[8], st[8];
    float prob[8], score[8];
    dl_sched_confidences(s, tok, st, prob, score);
    ck_assert_int_eq(st[6], 2);
    ck_assert_int_eq(st[5], 1);
    ck_assert_int_eq(st[4], DIFFLM_CONF_FIXED);
    ck_assert(fabs(prob[6] - 0.9) < 1e-6);
    ck_assert(fabs(prob[5] - 0.5) < 1e-6);
    // nothing changes: the block (the last) ends, done
    ck_assert_int_eq(step(s, &o, &n), DIFFLM_DONE);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(dl_sched_steps_done(s), 3);
    dl_sched_free(s);

    /* max_post_steps bounds the editing steps even when every step edits */
    s = make();
    p.max_post_steps = 2;
    ck_assert_int_eq(dl_sched_begin(s, &p, k_prompt, 5, &e), 0);
    for (int i = 0; i < MAXC; i++) {
        o.tok[i] = 8;
        o.p[i] = 0.5;
    }
    ck_assert_int_eq(step(s, &o, &n), 0);
    ck_assert_int_eq(dl_sched_total_steps(s), 3);
    o.tok[5] = 9, o.p[5] = 0.9;
    ck_assert_int_eq(step(s, &o, &n), 0);
    o.tok[5] = 10;
    ck_assert_int_eq(step(s, &o, &n), DIFFLM_DONE);
    ck_assert_int_eq(dl_sched_canvas(s)[5], 10);
    ck_assert_int_eq(dl_sched_steps_done(s), 3);
    dl_sched_free(s);
}
END_TEST

/* Early stop: an EOS committed with everything before it decoded ends the generation,
 * the MASKs after it become EOS (the later blocks too). */
START_TEST(test_early_stop) {
    dl_sched *s = make();
    dl_err e = {0};
    dl_sched_params p = params(10, 10, 4);   // canvas 16: blocks 1 .. 3
    p.flags = DIFFLM_GEN_EARLY_STOP;
    ck_assert_int_eq(dl_sched_begin(s, &p, k_prompt, 5, &e), 0);
    oracle o;
    for (int i = 0; i < MAXC; i++) {
        o.tok[i] = 8;
        o.p[i] = 0.99;
    }
    o.tok[6] = EOS;
    int32_t n;
    ck_assert_int_eq(step(s, &o, &n), DIFFLM_DONE);
    const int32_t *c = dl_sched_canvas(s);
    ck_assert_int_eq(c[5], 8);
    for (int i = 6; i < 16; i++)
        ck_assert_int_eq(c[i], i == 6 || i > 7 ? EOS : 8);
    ck_assert(dl_sched_stopped_early(s));
    dl_sched_free(s);
}
END_TEST

START_TEST(test_bad_params) {
    dl_sched *s = make();
    dl_err e = {0};
    dl_sched_params p = params(3, 2, 0);
    ck_assert_int_eq(dl_sched_begin(s, &p, k_prompt, 5, &e), DIFFLM_E_INVALID_ARG);
    p = params(3, 2, 4);
    p.block_threshold = 1.5f;
    ck_assert_int_eq(dl_sched_begin(s, &p, k_prompt, 5, &e), DIFFLM_E_INVALID_ARG);
    p = params(3, 2, 4);
    p.editing_threshold = 1.0f;
    ck_assert_int_eq(dl_sched_begin(s, &p, k_prompt, 5, &e), DIFFLM_E_INVALID_ARG);
    p = params(3, 2, 4);
    p.max_post_steps = -1;
    ck_assert_int_eq(dl_sched_begin(s, &p, k_prompt, 5, &e), DIFFLM_E_INVALID_ARG);
    p = params(3, 2, 4);
    p.parallel = DIFFLM_PARALLEL_THRESHOLD;
    p.threshold = 0.9f;
    ck_assert_int_eq(dl_sched_begin(s, &p, k_prompt, 5, &e), DIFFLM_E_INVALID_ARG);
    p = params(3, 2, 4);
    p.remasking = DIFFLM_REMASK_ORIGIN;
    ck_assert_int_eq(dl_sched_begin(s, &p, k_prompt, 5, &e), DIFFLM_E_INVALID_ARG);
    p = params(60, 2, 8);   // 5 + 60 padded to 72 > 64
    ck_assert_int_eq(dl_sched_begin(s, &p, k_prompt, 5, &e), DIFFLM_E_TOO_LONG);
    int32_t canvas[8] = {3, 4, MASK, 5, MASK, MASK, MASK, MASK};
    p = params(3, 2, 4);
    ck_assert_int_eq(dl_sched_begin_canvas(s, &p, canvas, 8, &e), DIFFLM_E_UNSUPPORTED);
    dl_sched_free(s);
}
END_TEST

int main(void) {
    Suite *su = suite_create("block_sched");
    TCase *tc = tcase_create("block_sched");
    tcase_add_test(tc, test_rules);
    tcase_add_test(tc, test_padding_and_threshold_minimum);
    tcase_add_test(tc, test_threshold_commits_many);
    tcase_add_test(tc, test_editing);
    tcase_add_test(tc, test_early_stop);
    tcase_add_test(tc, test_bad_params);
    suite_add_tcase(su, tc);
    return dl_run_suite(su);
}

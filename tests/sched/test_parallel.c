/* test_parallel.c - parallel decoding (threshold and factor rules), early stop, the
 * block-start signal and the forced first position, on synthetic logits (no model). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "sched/plan.h"
#include "sched/sched.h"

#define V 8          /* ids 0..2 ordinary, 3 EOS, 4 EoT, 5..6 ordinary, 7 MASK */
#define MASK 7
#define EOS 3
#define EOT 4
#define MAXC 128

/* ---------------------------------------------------------------- pure rules */

static void rank(dl_keyed *ranked, const double *key, int32_t c) {
    dl_rank_candidates(ranked, key, c);
}

START_TEST(test_threshold_count) {
    dl_keyed r[8];
    const double a[] = {0.3, 0.95, 0.9, 0.89};
    rank(r, a, 4);
    ck_assert_int_eq(dl_threshold_count(r, 4, 0.9), 2);       // 0.95 and 0.9 (>= passes)
    ck_assert_int_eq(dl_threshold_count(r, 4, 0.96), 1);      // the top one always commits
    ck_assert_int_eq(dl_threshold_count(r, 4, 0.25), 4);
    ck_assert_int_eq(dl_threshold_count(r, 0, 0.9), 0);
    const double b[] = {0.2, 0.1};
    rank(r, b, 2);
    ck_assert_int_eq(dl_threshold_count(r, 2, 1.0), 1);
    const double c[] = {1.0, 1.0, 0.999};
    rank(r, c, 3);
    ck_assert_int_eq(dl_threshold_count(r, 3, 1.0), 2);      // exactly 1.0 reaches 1.0
    const double d[] = {-INFINITY, -INFINITY};
    rank(r, d, 2);
    ck_assert_int_eq(dl_threshold_count(r, 2, 0.5), 1);
}
END_TEST

START_TEST(test_factor_count_cases) {
    dl_keyed r[8];
    // factor 1: rank r needs 1 - 1/(r+1): r=2 0.6667, r=3 0.75, r=4 0.8
    const double pass_all[] = {0.99, 0.9, 0.85};
    rank(r, pass_all, 3);
    ck_assert_int_eq(dl_factor_count(r, 3, 1.0), 3);
    const double fail_mid[] = {0.99, 0.7, 0.6, 0.5};     // r=3 fails (0.6 < 0.75): 2
    rank(r, fail_mid, 4);
    ck_assert_int_eq(dl_factor_count(r, 4, 1.0), 2);
    const double fail_last[] = {0.99, 0.9, 0.76, 0.5};   // only r=4 fails: the edge case, 4
    rank(r, fail_last, 4);
    ck_assert_int_eq(dl_factor_count(r, 4, 1.0), 4);
    const double two_fail[] = {0.3, 0.2};                // the scan stops on the last index: 2
    rank(r, two_fail, 2);
    ck_assert_int_eq(dl_factor_count(r, 2, 1.0), 2);
    const double three_fail2[] = {0.3, 0.2, 0.1};        // fails at r=2 < 3: 1
    rank(r, three_fail2, 3);
    ck_assert_int_eq(dl_factor_count(r, 3, 1.0), 1);
    const double one[] = {0.01};
    rank(r, one, 1);
    ck_assert_int_eq(dl_factor_count(r, 1, 1.0), 1);
    ck_assert_int_eq(dl_factor_count(r, 0, 1.0), 0);
    const double eq[] = {0.99, 1.0 - 1.0 / 3.0, 0.1, 0.0};   // equal to the bar passes
    rank(r, eq, 4);
    ck_assert_int_eq(dl_factor_count(r, 4, 1.0), 2);
    // a larger factor lowers every bar: factor 3 needs 0, 0.25, 0.4 at r = 2, 3, 4
    const double low[] = {0.5, 0.3, 0.26, 0.1, 0.05};
    rank(r, low, 5);
    ck_assert_int_eq(dl_factor_count(r, 5, 3.0), 3);
}
END_TEST

/* The scan's result, restated: every rank before it passes, and it stops either at c or
 * right before a failing rank that is not the last. Random sorted keys. */
START_TEST(test_factor_count_property) {
    dl_keyed r[16];
    double key[16];
    uint64_t x = 12345;
    for (int trial = 0; trial < 2000; trial++) {
        int32_t c = 1 + (int32_t)(trial % 16);
        for (int32_t i = 0; i < c; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            key[i] = (double)(x >> 11) * 0x1.0p-53;
        }
        double factor = 0.25 + (trial % 7) * 0.5;
        rank(r, key, c);
        int32_t n = dl_factor_count(r, c, factor);
        ck_assert(n >= 1 && n <= c);
        for (int32_t k = 2; k <= n && k < c; k++)
            ck_assert(r[k - 1].key >= 1.0 - factor / (k + 1));
        if (n < c) {
            ck_assert(r[n].key < 1.0 - factor / (n + 2));   // rank n+1 failed ...
            ck_assert(n + 1 < c);                           // ... and was not the last
        }
    }
}
END_TEST

START_TEST(test_text_end) {
    const int32_t a[] = {9, 9, 0, 1, EOS, 2, MASK};
    ck_assert_int_eq(dl_text_end(a, 2, 7, MASK, EOS, EOT), 4);
    ck_assert_int_eq(dl_text_end(a, 5, 7, MASK, EOS, EOT), -1);   // MASK before any end
    const int32_t b[] = {0, MASK, EOS};
    ck_assert_int_eq(dl_text_end(b, 0, 3, MASK, EOS, EOT), -1);   // something before is masked
    const int32_t c[] = {0, 1, EOT, EOS};
    ck_assert_int_eq(dl_text_end(c, 0, 4, MASK, EOS, EOT), 2);
    ck_assert_int_eq(dl_text_end(c, 0, 4, MASK, EOS, -1), 3);
    ck_assert_int_eq(dl_text_end(c, 0, 4, MASK, -1, -1), -1);
    ck_assert_int_eq(dl_text_end(c, 0, 0, MASK, EOS, EOT), -1);
}
END_TEST

/* ---------------------------------------------------------------- the scheduler */

/* Per canvas position: the predicted token and its logit (every other logit is 0), so a
 * position's confidence is e^a / (e^a + V - 2) under LOW_CONFIDENCE (MASK is -inf). */
typedef struct designed {
    int32_t tok[MAXC];
    float strength[MAXC];
} designed;

static void fill_designed(float *row, int32_t pos, const designed *d) {
    for (int32_t v = 0; v < V; v++)
        row[v] = 0.0f;
    row[d->tok[pos]] = d->strength[pos];
}

static void fill_noisy(float *row, int32_t pos, const designed *d) {
    (void)d;
    for (int32_t v = 0; v < V; v++)
        row[v] = (float)sin(0.7 * pos + 1.3 * v) * 1.5f;
}

typedef void (*fill_fn)(float *row, int32_t pos, const designed *d);

typedef struct trace {
    int32_t n_steps;
    int32_t committed[MAXC];
    int32_t first[MAXC];        /* dl_sched_region's block-start answer before each step */
    int32_t lo[MAXC], hi[MAXC];
    int32_t when[MAXC];         /* step that wrote each position (-1: never) */
    int32_t canvas[MAXC];
} trace;

/* Runs to the end, checking at every step: only candidates (MASK, inside the region)
 * change, the bound total_steps never drops below what is left, and n_committed is the
 * number of positions that changed. */
static void run(dl_sched *s, fill_fn fill, const designed *d, trace *t) {
    static int32_t pos[MAXC], before[MAXC];
    static float logits[MAXC * V];
    const int32_t L = dl_sched_canvas_len(s);
    memset(t, 0, sizeof *t);
    for (int32_t i = 0; i < MAXC; i++)
        t->when[i] = -1;
    while (!dl_sched_done(s)) {
        ck_assert(t->n_steps < MAXC);
        int32_t lo, hi;
        t->first[t->n_steps] = dl_sched_region(s, &lo, &hi);
        t->lo[t->n_steps] = lo;
        t->hi[t->n_steps] = hi;
        int32_t n = dl_sched_positions(s, pos);
        ck_assert(n > 0);
        memcpy(before, dl_sched_canvas(s), sizeof(int32_t) * (size_t)L);
        for (int32_t i = 0; i < n; i++) {
            ck_assert(pos[i] >= lo && pos[i] < hi && before[pos[i]] == MASK);
            fill(logits + (size_t)i * V, pos[i], d);
        }
        dl_sched_predict(s, 0, n, logits);
        int32_t nc = -1;
        int rc = dl_sched_commit(s, &nc);
        ck_assert(rc == 0 || rc == DIFFLM_DONE);
        int32_t changed = 0;
        for (int32_t p = 0; p < L; p++)
            if (dl_sched_canvas(s)[p] != before[p]) {
                ck_assert(before[p] == MASK);
                changed++;
                t->when[p] = t->n_steps;
            }
        ck_assert_int_eq(changed, nc);
        ck_assert(nc >= 1);
        t->committed[t->n_steps++] = nc;
        ck_assert_int_eq(dl_sched_steps_done(s), t->n_steps);
        ck_assert(dl_sched_total_steps(s) >= t->n_steps);
        ck_assert(dl_sched_total_steps(s) <= t->n_steps + dl_sched_n_masked(s) ||
                  !dl_sched_stopped_early(s));
        if (rc == DIFFLM_DONE)
            break;
    }
    ck_assert(dl_sched_done(s));
    memcpy(t->canvas, dl_sched_canvas(s), sizeof(int32_t) * (size_t)L);
}

static dl_sched_params params(int32_t gen, int32_t steps, int32_t block, int32_t schedule,
                              int32_t remasking) {
    dl_sched_params p = {
        .gen_length = gen, .steps = steps, .block_length = block, .schedule = schedule,
        .remasking = remasking, .temperature = 0.0f, .top_k = 0, .top_p = 1.0f, .eps = 1e-3f,
        .alg_temp = 0.0f, .flags = 0, .seed = 1, .parallel = DIFFLM_PARALLEL_NONE,
        .threshold = 0.9f, .factor = 1.0f,
    };
    return p;
}

static dl_sched *make(int32_t eos, int32_t eot) {
    dl_sched *s = NULL;
    dl_err err = {0};
    ck_assert_int_eq(dl_sched_create(&s, MAXC, V, MASK, eos, eot, &err), 0);
    return s;
}

static void begin_ok(dl_sched *s, const dl_sched_params *p, const int32_t *prompt, int32_t n) {
    dl_err err = {0};
    int rc = dl_sched_begin(s, p, prompt, n, &err);
    ck_assert_msg(rc == 0, "begin: %s", err.msg);
}

/* A logit that gives confidence c under LOW_CONFIDENCE with V - 2 other finite zeros. */
static float logit_for(double c) {
    return (float)log(c * (V - 2) / (1.0 - c));
}

START_TEST(test_threshold_through_scheduler) {
    dl_sched *s = make(EOS, EOT);
    const int32_t prompt[2] = {0, 1};
    static designed d;
    static trace t;
    // block 0 (positions 2..9): four reach 0.9, the rest do not; block 1: all do
    const double conf0[8] = {0.95, 0.3, 0.91, 0.5, 0.97, 0.2, 0.6, 0.92};
    for (int32_t i = 0; i < 16; i++) {
        d.tok[2 + i] = i % 3;
        d.strength[2 + i] = logit_for(i < 8 ? conf0[i] : 0.99);
    }
    dl_sched_params p = params(16, 16, 8, DIFFLM_SCHEDULE_BLOCKS, DIFFLM_REMASK_LOW_CONFIDENCE);
    p.parallel = DIFFLM_PARALLEL_THRESHOLD;
    p.threshold = 0.9f;
    begin_ok(s, &p, prompt, 2);
    ck_assert_int_eq(dl_sched_total_steps(s), 16);   // the bound before any step
    run(s, fill_designed, &d, &t);
    // block 0: {0.97, 0.95, 0.92, 0.91} together, then 0.6, 0.5, 0.3, 0.2 one by one;
    // block 1: all 8 at once
    ck_assert_int_eq(t.n_steps, 6);
    const int32_t want[6] = {4, 1, 1, 1, 1, 8};
    for (int32_t i = 0; i < 6; i++)
        ck_assert_int_eq(t.committed[i], want[i]);
    ck_assert(t.when[2] == 0 && t.when[4] == 0 && t.when[6] == 0 && t.when[9] == 0);
    ck_assert(t.when[8] == 1 && t.when[5] == 2 && t.when[3] == 3 && t.when[7] == 4);
    // the block-start signal and the regions
    const int32_t first[6] = {1, 0, 0, 0, 0, 1};
    for (int32_t i = 0; i < 6; i++) {
        ck_assert_int_eq(t.first[i], first[i]);
        ck_assert_int_eq(t.lo[i], i < 5 ? 2 : 10);
        ck_assert_int_eq(t.hi[i], i < 5 ? 10 : 18);
    }
    ck_assert_int_eq(dl_sched_total_steps(s), 6);
    // steps does not bound a rule: one step is as good as many
    p.steps = 2;
    begin_ok(s, &p, prompt, 2);
    run(s, fill_designed, &d, &t);
    ck_assert_int_eq(t.n_steps, 6);
    dl_sched_free(s);
}
END_TEST

START_TEST(test_factor_through_scheduler) {
    dl_sched *s = make(EOS, EOT);
    const int32_t prompt[1] = {0};
    static designed d;
    static trace t;
    // factor 1 bars: 0.667 (r=2), 0.75 (r=3), 0.8 (r=4): 0.99, 0.9, 0.8 pass, 0.5 fails
    const double conf[6] = {0.5, 0.99, 0.2, 0.9, 0.8, 0.1};
    for (int32_t i = 0; i < 6; i++) {
        d.tok[1 + i] = 2;
        d.strength[1 + i] = logit_for(conf[i]);
    }
    dl_sched_params p = params(6, 6, 0, DIFFLM_SCHEDULE_BLOCKS, DIFFLM_REMASK_LOW_CONFIDENCE);
    p.parallel = DIFFLM_PARALLEL_FACTOR;
    p.factor = 1.0f;
    begin_ok(s, &p, prompt, 1);
    run(s, fill_designed, &d, &t);
    // step 0: 0.99, 0.9, 0.8 (0.5 fails at r=4 < 6); step 1: {0.5, 0.2, 0.1}: r=2 fails,
    // not the last: 1; step 2: {0.2, 0.1}: fails on the last rank: both
    ck_assert_int_eq(t.n_steps, 3);
    ck_assert(t.committed[0] == 3 && t.committed[1] == 1 && t.committed[2] == 2);
    ck_assert(t.when[2] == 0 && t.when[4] == 0 && t.when[5] == 0 && t.when[1] == 1);
    dl_sched_free(s);
}
END_TEST

/* Threshold 1.0 commits one token per step (no confidence reaches 1 here): exactly the
 * reference schedule with steps = gen_length, tokens and random draws alike. */
START_TEST(test_threshold_one_is_reference) {
    dl_sched *s = make(EOS, EOT);
    const int32_t prompt[3] = {0, 1, 2};
    static trace ref, thr;
    static const int32_t shapes[][2] = {{16, 8}, {32, 8}, {20, 7}, {12, 0}, {5, 2}};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++)
        for (int temp = 0; temp < 2; temp++)
            for (int32_t rule = DIFFLM_REMASK_LOW_CONFIDENCE; rule <= DIFFLM_REMASK_ENTROPY;
                 rule++) {
                if (rule == DIFFLM_REMASK_ORIGIN || rule == DIFFLM_REMASK_ENTROPY)
                    continue;   // ORIGIN has no confidence; ENTROPY's is never >= 1 anyway
                dl_sched_params p = params(shapes[k][0], shapes[k][0], shapes[k][1],
                                           DIFFLM_SCHEDULE_BLOCKS, rule);
                p.temperature = temp ? 0.8f : 0.0f;
                p.seed = 7 + k;
                begin_ok(s, &p, prompt, 3);
                run(s, fill_noisy, NULL, &ref);
                p.parallel = DIFFLM_PARALLEL_THRESHOLD;
                p.threshold = 1.0f;
                begin_ok(s, &p, prompt, 3);
                run(s, fill_noisy, NULL, &thr);
                ck_assert_int_eq(thr.n_steps, ref.n_steps);
                ck_assert_int_eq(thr.n_steps, shapes[k][0]);
                ck_assert(memcmp(thr.canvas, ref.canvas, sizeof(int32_t) * (3 + shapes[k][0])) == 0);
                ck_assert(memcmp(thr.when, ref.when, sizeof thr.when) == 0);
                ck_assert(memcmp(thr.first, ref.first, sizeof thr.first) == 0);
            }
    dl_sched_free(s);
}
END_TEST

START_TEST(test_timesteps_with_rule) {
    dl_sched *s = make(EOS, EOT);
    const int32_t prompt[1] = {0};
    static designed d;
    static trace t;
    for (int32_t i = 0; i < 10; i++) {
        d.tok[1 + i] = 1;
        d.strength[1 + i] = logit_for(i % 2 ? 0.95 : 0.4);
    }
    dl_sched_params p = params(10, 10, 4, DIFFLM_SCHEDULE_TIMESTEPS, DIFFLM_REMASK_MASKGIT_PLUS);
    p.parallel = DIFFLM_PARALLEL_THRESHOLD;
    begin_ok(s, &p, prompt, 1);
    run(s, fill_designed, &d, &t);
    // the whole canvas is one region: five 0.95s at once, then the 0.4s one by one
    ck_assert_int_eq(t.n_steps, 6);
    ck_assert_int_eq(t.committed[0], 5);
    ck_assert(t.first[0] == 1 && t.first[1] == 0 && t.lo[3] == 1 && t.hi[3] == 11);
    // alg_temp does not turn the rule into a draw: the same result
    p.alg_temp = 0.7f;
    begin_ok(s, &p, prompt, 1);
    static trace t2;
    run(s, fill_designed, &d, &t2);
    ck_assert(memcmp(t.when, t2.when, sizeof t.when) == 0);
    dl_sched_free(s);
}
END_TEST

/* ---------------------------------------------------------------- early stop */

START_TEST(test_early_stop_fills_and_ends) {
    dl_sched *s = make(EOS, EOT);
    const int32_t prompt[2] = {0, 1};
    static designed d;
    static trace t;
    // block 0 = positions 2..9; EOS is predicted at 7 with the lowest confidence, so it
    // commits last in its block, when everything before it is decoded
    for (int32_t i = 0; i < 16; i++) {
        d.tok[2 + i] = i == 5 ? EOS : i % 3;
        d.strength[2 + i] = i == 5 ? 0.1f : 2.0f + 0.1f * (float)i;
    }
    dl_sched_params p = params(16, 16, 8, DIFFLM_SCHEDULE_BLOCKS, DIFFLM_REMASK_LOW_CONFIDENCE);
    p.flags = DIFFLM_GEN_EARLY_STOP;
    begin_ok(s, &p, prompt, 2);
    run(s, fill_designed, &d, &t);
    ck_assert_int_eq(t.n_steps, 8);
    ck_assert_int_eq(t.committed[7], 1 + 8);             // the EOS and the fill of block 1
    ck_assert(dl_sched_stopped_early(s));
    ck_assert_int_eq(dl_sched_n_masked(s), 0);
    ck_assert_int_eq(dl_sched_total_steps(s), 8);
    ck_assert_int_eq(t.canvas[7], EOS);
    for (int32_t i = 10; i < 18; i++)
        ck_assert_int_eq(t.canvas[i], EOS);
    int32_t pos[MAXC];
    ck_assert_int_eq(dl_sched_positions(s, pos), 0);

    // without the flag every position is decoded
    p.flags = 0;
    begin_ok(s, &p, prompt, 2);
    run(s, fill_designed, &d, &t);
    ck_assert_int_eq(t.n_steps, 16);
    ck_assert(!dl_sched_stopped_early(s));
    ck_assert_int_ne(t.canvas[12], EOS);
    dl_sched_free(s);
}
END_TEST

START_TEST(test_early_stop_waits_for_prefix) {
    dl_sched *s = make(EOS, EOT);
    const int32_t prompt[1] = {6};
    static designed d;
    static trace t;
    // EOT predicted at 4 (most confident); positions 1..3 decode one per step after it;
    // 5..8 are less confident than 1..3 and still masked when the stop comes
    for (int32_t i = 0; i < 8; i++) {
        d.tok[1 + i] = i == 3 ? EOT : 2;
        d.strength[1 + i] = i == 3 ? 9.0f : i < 3 ? 5.0f - (float)i : 0.5f;
    }
    dl_sched_params p = params(8, 8, 0, DIFFLM_SCHEDULE_BLOCKS, DIFFLM_REMASK_LOW_CONFIDENCE);
    p.flags = DIFFLM_GEN_EARLY_STOP;
    begin_ok(s, &p, prompt, 1);
    run(s, fill_designed, &d, &t);
    ck_assert_int_eq(t.when[4], 0);
    ck_assert_int_eq(t.n_steps, 4);                      // EoT, then 1, 2, 3 and the stop
    ck_assert_int_eq(t.committed[3], 1 + 4);
    for (int32_t i = 5; i < 9; i++)
        ck_assert_int_eq(t.canvas[i], EOS);              // filled with EOS, not EoT
    dl_sched_free(s);

    // a model without EOS fills with its end-of-turn
    s = make(-1, EOT);
    begin_ok(s, &p, prompt, 1);
    run(s, fill_designed, &d, &t);
    ck_assert_int_eq(t.n_steps, 4);
    for (int32_t i = 5; i < 9; i++)
        ck_assert_int_eq(t.canvas[i], EOT);
    dl_sched_free(s);

    // one with neither never stops early
    s = make(-1, -1);
    begin_ok(s, &p, prompt, 1);
    run(s, fill_designed, &d, &t);
    ck_assert_int_eq(t.n_steps, 8);
    dl_sched_free(s);
}
END_TEST

START_TEST(test_early_stop_with_rule) {
    dl_sched *s = make(EOS, EOT);
    const int32_t prompt[1] = {0};
    static designed d;
    static trace t;
    for (int32_t i = 0; i < 24; i++) {
        d.tok[1 + i] = i == 2 ? EOS : 1;
        d.strength[1 + i] = logit_for(i == 2 ? 0.5 : 0.95);
    }
    dl_sched_params p = params(24, 24, 8, DIFFLM_SCHEDULE_BLOCKS, DIFFLM_REMASK_LOW_CONFIDENCE);
    p.flags = DIFFLM_GEN_EARLY_STOP;
    p.parallel = DIFFLM_PARALLEL_THRESHOLD;
    begin_ok(s, &p, prompt, 1);
    run(s, fill_designed, &d, &t);
    // step 0 commits the seven 0.95s of block 0, step 1 the EOS: text ends at 3
    ck_assert_int_eq(t.n_steps, 2);
    ck_assert_int_eq(t.committed[1], 1 + 16);
    ck_assert_int_eq(dl_sched_total_steps(s), 2);
    dl_sched_free(s);
}
END_TEST

/* ---------------------------------------------------------------- forced first position */

START_TEST(test_force_block_first) {
    dl_sched *s = make(EOS, EOT);
    const int32_t prompt[2] = {0, 1};
    static designed d;
    static trace t;
    // each block's first position is its least confident
    for (int32_t i = 0; i < 12; i++) {
        d.tok[2 + i] = 2;
        d.strength[2 + i] = i % 4 == 0 ? 0.1f : 3.0f + (float)(i % 4);
    }
    for (int32_t par = DIFFLM_PARALLEL_NONE; par <= DIFFLM_PARALLEL_FACTOR; par++) {
        dl_sched_params p = params(12, 12, 4, DIFFLM_SCHEDULE_BLOCKS,
                                   DIFFLM_REMASK_LOW_CONFIDENCE);
        p.parallel = par;
        p.threshold = 0.99f;
        p.force_block_first = 1;
        begin_ok(s, &p, prompt, 2);
        run(s, fill_designed, &d, &t);
        for (int32_t step = 0; step < t.n_steps; step++)
            if (t.first[step])
                ck_assert_msg(t.when[t.lo[step]] == step,
                              "parallel %d: block at %d: first position committed at step %d",
                              par, t.lo[step], t.when[t.lo[step]]);
        // without forcing it would come last in its block (the factor rule's edge case
        // takes the whole block at once here, forced or not)
        p.force_block_first = 0;
        begin_ok(s, &p, prompt, 2);
        run(s, fill_designed, &d, &t);
        if (par != DIFFLM_PARALLEL_FACTOR)
            ck_assert_int_gt(t.when[2], 0);
    }
    dl_sched_free(s);
}
END_TEST

/* ---------------------------------------------------------------- argument checks */

START_TEST(test_invalid_rule_params) {
    dl_sched *s = make(EOS, EOT);
    const int32_t prompt[1] = {0};
    dl_err err = {0};
    dl_sched_params p = params(8, 8, 0, DIFFLM_SCHEDULE_BLOCKS, DIFFLM_REMASK_LOW_CONFIDENCE);
    p.parallel = 3;
    ck_assert_int_eq(dl_sched_begin(s, &p, prompt, 1, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "parallel"));
    p.parallel = DIFFLM_PARALLEL_THRESHOLD;
    const float bad_thr[] = {0.0f, -0.1f, 1.5f, NAN};
    for (size_t i = 0; i < sizeof bad_thr / sizeof *bad_thr; i++) {
        p.threshold = bad_thr[i];
        ck_assert_int_eq(dl_sched_begin(s, &p, prompt, 1, &err), DIFFLM_E_INVALID_ARG);
        ck_assert_ptr_nonnull(strstr(err.msg, "threshold"));
    }
    p.threshold = 1.0f;
    p.steps = 1;   // fewer steps than blocks is fine under a rule
    p.block_length = 2;
    ck_assert_int_eq(dl_sched_begin(s, &p, prompt, 1, &err), 0);
    p.parallel = DIFFLM_PARALLEL_FACTOR;
    const float bad_factor[] = {0.0f, -1.0f, INFINITY, NAN};
    for (size_t i = 0; i < sizeof bad_factor / sizeof *bad_factor; i++) {
        p.factor = bad_factor[i];
        ck_assert_int_eq(dl_sched_begin(s, &p, prompt, 1, &err), DIFFLM_E_INVALID_ARG);
        ck_assert_ptr_nonnull(strstr(err.msg, "factor"));
    }
    p.factor = 2.0f;
    p.schedule = DIFFLM_SCHEDULE_TIMESTEPS;
    p.remasking = DIFFLM_REMASK_ORIGIN;
    ck_assert_int_eq(dl_sched_begin(s, &p, prompt, 1, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "ORIGIN"));
    p = params(8, 8, 0, DIFFLM_SCHEDULE_TIMESTEPS, DIFFLM_REMASK_ENTROPY);
    p.force_block_first = 1;
    ck_assert_int_eq(dl_sched_begin(s, &p, prompt, 1, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "BLOCKS"));
    p.force_block_first = 0;
    p.flags = 1u << 30;   // no such flag
    ck_assert_int_eq(dl_sched_begin(s, &p, prompt, 1, &err), DIFFLM_E_INVALID_ARG);
    p.flags = DIFFLM_GEN_EARLY_STOP | DIFFLM_GEN_ALL_LOGITS;
    ck_assert_int_eq(dl_sched_begin(s, &p, prompt, 1, &err), 0);
    dl_sched_free(s);
}
END_TEST

int main(void) {
    Suite *su = suite_create("parallel");
    TCase *tc = tcase_create("parallel");
    tcase_add_test(tc, test_threshold_count);
    tcase_add_test(tc, test_factor_count_cases);
    tcase_add_test(tc, test_factor_count_property);
    tcase_add_test(tc, test_text_end);
    tcase_add_test(tc, test_threshold_through_scheduler);
    tcase_add_test(tc, test_factor_through_scheduler);
    tcase_add_test(tc, test_threshold_one_is_reference);
    tcase_add_test(tc, test_timesteps_with_rule);
    tcase_add_test(tc, test_early_stop_fills_and_ends);
    tcase_add_test(tc, test_early_stop_waits_for_prefix);
    tcase_add_test(tc, test_early_stop_with_rule);
    tcase_add_test(tc, test_force_block_first);
    tcase_add_test(tc, test_invalid_rule_params);
    suite_add_tcase(su, tc);
    return dl_run_suite(su);
}

/* test_sched.c - the scheduler's state machine on synthetic logits (no model). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "sched/plan.h"
#include "sched/sched.h"

#define V 8          /* ids 0..6 are tokens, 7 is MASK */
#define MASK 7
#define EOS 3
#define EOT 4
#define MAXC 600

/* Fills one logits row for canvas position pos. */
typedef void (*fill_fn)(float *row, int32_t pos, int32_t n_vocab, void *user);

typedef struct run_log {
    int32_t n_steps;
    int32_t committed[MAXC];    /* tokens committed at each step */
    int32_t when[MAXC];         /* step at which each canvas position was committed (-1 never) */
    int32_t canvas[MAXC];       /* final canvas */
} run_log;

/* Runs a begun scheduler to the end, predicting in chunks of `chunk` rows, and checks
 * what must hold at every step: candidates ascending and MASK, only candidates change,
 * MASK never written, nothing committed changes again, counts add up. */
static int run(dl_sched *s, fill_fn fill, void *user, int32_t chunk, run_log *log) {
    static int32_t pos[MAXC], before[MAXC];
    static float logits[MAXC * 64];
    int32_t n_vocab = 0;
    const int32_t L = dl_sched_canvas_len(s);
    memset(log, 0, sizeof *log);
    for (int32_t i = 0; i < L; i++)
        log->when[i] = -1;
    int rc = 0;
    while (!dl_sched_done(s)) {
        int32_t n = dl_sched_positions(s, pos);
        ck_assert(n > 0);
        memcpy(before, dl_sched_canvas(s), sizeof(int32_t) * (size_t)L);
        for (int32_t i = 0; i < n; i++) {
            ck_assert(i == 0 || pos[i] > pos[i - 1]);
            ck_assert(before[pos[i]] == MASK);
        }
        for (int32_t first = 0; first < n; first += chunk) {
            int32_t m = n - first < chunk ? n - first : chunk;
            n_vocab = V;
            for (int32_t i = 0; i < m; i++)
                fill(logits + (size_t)i * V, pos[first + i], V, user);
            dl_sched_predict(s, first, m, logits);
        }
        int32_t nc = -1;
        rc = dl_sched_commit(s, &nc);
        ck_assert(rc == 0 || rc == DIFFLM_DONE);
        const int32_t *after = dl_sched_canvas(s);
        int32_t changed = 0, ci = 0;
        for (int32_t p = 0; p < L; p++) {
            if (after[p] == before[p])
                continue;
            changed++;
            ck_assert_msg(before[p] == MASK, "position %d changed after being committed", p);
            ck_assert(after[p] != MASK && after[p] >= 0 && after[p] < n_vocab);
            while (ci < n && pos[ci] < p)
                ci++;
            ck_assert_msg(ci < n && pos[ci] == p, "position %d committed without being a candidate",
                          p);
            log->when[p] = log->n_steps;
        }
        ck_assert_int_eq(changed, nc);
        log->committed[log->n_steps++] = nc;
        ck_assert_int_eq(dl_sched_steps_done(s), log->n_steps);
        if (rc == DIFFLM_DONE)
            break;
    }
    ck_assert(dl_sched_done(s));
    int32_t nc = -1;
    ck_assert_int_eq(dl_sched_commit(s, &nc), DIFFLM_DONE);
    ck_assert_int_eq(nc, 0);
    ck_assert_int_eq(dl_sched_positions(s, pos), 0);
    memcpy(log->canvas, dl_sched_canvas(s), sizeof(int32_t) * (size_t)L);
    return rc;
}

static dl_sched_params base_params(int32_t gen, int32_t steps, int32_t block, int32_t schedule,
                                   int32_t remasking) {
    dl_sched_params p = {
        .gen_length = gen, .steps = steps, .block_length = block, .schedule = schedule,
        .remasking = remasking, .temperature = 0.0f, .top_k = 0, .top_p = 1.0f, .eps = 1e-3f,
        .alg_temp = 0.0f, .flags = 0, .seed = 1,
    };
    return p;
}

static dl_sched *make(int32_t max_canvas) {
    dl_sched *s = NULL;
    dl_err err = {0};
    ck_assert_int_eq(dl_sched_create(&s, max_canvas, V, MASK, EOS, EOT, &err), 0);
    return s;
}

static void begin_ok(dl_sched *s, const dl_sched_params *p, const int32_t *prompt, int32_t n) {
    dl_err err = {0};
    int rc = dl_sched_begin(s, p, prompt, n, &err);
    ck_assert_msg(rc == 0, "begin: %s", err.msg);
}

/* ---------------------------------------------------------------- fills */

/* Token pos % 3 (never EOS/EoT/MASK: ids 0..2) with a per-position strength. */
typedef struct strength_fill {
    int32_t n_prompt;
    const float *strength;     /* by generated index */
} strength_fill;

static void fill_strength(float *row, int32_t pos, int32_t n_vocab, void *user) {
    const strength_fill *f = user;
    for (int32_t v = 0; v < n_vocab; v++)
        row[v] = 0.0f;
    row[pos % 3] = f->strength[pos - f->n_prompt];
}

/* A smooth pseudo-random row per position: many plausible tokens. */
static void fill_noisy(float *row, int32_t pos, int32_t n_vocab, void *user) {
    (void)user;
    for (int32_t v = 0; v < n_vocab; v++)
        row[v] = (float)sin(0.7 * pos + 1.3 * v) * 1.5f;
}

/* ---------------------------------------------------------------- counts */

START_TEST(test_blocks_counts_through_steps) {
    static const int32_t shapes[][3] = {
        {10, 4, 0}, {10, 5, 4}, {12, 7, 5}, {5, 12, 0}, {8, 8, 4}, {32, 32, 8}, {33, 9, 8},
        {1, 1, 0}, {17, 17, 16}, {40, 6, 7},
    };
    dl_sched *s = make(64);
    const int32_t prompt[3] = {0, 1, 2};
    int32_t counts[64], blocks[64];
    static run_log log;
    for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
        for (int32_t rule = DIFFLM_REMASK_LOW_CONFIDENCE; rule <= DIFFLM_REMASK_ENTROPY; rule++) {
            dl_sched_params p = base_params(shapes[c][0], shapes[c][1], shapes[c][2],
                                            DIFFLM_SCHEDULE_BLOCKS, rule);
            begin_ok(s, &p, prompt, 3);
            int32_t n = dl_plan_blocks(counts, blocks, shapes[c][0], shapes[c][1], shapes[c][2]);
            ck_assert_int_eq(dl_sched_total_steps(s), n);
            ck_assert_int_eq(dl_sched_n_masked(s), shapes[c][0]);
            ck_assert_int_eq(run(s, fill_noisy, NULL, 3, &log), DIFFLM_DONE);
            ck_assert_int_eq(log.n_steps, n);
            for (int32_t i = 0; i < n; i++)
                ck_assert_int_eq(log.committed[i], counts[i]);
            ck_assert_int_eq(dl_sched_n_masked(s), 0);
            for (int32_t i = 0; i < 3; i++)
                ck_assert_int_eq(log.canvas[i], prompt[i]);
        }
    }
    // N = 10 over 4 steps: 3, 3, 2, 2
    dl_sched_params p = base_params(10, 4, 0, DIFFLM_SCHEDULE_BLOCKS, DIFFLM_REMASK_LOW_CONFIDENCE);
    begin_ok(s, &p, prompt, 3);
    run(s, fill_noisy, NULL, 4, &log);
    ck_assert(log.n_steps == 4 && log.committed[0] == 3 && log.committed[1] == 3 &&
              log.committed[2] == 2 && log.committed[3] == 2);
    dl_sched_free(s);
}
END_TEST

/* Dream's schedule through the scheduler: 32/32 skips the first (zero) step and ends on 2;
 * 32/16 commits 1, then 2s, then 3. */
START_TEST(test_timesteps_counts_through_steps) {
    dl_sched *s = make(64);
    static run_log log;
    const int32_t prompt[2] = {5, 6};
    for (int32_t rule = DIFFLM_REMASK_LOW_CONFIDENCE; rule <= DIFFLM_REMASK_ENTROPY; rule++) {
        if (rule == DIFFLM_REMASK_ORIGIN)
            continue;
        dl_sched_params p = base_params(32, 32, 0, DIFFLM_SCHEDULE_TIMESTEPS, rule);
        begin_ok(s, &p, prompt, 2);
        ck_assert_int_eq(dl_sched_total_steps(s), 31);
        run(s, fill_noisy, NULL, 7, &log);
        ck_assert_int_eq(log.n_steps, 31);
        for (int32_t i = 0; i < 30; i++)
            ck_assert_int_eq(log.committed[i], 1);
        ck_assert_int_eq(log.committed[30], 2);

        p.steps = 16;
        begin_ok(s, &p, prompt, 2);
        ck_assert_int_eq(dl_sched_total_steps(s), 16);
        run(s, fill_noisy, NULL, 32, &log);
        ck_assert_int_eq(log.committed[0], 1);
        for (int32_t i = 1; i < 15; i++)
            ck_assert_int_eq(log.committed[i], 2);
        ck_assert_int_eq(log.committed[15], 3);
    }
    dl_sched_free(s);
}
END_TEST

/* ---------------------------------------------------------------- which positions */

START_TEST(test_low_confidence_order_and_ties) {
    dl_sched *s = make(16);
    const int32_t prompt[2] = {1, 2};
    // generated positions 0..4; 1 and 3 tie for the most confident: 1 goes first
    const float strength[5] = {1.0f, 3.0f, 2.0f, 3.0f, 0.5f};
    strength_fill f = {2, strength};
    static run_log log;
    dl_sched_params p = base_params(5, 5, 0, DIFFLM_SCHEDULE_BLOCKS, DIFFLM_REMASK_LOW_CONFIDENCE);
    begin_ok(s, &p, prompt, 2);
    run(s, fill_strength, &f, 2, &log);
    const int32_t want_when[5] = {3, 0, 2, 1, 4};
    for (int32_t i = 0; i < 5; i++) {
        ck_assert_int_eq(log.when[2 + i], want_when[i]);
        ck_assert_int_eq(log.canvas[2 + i], (2 + i) % 3);
    }
    // the confidence is the untempered, unfiltered probability even when sampling with
    // top_k = 1 (whose filtered distribution would give every position confidence 1)
    p.temperature = 2.0f;
    p.top_k = 1;
    begin_ok(s, &p, prompt, 2);
    run(s, fill_strength, &f, 3, &log);
    for (int32_t i = 0; i < 5; i++)
        ck_assert_int_eq(log.when[2 + i], want_when[i]);
    // TIMESTEPS ranks the same way
    p = base_params(5, 5, 0, DIFFLM_SCHEDULE_TIMESTEPS, DIFFLM_REMASK_LOW_CONFIDENCE);
    begin_ok(s, &p, prompt, 2);
    run(s, fill_strength, &f, 5, &log);
    int32_t order_ok = 1;
    for (int32_t a = 0; a < 5; a++)
        for (int32_t b = 0; b < 5; b++)
            if (want_when[a] < want_when[b] && log.when[2 + a] > log.when[2 + b])
                order_ok = 0;
    ck_assert(order_ok);
    dl_sched_free(s);
}
END_TEST

/* Later blocks are far more confident, yet block b only commits during its own steps. */
START_TEST(test_nothing_outside_block) {
    dl_sched *s = make(16);
    const float strength[7] = {0.1f, 0.2f, 5.0f, 6.0f, 9.0f, 9.5f, 12.0f};
    strength_fill f = {0, strength};
    static run_log log;
    dl_sched_params p = base_params(7, 7, 2, DIFFLM_SCHEDULE_BLOCKS, DIFFLM_REMASK_LOW_CONFIDENCE);
    begin_ok(s, &p, NULL, 0);
    int32_t pos[16];
    int32_t n = dl_sched_positions(s, pos);
    ck_assert(n == 2 && pos[0] == 0 && pos[1] == 1);
    run(s, fill_strength, &f, 1, &log);
    // blocks {0,1} {2,3} {4,5} {6}; steps 2, 2, 2, 1; within a block the stronger goes first
    const int32_t want_when[7] = {1, 0, 3, 2, 5, 4, 6};
    for (int32_t i = 0; i < 7; i++)
        ck_assert_int_eq(log.when[i], want_when[i]);
    dl_sched_free(s);
}
END_TEST

/* The MASK column is the largest everywhere; it is never predicted. */
static void fill_mask_wins(float *row, int32_t pos, int32_t n_vocab, void *user) {
    (void)user;
    for (int32_t v = 0; v < n_vocab; v++)
        row[v] = (float)v * 0.1f;
    row[MASK] = 50.0f;
    row[(pos + 1) % 3] = 3.0f;
}

START_TEST(test_mask_never_predicted) {
    dl_sched *s = make(16);
    static run_log log;
    for (int t = 0; t < 2; t++) {
        dl_sched_params p = base_params(6, 3, 0, DIFFLM_SCHEDULE_BLOCKS, DIFFLM_REMASK_LOW_CONFIDENCE);
        p.temperature = t ? 1.0f : 0.0f;
        begin_ok(s, &p, NULL, 0);
        run(s, fill_mask_wins, NULL, 6, &log);
        for (int32_t i = 0; i < 6; i++) {
            ck_assert(log.canvas[i] != MASK);
            if (!t)
                ck_assert_int_eq(log.canvas[i], (i + 1) % 3);
        }
    }
    dl_sched_free(s);
}
END_TEST

/* ---------------------------------------------------------------- EOS handling */

static void fill_eos_wins(float *row, int32_t pos, int32_t n_vocab, void *user) {
    (void)user;
    for (int32_t v = 0; v < n_vocab; v++)
        row[v] = 0.0f;
    row[EOS] = 8.0f;
    row[pos % 3] = 1.0f;
}

START_TEST(test_logits_eos_inf) {
    dl_sched *s = make(32);
    static run_log log;
    for (int t = 0; t < 2; t++)
        for (int flag = 0; flag < 2; flag++) {
            dl_sched_params p = base_params(12, 4, 0, DIFFLM_SCHEDULE_BLOCKS,
                                            DIFFLM_REMASK_LOW_CONFIDENCE);
            p.temperature = t ? 1.0f : 0.0f;
            p.flags = flag ? DIFFLM_GEN_LOGITS_EOS_INF : 0;
            begin_ok(s, &p, NULL, 0);
            run(s, fill_eos_wins, NULL, 5, &log);
            int32_t eos = 0;
            for (int32_t i = 0; i < 12; i++)
                eos += log.canvas[i] == EOS;
            if (flag)
                ck_assert_int_eq(eos, 0);
            else if (!t)
                ck_assert_int_eq(eos, 12);   // the test can tell: without the flag EOS wins
            else
                ck_assert(eos > 6);          // e^8 against ~e^1 + 6: EOS nearly always
        }
    dl_sched_free(s);
}
END_TEST

/* Generated positions 0, 1 predict EOS and 2 predicts EoT, all strongly; 3..5 predict
 * ordinary tokens weakly. With CONFIDENCE_EOS_EOT_INF the EOS/EoT predictions go last. */
static void fill_eos_eot(float *row, int32_t pos, int32_t n_vocab, void *user) {
    (void)user;
    for (int32_t v = 0; v < n_vocab; v++)
        row[v] = 0.0f;
    if (pos == 0 || pos == 1)
        row[EOS] = 9.0f;
    else if (pos == 2)
        row[EOT] = 9.0f;
    else
        row[pos % 3] = 2.0f;
}

START_TEST(test_confidence_eos_eot_inf) {
    dl_sched *s = make(16);
    static run_log log;
    const int32_t rules[2] = {DIFFLM_REMASK_LOW_CONFIDENCE, DIFFLM_REMASK_MASKGIT_PLUS};
    for (int r = 0; r < 2; r++)
        for (int t = 0; t < 2; t++)
            for (int flag = 0; flag < 2; flag++) {
                dl_sched_params p = base_params(6, 6, 0, DIFFLM_SCHEDULE_BLOCKS, rules[r]);
                p.flags = flag ? DIFFLM_GEN_CONFIDENCE_EOS_EOT_INF : 0;
                p.temperature = t ? 0.5f : 0.0f;
                p.top_k = t ? 1 : 0;   // keeps sampling deterministic: the argmax survives alone
                begin_ok(s, &p, NULL, 0);
                run(s, fill_eos_eot, NULL, 4, &log);
                ck_assert(log.canvas[0] == EOS && log.canvas[1] == EOS && log.canvas[2] == EOT);
                for (int32_t i = 0; i < 3; i++)
                    for (int32_t j = 3; j < 6; j++) {
                        if (flag)
                            ck_assert_msg(log.when[i] > log.when[j],
                                          "rule %d T %d: EOS/EoT at %d before %d", rules[r], t, i,
                                          j);
                        else
                            ck_assert(log.when[i] < log.when[j]);
                    }
            }
    dl_sched_free(s);
}
END_TEST

/* ---------------------------------------------------------------- Dream rules */

/* Four crafted distributions over ids 0..4 (5..6 nearly 0, MASK very large):
 *             max p   margin  neg. entropy
 *   A         .48     .01     -0.94
 *   B         .40     .25     -1.51
 *   C         .45     .00     -0.95
 *   D         .35     .15     -1.49
 * maskgit_plus: A C B D; topk_margin: B D A C; entropy: A C D B. Positions hold C A D B. */
static const double dist[4][5] = {
    {0.48, 0.47, 0.05 / 3, 0.05 / 3, 0.05 / 3},
    {0.40, 0.15, 0.15, 0.15, 0.15},
    {0.45, 0.45, 0.10, 1e-9, 1e-9},
    {0.35, 0.05, 0.20, 0.20, 0.20},
};
static const int32_t dist_at[4] = {2, 0, 3, 1};   /* position -> distribution */

static void fill_dist(float *row, int32_t pos, int32_t n_vocab, void *user) {
    (void)user;
    const double *d = dist[dist_at[pos]];
    for (int32_t v = 0; v < n_vocab; v++)
        row[v] = -30.0f;
    for (int32_t v = 0; v < 5; v++)
        row[v] = (float)log(d[v]);
    row[MASK] = 40.0f;
}

static double expected_conf(int32_t rule, const double *d) {
    double s = 0.0;
    for (int v = 0; v < 5; v++)
        s += d[v];
    s += 2 * exp(-30.0);
    double q[5], h = 0.0;
    for (int v = 0; v < 5; v++) {
        q[v] = d[v] / s;
        h += q[v] * log(q[v] + 1e-10);
    }
    double a = 0, b = 0;
    for (int v = 0; v < 5; v++) {
        if (q[v] > a) {
            b = a;
            a = q[v];
        } else if (q[v] > b) {
            b = q[v];
        }
    }
    return rule == DIFFLM_REMASK_MASKGIT_PLUS ? a : rule == DIFFLM_REMASK_TOPK_MARGIN ? a - b : h;
}

START_TEST(test_dream_rules_order) {
    dl_sched *s = make(16);
    static run_log log;
    static const int32_t want[3][4] = {
        /* by position: the step at which it commits */
        {1, 0, 3, 2},   /* maskgit_plus: A(1) C(0) B(3) D(2) -> pos1, pos0, pos3, pos2 */
        {3, 2, 1, 0},   /* topk_margin: B D A C -> pos3, pos2, pos1, pos0 */
        {1, 0, 2, 3},   /* entropy: A C D B -> pos1, pos0, pos2, pos3 */
    };
    for (int32_t r = 0; r < 3; r++) {
        int32_t rule = DIFFLM_REMASK_MASKGIT_PLUS + r;
        // the expectation, checked against independent closed forms
        for (int32_t a = 0; a < 4; a++)
            for (int32_t b = 0; b < 4; b++)
                if (want[r][a] < want[r][b])
                    ck_assert(expected_conf(rule, dist[dist_at[a]]) >=
                              expected_conf(rule, dist[dist_at[b]]));
        dl_sched_params p = base_params(4, 4, 0, DIFFLM_SCHEDULE_BLOCKS, rule);
        begin_ok(s, &p, NULL, 0);
        run(s, fill_dist, NULL, 3, &log);
        for (int32_t i = 0; i < 4; i++) {
            ck_assert_msg(log.when[i] == want[r][i], "rule %d position %d at step %d, want %d",
                          rule, i, log.when[i], want[r][i]);
            ck_assert_int_eq(log.canvas[i], 0);
        }
        // TIMESTEPS 4 over 2 steps commits 1 then 3: the first is the rule's favourite
        p = base_params(4, 2, 0, DIFFLM_SCHEDULE_TIMESTEPS, rule);
        begin_ok(s, &p, NULL, 0);
        run(s, fill_dist, NULL, 4, &log);
        ck_assert(log.n_steps == 2 && log.committed[0] == 1 && log.committed[1] == 3);
        for (int32_t i = 0; i < 4; i++)
            ck_assert_int_eq(log.when[i], want[r][i] == 0 ? 0 : 1);
    }
    dl_sched_free(s);
}
END_TEST

/* ---------------------------------------------------------------- randomness */

static void run_with_seed(dl_sched *s, dl_sched_params p, uint64_t seed, int32_t chunk,
                          run_log *log) {
    p.seed = seed;
    begin_ok(s, &p, (const int32_t[]){0, 1}, 2);
    run(s, fill_noisy, NULL, chunk, log);
}

START_TEST(test_seed_determinism) {
    dl_sched *s = make(64);
    static run_log a, b;
    const int32_t schedules[2] = {DIFFLM_SCHEDULE_BLOCKS, DIFFLM_SCHEDULE_TIMESTEPS};
    for (int sc = 0; sc < 2; sc++)
        for (int32_t rule = DIFFLM_REMASK_LOW_CONFIDENCE; rule <= DIFFLM_REMASK_ENTROPY; rule++) {
            dl_sched_params p = base_params(40, 10, 8, schedules[sc], rule);
            p.temperature = 1.0f;
            p.top_p = 0.9f;
            p.top_k = 5;
            p.alg_temp = sc ? 0.5f : 0.0f;
            run_with_seed(s, p, 77, 3, &a);
            run_with_seed(s, p, 77, 40, &b);   // other chunking, same draws
            ck_assert(memcmp(a.canvas, b.canvas, sizeof(int32_t) * 42) == 0);
            ck_assert(memcmp(a.when, b.when, sizeof(int32_t) * 42) == 0);
            run_with_seed(s, p, 78, 3, &b);
            ck_assert_msg(memcmp(a.canvas, b.canvas, sizeof(int32_t) * 42) != 0 ||
                              memcmp(a.when, b.when, sizeof(int32_t) * 42) != 0,
                          "seeds 77 and 78 gave the same run (schedule %d rule %d)",
                          schedules[sc], rule);
        }
    dl_sched_free(s);
}
END_TEST

/* Greedy runs do not depend on the seed (except through RANDOM/ORIGIN order). */
START_TEST(test_greedy_ignores_seed) {
    dl_sched *s = make(64);
    static run_log a, b;
    dl_sched_params p = base_params(20, 10, 0, DIFFLM_SCHEDULE_TIMESTEPS, DIFFLM_REMASK_ENTROPY);
    run_with_seed(s, p, 1, 4, &a);
    run_with_seed(s, p, 2, 4, &b);
    ck_assert(memcmp(a.canvas, b.canvas, sizeof(int32_t) * 22) == 0);
    // top_k = 1 makes sampling greedy whatever the temperature and seed
    p.temperature = 2.0f;
    p.top_k = 1;
    run_with_seed(s, p, 3, 4, &b);
    ck_assert(memcmp(a.canvas, b.canvas, sizeof(int32_t) * 22) == 0);
    p.top_k = 0;
    p.top_p = 1e-3f;
    run_with_seed(s, p, 4, 4, &b);
    ck_assert(memcmp(a.canvas, b.canvas, sizeof(int32_t) * 22) == 0);
    dl_sched_free(s);
}
END_TEST

/* Restarting a step's predictions from the first chunk replays the same draws. */
START_TEST(test_predict_restart) {
    dl_sched *s = make(64);
    static run_log a;
    dl_sched_params p = base_params(12, 4, 0, DIFFLM_SCHEDULE_BLOCKS, DIFFLM_REMASK_RANDOM);
    p.temperature = 1.0f;
    p.seed = 9;
    run_with_seed(s, p, 9, 12, &a);

    begin_ok(s, &p, (const int32_t[]){0, 1}, 2);
    int32_t pos[64];
    static float logits[64 * V];
    while (!dl_sched_done(s)) {
        int32_t n = dl_sched_positions(s, pos);
        for (int32_t i = 0; i < n; i++)
            fill_noisy(logits + (size_t)i * V, pos[i], V, NULL);
        dl_sched_predict(s, 0, n > 1 ? n - 1 : n, logits);   // abandoned pass
        for (int32_t i = 0; i < n; i++)
            fill_noisy(logits + (size_t)i * V, pos[i], V, NULL);
        dl_sched_predict(s, 0, n, logits);
        int32_t nc;
        ck_assert(dl_sched_commit(s, &nc) >= 0);
    }
    ck_assert(memcmp(a.canvas, dl_sched_canvas(s), sizeof(int32_t) * 14) == 0);
    dl_sched_free(s);
}
END_TEST

/* alg_temp: the first winner of 4 candidates with confidences .9 .8 .7 .6 follows
 * softmax(conf / 0.1) over 4000 seeds (chi-square, 3 dof, bound 30). */
static void fill_conf(float *row, int32_t pos, int32_t n_vocab, void *user) {
    (void)user;
    const double pmax = 0.9 - 0.1 * pos;
    for (int32_t v = 0; v < n_vocab; v++)
        row[v] = -INFINITY;
    row[0] = (float)log(pmax);
    for (int32_t v = 1; v < 5; v++)
        row[v] = (float)log((1.0 - pmax) / 4);
}

START_TEST(test_alg_temp_sampling) {
    dl_sched *s = make(8);
    static run_log log;
    const int trials = 4000;
    int count[4] = {0};
    dl_sched_params p = base_params(4, 2, 0, DIFFLM_SCHEDULE_TIMESTEPS, DIFFLM_REMASK_MASKGIT_PLUS);
    p.alg_temp = 0.1f;
    for (int t = 0; t < trials; t++) {
        p.seed = 1000 + (uint64_t)t;
        begin_ok(s, &p, NULL, 0);
        run(s, fill_conf, NULL, 4, &log);
        ck_assert(log.committed[0] == 1);
        for (int32_t i = 0; i < 4; i++)
            if (log.when[i] == 0)
                count[i]++;
    }
    double w[4], sum = 0.0, chi2 = 0.0;
    for (int i = 0; i < 4; i++)
        sum += (w[i] = exp((0.9 - 0.1 * i) / 0.1));
    for (int i = 0; i < 4; i++) {
        double e = trials * w[i] / sum;
        chi2 += (count[i] - e) * (count[i] - e) / e;
    }
    ck_assert_msg(chi2 < 30.0, "chi2 %g: %d %d %d %d", chi2, count[0], count[1], count[2],
                  count[3]);
    // a tiny alg_temp is the plain top-k
    p.alg_temp = 1e-4f;
    for (int t = 0; t < 50; t++) {
        p.seed = (uint64_t)t;
        begin_ok(s, &p, NULL, 0);
        run(s, fill_conf, NULL, 4, &log);
        ck_assert_int_eq(log.when[0], 0);
    }
    dl_sched_free(s);
}
END_TEST

START_TEST(test_random_order) {
    dl_sched *s = make(32);
    static run_log a, b;
    dl_sched_params p = base_params(16, 16, 0, DIFFLM_SCHEDULE_BLOCKS, DIFFLM_REMASK_RANDOM);
    run_with_seed(s, p, 1, 16, &a);
    run_with_seed(s, p, 2, 16, &b);
    ck_assert(memcmp(a.when, b.when, sizeof(int32_t) * 18) != 0);
    int32_t seen[16] = {0};
    for (int32_t i = 2; i < 18; i++)
        seen[a.when[i]]++;
    for (int32_t i = 0; i < 16; i++)
        ck_assert_int_eq(seen[i], 1);
    dl_sched_free(s);
}
END_TEST

/* ORIGIN: every step runs; each mask commits with probability 1 - t[i+1]/t[i]; the last
 * step takes the rest. Over 400 seeds the first step's mean count is 20 * ratio. */
START_TEST(test_origin_timesteps) {
    dl_sched *s = make(32);
    static run_log log;
    dl_sched_params p = base_params(20, 5, 0, DIFFLM_SCHEDULE_TIMESTEPS, DIFFLM_REMASK_ORIGIN);
    double first = 0.0;
    const int trials = 400;
    for (int t = 0; t < trials; t++) {
        p.seed = (uint64_t)t * 31 + 7;
        begin_ok(s, &p, (const int32_t[]){1}, 1);
        ck_assert_int_eq(dl_sched_total_steps(s), 5);
        run(s, fill_noisy, NULL, 6, &log);
        ck_assert(log.n_steps <= 5);
        int32_t sum = 0;
        for (int32_t i = 0; i < log.n_steps; i++)
            sum += log.committed[i];
        ck_assert_int_eq(sum, 20);
        first += log.committed[0];
    }
    double want = 20.0 * dl_dream_ratio(0, 5, 1e-3f);   // ~4; sd of the mean ~0.09
    ck_assert_msg(fabs(first / trials - want) < 0.5, "mean %g want %g", first / trials, want);
    dl_sched_free(s);
}
END_TEST

/* ---------------------------------------------------------------- CFG, errors */

START_TEST(test_cfg_combine) {
    float cond[3] = {1.0f, 2.0f, 3.0f};
    const float un[3] = {0.5f, 2.0f, -1.0f};
    dl_cfg_combine(cond, un, 1.5f, 3);
    ck_assert(fabsf(cond[0] - 1.75f) < 1e-6f && cond[1] == 2.0f && fabsf(cond[2] - 9.0f) < 1e-6f);
    float c0[2] = {4.0f, -2.0f};
    const float u0[2] = {1.0f, 7.0f};
    dl_cfg_combine(c0, u0, 0.0f, 2);   // scale 0: the conditional logits
    ck_assert(c0[0] == 4.0f && c0[1] == -2.0f);
}
END_TEST

static void expect_reject(dl_sched *s, dl_sched_params p, const int32_t *prompt, int32_t n,
                          int status, const char *needle) {
    dl_err err = {0};
    int rc = dl_sched_begin(s, &p, prompt, n, &err);
    ck_assert_msg(rc == status, "want %d for '%s', got %d (%s)", status, needle, rc, err.msg);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message '%s' does not name '%s'", err.msg,
                  needle);
    ck_assert(dl_sched_done(s));
}

START_TEST(test_invalid_params) {
    dl_sched *s = make(16);
    const int32_t prompt[2] = {1, 2};
    const dl_sched_params ok = base_params(8, 4, 4, DIFFLM_SCHEDULE_BLOCKS,
                                           DIFFLM_REMASK_LOW_CONFIDENCE);
    dl_sched_params p;
#define BAD(field, value, needle)                                                               \
    do {                                                                                       \
        p = ok;                                                                                \
        p.field = value;                                                                       \
        expect_reject(s, p, prompt, 2, DIFFLM_E_INVALID_ARG, needle);                          \
    } while (0)
    BAD(gen_length, 0, "gen_length");
    BAD(steps, 0, "steps");
    BAD(steps, 1, "blocks");   // 2 blocks need 2 steps
    BAD(schedule, DIFFLM_SCHEDULE_AUTO, "AUTO");
    BAD(schedule, 9, "schedule");
    BAD(remasking, DIFFLM_REMASK_AUTO, "AUTO");
    BAD(remasking, 7, "remasking");
    BAD(temperature, -0.1f, "temperature");
    BAD(temperature, INFINITY, "temperature");
    BAD(temperature, NAN, "temperature");
    BAD(top_p, 0.0f, "top_p");
    BAD(top_p, NAN, "top_p");
    BAD(top_k, -1, "top_k");
    BAD(eps, 0.0f, "eps");
    BAD(eps, 1.0f, "eps");
    BAD(alg_temp, -1.0f, "alg_temp");
    BAD(block_length, -1, "block_length");
    BAD(flags, 0x80u, "flags");
#undef BAD
    expect_reject(s, ok, (const int32_t[]){1, MASK}, 2, DIFFLM_E_INVALID_ARG, "MASK");
    expect_reject(s, ok, (const int32_t[]){1, V}, 2, DIFFLM_E_INVALID_ARG, "vocabulary");
    expect_reject(s, ok, (const int32_t[]){-1}, 1, DIFFLM_E_INVALID_ARG, "vocabulary");
    expect_reject(s, ok, NULL, 2, DIFFLM_E_INVALID_ARG, "prompt");
    p = ok;
    p.gen_length = 15;
    expect_reject(s, p, prompt, 2, DIFFLM_E_TOO_LONG, "exceeds");
    p.gen_length = INT32_MAX;
    p.steps = INT32_MAX;
    expect_reject(s, p, prompt, 2, DIFFLM_E_TOO_LONG, "exceeds");
    // fitting exactly is fine; top_p above 1 means off
    p = ok;
    p.gen_length = 14;
    p.top_p = 1.5f;
    p.block_length = 0;
    begin_ok(s, &p, prompt, 2);
    ck_assert_int_eq(dl_sched_canvas_len(s), 16);
    dl_sched_free(s);

    dl_sched *t = NULL;
    dl_err err = {0};
    ck_assert_int_eq(dl_sched_create(&t, 0, V, MASK, -1, -1, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_sched_create(&t, 8, V, V, -1, -1, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_sched_create(&t, 8, V, MASK, V, -1, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_sched_create(&t, 8, V, MASK, -1, -2, &err), DIFFLM_E_INVALID_ARG);
    ck_assert(t == NULL);
    dl_sched_free(NULL);
}
END_TEST

START_TEST(test_misuse) {
    dl_sched *s = make(16);
    int32_t nc = 5;
    ck_assert_int_eq(dl_sched_commit(s, &nc), DIFFLM_E_STATE);   // no begin
    ck_assert(dl_sched_done(s));
    dl_sched_params p = base_params(4, 2, 0, DIFFLM_SCHEDULE_BLOCKS, DIFFLM_REMASK_LOW_CONFIDENCE);
    begin_ok(s, &p, NULL, 0);
    ck_assert_int_eq(dl_sched_commit(s, &nc), DIFFLM_E_STATE);   // nothing predicted
    ck_assert_int_eq(nc, 0);
    float logits[4 * V];
    for (int32_t i = 0; i < 4; i++)
        fill_noisy(logits + i * V, i, V, NULL);
    dl_sched_predict(s, 1, 3, logits);   // out of order
    ck_assert_int_eq(dl_sched_commit(s, &nc), DIFFLM_E_STATE);
    dl_sched_predict(s, 0, 2, logits);
    dl_sched_predict(s, 2, 3, logits);   // past the end of the list
    ck_assert_int_eq(dl_sched_commit(s, &nc), DIFFLM_E_STATE);
    ck_assert_int_eq(dl_sched_n_masked(s), 4);
    dl_sched_predict(s, 0, 4, logits);
    ck_assert_int_eq(dl_sched_commit(s, &nc), 0);
    ck_assert_int_eq(nc, 2);
    ck_assert_int_eq(dl_sched_n_masked(s), 2);
    // a second begin starts over
    begin_ok(s, &p, NULL, 0);
    ck_assert_int_eq(dl_sched_n_masked(s), 4);
    ck_assert_int_eq(dl_sched_steps_done(s), 0);
    dl_sched_free(s);
}
END_TEST

/* All-NaN or all -inf logits still commit a real token (the lowest predictable id). */
static void fill_nan(float *row, int32_t pos, int32_t n_vocab, void *user) {
    (void)user;
    (void)pos;
    for (int32_t v = 0; v < n_vocab; v++)
        row[v] = NAN;
}

START_TEST(test_degenerate_logits) {
    dl_sched *s = make(16);
    static run_log log;
    for (int32_t rule = DIFFLM_REMASK_LOW_CONFIDENCE; rule <= DIFFLM_REMASK_ENTROPY; rule++) {
        dl_sched_params p = base_params(4, 2, 0, DIFFLM_SCHEDULE_BLOCKS, rule);
        p.temperature = rule % 2 ? 1.0f : 0.0f;
        p.top_p = 0.5f;
        p.top_k = 2;
        begin_ok(s, &p, NULL, 0);
        run(s, fill_nan, NULL, 4, &log);
        for (int32_t i = 0; i < 4; i++)
            ck_assert_int_eq(log.canvas[i], 0);
    }
    dl_sched_free(s);
}
END_TEST

static Suite *sched_suite(void) {
    Suite *s = suite_create("sched");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_blocks_counts_through_steps);
    tcase_add_test(tc, test_timesteps_counts_through_steps);
    tcase_add_test(tc, test_low_confidence_order_and_ties);
    tcase_add_test(tc, test_nothing_outside_block);
    tcase_add_test(tc, test_mask_never_predicted);
    tcase_add_test(tc, test_logits_eos_inf);
    tcase_add_test(tc, test_confidence_eos_eot_inf);
    tcase_add_test(tc, test_dream_rules_order);
    tcase_add_test(tc, test_seed_determinism);
    tcase_add_test(tc, test_greedy_ignores_seed);
    tcase_add_test(tc, test_predict_restart);
    tcase_add_test(tc, test_alg_temp_sampling);
    tcase_add_test(tc, test_random_order);
    tcase_add_test(tc, test_origin_timesteps);
    tcase_add_test(tc, test_cfg_combine);
    tcase_add_test(tc, test_invalid_params);
    tcase_add_test(tc, test_misuse);
    tcase_add_test(tc, test_degenerate_logits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return dl_run_suite(sched_suite());
}

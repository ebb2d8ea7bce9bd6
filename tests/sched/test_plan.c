/* test_plan.c - transfer-count plans (LLaDA blocks, Dream timesteps) and winner ranking. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check_compat.h"
#include "sched/plan.h"

#define MAXN 1024

static void expect_blocks(int32_t gen, int32_t steps, int32_t bl, const int32_t *counts,
                          const int32_t *blocks, int32_t n) {
    int32_t c[MAXN], b[MAXN];
    int32_t got = dl_plan_blocks(c, b, gen, steps, bl);
    ck_assert_msg(got == n, "gen %d steps %d block %d: %d steps, want %d", gen, steps, bl, got, n);
    for (int32_t i = 0; i < n; i++) {
        ck_assert_msg(c[i] == counts[i], "gen %d steps %d block %d: step %d commits %d, want %d",
                      gen, steps, bl, i, c[i], counts[i]);
        ck_assert_msg(b[i] == blocks[i], "gen %d steps %d block %d: step %d in block %d, want %d",
                      gen, steps, bl, i, b[i], blocks[i]);
    }
}

START_TEST(test_blocks_hand_cases) {
    // N = 10 over 4 steps: the first N mod 4 steps take one more
    ck_assert_int_eq(dl_block_step_count(10, 4, 0), 3);
    ck_assert_int_eq(dl_block_step_count(10, 4, 1), 3);
    ck_assert_int_eq(dl_block_step_count(10, 4, 2), 2);
    ck_assert_int_eq(dl_block_step_count(10, 4, 3), 2);
    expect_blocks(10, 4, 0, (int32_t[]){3, 3, 2, 2}, (int32_t[]){0, 0, 0, 0}, 4);
    // LLaDA's own case: steps = gen, two blocks of 4
    expect_blocks(8, 8, 4, (int32_t[]){1, 1, 1, 1, 1, 1, 1, 1}, (int32_t[]){0, 0, 0, 0, 1, 1, 1, 1},
                  8);
    expect_blocks(8, 4, 4, (int32_t[]){2, 2, 2, 2}, (int32_t[]){0, 0, 1, 1}, 4);
    // blocks 4, 4, 2 with 5 steps spread 2, 2, 1
    expect_blocks(10, 5, 4, (int32_t[]){2, 2, 2, 2, 2}, (int32_t[]){0, 0, 1, 1, 2}, 5);
    // blocks 5, 5, 2 with 7 steps spread 3, 2, 2
    expect_blocks(12, 7, 5, (int32_t[]){2, 2, 1, 3, 2, 1, 1}, (int32_t[]){0, 0, 0, 1, 1, 2, 2}, 7);
    // more steps than tokens: the zero steps are skipped
    expect_blocks(5, 12, 0, (int32_t[]){1, 1, 1, 1, 1}, (int32_t[]){0, 0, 0, 0, 0}, 5);
    expect_blocks(7, 3, 3, (int32_t[]){3, 3, 1}, (int32_t[]){0, 1, 2}, 3);
    // block_length past gen_length is one block
    expect_blocks(3, 2, 10, (int32_t[]){2, 1}, (int32_t[]){0, 0}, 2);
    ck_assert_int_eq(dl_block_count(10, 4), 3);
    ck_assert_int_eq(dl_block_count(10, 0), 1);
    ck_assert_int_eq(dl_block_count(10, 11), 1);
    ck_assert_int_eq(dl_block_count(12, 4), 3);
}
END_TEST

/* Properties over many shapes: each block's counts sum to its size, stay in block order,
 * differ by at most one, never increase, and the block gets min(its steps, its size) steps. */
START_TEST(test_blocks_properties) {
    int32_t c[MAXN], b[MAXN];
    for (int32_t gen = 1; gen <= 40; gen++)
        for (int32_t bl = 0; bl <= gen + 2; bl++) {
            int32_t nb = dl_block_count(gen, bl);
            int32_t blen = bl == 0 || bl > gen ? gen : bl;
            ck_assert_int_eq(nb, (gen + blen - 1) / blen);
            for (int32_t steps = nb; steps <= 50; steps++) {
                int32_t n = dl_plan_blocks(c, b, gen, steps, bl);
                ck_assert(n >= nb && n <= gen && n <= steps);
                int32_t i = 0;
                for (int32_t blk = 0; blk < nb; blk++) {
                    int32_t size = blk == nb - 1 ? gen - blk * blen : blen;
                    int32_t sb = steps / nb + (blk < steps % nb);
                    int32_t sum = 0, first = i;
                    while (i < n && b[i] == blk) {
                        ck_assert(c[i] >= 1);
                        if (i > first)
                            ck_assert(c[i] <= c[i - 1]);
                        ck_assert(c[first] - c[i] <= 1);
                        sum += c[i++];
                    }
                    ck_assert_msg(sum == size, "gen %d bl %d steps %d block %d", gen, bl, steps,
                                  blk);
                    ck_assert_int_eq(i - first, sb < size ? sb : size);
                }
                ck_assert_int_eq(i, n);
            }
        }
}
END_TEST

/* Every step's count, zeros included, as a confidence rule would see them. */
static int32_t dream_counts(int32_t *k, int32_t gen, int32_t steps, float eps) {
    int32_t left = gen;
    for (int32_t i = 0; i < steps; i++) {
        k[i] = dl_dream_step_count(left, i, steps, eps);
        left -= k[i];
    }
    return left;
}

START_TEST(test_dream_time_ends) {
    ck_assert(dl_dream_time(0, 32, 1e-3f) == 1.0f);
    ck_assert(dl_dream_time(32, 32, 1e-3f) == 1e-3f);
    ck_assert(dl_dream_time(7, 7, 0.05f) == 0.05f);
    for (int32_t i = 0; i < 33; i++)
        ck_assert(dl_dream_time(i + 1, 33, 1e-3f) < dl_dream_time(i, 33, 1e-3f));
    // the middle entries of odd step counts, where computing from the other end differs
    // in the last bit (float32 bit patterns from an independent numpy computation)
    union { float f; uint32_t u; } t3 = {.f = dl_dream_time(3, 7, 1e-3f)},
                                   t10 = {.f = dl_dream_time(10, 21, 1e-3f)};
    ck_assert_uint_eq(t3.u, 1058170170u);
    ck_assert_uint_eq(t10.u, 1057372055u);
}
END_TEST

/* steps = gen: the first step commits 0, then one each, the last 2
 * (doc/sampling.md, "Dream's generation_utils.py"; checked here for 32, 256 and 512). */
/* steps = INT32_MAX: the half-way split (steps + 1) / 2 must not overflow (UBSan), and
 * each half keeps its own formula: t[i] = 1 + step*i before the split, eps - step*(steps-i)
 * from it on, in float32. */
START_TEST(test_dream_time_int32_max) {
    const int32_t S = INT32_MAX, half = 1073741824;   // (S + 1) / 2, in 64 bits
    const float eps = 1e-3f;
    volatile float step = (eps - 1.0f) / (float)S;
    ck_assert(dl_dream_time(0, S, eps) == 1.0f);
    ck_assert(dl_dream_time(S, S, eps) == eps);
    volatile float a = step * (float)(half - 1), b = step * (float)(S - half);
    ck_assert(dl_dream_time(half - 1, S, eps) == 1.0f + a);
    ck_assert(dl_dream_time(half, S, eps) == eps - b);
    float r = dl_dream_ratio(S - 1, S, eps);
    ck_assert(r >= 0.0f && r < 1.0f);
    ck_assert_int_eq(dl_dream_step_count(10, S - 1, S, eps), 10);   // the last takes all
    ck_assert_int_eq(dl_dream_step_count(10, 0, S, eps), 0);
}
END_TEST

START_TEST(test_dream_steps_equal_gen) {
    static int32_t k[MAXN];
    const int32_t gens[] = {32, 256, 512};
    for (size_t g = 0; g < 3; g++) {
        int32_t n = gens[g];
        ck_assert_int_eq(dream_counts(k, n, n, 1e-3f), 0);
        ck_assert_int_eq(k[0], 0);
        for (int32_t i = 1; i < n - 1; i++)
            ck_assert_msg(k[i] == 1, "gen %d step %d commits %d", n, i, k[i]);
        ck_assert_int_eq(k[n - 1], 2);
        static int32_t planned[MAXN];
        ck_assert_int_eq(dl_plan_timesteps(planned, n, n, 1e-3f), n - 1);
        ck_assert_int_eq(planned[n - 2], 2);
    }
}
END_TEST

/* steps = gen / 2: the first commits 1, then two each, the last 3 (the summary in
 * doc/sampling.md, "Schedule TIMESTEPS"; a summary that omits the first 1 is wrong). */
START_TEST(test_dream_steps_half_gen) {
    static int32_t k[MAXN];
    const int32_t gens[] = {32, 256, 512};
    for (size_t g = 0; g < 3; g++) {
        int32_t n = gens[g], steps = n / 2;
        ck_assert_int_eq(dream_counts(k, n, steps, 1e-3f), 0);
        ck_assert_int_eq(k[0], 1);
        for (int32_t i = 1; i < steps - 1; i++)
            ck_assert_msg(k[i] == 2, "gen %d step %d commits %d", n, i, k[i]);
        ck_assert_int_eq(k[steps - 1], 3);
    }
}
END_TEST

/* Counts from an independent float32 (numpy) simulation of the doc's formulas. */
START_TEST(test_dream_other_shapes) {
    static const struct {
        int32_t gen, steps;
        float eps;
        int32_t k[20];
    } cases[] = {
        {10, 4, 1e-3f, {2, 2, 2, 4}},
        {64, 7, 1e-3f, {9, 9, 9, 9, 9, 9, 10}},
        {7, 3, 1e-3f, {2, 2, 3}},
        {100, 9, 1e-3f, {11, 11, 11, 11, 11, 11, 11, 11, 12}},
        {5, 20, 1e-3f, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2}},
        {13, 5, 0.05f, {2, 2, 2, 3, 4}},
    };
    int32_t k[64];
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        ck_assert_int_eq(dream_counts(k, cases[c].gen, cases[c].steps, cases[c].eps), 0);
        for (int32_t i = 0; i < cases[c].steps; i++)
            ck_assert_msg(k[i] == cases[c].k[i], "gen %d steps %d: step %d commits %d, want %d",
                          cases[c].gen, cases[c].steps, i, k[i], cases[c].k[i]);
    }
    // the plan keeps only the non-zero steps
    int32_t planned[64];
    ck_assert_int_eq(dl_plan_timesteps(planned, 5, 20, 1e-3f), 4);
    ck_assert(planned[0] == 1 && planned[1] == 1 && planned[2] == 1 && planned[3] == 2);
    // one step commits everything
    ck_assert_int_eq(dl_plan_timesteps(planned, 9, 1, 1e-3f), 1);
    ck_assert_int_eq(planned[0], 9);
}
END_TEST

START_TEST(test_rank_ties_lower_first) {
    const double key[6] = {0.5, 0.9, 0.5, 0.9, -INFINITY, 0.7};
    dl_keyed r[6];
    dl_rank_candidates(r, key, 6);
    const int32_t want[6] = {1, 3, 5, 0, 2, 4};
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(r[i].idx, want[i]);
}
END_TEST

START_TEST(test_gumbel_keys) {
    const double conf[3] = {0.2, -1.0, 0.5};
    double key[3];
    dl_rng a, b;
    dl_rng_seed(&a, 5);
    dl_rng_seed(&b, 5);
    dl_gumbel_keys(key, conf, 0.5f, &a, 3);
    for (int i = 0; i < 3; i++) {
        double want = conf[i] / 0.5 + dl_gumbel(dl_rng_uniform(&b));
        ck_assert(key[i] == want);
    }
}
END_TEST

static Suite *plan_suite(void) {
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_blocks_hand_cases);
    tcase_add_test(tc, test_blocks_properties);
    tcase_add_test(tc, test_dream_time_ends);
    tcase_add_test(tc, test_dream_time_int32_max);
    tcase_add_test(tc, test_dream_steps_equal_gen);
    tcase_add_test(tc, test_dream_steps_half_gen);
    tcase_add_test(tc, test_dream_other_shapes);
    tcase_add_test(tc, test_rank_ties_lower_first);
    tcase_add_test(tc, test_gumbel_keys);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return dl_run_suite(plan_suite());
}

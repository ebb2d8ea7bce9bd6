/* test_sample.c - the random stream, filtering, token choice and confidences (lib/sample). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "sample/sample.h"

/* Golden outputs of xoshiro256** seeded by splitmix64, from an independent Python
 * implementation written from the algorithm's definition. */
START_TEST(test_rng_golden) {
    static const struct {
        uint64_t seed;
        uint64_t out[4];
    } cases[] = {
        {0, {0x99ec5f36cb75f2b4ull, 0xbf6e1f784956452aull, 0x1a5f849d4933e6e0ull,
             0x6aa594f1262d2d2cull}},
        {42, {0x15780b2e0c2ec716ull, 0x6104d9866d113a7eull, 0xae17533239e499a1ull,
              0xecb8ad4703b360a1ull}},
        {0xdeadbeefcafebabeull, {0x2299b3421aa78b66ull, 0x9af6550483e02887ull,
                                 0xda059cb5eec5c979ull, 0xcf86bd29360fff98ull}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        dl_rng r;
        dl_rng_seed(&r, cases[c].seed);
        if (cases[c].seed == 0)   // splitmix64's well-known first output for seed 0
            ck_assert(r.s[0] == 0xe220a8397b1dcdafull);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(dl_rng_next(&r) == cases[c].out[i], "seed case %zu output %d", c, i);
    }
}
END_TEST

START_TEST(test_uniform_open_interval) {
    ck_assert(dl_uniform_from_bits(0) > 0.0);
    ck_assert(dl_uniform_from_bits(0) == 0x1p-54);
    ck_assert(dl_uniform_from_bits(UINT64_MAX) == 1.0 - 0x1p-53);
    ck_assert(dl_uniform_from_bits(UINT64_MAX - 2048) < 1.0);
    ck_assert(dl_uniform_from_bits(1ull << 63) == 0.5);   // 2^52 + 0.5 rounds to even
    ck_assert(isfinite(dl_gumbel(dl_uniform_from_bits(0))));
    ck_assert(isfinite(dl_gumbel(dl_uniform_from_bits(UINT64_MAX))));
    dl_rng r;
    dl_rng_seed(&r, 7);
    double sum = 0.0, lo = 1.0, hi = 0.0;
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        double u = dl_rng_uniform(&r);
        sum += u;
        lo = fmin(lo, u);
        hi = fmax(hi, u);
    }
    ck_assert(lo > 0.0 && hi < 1.0);
    ck_assert_msg(fabs(sum / n - 0.5) < 0.005, "mean %g", sum / n);   // sd of mean ~0.0009
}
END_TEST

START_TEST(test_clean_and_temperature) {
    float l[4] = {1.0f, NAN, -INFINITY, 3.0f};
    dl_row_clean(l, 4);
    ck_assert(l[1] == -INFINITY && l[0] == 1.0f && l[3] == 3.0f);
    float z[4];
    dl_row_temperature(z, l, 0.0f, 4);
    ck_assert(memcmp(z, l, sizeof z) == 0);
    dl_row_temperature(z, l, 0.7f, 4);
    ck_assert(z[0] == 1.0f / 0.7f && z[3] == 3.0f / 0.7f && z[2] == -INFINITY);
}
END_TEST

START_TEST(test_argmax_ties_lowest) {
    float x[5] = {1, 3, 3, 2, 3};
    ck_assert_int_eq(dl_row_argmax(x, 5), 1);
    float inf[3] = {-INFINITY, -INFINITY, -INFINITY};
    ck_assert_int_eq(dl_row_argmax(inf, 3), 0);
    float last[3] = {-1, -2, 5};
    ck_assert_int_eq(dl_row_argmax(last, 3), 2);
}
END_TEST

/* Gumbel-max over 20k draws must follow softmax(l / T): chi-square with 3 degrees of
 * freedom (99.99% point ~21; bound 30). Using l instead of l / T gives chi2 in the hundreds. */
START_TEST(test_gumbel_frequencies) {
    const float l[4] = {0.0f, 1.0f, 2.0f, 0.5f};
    const float T = 0.7f;
    float z[4];
    dl_row_temperature(z, l, T, 4);
    double p[4], s = 0.0;
    for (int v = 0; v < 4; v++)
        s += (p[v] = exp((double)l[v] / T));
    dl_rng r;
    dl_rng_seed(&r, 12345);
    const int n = 20000;
    int count[4] = {0};
    for (int i = 0; i < n; i++) {
        int32_t v = dl_row_sample_gumbel(z, &r, 4);
        ck_assert(v >= 0 && v < 4);
        count[v]++;
    }
    double chi2 = 0.0;
    for (int v = 0; v < 4; v++) {
        double e = n * p[v] / s;
        chi2 += (count[v] - e) * (count[v] - e) / e;
    }
    ck_assert_msg(chi2 < 30.0, "chi2 %g (counts %d %d %d %d)", chi2, count[0], count[1], count[2],
                  count[3]);
}
END_TEST

/* One uniform per entry whatever the row holds, and -inf entries are never chosen. */
START_TEST(test_gumbel_stream_and_dropped) {
    float z[6] = {-INFINITY, 0.0f, -INFINITY, 0.0f, -INFINITY, -INFINITY};
    dl_rng a, b;
    dl_rng_seed(&a, 99);
    dl_rng_seed(&b, 99);
    for (int i = 0; i < 500; i++) {
        int32_t v = dl_row_sample_gumbel(z, &a, 6);
        ck_assert(v == 1 || v == 3);
        for (int j = 0; j < 6; j++)
            dl_rng_next(&b);
        ck_assert(memcmp(&a, &b, sizeof a) == 0);
    }
}
END_TEST

static void set_logprobs(float *z, const double *p, int n) {
    for (int v = 0; v < n; v++)
        z[v] = p[v] > 0 ? (float)log(p[v]) : -INFINITY;
}

START_TEST(test_top_p_crafted) {
    dl_ranked scratch[8];
    const double p[4] = {0.05, 0.5, 0.15, 0.3};
    float z[4];
    // 0.7: sorted 0.5, 0.3 (the sum 0.8 crosses 0.7 at the 0.3, which survives), 0.15, 0.05
    set_logprobs(z, p, 4);
    dl_row_top_p(z, scratch, 0.7f, 4);
    ck_assert(z[1] > -INFINITY && z[3] > -INFINITY);
    ck_assert(z[0] == -INFINITY && z[2] == -INFINITY);
    // 0.45: the first entry alone crosses; it survives, everything else goes
    set_logprobs(z, p, 4);
    dl_row_top_p(z, scratch, 0.45f, 4);
    ck_assert(z[1] > -INFINITY && z[0] == -INFINITY && z[2] == -INFINITY && z[3] == -INFINITY);
    // 0.9: 0.5 + 0.3 + 0.15 = 0.95 crosses at the 0.15; the 0.05 goes
    set_logprobs(z, p, 4);
    dl_row_top_p(z, scratch, 0.9f, 4);
    ck_assert(z[0] == -INFINITY && z[1] > -INFINITY && z[2] > -INFINITY && z[3] > -INFINITY);
    // a running sum exactly at top_p does not exceed it: 0.25 + 0.25 = 0.5 keeps the third
    float e[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    dl_row_top_p(e, scratch, 0.5f, 4);
    ck_assert(e[0] == 0.0f && e[1] == 0.0f && e[2] == 0.0f && e[3] == -INFINITY);
    float e2[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    dl_row_top_p_naive(e2, scratch, 0.5f, 4);
    ck_assert(memcmp(e, e2, sizeof e) == 0);
    // equal values are ordered by id: 0.25 each, 0.3 keeps ids 0 and 1 only
    float t[4] = {1.0f, 1.0f, 1.0f, 1.0f};
    dl_row_top_p(t, scratch, 0.3f, 4);
    ck_assert(t[0] == 1.0f && t[1] == 1.0f && t[2] == -INFINITY && t[3] == -INFINITY);
}
END_TEST

START_TEST(test_top_k_crafted) {
    float s[8];
    float z[5];
    const float row[5] = {3, 1, 3, 2, 2};
    memcpy(z, row, sizeof z);
    dl_row_top_k(z, s, 2, 5);   // k-th largest is 3: both 3s stay
    ck_assert(z[0] == 3 && z[2] == 3 && z[1] == -INFINITY && z[3] == -INFINITY && z[4] == -INFINITY);
    memcpy(z, row, sizeof z);
    dl_row_top_k(z, s, 3, 5);   // 3rd largest is 2: ties at 2 all stay
    ck_assert(z[0] == 3 && z[2] == 3 && z[3] == 2 && z[4] == 2 && z[1] == -INFINITY);
    memcpy(z, row, sizeof z);
    dl_row_top_k(z, s, 1, 5);
    ck_assert(z[0] == 3 && z[2] == 3 && z[3] == -INFINITY);
    memcpy(z, row, sizeof z);
    dl_row_top_k(z, s, 5, 5);
    ck_assert(memcmp(z, row, sizeof z) == 0);
    dl_row_top_k(z, s, 0, 5);
    ck_assert(memcmp(z, row, sizeof z) == 0);
}
END_TEST

/* Deterministic test rows: gaussian-ish values at a scale, some quantized into ties, some -inf. */
static void random_row(float *z, int32_t n, float scale, int quantize, int n_inf, dl_rng *r) {
    for (int32_t v = 0; v < n; v++) {
        double g = 0.0;
        for (int i = 0; i < 4; i++)
            g += dl_rng_uniform(r) - 0.5;
        float x = (float)(g * scale);
        z[v] = quantize ? roundf(x) : x;
    }
    for (int i = 0; i < n_inf && n > 0; i++)
        z[dl_rng_next(r) % (uint64_t)n] = -INFINITY;
}

START_TEST(test_top_p_fast_matches_naive) {
    const int32_t sizes[] = {1, 2, 7, 100, 5000, 60000};
    const float scales[] = {0.1f, 1.0f, 5.0f, 30.0f};
    const float tops[] = {0.05f, 0.5f, 0.9f, 0.99f, 0.9999f};
    int32_t nmax = 60000;
    float *a = malloc(sizeof(float) * nmax), *b = malloc(sizeof(float) * nmax);
    dl_ranked *scratch = malloc(sizeof(dl_ranked) * nmax);
    ck_assert(a && b && scratch);
    dl_rng r;
    dl_rng_seed(&r, 3);
    int cases = 0, dropped_some = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (size_t j = 0; j < sizeof scales / sizeof *scales; j++)
            for (size_t k = 0; k < sizeof tops / sizeof *tops; k++)
                for (int q = 0; q < 2; q++) {
                    int32_t n = sizes[i];
                    if (n > 5000 && (k % 2 || q))
                        continue;   // keep the big rows few
                    random_row(a, n, scales[j], q, n / 10, &r);
                    memcpy(b, a, sizeof(float) * (size_t)n);
                    dl_row_top_p(a, scratch, tops[k], n);
                    dl_row_top_p_naive(b, scratch, tops[k], n);
                    ck_assert_msg(memcmp(a, b, sizeof(float) * (size_t)n) == 0,
                                  "n %d scale %g top_p %g quantized %d", n, scales[j], tops[k], q);
                    int32_t kept = 0;
                    for (int32_t v = 0; v < n; v++)
                        kept += a[v] > -INFINITY;
                    ck_assert(kept >= 1);
                    dropped_some += kept < n - n / 10;
                    cases++;
                }
    ck_assert(cases > 50 && dropped_some > 10);
    free(a);
    free(b);
    free(scratch);
}
END_TEST

START_TEST(test_top_k_fast_matches_naive) {
    const int32_t sizes[] = {1, 2, 3, 10, 257, 10000};
    const int32_t ks[] = {1, 2, 3, 5, 40, 9999};
    float a[10000], b[10000], s[10000];
    dl_rng r;
    dl_rng_seed(&r, 4);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (size_t j = 0; j < sizeof ks / sizeof *ks; j++)
            for (int q = 0; q < 2; q++) {
                int32_t n = sizes[i];
                random_row(a, n, 3.0f, q, n / 3, &r);
                memcpy(b, a, sizeof(float) * (size_t)n);
                dl_row_top_k(a, s, ks[j], n);
                dl_row_top_k_naive(b, s, ks[j], n);
                ck_assert_msg(memcmp(a, b, sizeof(float) * (size_t)n) == 0, "n %d k %d q %d", n,
                              ks[j], q);
                if (ks[j] < n) {
                    // at least k survive unless the row ran out of finite entries
                    int32_t kept = 0, finite = 0;
                    for (int32_t v = 0; v < n; v++) {
                        kept += a[v] > -INFINITY;
                        finite += s[v] > -INFINITY;
                    }
                    ck_assert(kept >= (ks[j] < finite ? ks[j] : finite));
                }
            }
}
END_TEST

START_TEST(test_confidences) {
    const double p[4] = {0.1, 0.2, 0.3, 0.4};
    float x[5];
    set_logprobs(x, p, 4);
    x[4] = -INFINITY;
    ck_assert(fabs(dl_row_softmax_at(x, 2, 5) - 0.3) < 1e-7);
    ck_assert(dl_row_softmax_at(x, 4, 5) == 0.0);
    ck_assert(fabs(dl_row_top2_margin(x, 5) - 0.1) < 1e-7);
    double h = 0.0;
    for (int v = 0; v < 4; v++)
        h += p[v] * log(p[v] + 1e-10);
    ck_assert(fabs(dl_row_neg_entropy(x, 5) - h) < 1e-7);

    float flat[4] = {2, 2, 2, 2};
    ck_assert(fabs(dl_row_neg_entropy(flat, 4) - log(0.25 + 1e-10)) < 1e-12);
    ck_assert(dl_row_top2_margin(flat, 4) == 0.0);
    float one[3] = {-INFINITY, 5, -INFINITY};
    ck_assert(fabs(dl_row_softmax_at(one, 1, 3) - 1.0) < 1e-15);
    ck_assert(fabs(dl_row_top2_margin(one, 3) - 1.0) < 1e-15);
    ck_assert(fabs(dl_row_neg_entropy(one, 3)) < 1e-9);
    // more certain rows have larger negative entropy
    ck_assert(dl_row_neg_entropy(one, 3) > dl_row_neg_entropy(x, 5));
    ck_assert(dl_row_neg_entropy(x, 5) > dl_row_neg_entropy(flat, 4));
    float none[2] = {-INFINITY, -INFINITY};
    ck_assert(dl_row_softmax_at(none, 0, 2) == 0.0 && dl_row_top2_margin(none, 2) == 0.0 &&
              dl_row_neg_entropy(none, 2) == 0.0);
    // large logits do not overflow
    float big[2] = {1000.0f, 999.0f};
    ck_assert(fabs(dl_row_softmax_at(big, 0, 2) - 1.0 / (1.0 + exp(-1.0))) < 1e-12);
}
END_TEST

static Suite *sample_suite(void) {
    Suite *s = suite_create("sample");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_rng_golden);
    tcase_add_test(tc, test_uniform_open_interval);
    tcase_add_test(tc, test_clean_and_temperature);
    tcase_add_test(tc, test_argmax_ties_lowest);
    tcase_add_test(tc, test_gumbel_frequencies);
    tcase_add_test(tc, test_gumbel_stream_and_dropped);
    tcase_add_test(tc, test_top_p_crafted);
    tcase_add_test(tc, test_top_k_crafted);
    tcase_add_test(tc, test_top_p_fast_matches_naive);
    tcase_add_test(tc, test_top_k_fast_matches_naive);
    tcase_add_test(tc, test_confidences);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return dl_run_suite(sample_suite());
}

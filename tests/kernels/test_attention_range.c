/* test_attention_range.c - attention (and so its vectorized softmax and exp) against the
 * double-precision twin when scores span the whole float exponent range: large and
 * tiny probabilities, underflow to zero (score gaps past 87 at the largest scale), rows
 * dominated by one key, odd lengths. Scores stay below ~100 so their own f32 rounding
 * stays inside the tolerance. */
#include <math.h>
#include <stdlib.h>

#include "../check_compat.h"
#include "kernels/kernels.h"

static uint64_t st = 99;
static float frand(void) {
    st = st * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(st >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

START_TEST(test_wide_scores) {
    static const float scales[] = { 0.01f, 1.0f, 3.0f, 4.5f };
    static const int lens[] = { 1, 15, 16, 17, 33, 100 };
    for (int si = 0; si < 4; si++)
        for (int li = 0; li < 6; li++) {
            int n = lens[li], hd = 16, nh = 2;
            size_t nq = (size_t)n * nh * hd;
            float *q = malloc(nq * 4), *k = malloc(nq * 4), *v = malloc(nq * 4);
            float *o1 = malloc(nq * 4), *o2 = malloc(nq * 4), *sc = malloc((size_t)n * n * 4);
            for (size_t i = 0; i < nq; i++) {
                q[i] = frand() * scales[si];
                k[i] = frand() * scales[si];
                v[i] = frand();
            }
            dl_attention(o1, sc, q, k, v, n, n, nh, nh, hd);
            dl_attention_ref(o2, q, k, v, n, n, nh, nh, hd);
            for (size_t i = 0; i < nq; i++)
                ck_assert_msg(fabsf(o1[i] - o2[i]) <= 2e-6f + 1e-5f * fabsf(o2[i]),
                              "scale %g n %d: out[%zu] = %.9g, reference %.9g", (double)scales[si],
                              n, i, (double)o1[i], (double)o2[i]);
            free(q); free(k); free(v); free(o1); free(o2); free(sc);
        }
}
END_TEST

int main(void) {
    Suite *s = suite_create("attention_range");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_wide_scores);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}

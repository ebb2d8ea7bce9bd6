/* test_kernels.c - every fast kernel against its naive twin on odd shapes, and the
 * element conversions for exactness over all 65536 half-precision values. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../check_compat.h"
#include "core/pool.h"
#include "kernels/kernels.h"

/* --- helpers */

static uint64_t rng_state = 42;
static float frand(void) {   /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}
static float *rand_buf(size_t n, float scale) {
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = frand() * scale;
    return p;
}

/* max |a-b| / (atol + rtol*|b|) over n values must stay <= 1 */
static void assert_close(const float *a, const float *b, size_t n, float rtol, float atol,
                         const char *what) {
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= atol + rtol * fabsf(b[i])))
            ck_abort_msg("%s: element %zu: %.9g vs reference %.9g (|d| = %.3g)", what, i,
                         (double)a[i], (double)b[i], (double)d);
    }
}

static const int k_dims[] = { 1, 3, 17, 33, 65, 130 };
#define N_DIMS ((int)(sizeof k_dims / sizeof k_dims[0]))

/* --- rmsnorm, silu */

START_TEST(test_rmsnorm) {
    for (int a = 0; a < N_DIMS; a++)
        for (int c = 0; c < N_DIMS; c++) {
            int N = k_dims[a], C = k_dims[c];
            float *x = rand_buf((size_t)N * C, 3.0f), *w = rand_buf((size_t)C, 1.0f);
            float *o1 = malloc((size_t)N * C * 4), *o2 = malloc((size_t)N * C * 4);
            dl_rmsnorm(o1, x, w, 1e-5f, N, C);
            dl_rmsnorm_ref(o2, x, w, 1e-5f, N, C);
            assert_close(o1, o2, (size_t)N * C, 1e-6f, 1e-7f, "rmsnorm");
            /* the definition itself, on one row: mean square of the output / w^2 is ~1 */
            double ss = 0;
            for (int i = 0; i < C; i++)
                ss += (double)(o2[i] / w[i]) * (o2[i] / w[i]);
            double msx = 0;
            for (int i = 0; i < C; i++)
                msx += (double)x[i] * x[i];
            msx /= C;
            ck_assert_double_eq_tol(ss / C, msx / (msx + 1e-5), 1e-4);
            dl_rmsnorm(x, x, w, 1e-5f, N, C);   /* in place */
            ck_assert_mem_eq(x, o1, (size_t)N * C * 4);
            free(x), free(w), free(o1), free(o2);
        }
}
END_TEST

START_TEST(test_silu_mul) {
    size_t n = 1000;
    float *g = rand_buf(n, 12.0f), *u = rand_buf(n, 2.0f);
    float *o1 = malloc(n * 4), *o2 = malloc(n * 4);
    dl_silu_mul(o1, g, u, n);
    dl_silu_mul_ref(o2, g, u, n);
    assert_close(o1, o2, n, 2e-6f, 1e-7f, "silu_mul");
    /* fixed points of silu: silu(0) = 0, silu(large) ~ identity, silu(-large) ~ 0 */
    float gg[3] = { 0.0f, 30.0f, -30.0f }, uu[3] = { 1, 1, 1 }, oo[3];
    dl_silu_mul(oo, gg, uu, 3);
    ck_assert_float_eq(oo[0], 0.0f);
    ck_assert_float_eq_tol(oo[1], 30.0f, 1e-5f);
    ck_assert_float_eq_tol(oo[2], 0.0f, 1e-10f);
    /* far out on both sides, a whole vector's worth: no overflow, no NaN */
    float big[48], ones[48], ob[48], rb[48];
    for (int i = 0; i < 48; i++) {
        big[i] = (float)(i - 24) * 4.5f;   /* -108 .. 103.5 */
        ones[i] = 1.0f;
    }
    dl_silu_mul(ob, big, ones, 48);
    dl_silu_mul_ref(rb, big, ones, 48);
    assert_close(ob, rb, 48, 2e-6f, 1e-30f, "silu_mul far out");
    free(g), free(u), free(o1), free(o2);
}
END_TEST

/* --- matmul */

static void check_matmul(int N, int K, int M, int with_bias, int accumulate, int portable) {
    int ldo = M + (M % 3);   /* exercise a leading dimension larger than M */
    float *x = rand_buf((size_t)N * K, 1.0f), *w = rand_buf((size_t)M * K, 1.0f);
    float *b = with_bias ? rand_buf((size_t)M, 1.0f) : NULL;
    float *o1 = rand_buf((size_t)N * ldo, 1.0f);
    float *o2 = malloc((size_t)N * ldo * 4);
    memcpy(o2, o1, (size_t)N * ldo * 4);
    if (portable) {
        dl_matmul_portable(o1, x, w, accumulate, N, K, M, ldo);
        if (b)
            for (int n = 0; n < N; n++)
                for (int m = 0; m < M; m++)
                    o1[(size_t)n * ldo + m] += b[m];
    } else {
        dl_matmul(o1, x, w, b, accumulate, N, K, M, ldo);
    }
    dl_matmul_ref(o2, x, w, b, accumulate, N, K, M, ldo);
    /* a K-term dot of values in [-1,1] has error ~ K * eps * sum|x w|; scale atol by K */
    for (int n = 0; n < N; n++) {
        assert_close(o1 + (size_t)n * ldo, o2 + (size_t)n * ldo, (size_t)M, 1e-5f,
                     2e-6f * (float)K, "matmul");
        /* columns past M belong to the caller and must be untouched */
        for (int m = M; m < ldo; m++)
            ck_assert_float_eq(o1[(size_t)n * ldo + m], o2[(size_t)n * ldo + m]);
    }
    free(x), free(w), free(b), free(o1), free(o2);
}

START_TEST(test_matmul) {
    for (int a = 0; a < N_DIMS; a++)
        for (int c = 0; c < N_DIMS; c++)
            for (int d = 0; d < N_DIMS; d++) {
                int N = k_dims[a], K = k_dims[c], M = k_dims[d];
                check_matmul(N, K, M, (a + c + d) % 2, (a + d) % 2 == 0, 0);
                check_matmul(N, K, M, 0, (a + c) % 2, 1);
            }
}
END_TEST

START_TEST(test_matmul_known) {
    /* [1 2; 3 4] . [[1 0],[0 1],[1 1]]^T + [10 20 30] = [[11 22 33],[13 24 37]] */
    float x[4] = { 1, 2, 3, 4 }, w[6] = { 1, 0, 0, 1, 1, 1 }, b[3] = { 10, 20, 30 }, o[6];
    dl_matmul(o, x, w, b, 0, 2, 2, 3, 3);
    float want[6] = { 11, 22, 33, 13, 24, 37 };
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(o[i], want[i]);
    dl_matmul(o, x, w, NULL, 1, 2, 2, 3, 3);   /* accumulate on top */
    float want2[6] = { 12, 24, 36, 16, 28, 44 };
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(o[i], want2[i]);
}
END_TEST

/* --- rope */

START_TEST(test_rope) {
    const int hds[] = { 2, 8, 16, 64 };
    const int pairings[] = { DL_ROPE_PAIR_ADJACENT, DL_ROPE_PAIR_HALF, DL_ROPE_PAIR_HALF_IN };
    for (int ip = 0; ip < 3; ip++)
        for (size_t ih = 0; ih < sizeof hds / sizeof hds[0]; ih++)
            for (int a = 0; a < 4; a++) {
                int T = k_dims[a] + 1, H = 3, hd = hds[ih];
                int32_t *pos = malloc((size_t)T * 4);
                for (int t = 0; t < T; t++)
                    pos[t] = t * 37 % 301;   /* unordered positions up to 300 */
                float *x1 = rand_buf((size_t)T * H * hd, 2.0f);
                float *x2 = malloc((size_t)T * H * hd * 4);
                memcpy(x2, x1, (size_t)T * H * hd * 4);
                float *cs = malloc((size_t)T * hd * 4);
                dl_rope_table(cs, pos, 500000.0f, T, hd);
                dl_rope(x1, cs, pairings[ip], T, H, hd);
                dl_rope_ref(x2, pos, 500000.0f, pairings[ip], T, H, hd);
                assert_close(x1, x2, (size_t)T * H * hd, 1e-5f, 1e-6f, "rope");
                free(pos), free(x1), free(x2), free(cs);
            }
}
END_TEST

START_TEST(test_rope_layouts) {
    /* hd = 4, theta = 10000, pos = 1: pair 0 turns by 1 rad, pair 1 by 0.01 rad */
    int32_t pos = 1;
    float adj[4] = { 1, 0, 1, 0 }, half[4] = { 1, 1, 0, 0 };
    dl_rope_ref(adj, &pos, 10000.0f, DL_ROPE_PAIR_ADJACENT, 1, 1, 4);
    dl_rope_ref(half, &pos, 10000.0f, DL_ROPE_PAIR_HALF, 1, 1, 4);
    ck_assert_float_eq_tol(adj[0], cosf(1.0f), 1e-6f);
    ck_assert_float_eq_tol(adj[1], sinf(1.0f), 1e-6f);
    ck_assert_float_eq_tol(adj[2], cosf(0.01f), 1e-6f);
    ck_assert_float_eq_tol(adj[3], sinf(0.01f), 1e-6f);
    /* the half layout holds pair i at (i, i+2): the same rotation, permuted */
    ck_assert_float_eq_tol(half[0], adj[0], 1e-7f);
    ck_assert_float_eq_tol(half[2], adj[1], 1e-7f);
    ck_assert_float_eq_tol(half[1], adj[2], 1e-7f);
    ck_assert_float_eq_tol(half[3], adj[3], 1e-7f);
    /* HALF_IN rotates the half layout's pairs and writes them adjacent: from the half
     * input, exactly the adjacent layout's output (the same double products) */
    pos = 1;
    float half_in[4] = { 1, 1, 0, 0 };
    dl_rope_ref(half_in, &pos, 10000.0f, DL_ROPE_PAIR_HALF_IN, 1, 1, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(half_in[i], adj[i]);
    /* position 0 is the identity */
    pos = 0;
    float z[4] = { 1, 2, 3, 4 };
    dl_rope_ref(z, &pos, 10000.0f, DL_ROPE_PAIR_HALF, 1, 1, 4);
    ck_assert_float_eq(z[0], 1.0f);
    ck_assert_float_eq(z[3], 4.0f);
}
END_TEST

/* --- attention */

static void check_attention(int n_q, int n_kv, int n_head, int n_head_kv, int hd, int portable) {
    float *q = rand_buf((size_t)n_q * n_head * hd, 2.0f);
    float *k = rand_buf((size_t)n_kv * n_head_kv * hd, 2.0f);
    float *v = rand_buf((size_t)n_kv * n_head_kv * hd, 1.0f);
    float *o1 = malloc((size_t)n_q * n_head * hd * 4), *o2 = malloc((size_t)n_q * n_head * hd * 4);
    float *sc = malloc((size_t)n_q * n_kv * 4);
    if (portable)
        dl_attention_portable(o1, sc, q, k, v, n_q, n_kv, n_head, n_head_kv, hd);
    else
        dl_attention(o1, sc, q, k, v, n_q, n_kv, n_head, n_head_kv, hd);
    dl_attention_ref(o2, q, k, v, n_q, n_kv, n_head, n_head_kv, hd);
    assert_close(o1, o2, (size_t)n_q * n_head * hd, 1e-5f, 2e-6f, "attention");
    free(q), free(k), free(v), free(o1), free(o2), free(sc);
}

START_TEST(test_attention) {
    const int hds[] = { 8, 16, 64 };
    const int heads[][2] = { { 1, 1 }, { 4, 4 }, { 4, 2 }, { 6, 1 }, { 8, 2 } };
    for (size_t ih = 0; ih < 3; ih++)
        for (size_t hh = 0; hh < 5; hh++)
            for (int a = 0; a < 5; a++) {
                int n = k_dims[a];
                check_attention(n, n, heads[hh][0], heads[hh][1], hds[ih], 0);
                check_attention(n, n, heads[hh][0], heads[hh][1], hds[ih], 1);
                check_attention(n, k_dims[(a + 2) % N_DIMS], heads[hh][0], heads[hh][1], hds[ih], 0);
            }
}
END_TEST

START_TEST(test_attention_known) {
    /* one query, two keys: equal scores average the values; a dominant score picks one */
    float q[2] = { 0, 0 }, k[4] = { 1, 0, 0, 1 }, v[4] = { 2, 4, 6, 8 }, o[2], sc[2];
    dl_attention(o, sc, q, k, v, 1, 2, 1, 1, 2);
    ck_assert_float_eq_tol(o[0], 4.0f, 1e-6f);
    ck_assert_float_eq_tol(o[1], 6.0f, 1e-6f);
    float q2[2] = { 200, 0 };   /* score 200/sqrt(2) vs 0: softmax must not overflow */
    dl_attention(o, sc, q2, k, v, 1, 2, 1, 1, 2);
    ck_assert_float_eq_tol(o[0], 2.0f, 1e-5f);
    ck_assert_float_eq_tol(o[1], 4.0f, 1e-5f);
}
END_TEST

/* --- conversions */

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

START_TEST(test_f16_all) {
    uint16_t *h = malloc(65536 * 2);
    float *a = malloc(65536 * 4), *b = malloc(65536 * 4);
    for (int i = 0; i < 65536; i++)
        h[i] = (uint16_t)i;
    dl_f16_to_f32_row(a, h, 65536);
    dl_f16_to_f32_row_ref(b, h, 65536);
    for (int i = 0; i < 65536; i++) {
        ck_assert_msg(bits(a[i]) == bits(b[i]), "f16 %04x: %08x vs reference %08x", i,
                      bits(a[i]), bits(b[i]));
        /* and the conversion back is exact for every non-NaN half */
        if (!isnan(b[i]))
            ck_assert_uint_eq(dl_f32_to_f16(b[i]), (uint16_t)i);
        else
            ck_assert(isnan(dl_f16_to_f32(dl_f32_to_f16(b[i]))));
    }
    /* odd lengths reach the scalar tail of the vector path */
    for (size_t n = 0; n < 20; n++) {
        dl_f16_to_f32_row(a, h + 0x3c00 - n, n);
        for (size_t i = 0; i < n; i++)
            ck_assert_uint_eq(bits(a[i]), bits(b[0x3c00 - n + i]));
    }
    /* known values: 1, -2, max, min subnormal, min normal, inf, quiet NaN from sNaN */
    ck_assert_uint_eq(bits(b[0x3c00]), bits(1.0f));
    ck_assert_uint_eq(bits(b[0xc000]), bits(-2.0f));
    ck_assert_uint_eq(bits(b[0x7bff]), bits(65504.0f));
    ck_assert_uint_eq(bits(b[0x0001]), bits(ldexpf(1.0f, -24)));
    ck_assert_uint_eq(bits(b[0x8001]), bits(-ldexpf(1.0f, -24)));
    ck_assert_uint_eq(bits(b[0x03ff]), bits(ldexpf(1023.0f, -24)));
    ck_assert_uint_eq(bits(b[0x0400]), bits(ldexpf(1.0f, -14)));
    ck_assert_uint_eq(bits(b[0x7c00]), bits(INFINITY));
    ck_assert_uint_eq(bits(b[0xfc00]), bits(-INFINITY));
    ck_assert_uint_eq(bits(b[0x7c01]), 0x7fc02000u);
    ck_assert_uint_eq(bits(b[0x8000]), 0x80000000u);
    free(h), free(a), free(b);
}
END_TEST

START_TEST(test_bf16_all) {
    uint16_t *h = malloc(65536 * 2);
    float *a = malloc(65536 * 4), *b = malloc(65536 * 4);
    for (int i = 0; i < 65536; i++)
        h[i] = (uint16_t)i;
    dl_bf16_to_f32_row(a, h, 65536);
    dl_bf16_to_f32_row_ref(b, h, 65536);
    for (int i = 0; i < 65536; i++) {
        ck_assert_uint_eq(bits(a[i]), (uint32_t)i << 16);
        ck_assert_uint_eq(bits(b[i]), (uint32_t)i << 16);
        if (!isnan(b[i]))
            ck_assert_uint_eq(dl_f32_to_bf16(b[i]), (uint16_t)i);
    }
    for (size_t n = 0; n < 20; n++) {
        dl_bf16_to_f32_row(a, h + 0x3f80, n);
        for (size_t i = 0; i < n; i++)
            ck_assert_uint_eq(bits(a[i]), (uint32_t)(0x3f80 + i) << 16);
    }
    free(h), free(a), free(b);
}
END_TEST

START_TEST(test_round_to_half) {
    /* ties to even, overflow to inf, underflow through the subnormals */
    ck_assert_uint_eq(dl_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3c00);      /* tie, even down */
    ck_assert_uint_eq(dl_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)), 0x3c02);  /* tie, even up */
    ck_assert_uint_eq(dl_f32_to_f16(1.0f + ldexpf(1.0f, -11) + ldexpf(1.0f, -20)), 0x3c01);
    ck_assert_uint_eq(dl_f32_to_f16(65519.0f), 0x7bff);
    ck_assert_uint_eq(dl_f32_to_f16(65520.0f), 0x7c00);
    ck_assert_uint_eq(dl_f32_to_f16(-1e10f), 0xfc00);
    ck_assert_uint_eq(dl_f32_to_f16(ldexpf(1.0f, -25)), 0x0000);             /* tie to 0 */
    ck_assert_uint_eq(dl_f32_to_f16(ldexpf(1.5f, -25)), 0x0001);
    ck_assert_uint_eq(dl_f32_to_f16(ldexpf(3.0f, -25)), 0x0002);             /* 1.5 ulp: even */
    ck_assert_uint_eq(dl_f32_to_f16(ldexpf(1023.5f, -24)), 0x0400);          /* to min normal */
    ck_assert_uint_eq(dl_f32_to_f16(-0.0f), 0x8000);
    ck_assert(isnan(dl_f16_to_f32(dl_f32_to_f16(NAN))));
    ck_assert_uint_eq(dl_f32_to_bf16(1.0f + ldexpf(1.0f, -8)), 0x3f80);      /* tie, even */
    ck_assert_uint_eq(dl_f32_to_bf16(1.0f + 3 * ldexpf(1.0f, -8)), 0x3f82);
    ck_assert(isnan(dl_bf16_to_f32(dl_f32_to_bf16(NAN))));
    /* against a double-precision model of round-to-nearest-even on random floats */
    for (int i = 0; i < 100000; i++) {
        float f = frand() * ldexpf(1.0f, (i % 40) - 26);
        float r = dl_f16_to_f32(dl_f32_to_f16(f));
        uint16_t h = dl_f32_to_f16(f);
        float lo = dl_f16_to_f32((uint16_t)(h - 1)), hi = dl_f16_to_f32((uint16_t)(h + 1));
        if ((h & 0x7fff) == 0 || (h & 0x7fff) >= 0x7bff)
            continue;
        double e = fabs((double)r - f);
        ck_assert_msg(e <= fabs((double)lo - f) && e <= fabs((double)hi - f),
                      "%.9g rounds to %.9g, not nearest", (double)f, (double)r);
    }
}
END_TEST

/* --- parallel for: threads started for one call (dl_pool_for without a pool) */

typedef struct par_probe {
    int hits[1000];
    int max_worker;
    int n_threads;
} par_probe;

static void probe_task(void *ctx, int task, int worker) {
    par_probe *p = ctx;
    __atomic_fetch_add(&p->hits[task], 1, __ATOMIC_RELAXED);
    if (worker < 0 || worker >= p->n_threads)
        __atomic_store_n(&p->max_worker, 1000000, __ATOMIC_RELAXED);
}

START_TEST(test_parallel_for) {
    const int threads[] = { 1, 2, 3, 8 };
    const int tasks[] = { 0, 1, 2, 7, 1000 };
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 5; b++) {
            par_probe p;
            memset(&p, 0, sizeof p);
            p.n_threads = threads[a];
            dl_pool_for(NULL, threads[a], tasks[b], probe_task, &p);
            for (int i = 0; i < 1000; i++)
                ck_assert_int_eq(p.hits[i], i < tasks[b] ? 1 : 0);
            ck_assert_int_eq(p.max_worker, 0);
        }
}
END_TEST

static Suite *kernels_suite(void) {
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_rmsnorm);
    tcase_add_test(tc, test_silu_mul);
    tcase_add_test(tc, test_matmul);
    tcase_add_test(tc, test_matmul_known);
    tcase_add_test(tc, test_rope);
    tcase_add_test(tc, test_rope_layouts);
    tcase_add_test(tc, test_attention);
    tcase_add_test(tc, test_attention_known);
    tcase_add_test(tc, test_f16_all);
    tcase_add_test(tc, test_bf16_all);
    tcase_add_test(tc, test_round_to_half);
    tcase_add_test(tc, test_parallel_for);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return dl_run_suite(kernels_suite());
}

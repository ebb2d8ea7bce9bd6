/* test_gemm_bf16.c - inference's bf16 products (kernels/gemm_bf16.h dl_bgemm_cols,
 * model/model_weights.h dl_weight_matmul_bf16) over F32, F16 and BF16 weights.
 *
 * The reference is independent of the kernel: each operand is rounded to bf16 by frexp
 * and nearbyint (8 significant bits, ties to even), and the products are summed in
 * double, which is exact to far below f32's rounding. An f32 sum of K products, in any
 * order, errs from the exact sum by at most (K - 1) u sum |a_k b_k| (u = 2^-24, the unit
 * roundoff; each partial sum is at most sum |a_k b_k|), plus the accumulated value's
 * and the bias's own roundings: the tolerance below is (K + 2) u (sum |a_k b_k| + |init|
 * + |bias|). The tests check that this bound is tight enough to see an operand that was
 * not rounded to bf16, so it can fail.
 *
 *   test_gemm_bf16        every path this CPU has but AMX, the thread and row checks
 *   test_gemm_bf16 amx    the AMX-BF16 path the same way; exit 77 where it is absent */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../check_compat.h"
#include "core/pool.h"
#include "kernels/gemm_bf16.h"
#include "kernels/types.h"
#include "model/model_weights.h"

enum { N = 45, K = 301, M = 150 };   /* N: 32 + a partial block; K odd; M: 2 tasks + part */

static const uint32_t wtypes[3] = { DL_TYPE_F32, DL_TYPE_F16, DL_TYPE_BF16 };

static double bf16_of(double v) {
    if (v == 0.0)
        return 0.0;
    int e;
    double m = frexp(v, &e);              /* v = m 2^e, 0.5 <= |m| < 1 */
    return ldexp(nearbyint(m * 256.0), e - 8);
}

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

/* The test problem: f32 activations, weights stored as wtype (and as the f32 values
 * they hold), an accumulated init and a bias. */
typedef struct problem {
    uint32_t wtype;
    float *x;        /* [N][K] */
    void *w;         /* [M][K] of wtype */
    float *wv;       /* [M][K] the stored weights' values */
    float *init;     /* [N][M] */
    float *bias;     /* [M] */
} problem;

static problem make(uint32_t wtype, uint64_t seed) {
    problem p = { wtype, malloc(sizeof(float) * N * K), NULL, malloc(sizeof(float) * M * K),
                  malloc(sizeof(float) * N * M), malloc(sizeof(float) * M) };
    const dl_type_info *ti = dl_type_get(wtype);
    p.w = malloc((size_t)ti->type_size * M * K);
    uint64_t s = seed;
    for (int i = 0; i < N * K; i++)
        p.x[i] = frand(&s) * 2.0f;
    for (int i = 0; i < M * K; i++)
        p.wv[i] = frand(&s) * 0.25f;
    p.x[3] = 1.0f + 0x1p-8f;           /* ties: to even, one down ... */
    p.wv[5] = 0.5f + 0x3p-9f;          /* ... and one up */
    ti->from_f32(p.w, p.wv, (int64_t)M * K);
    ti->to_f32(p.wv, p.w, (int64_t)M * K);   /* what is stored (exact widening) */
    for (int i = 0; i < N * M; i++)
        p.init[i] = frand(&s);
    for (int i = 0; i < M; i++)
        p.bias[i] = frand(&s) * 0.5f;
    return p;
}

static void unmake(problem *p) {
    free(p->x);
    free(p->w);
    free(p->wv);
    free(p->init);
    free(p->bias);
}

/* ref = init (if acc) + sum bf16(x) bf16(w) + bias in double; mag = the tolerance's
 * magnitude; round = 0 sums the unrounded operands instead (the sensitivity check). */
static void reference(const problem *p, int acc, int round, double *ref, double *mag) {
    for (int n = 0; n < N; n++)
        for (int m = 0; m < M; m++) {
            double s = acc ? p->init[n * M + m] : 0.0, a = fabs(s) + fabs(p->bias[m]);
            for (int k = 0; k < K; k++) {
                double xv = p->x[n * K + k], wv = p->wv[m * K + k];
                double t = round ? bf16_of(xv) * bf16_of(wv) : xv * wv;
                s += t;
                a += fabs(t);
            }
            ref[n * M + m] = s + p->bias[m];
            if (mag)
                mag[n * M + m] = a;
        }
}

#define U 0x1p-24

/* The largest error in units of the tolerance (1 = at the bound). */
static double worst(const float *out, const double *ref, const double *mag) {
    double w = 0.0;
    for (int i = 0; i < N * M; i++) {
        double e = fabs((double)out[i] - ref[i]) / ((K + 2) * U * mag[i] + 0x1p-120);
        w = e > w ? e : w;
    }
    return w;
}

/* The product on one path through the kernel's own entry points. */
static void run_path(int path, const problem *p, int acc, float *out) {
    int lda = dl_bf16_act_ld(K), rows = dl_bf16_act_rows(N);
    uint32_t *ap = calloc((size_t)rows * lda, sizeof(uint32_t));
    dl_bf16_pack_rows(path, ap, lda, p->x, K, N, K);
    memcpy(out, p->init, sizeof(float) * N * M);
    for (int m0 = 0; m0 < M; m0 += DL_BF16_COLS)
        dl_bgemm_cols(path, out, M, ap, lda, N, p->w, p->wtype, K, m0,
                      M - m0 < DL_BF16_COLS ? M - m0 : DL_BF16_COLS, p->bias, acc);
    free(ap);
}

/* path against the reference for every weight type, with and without accumulation,
 * and that the tolerance would see unrounded operands */
static void check_path(int path) {
    float *out = malloc(sizeof(float) * N * M);
    double *ref = malloc(sizeof(double) * N * M), *mag = malloc(sizeof(double) * N * M);
    double *unr = malloc(sizeof(double) * N * M);
    for (int t = 0; t < 3; t++) {
        problem p = make(wtypes[t], 11 + (uint64_t)t);
        for (int acc = 0; acc < 2; acc++) {
            reference(&p, acc, 1, ref, mag);
            run_path(path, &p, acc, out);
            double e = worst(out, ref, mag);
            ck_assert_msg(e <= 1.0, "%s, %s weights, acc %d: error %.3g x the bound",
                          dl_bf16_path_name(path), dl_type_get(wtypes[t])->name, acc, e);
            /* the unrounded product (not what the path should compute) is far outside */
            reference(&p, acc, 0, unr, NULL);
            double eu = worst(out, unr, mag);
            ck_assert_msg(eu > 4.0, "the bound cannot tell bf16 from f32 operands (%.3g)", eu);
        }
        /* not accumulating starts the sums at zero without reading out: the same bits as
         * accumulating onto zeros, whatever out held */
        float *onto0 = malloc(sizeof(float) * N * M);
        memset(p.init, 0, sizeof(float) * N * M);
        run_path(path, &p, 1, onto0);
        for (int i = 0; i < N * M; i++)
            p.init[i] = (float)NAN;
        run_path(path, &p, 0, out);
        ck_assert_msg(memcmp(out, onto0, sizeof(float) * N * M) == 0,
                      "%s, %s weights: not accumulating differs from accumulating onto zeros",
                      dl_bf16_path_name(path), dl_type_get(wtypes[t])->name);
        free(onto0);
        unmake(&p);
    }
    free(out);
    free(ref);
    free(mag);
    free(unr);
}

/* ties and exactness: K = 2 products with exact bf16 results */
static void check_ties(int path) {
    const float x[2] = { 1.0f, 1.0f + 0x1p-8f };           /* x[1] ties down to 1 */
    const float wf[2 * 2] = { 1.0f + 0x1p-8f, 0.0f,         /* ties down: 1 */
                              1.0f + 0x3p-8f, 0.0f };       /* ties up: 1 + 2^-6 */
    uint32_t ap[32 * 16] = { 0 };   /* [dl_bf16_act_rows(1)][dl_bf16_act_ld(2)] */
    dl_bf16_pack_rows(path, ap, dl_bf16_act_ld(2), x, 2, 1, 2);
    float out[2];
    dl_bgemm_cols(path, out, 2, ap, 16, 1, wf, DL_TYPE_F32, 2, 0, 2, NULL, 0);
    ck_assert_msg(out[0] == 1.0f && out[1] == 1.0f + 0x1p-6f, "%s: ties give %a %a",
                  dl_bf16_path_name(path), (double)out[0], (double)out[1]);
}

/* a fast path against the portable one: both within the bound of the reference, so
 * within twice the bound of each other */
static void check_vs_portable(int path) {
    float *out = malloc(sizeof(float) * N * M), *port = malloc(sizeof(float) * N * M);
    double *ref = malloc(sizeof(double) * N * M), *mag = malloc(sizeof(double) * N * M);
    for (int t = 0; t < 3; t++) {
        problem p = make(wtypes[t], 21 + (uint64_t)t);
        reference(&p, 1, 1, ref, mag);
        run_path(path, &p, 1, out);
        run_path(DL_BF16_PORTABLE, &p, 1, port);
        for (int i = 0; i < N * M; i++)
            ref[i] = port[i];
        double e = worst(out, ref, mag);
        ck_assert_msg(e <= 2.0, "%s vs portable, %s weights: %.3g x the bound",
                      dl_bf16_path_name(path), dl_type_get(wtypes[t])->name, e);
        unmake(&p);
    }
    free(out);
    free(port);
    free(ref);
    free(mag);
}

START_TEST(test_paths_vs_reference) {
    for (int path = DL_BF16_PORTABLE; path <= DL_BF16_AVX512; path++) {
        if (!dl_bf16_available(path)) {
            printf("bf16 path %s: not on this CPU (skipped)\n", dl_bf16_path_name(path));
            continue;
        }
        check_ties(path);
        check_path(path);
        if (path != DL_BF16_PORTABLE)
            check_vs_portable(path);
    }
}
END_TEST

/* dl_weight_matmul_bf16 (the best path, as a context runs it): the same bits on 1, 2
 * and 3 threads, and each row's bits whatever rows come with it (alone, or in a batch
 * that starts elsewhere) */
START_TEST(test_threads_and_rows) {
    float *out[3], *part = malloc(sizeof(float) * N * M);   /* a row range, or all rows */
    for (int t = 0; t < 3; t++) {
        problem p = make(wtypes[t], 31 + (uint64_t)t);
        dl_weight w = { p.w, p.wtype, K, M, NULL };
        ck_assert(dl_weight_bf16(&w, DL_PRECISION_BF16) && !dl_weight_bf16(&w, DL_PRECISION_EXACT));
        size_t cap = dl_weight_bf16_scratch_floats(&w, N);
        float *scratch = malloc(sizeof(float) * cap);
        for (int nt = 1; nt <= 3; nt++) {
            dl_pool *pool;
            dl_err e = { 0 };
            ck_assert_int_eq(dl_pool_create(&pool, nt, &e), 0);
            out[nt - 1] = malloc(sizeof(float) * N * M);
            dl_weight_matmul_bf16(out[nt - 1], p.x, &w, p.bias, 0, N, M, scratch, cap, pool, nt);
            if (nt == 2) {
                /* rows 7 .. 7 + 20 as a batch of their own, and row 40 alone */
                dl_weight_matmul_bf16(part, p.x + 7 * K, &w, p.bias, 0, 20, M, scratch, cap,
                                      pool, nt);
                ck_assert_int_eq(memcmp(part, out[1] + 7 * M, sizeof(float) * 20 * M), 0);
                dl_weight_matmul_bf16(part, p.x + 40 * K, &w, p.bias, 0, 1, M, scratch, cap,
                                      pool, nt);
                ck_assert_int_eq(memcmp(part, out[1] + 40 * M, sizeof(float) * M), 0);
            }
            dl_pool_free(pool);
        }
        ck_assert_int_eq(memcmp(out[0], out[1], sizeof(float) * N * M), 0);
        ck_assert_int_eq(memcmp(out[0], out[2], sizeof(float) * N * M), 0);
        /* over the weight packed ahead (as a bf16 context holds it): the same bits, and
         * the portable packing gives the same words as the path's own */
        const int lda = dl_bf16_act_ld(K), panels = (M + DL_BF16_COLS - 1) / DL_BF16_COLS;
        const size_t words = (size_t)panels * DL_BF16_COLS * (size_t)lda;
        uint32_t *packed = dl_aligned_alloc(sizeof(uint32_t) * words);
        uint32_t *portable = dl_aligned_alloc(sizeof(uint32_t) * words);
        for (int pn = 0; pn < panels; pn++) {
            int c = M - pn * DL_BF16_COLS < DL_BF16_COLS ? M - pn * DL_BF16_COLS : DL_BF16_COLS;
            size_t at = (size_t)pn * DL_BF16_COLS * (size_t)lda;
            dl_bf16_pack_w(dl_bf16_best(), packed + at, lda, p.w, p.wtype, K, pn * DL_BF16_COLS, c);
            dl_bf16_pack_w(DL_BF16_PORTABLE, portable + at, lda, p.w, p.wtype, K,
                           pn * DL_BF16_COLS, c);
        }
        ck_assert_int_eq(memcmp(packed, portable, sizeof(uint32_t) * words), 0);
        dl_weight wp = w;
        wp.panels = packed;
        for (int nt = 1; nt <= 2; nt++) {
            dl_pool *pool;
            dl_err e = { 0 };
            ck_assert_int_eq(dl_pool_create(&pool, nt, &e), 0);
            dl_weight_matmul_bf16(part, p.x, &wp, p.bias, 0, N, M, scratch, cap, pool, nt);
            ck_assert_msg(memcmp(part, out[0], sizeof(float) * N * M) == 0, "%s packed, %d threads",
                          dl_type_get(wtypes[t])->name, nt);
            dl_pool_free(pool);
        }
        dl_aligned_free(packed);
        dl_aligned_free(portable);
        /* and it is the product checked above */
        double *ref = malloc(sizeof(double) * N * M), *mag = malloc(sizeof(double) * N * M);
        reference(&p, 0, 1, ref, mag);
        ck_assert_msg(worst(out[0], ref, mag) <= 1.0, "%s weights through the pool",
                      dl_type_get(wtypes[t])->name);
        free(ref);
        free(mag);
        for (int i = 0; i < 3; i++)
            free(out[i]);
        free(scratch);
        unmake(&p);
    }
    printf("dl_weight_matmul_bf16 ran on %s\n", dl_bf16_path_name(dl_bf16_best()));
    free(part);
}
END_TEST

/* the AMX-BF16 path: the same checks, and its own row-independence (32-row blocks) */
START_TEST(test_amx) {
    check_ties(DL_BF16_AMX);
    check_path(DL_BF16_AMX);
    check_vs_portable(DL_BF16_AMX);
}
END_TEST

int main(int argc, char **argv) {
    const int amx = argc > 1 && !strcmp(argv[1], "amx");
    /* decided before the suite exists, so a skip leaks nothing (valgrind counts it) */
    if (amx && !dl_bf16_available(DL_BF16_AMX)) {
        printf("AMX-BF16: not on this CPU, or Linux refused the tile state: skipped\n");
        return 77;
    }
    Suite *s = suite_create("gemm_bf16");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    if (amx) {
        tcase_add_test(tc, test_amx);
    } else {
        tcase_add_test(tc, test_paths_vs_reference);
        tcase_add_test(tc, test_threads_and_rows);
    }
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}

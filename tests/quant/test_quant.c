/* test_quant.c - the quantized and own-f32 products: every kernel path available on
 * this CPU against the portable one, bit for bit, on odd shapes; the portable path
 * against a double-precision reference within a proven bound; quantize/dequantize
 * error bounds; activation quantization invariants. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check_compat.h"
#include "fmt/ggml_types.h"
#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "kernels/qgemm_impl.h"
#include "kernels/quant.h"

static uint64_t rng_state = 7;
static float frand(void) {   /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}
static float grand(void) {   /* roughly gaussian: sum of 4 uniforms */
    return (frand() + frand() + frand() + frand()) * 0.866f;
}

static const uint32_t k_qtypes[] = { DL_TYPE_Q8_0, DL_TYPE_Q4_0, DL_TYPE_Q4_1, DL_TYPE_Q5_0,
                                     DL_TYPE_Q5_1, DL_TYPE_Q4_K, DL_TYPE_Q5_K, DL_TYPE_Q6_K };
#define N_QTYPES ((int)(sizeof k_qtypes / sizeof k_qtypes[0]))

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* --- quantize / dequantize */

START_TEST(test_roundtrip_error) {
    /* relative RMS error bounds on gaussian data (measured values are ~half of these) */
    static const double bound[] = { 0.008, 0.11, 0.10, 0.055, 0.05, 0.09, 0.045, 0.025 };
    const int n = 256 * 64;
    float *x = xmalloc(n * sizeof(float)), *y = xmalloc(n * sizeof(float));
    uint8_t *q = xmalloc((size_t)n * 2);
    for (int i = 0; i < n; i++)
        x[i] = grand() * (1.0f + (float)((i / 256) % 5));
    for (int t = 0; t < N_QTYPES; t++) {
        char nm[32];
        ck_assert_int_eq(dl_quantize_row(k_qtypes[t], q, x, n), 0);
        dl_dequant_row(k_qtypes[t], y, q, n);
        double e2 = 0, x2 = 0, emax = 0;
        for (int i = 0; i < n; i++) {
            e2 += (double)(x[i] - y[i]) * (x[i] - y[i]);
            x2 += (double)x[i] * x[i];
            emax = fmax(emax, fabs((double)x[i] - y[i]));
        }
        double rel = sqrt(e2 / x2);
        ck_assert_msg(rel <= bound[t], "%s: relative RMS error %.4f above %.4f",
                      dl_type_name(k_qtypes[t], nm, sizeof nm), rel, bound[t]);
        ck_assert_msg(rel > bound[t] / 20, "%s: error %.5f is suspiciously small",
                      dl_type_name(k_qtypes[t], nm, sizeof nm), rel);
    }
    /* an all-zero row stays exactly zero in every format */
    memset(x, 0, 512 * sizeof(float));
    for (int t = 0; t < N_QTYPES; t++) {
        dl_quantize_row(k_qtypes[t], q, x, 512);
        dl_dequant_row(k_qtypes[t], y, q, 512);
        for (int i = 0; i < 512; i++)
            ck_assert(y[i] == 0.0f);
    }
    ck_assert_int_eq(dl_quantize_row(DL_TYPE_F32, q, x, 32), -1);
    free(x);
    free(y);
    free(q);
}
END_TEST

START_TEST(test_qact) {
    float x[96];
    dl_qact a[3];
    for (int i = 0; i < 96; i++)
        x[i] = grand() * 3.0f;
    for (int i = 64; i < 96; i++)
        x[i] = 0.0f;
    uint32_t types[] = { DL_TYPE_Q8_0, DL_TYPE_Q4_1, DL_TYPE_Q6_K };
    for (int t = 0; t < 3; t++) {
        dl_qact_row(a, x, types[t], 96);
        for (int b = 0; b < 3; b++) {
            int s0 = 0, s1 = 0;
            for (int j = 0; j < 32; j++) {
                float v = x[32 * b + j], r = a[b].d * (float)a[b].qs[j];
                ck_assert(fabsf(v - r) <= a[b].d * 0.5001f + 1e-30f);
                ck_assert(a[b].qs[j] >= -127 && a[b].qs[j] <= 127);
                *(j < 16 ? &s0 : &s1) += a[b].qs[j];
            }
            if (types[t] == DL_TYPE_Q8_0)
                ck_assert_int_eq(a[b].zh[0], 128 * (s0 + s1));
            if (types[t] == DL_TYPE_Q6_K) {
                ck_assert_int_eq(a[b].zh[0], 32 * s0);
                ck_assert_int_eq(a[b].zh[1], 32 * s1);
            }
            if (types[t] == DL_TYPE_Q4_1)
                ck_assert(a[b].s == a[b].d * (float)(s0 + s1));
        }
        ck_assert(a[2].d == 0.0f);
    }
}
END_TEST

/* The dispatched quantizer (vector when the CPU has it) gives the portable one's bits. */
START_TEST(test_qact_paths) {
    enum { K = 32 * 40 };
    static float x[K];
    static dl_qact a[K / 32], b[K / 32];
    uint32_t types[] = { DL_TYPE_Q8_0, DL_TYPE_Q4_1, DL_TYPE_Q6_K, DL_TYPE_Q4_K };
    for (int rep = 0; rep < 20; rep++) {
        for (int i = 0; i < K; i++)
            x[i] = grand() * (float)(1 + rep) * (i % 97 == 0 ? 40.0f : 1.0f);
        for (int i = 0; i < 32; i++)   /* a block of exact ties: k + 0.5 steps */
            x[i] = (float)(i - 16) * 0.5f * (127.0f / 8.0f);
        for (int t = 0; t < 4; t++) {
            memset(a, 0, sizeof a);
            memset(b, 0, sizeof b);
            dl_qact_row(a, x, types[t], K);
            dl_qact_row_scalar(b, x, types[t], K);
            ck_assert(memcmp(a, b, sizeof a) == 0);
        }
    }
}
END_TEST

/* --- integer products */

typedef struct qcase {
    uint32_t type;
    int N, K, M;
} qcase;

/* Runs one shape through every path; checks bit equality with the portable path and the
 * portable path against the bound |out - sum w x| <= sum |w| |x - xq| (+ f32 slack). */
static void check_qgemm(uint32_t type, int N, int K, int M, int accumulate, int use_bias) {
    size_t rb = dl_row_bytes(type, K);
    float *wf = xmalloc((size_t)M * K * 4), *wd = xmalloc((size_t)M * K * 4);
    float *x = xmalloc((size_t)N * K * 4), *bias = xmalloc((size_t)M * 4);
    uint8_t *w = xmalloc(rb * (size_t)M);
    dl_qact *xa = xmalloc((size_t)N * (K / 32) * sizeof(dl_qact));
    int ldo = M + 3;
    float *init = xmalloc((size_t)N * ldo * 4), *o0 = xmalloc((size_t)N * ldo * 4);
    float *o1 = xmalloc((size_t)N * ldo * 4);
    for (size_t i = 0; i < (size_t)M * K; i++)
        wf[i] = grand() * 0.1f;
    for (size_t i = 0; i < (size_t)N * K; i++)
        x[i] = grand();
    for (int i = 0; i < M; i++)
        bias[i] = frand();
    for (size_t i = 0; i < (size_t)N * ldo; i++)
        init[i] = frand();
    for (int m = 0; m < M; m++) {
        dl_quantize_row(type, w + (size_t)m * rb, wf + (size_t)m * K, K);
        dl_dequant_row(type, wd + (size_t)m * K, w + (size_t)m * rb, K);
    }
    for (int n = 0; n < N; n++)
        dl_qact_row(xa + (size_t)n * (K / 32), x + (size_t)n * K, type, K);
    const float *b = use_bias ? bias : NULL;
    char nbuf[32];
    const char *nm = dl_type_name(type, nbuf, sizeof nbuf);

    memcpy(o0, init, (size_t)N * ldo * 4);
    for (int m0 = 0; m0 < M; m0 += DL_QGEMM_COLS)
        dl_qgemm_cols(DL_QPATH_SCALAR, o0, ldo, xa, N, w, type, K, m0,
                      M - m0 < DL_QGEMM_COLS ? M - m0 : DL_QGEMM_COLS, b, accumulate);
    for (int n = 0; n < N; n++) {
        for (int m = 0; m < M; m++) {
            double ref = 0, bound = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                const dl_qact *blk = xa + (size_t)n * (K / 32) + k / 32;
                double wv = wd[(size_t)m * K + k], xv = x[(size_t)n * K + k];
                ref += wv * xv;
                bound += fabs(wv) * fabs(xv - (double)blk->d * blk->qs[k % 32]);
                mag += fabs(wv * xv);
            }
            ref += (accumulate ? init[(size_t)n * ldo + m] : 0.0) + (b ? b[m] : 0.0);
            double got = o0[(size_t)n * ldo + m];
            double tol = bound * 1.0001 + 2e-6 * (mag + 2.0) + 1e-6 * fabs(ref);
            ck_assert_msg(fabs(got - ref) <= tol, "%s N=%d K=%d M=%d: out[%d][%d] = %.8g, "
                          "reference %.8g, bound %.3g", nm, N, K, M, n, m, got, ref, tol);
        }
        for (int m = M; m < ldo; m++)   /* the padding columns are untouched */
            ck_assert(o0[(size_t)n * ldo + m] == init[(size_t)n * ldo + m]);
    }
    for (int path = 1; path < DL_QPATH_COUNT; path++) {
        if (!dl_qpath_available(path))
            continue;
        memcpy(o1, init, (size_t)N * ldo * 4);
        for (int m0 = 0; m0 < M; m0 += DL_QGEMM_COLS)
            dl_qgemm_cols(path, o1, ldo, xa, N, w, type, K, m0,
                          M - m0 < DL_QGEMM_COLS ? M - m0 : DL_QGEMM_COLS, b, accumulate);
        for (size_t i = 0; i < (size_t)N * ldo; i++)
            if (memcmp(&o0[i], &o1[i], 4) != 0)
                ck_abort_msg("%s path %s N=%d K=%d M=%d acc=%d: element %zu = %.9g, portable "
                             "%.9g", nm, dl_qpath_name(path), N, K, M, accumulate, i,
                             (double)o1[i], (double)o0[i]);
    }
    free(wf); free(wd); free(x); free(bias); free(w); free(xa); free(init); free(o0); free(o1);
}

START_TEST(test_qgemm_paths) {
    uint32_t type = k_qtypes[_i];
    int kblock = type == DL_TYPE_Q4_K || type == DL_TYPE_Q5_K || type == DL_TYPE_Q6_K ? 256 : 32;
    static const int Ns[] = { 1, 3, 8, 17, 33, 48 };   /* 16, 32, 48: whole AMX row tiles */
    static const int Ms[] = { 1, 15, 16, 17, 33, 64, 100 };
    const int Ks[] = { kblock, 3 * kblock, kblock == 32 ? 288 : 512 };
    for (int a = 0; a < (int)(sizeof Ns / sizeof Ns[0]); a++)
        for (int c = 0; c < 7; c++)
            for (int k = 0; k < 3; k++)
                check_qgemm(type, Ns[a], Ks[k], Ms[c], (a + c) % 2, (a + k) % 2);
}
END_TEST

/* --- own f32 products */

/* ldx: the activations' row stride (>= K), or 0 for K + 5 */
static void check_fgemm(uint32_t type, int N, int K, int M, int accumulate, int use_bias,
                        int ldx) {
    size_t es = type == DL_TYPE_F32 ? 4 : 2;
    if (ldx == 0)
        ldx = K + 5;
    float *wf = xmalloc((size_t)M * K * 4), *x = xmalloc((size_t)N * ldx * 4);
    void *w = xmalloc((size_t)M * K * es);
    float *bias = xmalloc((size_t)M * 4);
    int ldo = M + 2;
    float *init = xmalloc((size_t)N * ldo * 4), *o0 = xmalloc((size_t)N * ldo * 4);
    float *o1 = xmalloc((size_t)N * ldo * 4), *r = xmalloc((size_t)N * M * 4);
    float *xc = xmalloc((size_t)N * K * 4);
    for (size_t i = 0; i < (size_t)M * K; i++) {
        float v = frand();
        if (type == DL_TYPE_F16) {
            ((uint16_t *)w)[i] = dl_f32_to_f16(v);
            v = dl_f16_to_f32(((uint16_t *)w)[i]);
        } else if (type == DL_TYPE_BF16) {
            ((uint16_t *)w)[i] = dl_f32_to_bf16(v);
            v = dl_bf16_to_f32(((uint16_t *)w)[i]);
        } else {
            ((float *)w)[i] = v;
        }
        wf[i] = v;
    }
    for (size_t i = 0; i < (size_t)N * ldx; i++)
        x[i] = frand();
    for (int n = 0; n < N; n++)
        memcpy(xc + (size_t)n * K, x + (size_t)n * ldx, (size_t)K * 4);
    for (int i = 0; i < M; i++)
        bias[i] = frand();
    for (size_t i = 0; i < (size_t)N * ldo; i++)
        init[i] = frand();
    const float *b = use_bias ? bias : NULL;

    memcpy(o0, init, (size_t)N * ldo * 4);
    for (int m0 = 0; m0 < M; m0 += DL_FGEMM_COLS)
        dl_fgemm_cols(DL_FPATH_SCALAR, o0, ldo, x, ldx, N, w, type, K, m0,
                      M - m0 < DL_FGEMM_COLS ? M - m0 : DL_FGEMM_COLS, b, accumulate);
    /* the definition, written out: one fma chain per output */
    for (int n = 0; n < N; n++)
        for (int m = 0; m < M; m++) {
            float s = accumulate ? init[(size_t)n * ldo + m] : 0.0f;
            for (int k = 0; k < K; k++)
                s = fmaf(x[(size_t)n * ldx + k], wf[(size_t)m * K + k], s);
            if (b)
                s += b[m];
            ck_assert_msg(memcmp(&s, &o0[(size_t)n * ldo + m], 4) == 0,
                          "portable f32 product differs from its definition at [%d][%d]", n, m);
        }
    /* and the double-precision twin, loosely */
    dl_matmul_ref(r, xc, wf, b, 0, N, K, M, M);
    for (int n = 0; n < N; n++)
        for (int m = 0; m < M; m++) {
            double want = r[(size_t)n * M + m] + (accumulate ? init[(size_t)n * ldo + m] : 0.0);
            ck_assert(fabs(o0[(size_t)n * ldo + m] - want) <= 1e-5 * (K + 2));
        }
    for (int path = 1; path < DL_FPATH_COUNT; path++) {
        if (!dl_fpath_available(path))
            continue;
        memcpy(o1, init, (size_t)N * ldo * 4);
        for (int m0 = 0; m0 < M; m0 += DL_FGEMM_COLS)
            dl_fgemm_cols(path, o1, ldo, x, ldx, N, w, type, K, m0,
                          M - m0 < DL_FGEMM_COLS ? M - m0 : DL_FGEMM_COLS, b, accumulate);
        ck_assert_msg(memcmp(o0, o1, (size_t)N * ldo * 4) == 0,
                      "f32 path %s type %u N=%d K=%d M=%d differs from the portable path",
                      dl_fpath_name(path), type, N, K, M);
    }
    /* a transposed f32 weight (attention's values and the trainer's backward): w[k][m]
     * with a row stride of its own, the same bits on every path */
    if (type == DL_TYPE_F32 && !b) {
        int ldw = M + 3;
        float *wt = xmalloc((size_t)K * ldw * 4);
        for (int k = 0; k < K; k++)
            for (int m = 0; m < ldw; m++)
                wt[(size_t)k * ldw + m] = m < M ? wf[(size_t)m * K + k] : (float)NAN;
        for (int path = 0; path < DL_FPATH_COUNT; path++) {
            if (!dl_fpath_available(path))
                continue;
            memcpy(o1, init, (size_t)N * ldo * 4);
            for (int m0 = 0; m0 < M; m0 += DL_FGEMM_COLS)
                dl_fgemm_cols_f32(path, o1, ldo, x, ldx, N, wt, ldw, 1, K, m0,
                                  M - m0 < DL_FGEMM_COLS ? M - m0 : DL_FGEMM_COLS, accumulate);
            ck_assert_msg(memcmp(o0, o1, (size_t)N * ldo * 4) == 0,
                          "f32 path %s, transposed weight, N=%d K=%d M=%d differs",
                          dl_fpath_name(path), N, K, M);
        }
        free(wt);
    }
    /* over the weight packed once (dl_fpanel_pack, as a context's copy holds it): every
     * packing path gives the portable packing's bytes, a panel[k][c] = w[c][k] as stored
     * (zero past M), and every path's product over it the unpacked one's bits */
    int panels = (M + DL_FGEMM_COLS - 1) / DL_FGEMM_COLS;
    size_t pb = dl_fpanel_bytes(type, K);
    ck_assert_uint_eq(pb, (size_t)K * DL_FGEMM_COLS * es);
    uint8_t *pk0 = aligned_alloc(64, pb * panels), *pk1 = aligned_alloc(64, pb * panels);   /* 64-byte aligned, as the product reads F32 in place */
    ck_assert(pk0 && pk1);
    for (int pn = 0; pn < panels; pn++) {
        int mc = M - pn * DL_FGEMM_COLS < DL_FGEMM_COLS ? M - pn * DL_FGEMM_COLS : DL_FGEMM_COLS;
        dl_fpanel_pack(DL_FPATH_SCALAR, pk0 + pb * pn, w, type, K, pn * DL_FGEMM_COLS, mc);
        for (int k = 0; k < K; k++)
            for (int c = 0; c < DL_FGEMM_COLS; c++) {
                const uint8_t *got = pk0 + pb * pn + ((size_t)k * DL_FGEMM_COLS + c) * es;
                uint8_t zero[4] = { 0 };
                const uint8_t *want = c < mc ? (const uint8_t *)w +
                                      ((size_t)(pn * DL_FGEMM_COLS + c) * K + k) * es : zero;
                ck_assert_msg(memcmp(got, want, es) == 0, "panel %d [%d][%d]", pn, k, c);
            }
    }
    for (int path = 0; path < DL_FPATH_COUNT; path++) {
        if (!dl_fpath_available(path))
            continue;
        for (int pn = 0; pn < panels; pn++)
            dl_fpanel_pack(path, pk1 + pb * pn, w, type, K, pn * DL_FGEMM_COLS,
                           M - pn * DL_FGEMM_COLS < DL_FGEMM_COLS ? M - pn * DL_FGEMM_COLS
                                                                  : DL_FGEMM_COLS);
        ck_assert_msg(memcmp(pk0, pk1, pb * panels) == 0, "packing on %s type %u K=%d M=%d",
                      dl_fpath_name(path), type, K, M);
        memcpy(o1, init, (size_t)N * ldo * 4);
        for (int m0 = 0; m0 < M; m0 += DL_FGEMM_COLS)
            dl_fgemm_panel(path, o1, ldo, x, ldx, N, pk1 + pb * (m0 / DL_FGEMM_COLS), type, K,
                           m0, M - m0 < DL_FGEMM_COLS ? M - m0 : DL_FGEMM_COLS, b, accumulate);
        ck_assert_msg(memcmp(o0, o1, (size_t)N * ldo * 4) == 0,
                      "f32 path %s over packed panels, type %u N=%d K=%d M=%d differs",
                      dl_fpath_name(path), type, N, K, M);
    }
    free(pk0); free(pk1);
    free(wf); free(x); free(w); free(bias); free(init); free(o0); free(o1); free(r); free(xc);
}

START_TEST(test_fgemm_paths) {
    static const uint32_t types[] = { DL_TYPE_F32, DL_TYPE_F16, DL_TYPE_BF16 };
    static const int Ns[] = { 1, 3, 13, 17, 33 };
    static const int Ks[] = { 1, 7, 128, 129, 300 };
    static const int Ms[] = { 1, 5, 17, 33, 64, 70 };
    for (int a = 0; a < 5; a++)
        for (int k = 0; k < 5; k++)
            for (int c = 0; c < 6; c++)
                check_fgemm(types[(a + k + c) % 3], Ns[a], Ks[k], Ms[c], (a + c) % 2, k % 2, 0);
    /* rows a multiple of 2 KiB apart: the AVX-512 kernel copies each row tile first */
    check_fgemm(DL_TYPE_F32, 29, 300, 70, 1, 1, 512);
    check_fgemm(DL_TYPE_F16, 13, 1024, 64, 0, 0, 1024);
    check_fgemm(DL_TYPE_BF16, 12, 129, 33, 1, 0, 2048);
}
END_TEST

START_TEST(test_paths_reported) {
    char buf[256];
    dl_cpu_features_str(buf, sizeof buf);
    ck_assert(strlen(buf) > 0);
    ck_assert(dl_qpath_available(DL_QPATH_SCALAR) && dl_fpath_available(DL_FPATH_SCALAR));
    ck_assert(dl_qpath_available(dl_qpath_best()) && dl_fpath_available(dl_fpath_best()));
    ck_assert(!dl_qpath_available(DL_QPATH_COUNT));
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("quant");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_roundtrip_error);
    tcase_add_test(tc, test_qact);
    tcase_add_test(tc, test_qact_paths);
    tcase_add_loop_test(tc, test_qgemm_paths, 0, N_QTYPES);
    tcase_add_test(tc, test_fgemm_paths);
    tcase_add_test(tc, test_paths_reported);
    suite_add_tcase(s, tc);
    return s;
}

/* Which kernel paths the comparisons above run here and which they skip (a CPU or OS
 * without them, or DIFFLM_CPU_MASK), in the test log. */
static void report_paths(void) {
    printf("integer paths compared with the portable one:");
    for (int p = 1; p < DL_QPATH_COUNT; p++)
        printf(" %s%s", dl_qpath_name(p), dl_qpath_available(p) ? "" : " (skipped: not here)");
    printf("\nf32 paths compared with the portable one:");
    for (int p = 1; p < DL_FPATH_COUNT; p++)
        printf(" %s%s", dl_fpath_name(p), dl_fpath_available(p) ? "" : " (skipped: not here)");
    printf("\n");
    fflush(stdout);
}

int main(void) {
    report_paths();
    return dl_run_suite(suite());
}

/* test_attention_tiled.c - the tiled online-softmax attention (attention_tiled.h), both
 * paths, against its naive double-precision twin on odd shapes, GQA and the
 * block-causal mask; that masked keys cannot reach a query (bitwise); that a query's
 * result does not depend on the other queries of its block (bitwise: what the KV-cache
 * passes rely on); scores spanning the float range.
 *
 * Tolerance, per output element, a worst-case bound rather than a guess. The kernel
 * reorders the softmax (tiles of 32 keys, the running maximum and sum rescaled by
 * e^(m_old - m_new) after each tile) and sums in float where the twin sums in double:
 *  - a score is a chain of hd products and sums (fused on the AVX-512 path, maybe not on
 *    the portable one: the dot-product bound gamma_hd holds either way), then one
 *    multiply by the scale: its error is below (hd + 1) u S, S = scale * sum_d |q_d k_d|
 *    (u = 2^-24, to first order); a score error e
 *    moves p_j by a factor e^(+-e), so the output (a convex combination of the v_j)
 *    by at most 2 e max|v| for the worst score;
 *  - each exp is within 2 ulp (dl_exp512; expf within 1);
 *  - o = sum_j p_j v_j in float over n visible keys, plus one rescale per tile and the
 *    final multiply by 1/l: at most (n + 2 tiles + 4) u sum_j p_j |v_j| / l, i.e. that
 *    times max|v|.
 * So |out - ref| <= max|v| * (2 (hd + 1) u S_max + (n + 2 n / 32 + 10) u), with S_max the
 * largest S over the query's visible keys. At hd 64, 300 keys and unit inputs that is
 * about 4e-5: a wrong rescale, a dropped or extra key, a wrong lane moves outputs by
 * 1e-2 and more. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check_compat.h"
#include "kernels/attention_tiled.h"
#include "kernels/cpu.h"

static uint64_t st = 7;
/* the kernels' work area, for the largest head dimension */
static double work_area[(DL_ATTN_TG * (2 * DL_ATTN_TILED_MAX_HD * DL_ATTN_TQ + DL_ATTN_TK * DL_ATTN_TQ +
                                      4 * DL_ATTN_TQ) + 2 * DL_ATTN_TK * DL_ATTN_TILED_MAX_HD) / 2];
static float *const work = (float *)work_area;
static float frand(void) {   /* uniform in [-1, 1) */
    st = st * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(st >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}
static float *rand_buf(size_t n, float scale) {
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = frand() * scale;
    return p;
}

static int limit(int n_kv, int block, int pos) {
    if (block <= 0)
        return n_kv;
    long long l = ((long long)pos / block + 1) * block;
    return l < n_kv ? (int)l : n_kv;
}

/* the bound of the header comment, per output element */
static void check_against_ref(int path, const float *o, const float *r, const float *q,
                              const float *k, const float *v, int n_q, int n_kv, int nh,
                              int nkv, int hd, int block, int q_pos, const char *what) {
    const double u = 1.0 / (1 << 24), scale = 1.0 / sqrt((double)hd);
    int group = nh / nkv;
    for (int h = 0; h < nh; h++) {
        int g = h / group;
        for (int i = 0; i < n_q; i++) {
            int nk = limit(n_kv, block, q_pos + i);
            double smax = 0.0, vmax = 0.0;
            const float *qi = q + ((size_t)i * nh + h) * hd;
            for (int j = 0; j < nk; j++) {
                const float *kj = k + ((size_t)j * nkv + g) * hd;
                const float *vj = v + ((size_t)j * nkv + g) * hd;
                double sa = 0.0;
                for (int d = 0; d < hd; d++) {
                    sa += fabs((double)qi[d] * kj[d]);
                    vmax = fabs(vj[d]) > vmax ? fabs(vj[d]) : vmax;
                }
                smax = sa * scale > smax ? sa * scale : smax;
            }
            double tol = vmax * (2.0 * (hd + 1) * u * smax + (nk + 2.0 * nk / 32 + 10) * u);
            for (int d = 0; d < hd; d++) {
                size_t x = ((size_t)i * nh + h) * hd + d;
                double e = fabs((double)o[x] - r[x]);
                if (!(e <= tol))
                    ck_abort_msg("%s, path %s: n_q %d n_kv %d heads %d/%d hd %d block %d q_pos %d: "
                                 "query %d head %d dim %d: %.9g vs %.9g (|d| %.3g > tol %.3g)",
                                 what, dl_fpath_name(path), n_q, n_kv, nh, nkv, hd, block,
                                 q_pos, i, h, d, (double)o[x], (double)r[x], e, tol);
            }
        }
    }
}

static int paths(int out[2]) {
    int n = 0;
    out[n++] = DL_FPATH_SCALAR;
    if (dl_attention_tiled_path() == DL_FPATH_AVX512)
        out[n++] = DL_FPATH_AVX512;
    else {
        static int said;
        if (!said++)
            fprintf(stderr, "test_attention_tiled: no AVX-512 on this CPU: the portable path only\n");
    }
    return n;
}

static void run_case(int n_q, int n_kv, int nh, int nkv, int hd, int block, int q_pos,
                     float qscale) {
    size_t nqe = (size_t)n_q * nh * hd, nke = (size_t)n_kv * nkv * hd;
    float *q = rand_buf(nqe, qscale), *k = rand_buf(nke, qscale), *v = rand_buf(nke, 1.0f);
    float *o = malloc(nqe * sizeof *o), *r = malloc(nqe * sizeof *r);
    dl_attention_tiled_ref(r, q, k, v, n_q, n_kv, nh, nkv, hd, block, q_pos);
    int p[2], np = paths(p);
    for (int i = 0; i < np; i++) {
        memset(o, 0xff, nqe * sizeof *o);   /* NaN: every element must be written */
        dl_attention_tiled(p[i], o, work, q, k, v, n_q, n_kv, nh, nkv, hd, block, q_pos);
        check_against_ref(p[i], o, r, q, k, v, n_q, n_kv, nh, nkv, hd, block, q_pos, "random");
    }
    free(q); free(k); free(v); free(o); free(r);
}

START_TEST(test_work_size) {
    ck_assert_uint_eq(dl_attention_tiled_work_floats(DL_ATTN_TILED_MAX_HD), sizeof work_area / 4);
    ck_assert_uint_eq(dl_attention_tiled_work_floats(0), 0);
    ck_assert_uint_eq(dl_attention_tiled_work_floats(DL_ATTN_TILED_MAX_HD + 1), 0);
}
END_TEST

START_TEST(test_shapes) {
    static const int nqs[] = { 1, 5, 32, 33, 70 };
    static const int nkvs[] = { 1, 7, 31, 32, 33, 100, 257 };
    static const int hds[] = { 16, 20, 64, 128 };
    for (size_t a = 0; a < sizeof nqs / sizeof nqs[0]; a++)
        for (size_t b = 0; b < sizeof nkvs / sizeof nkvs[0]; b++)
            for (size_t c = 0; c < sizeof hds / sizeof hds[0]; c++) {
                int n_q = nqs[a], n_kv = nkvs[b], hd = hds[c];
                /* queries at the end of the keys, as a KV-cache pass has them */
                int q_pos = n_q <= n_kv ? n_kv - n_q : 0;
                run_case(n_q, n_kv, 4, 2, hd, 0, q_pos, 1.0f);
                run_case(n_q, n_kv, 2, 2, hd, 0, 0, 1.0f);
            }
}
END_TEST

START_TEST(test_block_causal) {
    static const int blocks[] = { 1, 8, 13, 32, 40 };
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        run_case(100, 100, 4, 1, 64, blocks[b], 0, 1.0f);    /* a full pass */
        run_case(37, 130, 2, 2, 20, blocks[b], 64, 1.0f);    /* rows 64 .. 101 of 130 */
        run_case(3, 200, 2, 1, 64, blocks[b], 150, 1.0f);
    }
}
END_TEST

/* keys past a query's limit cannot change its output: not one bit */
START_TEST(test_mask_bitwise) {
    const int n_q = 70, n_kv = 90, hd = 64, block = 16;
    size_t nqe = (size_t)n_q * hd, nke = (size_t)n_kv * hd;
    float *q = rand_buf(nqe, 1.0f), *k = rand_buf(nke, 1.0f), *v = rand_buf(nke, 1.0f);
    float *o1 = malloc(nqe * 4), *o2 = malloc(nqe * 4);
    int p[2], np = paths(p);
    for (int pi = 0; pi < np; pi++) {
        dl_attention_tiled(p[pi], o1, work, q, k, v, n_q, n_kv, 1, 1, hd, block, 0);
        for (int i = 0; i < n_q; i++) {
            int lim = limit(n_kv, block, i);
            float *k2 = malloc(nke * 4), *v2 = malloc(nke * 4);
            memcpy(k2, k, nke * 4);
            memcpy(v2, v, nke * 4);
            for (size_t x = (size_t)lim * hd; x < nke; x++)
                k2[x] = 50.0f * frand(), v2[x] = 1e6f * frand();
            dl_attention_tiled(p[pi], o2, work, q, k2, v2, n_q, n_kv, 1, 1, hd, block, 0);
            ck_assert_msg(memcmp(o1 + (size_t)i * hd, o2 + (size_t)i * hd, (size_t)hd * 4) == 0,
                          "path %s: query %d changed by keys at or past its limit %d",
                          dl_fpath_name(p[pi]), i, lim);
            free(k2); free(v2);
        }
    }
    free(q); free(k); free(v); free(o1); free(o2);
}
END_TEST

/* rows [r0, r1) alone (q_pos shifted) give the bits of the full call */
START_TEST(test_rows_independent) {
    const int n_q = 90, n_kv = 90, hd = 64;
    static const int blocks[] = { 0, 32, 7 };
    static const int cuts[][2] = { { 0, 1 }, { 10, 50 }, { 31, 33 }, { 64, 90 }, { 89, 90 } };
    size_t nqe = (size_t)n_q * hd, nke = (size_t)n_kv * hd;
    float *q = rand_buf(nqe, 1.0f), *k = rand_buf(nke, 1.0f), *v = rand_buf(nke, 1.0f);
    float *o1 = malloc(nqe * 4), *o2 = malloc(nqe * 4);
    int p[2], np = paths(p);
    for (int pi = 0; pi < np; pi++)
        for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
            dl_attention_tiled(p[pi], o1, work, q, k, v, n_q, n_kv, 1, 1, hd, blocks[b], 0);
            for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
                int r0 = cuts[c][0], r1 = cuts[c][1];
                dl_attention_tiled(p[pi], o2, work, q + (size_t)r0 * hd, k, v, r1 - r0, n_kv, 1, 1, hd,
                                   blocks[b], r0);
                ck_assert_msg(memcmp(o1 + (size_t)r0 * hd, o2, (size_t)(r1 - r0) * hd * 4) == 0,
                              "path %s block %d: rows [%d, %d) alone differ from the full call",
                              dl_fpath_name(p[pi]), blocks[b], r0, r1);
            }
        }
    free(q); free(k); free(v); free(o1); free(o2);
}
END_TEST

/* scores up to ~100 apart (probabilities underflowing to 0), and keys whose scores
 * grow along the canvas, so every tile raises the maximum and rescales */
START_TEST(test_wide_scores) {
    static const float scales[] = { 0.01f, 1.0f, 3.0f, 4.5f };
    for (int si = 0; si < 4; si++) {
        run_case(33, 100, 2, 2, 16, 0, 0, scales[si]);
        run_case(17, 65, 2, 1, 16, 8, 0, scales[si]);
    }
    const int n_kv = 200, hd = 16;
    float *q = malloc(hd * 4), *k = malloc((size_t)n_kv * hd * 4), *v = rand_buf((size_t)n_kv * hd, 1.0f);
    float o[16], r[16];
    for (int d = 0; d < hd; d++)
        q[d] = 1.0f;
    for (int j = 0; j < n_kv; j++)
        for (int d = 0; d < hd; d++)
            k[(size_t)j * hd + d] = 0.12f * (float)j / 16.0f * (1.0f + 0.01f * frand());
    dl_attention_tiled_ref(r, q, k, v, 1, n_kv, 1, 1, hd, 0, 0);
    int p[2], np = paths(p);
    for (int pi = 0; pi < np; pi++) {
        dl_attention_tiled(p[pi], o, work, q, k, v, 1, n_kv, 1, 1, hd, 0, 0);
        check_against_ref(p[pi], o, r, q, k, v, 1, n_kv, 1, 1, hd, 0, 0, "growing scores");
    }
    free(q); free(k); free(v);
}
END_TEST

int main(void) {
    Suite *s = suite_create("attention_tiled");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_work_size);
    tcase_add_test(tc, test_shapes);
    tcase_add_test(tc, test_block_causal);
    tcase_add_test(tc, test_mask_bitwise);
    tcase_add_test(tc, test_rows_independent);
    tcase_add_test(tc, test_wide_scores);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}

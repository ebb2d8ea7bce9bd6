/* attention_backward.c - backward of one bidirectional attention head from the saved
 * probabilities p (n_q x n_kv):
 *   dv += p^T dout;  dp = dout v^T;  ds = p * (dp - rowsum(p * dp)) / sqrt(hd);
 *   dq  = ds k;      dk += ds^T q.
 * The four products run on the library's own f32 kernels (gemm.h), as the forward's do.
 * Those want the summed dimension contiguous in their left operand, which p^T and ds^T
 * are not; so the two transposed products are computed transposed, dv^T = dout^T p and
 * dk^T = q^T ds, from small copies of dout^T and q^T (hd x n_q, not n_q x n_kv), and
 * added back into dv and dk. */
#include <math.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/kernels_backward.h"
#include "kernels/vexp.h"

/* dp[i][j] <- p[i][j] * (dp[i][j] - sum_j p[i][j] dp[i][j]) * scale, the softmax
 * Jacobian applied row by row, the sum in double.  dp: [n_q][n_kv] in/out;  p: [n_q][n_kv] */
static void softmax_backward_scalar(float *dp, const float *p, float scale, int n_q, int n_kv) {
    for (int i = 0; i < n_q; i++) {
        float *dr = dp + (size_t)i * n_kv;
        const float *pr = p + (size_t)i * n_kv;
        double dot = 0.0;
        for (int j = 0; j < n_kv; j++)
            dot += (double)pr[j] * dr[j];
        float fdot = (float)dot;
        for (int j = 0; j < n_kv; j++)
            dr[j] = pr[j] * (dr[j] - fdot) * scale;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The same, 16 columns at a time: the dot in two 8-lane double sums (an order of its
 * own, so it may differ from the scalar one in the last bit of the float it rounds to),
 * the update with the scalar version's operations. */
static DL_VEXP_T512 void softmax_backward_avx512(float *dp, const float *p, float scale,
                                                  int n_q, int n_kv) {
    const __m512 vs = _mm512_set1_ps(scale);
    for (int i = 0; i < n_q; i++) {
        float *dr = dp + (size_t)i * n_kv;
        const float *pr = p + (size_t)i * n_kv;
        __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
        int j = 0;
        for (; j + 16 <= n_kv; j += 16) {
            __m512 a = _mm512_loadu_ps(pr + j), b = _mm512_loadu_ps(dr + j);
            s0 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(a)),
                                 _mm512_cvtps_pd(_mm512_castps512_ps256(b)), s0);
            s1 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(
                                     _mm512_castps_pd(a), 1))),
                                 _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(
                                     _mm512_castps_pd(b), 1))),
                                 s1);
        }
        double dot = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
        for (int t = j; t < n_kv; t++)
            dot += (double)pr[t] * dr[t];
        const float fdot = (float)dot;
        const __m512 vd = _mm512_set1_ps(fdot);
        for (j = 0; j + 16 <= n_kv; j += 16) {
            __m512 d = _mm512_sub_ps(_mm512_loadu_ps(dr + j), vd);
            _mm512_storeu_ps(dr + j, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(pr + j), d), vs));
        }
        for (; j < n_kv; j++)
            dr[j] = pr[j] * (dr[j] - fdot) * scale;
    }
}
#endif

static void softmax_backward_rows(float *dp, const float *p, float scale, int n_q, int n_kv) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (dl_vexp_available()) {
        softmax_backward_avx512(dp, p, scale, n_q, n_kv);
        return;
    }
#endif
    softmax_backward_scalar(dp, p, scale, n_q, n_kv);
}

/* t[d][i] = a[i][d].  t: [hd][n] out;  a: [n][lda] */
static void transpose_head(float *t, const float *a, int n, int hd, int lda) {
    for (int i = 0; i < n; i++)
        for (int d = 0; d < hd; d++)
            t[(size_t)d * n + i] = a[(size_t)i * lda + d];
}

/* out[n][m] = sum_k x[n][k] w(m, k) on the own kernels, 64 columns per call (gemm.h):
 * w(m, k) = w[m][k] (trans_w 0) or w[k][m] (trans_w 1).
 *   out: [N][ldo] out;  x: [N][ldx] */
static void product(float *out, int ldo, const float *x, int ldx, int N, const float *w,
                    int ldw, int trans_w, int K, int M) {
    int path = dl_fpath_best();
    for (int m0 = 0; m0 < M; m0 += DL_FGEMM_COLS)
        dl_fgemm_cols_f32(path, out, ldo, x, ldx, N, w, ldw, trans_w, K, m0,
                          M - m0 < DL_FGEMM_COLS ? M - m0 : DL_FGEMM_COLS, 0);
}

/* acc[j][d] += t[d][j].  acc: [n][ld] in/out;  t: [hd][n] */
static void add_transposed(float *acc, const float *t, int n, int hd, int ld) {
    for (int j = 0; j < n; j++)
        for (int d = 0; d < hd; d++)
            acc[(size_t)j * ld + d] += t[(size_t)d * n + j];
}

size_t dl_attention_backward_scratch(int n_q, int n_kv, int hd) {
    return (size_t)n_q * n_kv + (size_t)hd * n_q + (size_t)hd * n_kv;
}

void dl_attention_head_backward(float *dq, float *dk, float *dv, float *scratch,
                                const float *dout, const float *p, const float *q,
                                const float *k, const float *v, int n_q, int n_kv, int hd,
                                int ldq, int ldkv) {
    if (n_q <= 0 || n_kv <= 0)
        return;
    float scale = (float)(1.0 / sqrt((double)hd));
    float *dp = scratch;                            /* [n_q][n_kv] */
    float *tq = dp + (size_t)n_q * n_kv;            /* [hd][n_q]: dout^T, then q^T */
    float *tkv = tq + (size_t)hd * n_q;             /* [hd][n_kv]: dv^T, then dk^T */

    transpose_head(tq, dout, n_q, hd, ldq);
    product(tkv, n_kv, tq, n_q, hd, p, n_kv, 1, n_q, n_kv);          /* dv^T = dout^T p */
    add_transposed(dv, tkv, n_kv, hd, ldkv);
    product(dp, n_kv, dout, ldq, n_q, v, ldkv, 0, hd, n_kv);          /* dp = dout v^T */
    softmax_backward_rows(dp, p, scale, n_q, n_kv);
    product(dq, ldq, dp, n_kv, n_q, k, ldkv, 1, n_kv, hd);            /* dq = ds k */
    transpose_head(tq, q, n_q, hd, ldq);
    product(tkv, n_kv, tq, n_q, hd, dp, n_kv, 1, n_q, n_kv);         /* dk^T = q^T ds */
    add_transposed(dk, tkv, n_kv, hd, ldkv);
}
void dl_attention_head_backward_ref(float *dq, float *dk, float *dv, const float *dout,
                                    const float *p, const float *q, const float *k,
                                    const float *v, int n_q, int n_kv, int hd, int ldq, int ldkv) {
    double scale = 1.0 / sqrt((double)hd);
    for (int i = 0; i < n_q; i++)
        for (int d = 0; d < hd; d++)
            dq[(size_t)i * ldq + d] = 0.0f;
    for (int i = 0; i < n_q; i++) {
        const float *pr = p + (size_t)i * n_kv, *gi = dout + (size_t)i * ldq;
        /* dp_j = dout_i . v_j, then the softmax Jacobian, all in double */
        double dot = 0.0;
        for (int j = 0; j < n_kv; j++) {
            double dpj = 0.0;
            for (int d = 0; d < hd; d++)
                dpj += (double)gi[d] * v[(size_t)j * ldkv + d];
            dot += pr[j] * dpj;
        }
        for (int j = 0; j < n_kv; j++) {
            const float *vj = v + (size_t)j * ldkv, *kj = k + (size_t)j * ldkv;
            double dpj = 0.0;
            for (int d = 0; d < hd; d++)
                dpj += (double)gi[d] * vj[d];
            double ds = pr[j] * (dpj - dot) * scale;
            for (int d = 0; d < hd; d++) {
                dv[(size_t)j * ldkv + d] += (float)((double)pr[j] * gi[d]);
                dq[(size_t)i * ldq + d] += (float)(ds * kj[d]);
                dk[(size_t)j * ldkv + d] += (float)(ds * q[(size_t)i * ldq + d]);
            }
        }
    }
}

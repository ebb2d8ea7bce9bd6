/* attention_backward.c - backward of one bidirectional attention head from the saved
 * probabilities p (n_q x n_kv):
 *   dv += p^T dout;  dp = dout v^T;  ds = p * (dp - rowsum(p * dp)) / sqrt(hd);
 *   dq  = ds k;      dk += ds^T q.
 * Four sgemm calls over strided head views, as in the forward. */
#include <math.h>

#include "kernels/kernels_backward.h"

#ifdef DL_HAVE_BLAS
#include <cblas.h>
#endif

/* dp[i][j] <- p[i][j] * (dp[i][j] - sum_j p[i][j] dp[i][j]) * scale, the softmax
 * Jacobian applied row by row.  dp: [n_q][n_kv] in/out;  p: [n_q][n_kv] */
static void softmax_backward_rows(float *dp, const float *p, float scale, int n_q, int n_kv) {
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

#ifndef DL_HAVE_BLAS
/* c[i][d] (+)= sum_j a[i][j] b[j][d] with a transposed or not.
 *   c: [rows][ldc];  a: [rows][n_inner] (or [n_inner][rows] when a_t);  b: [n_inner][ldb] */
static void small_gemm(float *c, const float *a, const float *b, int a_t, int accumulate,
                       int rows, int n_inner, int hd, int ldc, int lda, int ldb) {
    for (int i = 0; i < rows; i++) {
        float *cr = c + (size_t)i * ldc;
        if (!accumulate)
            for (int d = 0; d < hd; d++)
                cr[d] = 0.0f;
        for (int j = 0; j < n_inner; j++) {
            float aij = a_t ? a[(size_t)j * lda + i] : a[(size_t)i * lda + j];
            const float *br = b + (size_t)j * ldb;
            for (int d = 0; d < hd; d++)
                cr[d] += aij * br[d];
        }
    }
}
#endif

void dl_attention_head_backward(float *dq, float *dk, float *dv, float *dp, const float *dout,
                                const float *p, const float *q, const float *k, const float *v,
                                int n_q, int n_kv, int hd, int ldq, int ldkv) {
    if (n_q <= 0 || n_kv <= 0)
        return;
    float scale = (float)(1.0 / sqrt((double)hd));
#ifdef DL_HAVE_BLAS
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_kv, hd, n_q, 1.0f, p, n_kv, dout, ldq,
                1.0f, dv, ldkv);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_q, n_kv, hd, 1.0f, dout, ldq, v, ldkv,
                0.0f, dp, n_kv);
    softmax_backward_rows(dp, p, scale, n_q, n_kv);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_q, hd, n_kv, 1.0f, dp, n_kv, k, ldkv,
                0.0f, dq, ldq);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_kv, hd, n_q, 1.0f, dp, n_kv, q, ldq,
                1.0f, dk, ldkv);
#else
    small_gemm(dv, p, dout, 1, 1, n_kv, n_q, hd, ldkv, n_kv, ldq);
    for (int i = 0; i < n_q; i++)
        for (int j = 0; j < n_kv; j++) {
            float s = 0.0f;
            for (int d = 0; d < hd; d++)
                s += dout[(size_t)i * ldq + d] * v[(size_t)j * ldkv + d];
            dp[(size_t)i * n_kv + j] = s;
        }
    softmax_backward_rows(dp, p, scale, n_q, n_kv);
    small_gemm(dq, dp, k, 0, 0, n_q, n_kv, hd, ldq, n_kv, ldkv);
    small_gemm(dk, dp, q, 1, 1, n_kv, n_q, hd, ldkv, n_kv, ldq);
#endif
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

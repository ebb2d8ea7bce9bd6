/* matmul_backward.c - backward of out = x w^T: dx += dout w and dw += dout^T x, two
 * sgemm calls (or plain loops without BLAS), and the double-precision twin. */
#include "kernels/kernels_backward.h"

#ifdef DL_HAVE_BLAS
#include <cblas.h>
#endif

#ifndef DL_HAVE_BLAS
/* dx[n] += sum_m dout[n][m] w[m]: rows of w are added in, which keeps the inner loop
 * contiguous over k.  dx: [N][K] in/out;  dout: [N][M];  w: [M][K] */
static void dx_portable(float *dx, const float *dout, const float *w, int N, int K, int M) {
    for (int n = 0; n < N; n++) {
        float *dxr = dx + (size_t)n * K;
        const float *dr = dout + (size_t)n * M;
        for (int m = 0; m < M; m++) {
            float g = dr[m];
            const float *wr = w + (size_t)m * K;
            for (int k = 0; k < K; k++)
                dxr[k] += g * wr[k];
        }
    }
}

/* dw[m] += sum_n dout[n][m] x[n].  dw: [M][ldw] in/out;  dout: [N][ldd];  x: [N][ldx] */
static void dw_portable(float *dw, const float *dout, const float *x, int N, int K, int M,
                        int ldd, int ldx, int ldw) {
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * ldx;
        const float *dr = dout + (size_t)n * ldd;
        for (int m = 0; m < M; m++) {
            float g = dr[m];
            float *dwr = dw + (size_t)m * ldw;
            for (int k = 0; k < K; k++)
                dwr[k] += g * xr[k];
        }
    }
}
#endif

void dl_matmul_backward_w(float *dw, const float *dout, const float *x, int N, int K, int M,
                          int ldd, int ldx, int ldw) {
    if (N <= 0 || K <= 0 || M <= 0)
        return;
#ifdef DL_HAVE_BLAS
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, K, N, 1.0f, dout, ldd, x, ldx, 1.0f,
                dw, ldw);
#else
    dw_portable(dw, dout, x, N, K, M, ldd, ldx, ldw);
#endif
}

void dl_matmul_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                        int N, int K, int M) {
    if (N <= 0 || K <= 0 || M <= 0)
        return;
#ifdef DL_HAVE_BLAS
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, K, M, 1.0f, dout, M, w, K,
                    1.0f, dx, K);
#else
    if (dx)
        dx_portable(dx, dout, w, N, K, M);
#endif
    if (dw)
        dl_matmul_backward_w(dw, dout, x, N, K, M, M, K, K);
}

void dl_matmul_backward_ref(float *dx, float *dw, const float *dout, const float *x,
                            const float *w, int N, int K, int M) {
    if (dx)
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++) {
                double s = 0.0;
                for (int m = 0; m < M; m++)
                    s += (double)dout[(size_t)n * M + m] * w[(size_t)m * K + k];
                dx[(size_t)n * K + k] += (float)s;
            }
    if (dw)
        for (int m = 0; m < M; m++)
            for (int k = 0; k < K; k++) {
                double s = 0.0;
                for (int n = 0; n < N; n++)
                    s += (double)dout[(size_t)n * M + m] * x[(size_t)n * K + k];
                dw[(size_t)m * K + k] += (float)s;
            }
}

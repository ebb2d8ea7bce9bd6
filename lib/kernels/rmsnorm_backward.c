/* rmsnorm_backward.c - backward of y = x * r * w with r = 1/sqrt(mean(x^2) + eps).
 * dy/dx couples every element of a row through r: dx_i = r w_i dy_i - x_i r^3 / C *
 * sum_j dy_j w_j x_j. */
#include <math.h>

#include "kernels/kernels_backward.h"

void dl_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                         float eps, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C, *dr = dout + (size_t)n * C;
        float *dxr = dx + (size_t)n * C;
        double ss = 0.0, dot = 0.0;
        for (int c = 0; c < C; c++) {
            ss += (double)xr[c] * xr[c];
            dot += (double)dr[c] * w[c] * xr[c];
        }
        /* the same float r as dl_rmsnorm's forward uses */
        float r = (float)(1.0 / sqrt(ss / C + (double)eps));
        float coef = (float)(dot * (double)r * r * r / C);
        for (int c = 0; c < C; c++) {
            dxr[c] += r * w[c] * dr[c] - coef * xr[c];
            dw[c] += dr[c] * xr[c] * r;
        }
    }
}

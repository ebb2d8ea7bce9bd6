/* grad_ref.h - double-precision forward re-implementations of every layer, written
 * independently of lib/kernels from doc/formats.md, "The forward pass", for the finite-difference checks of the
 * backward kernels and of the whole trainer. Header-only: each test file includes it. */
#ifndef DL_TEST_GRAD_REF_H
#define DL_TEST_GRAD_REF_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* out[n][m] = sum_k x[n][k] w[m][k].  out: [N][M];  x: [N][K];  w: [M][K] */
static inline void gd_matmul(double *out, const double *x, const double *w, int N, int K, int M) {
    for (int n = 0; n < N; n++)
        for (int m = 0; m < M; m++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += x[n * K + k] * w[m * K + k];
            out[n * M + m] = s;
        }
}

/* out = x / sqrt(mean(x^2) + eps) * w.  out, x: [N][C];  w: [C] */
static inline void gd_rmsnorm(double *out, const double *x, const double *w, double eps, int N, int C) {
    for (int n = 0; n < N; n++) {
        double ss = 0;
        for (int c = 0; c < C; c++)
            ss += x[n * C + c] * x[n * C + c];
        double r = 1.0 / sqrt(ss / C + eps);
        for (int c = 0; c < C; c++)
            out[n * C + c] = x[n * C + c] * r * w[c];
    }
}

/* out = g / (1 + e^-g) * u.  [n] each */
static inline void gd_silu_mul(double *out, const double *g, const double *u, int n) {
    for (int i = 0; i < n; i++)
        out[i] = g[i] / (1.0 + exp(-g[i])) * u[i];
}

/* In-place rotation of every head of every row by pos[t] * theta^(-2i/hd).
 * half_split = 0: pairs (2i, 2i+1); 1: pairs (i, i + hd/2).  x: [T][H][hd] */
static inline void gd_rope(double *x, const int32_t *pos, double theta, int half_split, int T,
                           int H, int hd) {
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < hd / 2; i++) {
                double ang = pos[t] * pow(theta, -2.0 * i / hd);
                double *v = x + ((size_t)t * H + h) * hd;
                int ia = half_split ? i : 2 * i, ib = half_split ? i + hd / 2 : 2 * i + 1;
                double a = v[ia], b = v[ib];
                v[ia] = a * cos(ang) - b * sin(ang);
                v[ib] = a * sin(ang) + b * cos(ang);
            }
}

/* Bidirectional GQA attention over one sequence.
 *   out: [T][nh][hd];  q: [T][nh][hd];  k, v: [T][nkv][hd] */
static inline void gd_attention(double *out, const double *q, const double *k, const double *v,
                                int T, int nh, int nkv, int hd) {
    double *s = malloc((size_t)T * sizeof *s);
    for (int h = 0; h < nh; h++) {
        int g = h / (nh / nkv);
        for (int i = 0; i < T; i++) {
            double mx = -1e300, sum = 0;
            for (int j = 0; j < T; j++) {
                double d = 0;
                for (int e = 0; e < hd; e++)
                    d += q[(i * nh + h) * hd + e] * k[(j * nkv + g) * hd + e];
                s[j] = d / sqrt((double)hd);
                mx = s[j] > mx ? s[j] : mx;
            }
            for (int j = 0; j < T; j++) {
                s[j] = exp(s[j] - mx);
                sum += s[j];
            }
            for (int e = 0; e < hd; e++) {
                double o = 0;
                for (int j = 0; j < T; j++)
                    o += s[j] / sum * v[(j * nkv + g) * hd + e];
                out[(i * nh + h) * hd + e] = o;
            }
        }
    }
    free(s);
}

/* -log softmax(logits)[target].  logits: [V] */
static inline double gd_xent(const double *logits, int target, int V) {
    double mx = logits[0], sum = 0;
    for (int v = 1; v < V; v++)
        mx = logits[v] > mx ? logits[v] : mx;
    for (int v = 0; v < V; v++)
        sum += exp(logits[v] - mx);
    return mx + log(sum) - logits[target];
}

/* Analytic (float) against numeric (double) gradients: every element within
 * rtol * |numeric| + atol_frac * max|numeric|. Returns the index of the first failure,
 * or -1; *worst gets the largest error relative to max|numeric|. */
static inline long gd_compare(const float *analytic, const double *numeric, size_t n, double rtol,
                              double atol_frac, double *worst) {
    double mx = 0;
    for (size_t i = 0; i < n; i++)
        mx = fabs(numeric[i]) > mx ? fabs(numeric[i]) : mx;
    long bad = -1;
    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)analytic[i] - numeric[i]);
        if (mx > 0 && e / mx > *worst)
            *worst = e / mx;
        if (bad < 0 && e > rtol * fabs(numeric[i]) + atol_frac * mx)
            bad = (long)i;
    }
    return bad;
}

/* Deterministic test values in [-1, 1). */
static inline float gd_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*s >> 11) / 4503599627370496.0 - 1.0);
}

#endif

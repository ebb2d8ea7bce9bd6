/* kernels_f32.c - fast f32 kernels: rmsnorm, silu*up, matmul (OpenBLAS sgemm or a
 * portable blocked loop), rotary embedding. */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/vexp.h"

#ifdef DL_HAVE_BLAS
#include <cblas.h>
#endif

/* The sum of squares is accumulated in double: C is at most a few thousand, so the cost
 * is nothing next to the matmuls, and the result no longer depends on how a compiler
 * vectorises the loop. Four partial sums let the loop pipeline. */
void dl_rmsnorm(float *out, const float *x, const float *w, float eps, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C;
        float *or = out + (size_t)n * C;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int c = 0;
        for (; c + 4 <= C; c += 4) {
            s0 += (double)xr[c] * xr[c];
            s1 += (double)xr[c + 1] * xr[c + 1];
            s2 += (double)xr[c + 2] * xr[c + 2];
            s3 += (double)xr[c + 3] * xr[c + 3];
        }
        for (; c < C; c++)
            s0 += (double)xr[c] * xr[c];
        float inv = (float)(1.0 / sqrt((s0 + s1 + s2 + s3) / C + (double)eps));
        for (c = 0; c < C; c++)
            or[c] = xr[c] * inv * w[c];
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
static DL_VEXP_T512 size_t silu_mul_avx512(float *out, const float *gate, const float *up,
                                           size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 g = _mm512_loadu_ps(gate + i);
        __m512 s = dl_sigmoid512(g);
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_mul_ps(g, s), _mm512_loadu_ps(up + i)));
    }
    return i;
}
#endif

void dl_silu_mul(float *out, const float *gate, const float *up, size_t n) {
    size_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    if (dl_vexp_available())
        i = silu_mul_avx512(out, gate, up, n);
#endif
    for (; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

/* Portable product: four output columns per pass over a row of x keeps x in registers
 * and gives the compiler independent accumulators to vectorise over k. */
void dl_matmul_portable(float *out, const float *x, const float *w, int accumulate,
                        int N, int K, int M, int ldo) {
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * K;
        float *or = out + (size_t)n * ldo;
        int m = 0;
        for (; m + 4 <= M; m += 4) {
            const float *w0 = w + (size_t)m * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
            float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            for (int k = 0; k < K; k++) {
                a0 += xr[k] * w0[k];
                a1 += xr[k] * w1[k];
                a2 += xr[k] * w2[k];
                a3 += xr[k] * w3[k];
            }
            if (accumulate) {
                or[m] += a0; or[m + 1] += a1; or[m + 2] += a2; or[m + 3] += a3;
            } else {
                or[m] = a0; or[m + 1] = a1; or[m + 2] = a2; or[m + 3] = a3;
            }
        }
        for (; m < M; m++) {
            const float *wr = w + (size_t)m * K;
            float a = 0;
            for (int k = 0; k < K; k++)
                a += xr[k] * wr[k];
            or[m] = accumulate ? or[m] + a : a;
        }
    }
}

void dl_matmul(float *out, const float *x, const float *w, const float *bias, int accumulate,
               int N, int K, int M, int ldo) {
    if (N <= 0 || M <= 0)
        return;
    if (K <= 0) {
        for (int n = 0; n < N; n++)
            for (int m = 0; m < M; m++) {
                float *o = out + (size_t)n * ldo + m;
                *o = (accumulate ? *o : 0.0f) + (bias ? bias[m] : 0.0f);
            }
        return;
    }
#ifdef DL_HAVE_BLAS
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, M, K, 1.0f, x, K, w, K,
                accumulate ? 1.0f : 0.0f, out, ldo);
#else
    dl_matmul_portable(out, x, w, accumulate, N, K, M, ldo);
#endif
    if (bias)
        for (int n = 0; n < N; n++) {
            float *or = out + (size_t)n * ldo;
            for (int m = 0; m < M; m++)
                or[m] += bias[m];
        }
}

void dl_blas_set_threads(int n) {
#ifdef DL_HAVE_BLAS
    /* OpenBLAS keeps one process-wide count; changing it is cheap but not free, and
     * contexts with the same setting should not keep poking it. */
    static atomic_int last = 0;
    if (n < 1)
        n = 1;
    if (atomic_exchange(&last, n) != n)
        openblas_set_num_threads(n);
#else
    (void)n;
#endif
}

void dl_rope_table(float *cs, const int32_t *pos, float theta, int T, int hd) {
    int half = hd / 2;
    for (int t = 0; t < T; t++) {
        float *row = cs + (size_t)t * half * 2;
        for (int i = 0; i < half; i++) {
            double ang = pos[t] * pow((double)theta, -2.0 * i / hd);
            row[2 * i] = (float)cos(ang);
            row[2 * i + 1] = (float)sin(ang);
        }
    }
}

/* DL_ROPE_PAIR_HALF_IN: the same products as ADJACENT on permuted rows, read from the
 * unpermuted ones through a copy of the head. */
static void rope_half_in(float *x, const float *cs, int T, int n_heads, int hd) {
    int half = hd / 2;
    float tmp[DL_ROPE_MAX_HD];
    if (hd > DL_ROPE_MAX_HD)
        return;   /* the loader refuses such heads for this layout */
    for (int t = 0; t < T; t++) {
        const float *row = cs + (size_t)t * half * 2;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * hd;
            memcpy(tmp, v, (size_t)hd * sizeof *v);
            for (int i = 0; i < half; i++) {
                float c = row[2 * i], s = row[2 * i + 1];
                float a = tmp[i], b = tmp[i + half];
                v[2 * i] = a * c - b * s;
                v[2 * i + 1] = a * s + b * c;
            }
        }
    }
}

void dl_rope(float *x, const float *cs, int pairing, int T, int n_heads, int hd) {
    if (pairing == DL_ROPE_PAIR_HALF_IN) {
        rope_half_in(x, cs, T, n_heads, hd);
        return;
    }
    dl_rope_part(x, cs, pairing, T, n_heads, hd, hd);
}

void dl_rope_part(float *x, const float *cs, int pairing, int T, int n_heads, int n_rot, int hd) {
    int half = n_rot / 2;
    /* element a of pair i is at i*sa, element b at i*sa + ob */
    int sa = pairing == DL_ROPE_PAIR_HALF ? 1 : 2;
    int ob = pairing == DL_ROPE_PAIR_HALF ? half : 1;
    for (int t = 0; t < T; t++) {
        const float *row = cs + (size_t)t * half * 2;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * hd;
            for (int i = 0; i < half; i++) {
                float c = row[2 * i], s = row[2 * i + 1];
                float a = v[i * sa], b = v[i * sa + ob];
                v[i * sa] = a * c - b * s;
                v[i * sa + ob] = a * s + b * c;
            }
        }
    }
}

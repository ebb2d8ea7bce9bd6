/* kernels_ref.c - naive twins of the fast kernels: the plainest loops, double
 * accumulation. They define what each kernel computes; tests compare against them. */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

void dl_rmsnorm_ref(float *out, const float *x, const float *w, float eps, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C;
        float *or = out + (size_t)n * C;
        double ss = 0.0;
        for (int c = 0; c < C; c++)
            ss += (double)xr[c] * xr[c];
        double inv = 1.0 / sqrt(ss / C + (double)eps);
        for (int c = 0; c < C; c++)
            or[c] = (float)(xr[c] * inv * w[c]);
    }
}

void dl_silu_mul_ref(float *out, const float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double g = gate[i];
        out[i] = (float)(g / (1.0 + exp(-g)) * up[i]);
    }
}

void dl_matmul_ref(float *out, const float *x, const float *w, const float *bias, int accumulate,
                   int N, int K, int M, int ldo) {
    for (int n = 0; n < N; n++) {
        for (int m = 0; m < M; m++) {
            double s = bias ? bias[m] : 0.0;
            for (int k = 0; k < K; k++)
                s += (double)x[(size_t)n * K + k] * w[(size_t)m * K + k];
            float *o = out + (size_t)n * ldo + m;
            *o = accumulate ? (float)(*o + s) : (float)s;
        }
    }
}

void dl_rope_ref(float *x, const int32_t *pos, float theta, int pairing, int T, int n_heads, int hd) {
    int half = hd / 2;
    /* HALF_IN reads pair i at (i, i + hd/2) and writes it at (2i, 2i+1), which overwrites
     * pairs not read yet: it rotates from a copy of the head (so, as dl_rope, only for
     * hd <= DL_ROPE_MAX_HD); the other pairings read and write the same two elements */
    float copy[DL_ROPE_MAX_HD];
    const int half_in = pairing == DL_ROPE_PAIR_HALF_IN;
    if (half_in && hd > DL_ROPE_MAX_HD)
        return;   /* the loader refuses such heads for this layout */
    for (int t = 0; t < T; t++) {
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * hd;
            const float *in = v;
            if (half_in) {
                memcpy(copy, v, (size_t)hd * sizeof *v);
                in = copy;
            }
            for (int i = 0; i < half; i++) {
                double ang = pos[t] * pow((double)theta, -2.0 * i / hd);
                int ra = pairing == DL_ROPE_PAIR_ADJACENT ? 2 * i : i;          /* read */
                int rb = pairing == DL_ROPE_PAIR_ADJACENT ? 2 * i + 1 : i + half;
                int wa = pairing == DL_ROPE_PAIR_HALF ? i : 2 * i;              /* write */
                int wb = pairing == DL_ROPE_PAIR_HALF ? i + half : 2 * i + 1;
                double a = in[ra], b = in[rb];
                v[wa] = (float)(a * cos(ang) - b * sin(ang));
                v[wb] = (float)(a * sin(ang) + b * cos(ang));
            }
        }
    }
}

void dl_attention_ref(float *out, const float *q, const float *k, const float *v,
                      int n_q, int n_kv, int n_head, int n_head_kv, int hd) {
    int group = n_head / n_head_kv;
    double scale = 1.0 / sqrt((double)hd);
    for (int h = 0; h < n_head; h++) {
        int g = h / group;
        for (int i = 0; i < n_q; i++) {
            const float *qi = q + ((size_t)i * n_head + h) * hd;
            double mx = -INFINITY;
            for (int j = 0; j < n_kv; j++) {
                const float *kj = k + ((size_t)j * n_head_kv + g) * hd;
                double s = 0.0;
                for (int d = 0; d < hd; d++)
                    s += (double)qi[d] * kj[d];
                if (s * scale > mx)
                    mx = s * scale;
            }
            double sum = 0.0;
            double acc[hd];   /* hd is small (<= 256 in every model here) */
            memset(acc, 0, sizeof acc);
            for (int j = 0; j < n_kv; j++) {
                const float *kj = k + ((size_t)j * n_head_kv + g) * hd;
                const float *vj = v + ((size_t)j * n_head_kv + g) * hd;
                double s = 0.0;
                for (int d = 0; d < hd; d++)
                    s += (double)qi[d] * kj[d];
                double p = exp(s * scale - mx);
                sum += p;
                for (int d = 0; d < hd; d++)
                    acc[d] += p * vj[d];
            }
            float *oi = out + ((size_t)i * n_head + h) * hd;
            for (int d = 0; d < hd; d++)
                oi[d] = (float)(acc[d] / sum);
        }
    }
}

/* Binary16 decoded arithmetically (ldexp), independent of the bit-twiddling fast path. */
float dl_f16_to_f32(uint16_t h) {
    int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
    float v;
    if (exp == 31) {
        if (man == 0) {
            v = INFINITY;
        } else {
            /* quiet NaN with the payload moved to the top of the float mantissa */
            union { uint32_t u; float f; } nan = { 0x7fc00000u | ((uint32_t)man << 13) };
            v = nan.f;
        }
    } else if (exp == 0) {
        v = ldexpf((float)man, -24);
    } else {
        v = ldexpf((float)(man | 1024), exp - 25);
    }
    if (sign) {
        union { uint32_t u; float f; } s = { .f = v };
        s.u |= 0x80000000u;
        v = s.f;
    }
    return v;
}

float dl_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = { (uint32_t)h << 16 };
    return v.f;
}

void dl_f16_to_f32_row_ref(float *out, const uint16_t *in, size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = dl_f16_to_f32(in[i]);
}

void dl_bf16_to_f32_row_ref(float *out, const uint16_t *in, size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = dl_bf16_to_f32(in[i]);
}

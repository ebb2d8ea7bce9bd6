/* quant_quantize.c - f32 rows to quantized blocks.
 *
 * The 32-element formats follow ggml's deterministic reference quantizers (doc/formats.md,
 * "Reference quantizers"), so files written here quantize exactly as llama.cpp's reference would.
 *
 * The K formats choose their scales by a small search of our own (byte identity with
 * llama-quantize is not a goal; any valid encoding dequantizes the same everywhere):
 *  - Q4_K / Q5_K, per sub-block of 32: the affine fit w = a*q - b with b >= 0 (the
 *    format's min is never positive). For 11 trial inverse scales around nmax/(max-min)
 *    the values are rounded to 0..nmax, then a and b are solved by least squares for
 *    those integers; the trial with the least squared error wins. The 8 scales and 8
 *    mins are then quantized to 6 bits against the block maxima (d = max a / 63,
 *    dmin = max b / 63) and every value is re-rounded with the scales as stored.
 *  - Q6_K, per sub-block of 16: the symmetric fit w = a*q, q in -32..31, with 11
 *    trial inverse scales around -32/(signed extreme), a solved by least squares per
 *    trial; the 16 scales go to int8 against d = max |a| / 127, and the values are
 *    re-rounded with the stored scales. */
#include <math.h>
#include <string.h>

#include "fmt/ggml_types.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

static void put_f16(uint8_t *p, float v) {
    uint16_t h = dl_f32_to_f16(v);
    p[0] = (uint8_t)(h & 255);
    p[1] = (uint8_t)(h >> 8);
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* --- ggml's reference quantizers */

static void q8_0(uint8_t *b, const float *x) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(b, d);
    for (int j = 0; j < 32; j++)
        b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
}

/* The value of largest magnitude, with its sign (the first one on ties). */
static float signed_extreme(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++)
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

static void q4_0(uint8_t *b, const float *x) {
    float d = signed_extreme(x, 32) / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(b, d);
    for (int j = 0; j < 16; j++) {
        int lo = (int)(int8_t)(x[j] * id + 8.5f), hi = (int)(int8_t)(x[j + 16] * id + 8.5f);
        lo = lo < 15 ? lo : 15;
        hi = hi < 15 ? hi : 15;
        b[2 + j] = (uint8_t)(lo | hi << 4);
    }
}

static void min_max(const float *x, int n, float *mn, float *mx) {
    *mn = INFINITY;
    *mx = -INFINITY;
    for (int j = 0; j < n; j++) {
        *mn = fminf(*mn, x[j]);
        *mx = fmaxf(*mx, x[j]);
    }
}

static void q4_1(uint8_t *b, const float *x) {
    float mn, mx;
    min_max(x, 32, &mn, &mx);
    float d = (mx - mn) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(b, d);
    put_f16(b + 2, mn);
    for (int j = 0; j < 16; j++) {
        int lo = (int)(int8_t)((x[j] - mn) * id + 0.5f);
        int hi = (int)(int8_t)((x[j + 16] - mn) * id + 0.5f);
        lo = lo < 15 ? lo : 15;
        hi = hi < 15 ? hi : 15;
        b[4 + j] = (uint8_t)(lo | hi << 4);
    }
}

static void q5_0(uint8_t *b, const float *x) {
    float d = signed_extreme(x, 32) / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(b, d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        int lo = (int)(int8_t)(x[j] * id + 16.5f), hi = (int)(int8_t)(x[j + 16] * id + 16.5f);
        lo = lo < 31 ? lo : 31;
        hi = hi < 31 ? hi : 31;
        b[6 + j] = (uint8_t)((lo & 15) | (hi & 15) << 4);
        qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
    }
    put32(b + 2, qh);
}

static void q5_1(uint8_t *b, const float *x) {
    float mn, mx;
    min_max(x, 32, &mn, &mx);
    float d = (mx - mn) / 31.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(b, d);
    put_f16(b + 2, mn);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        int lo = (int)((x[j] - mn) * id + 0.5f), hi = (int)((x[j + 16] - mn) * id + 0.5f);
        b[8 + j] = (uint8_t)((lo & 15) | (hi & 15) << 4);
        qh |= (uint32_t)((lo >> 4) & 1) << j | (uint32_t)((hi >> 4) & 1) << (j + 16);
    }
    put32(b + 4, qh);
}

/* --- K formats */

static int clampi(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* Best affine fit x ~ a*q - b, q in 0..nmax, b >= 0, over n values (see the top). */
static void fit_affine(const float *x, int n, int nmax, float *a_out, float *b_out) {
    float mn, mx;
    min_max(x, n, &mn, &mx);
    if (mn > 0.0f)
        mn = 0.0f;
    *a_out = 0.0f;
    *b_out = -mn;
    if (!(mx > mn))
        return;
    double best = INFINITY;
    for (int t = -5; t <= 5; t++) {
        double iscale = (nmax + 0.1 * t) / ((double)mx - mn);
        double sq = 0, sq2 = 0, sx = 0, sqx = 0;
        int q[32];
        for (int j = 0; j < n; j++) {
            q[j] = clampi((int)lround((x[j] - mn) * iscale), 0, nmax);
            sq += q[j];
            sq2 += (double)q[j] * q[j];
            sx += x[j];
            sqx += q[j] * (double)x[j];
        }
        double det = n * sq2 - sq * sq, a, c;   /* x ~ a*q + c */
        if (det <= 0)
            continue;
        a = (n * sqx - sq * sx) / det;
        c = (sq2 * sx - sq * sqx) / det;
        if (c > 0) {   /* the format's offset -dmin*m cannot be positive */
            c = 0;
            a = sq2 > 0 ? sqx / sq2 : 0;
        }
        if (a < 0)
            continue;
        double err = 0;
        for (int j = 0; j < n; j++) {
            double e = a * q[j] + c - x[j];
            err += e * e;
        }
        if (err < best) {
            best = err;
            *a_out = (float)a;
            *b_out = (float)-c;
        }
    }
}

static void put_k_scales(uint8_t *s, const int *sc, const int *m) {
    memset(s, 0, 12);
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)sc[j];
        s[j + 4] = (uint8_t)m[j];
    }
    for (int j = 4; j < 8; j++) {
        s[j + 4] = (uint8_t)((sc[j] & 15) | (m[j] & 15) << 4);
        s[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
        s[j] |= (uint8_t)((m[j] >> 4) << 6);
    }
}

/* Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fills d, dmin, scales and q[256]. */
static void k_affine(uint8_t *head, int q[256], const float *x, int nmax) {
    float a[8], bm[8], amax = 0, bmax = 0;
    for (int j = 0; j < 8; j++) {
        fit_affine(x + 32 * j, 32, nmax, &a[j], &bm[j]);
        amax = fmaxf(amax, a[j]);
        bmax = fmaxf(bmax, bm[j]);
    }
    float d = amax / 63.0f, dmin = bmax / 63.0f;
    put_f16(head, d);
    put_f16(head + 2, dmin);
    float ds = dl_f16_to_f32(dl_f32_to_f16(d)), dms = dl_f16_to_f32(dl_f32_to_f16(dmin));
    int sc[8], m[8];
    for (int j = 0; j < 8; j++) {
        sc[j] = d > 0 ? clampi((int)lroundf(a[j] / d), 0, 63) : 0;
        m[j] = dmin > 0 ? clampi((int)lroundf(bm[j] / dmin), 0, 63) : 0;
    }
    put_k_scales(head + 4, sc, m);
    for (int j = 0; j < 8; j++) {
        float dj = ds * (float)sc[j], mj = dms * (float)m[j];
        for (int l = 0; l < 32; l++) {
            float v = x[32 * j + l];
            q[32 * j + l] = dj > 0 ? clampi((int)lroundf((v + mj) / dj), 0, nmax) : 0;
        }
    }
}

static void q4_k(uint8_t *b, const float *x) {
    int q[256];
    k_affine(b, q, x, 15);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            b[16 + 32 * c + l] = (uint8_t)(q[64 * c + l] | q[64 * c + 32 + l] << 4);
}

static void q5_k(uint8_t *b, const float *x) {
    int q[256];
    k_affine(b, q, x, 31);
    uint8_t *qh = b + 16, *qs = b + 48;
    memset(qh, 0, 32);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int lo = q[64 * c + l], hi = q[64 * c + 32 + l];
            qs[32 * c + l] = (uint8_t)((lo & 15) | (hi & 15) << 4);
            qh[l] |= (uint8_t)((lo >> 4) << (2 * c) | (hi >> 4) << (2 * c + 1));
        }
}

/* Best symmetric fit x ~ a*q, q in -32..31, over 16 values (see the top). */
static float fit_symmetric(const float *x) {
    float mx = signed_extreme(x, 16);
    if (mx == 0.0f)
        return 0.0f;
    double best = INFINITY, best_a = 0;
    for (int t = -5; t <= 5; t++) {
        double iscale = (-32.0 + 0.1 * t) / mx;
        double sq2 = 0, sqx = 0;
        int q[16];
        for (int j = 0; j < 16; j++) {
            q[j] = clampi((int)lround(x[j] * iscale), -32, 31);
            sq2 += (double)q[j] * q[j];
            sqx += q[j] * (double)x[j];
        }
        if (sq2 <= 0)
            continue;
        double a = sqx / sq2, err = 0;
        for (int j = 0; j < 16; j++) {
            double e = a * q[j] - x[j];
            err += e * e;
        }
        if (err < best) {
            best = err;
            best_a = a;
        }
    }
    return (float)best_a;
}

static void q6_k(uint8_t *b, const float *x) {
    float a[16], amax = 0;
    for (int j = 0; j < 16; j++) {
        a[j] = fit_symmetric(x + 16 * j);
        amax = fmaxf(amax, fabsf(a[j]));
    }
    float d = amax / 127.0f;
    put_f16(b + 208, d);
    float ds = dl_f16_to_f32(dl_f32_to_f16(d));
    int8_t *sc = (int8_t *)(b + 192);
    int q[256];
    for (int j = 0; j < 16; j++) {
        sc[j] = (int8_t)(d > 0 ? clampi((int)lroundf(a[j] / d), -127, 127) : 0);
        float dj = ds * (float)sc[j];
        for (int l = 0; l < 16; l++)
            q[16 * j + l] = dj != 0 ? clampi((int)lroundf(x[16 * j + l] / dj), -32, 31) + 32 : 32;
    }
    uint8_t *ql = b, *qh = b + 128;
    memset(qh, 0, 64);
    for (int h = 0; h < 2; h++) {
        const int *qq = q + 128 * h;
        for (int l = 0; l < 32; l++) {
            ql[64 * h + l] = (uint8_t)((qq[l] & 15) | (qq[l + 64] & 15) << 4);
            ql[64 * h + l + 32] = (uint8_t)((qq[l + 32] & 15) | (qq[l + 96] & 15) << 4);
            qh[32 * h + l] = (uint8_t)((qq[l] >> 4) | (qq[l + 32] >> 4) << 2 |
                                       (qq[l + 64] >> 4) << 4 | (qq[l + 96] >> 4) << 6);
        }
    }
}

int dl_quantize_row(uint32_t type, void *dst, const float *src, int64_t n) {
    void (*fn)(uint8_t *, const float *) = NULL;
    switch (type) {
    case DL_TYPE_Q8_0: fn = q8_0; break;
    case DL_TYPE_Q4_0: fn = q4_0; break;
    case DL_TYPE_Q4_1: fn = q4_1; break;
    case DL_TYPE_Q5_0: fn = q5_0; break;
    case DL_TYPE_Q5_1: fn = q5_1; break;
    case DL_TYPE_Q4_K: fn = q4_k; break;
    case DL_TYPE_Q5_K: fn = q5_k; break;
    case DL_TYPE_Q6_K: fn = q6_k; break;
    default: return -1;
    }
    const dl_type_info *ti = dl_type_get(type);
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / ti->block_size; i++)
        fn(b + i * ti->type_size, src + i * ti->block_size);
    return 0;
}

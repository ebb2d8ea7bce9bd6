/* quant_q6_k.c - Q6_K: super-blocks of 256, 210 bytes.
 *   ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] int8 (one per 16), d fp16
 *   w = (d*sc)*(q-32)
 * Dequantization (the format's definition), the quantizer, and the panel decoder of the
 * integer product (u = q, zero point 32, a scale per half of 16: kind ZP16).
 *
 * The quantizer, per sub-block of 16: the symmetric fit w = a*q, q in -32..31, with 11
 * trial inverse scales around -32/(signed extreme), a solved by least squares per trial;
 * the 16 scales go to int8 against d = max |a| / 127, and the values are re-rounded with
 * the stored scales. */
#include <math.h>
#include <string.h>

#include "kernels/formats.h"
#include "kernels/qgemm_impl.h"
#include "kernels/quant_block.h"
#include "kernels/quant_fit.h"

/* The 6-bit value (0..63) of element i (0..255) of a block. */
static int value_at(const uint8_t *b, int i) {
    const uint8_t *ql = b + 64 * (i / 128), *qh = b + 128 + 32 * (i / 128);
    int w = i % 128, l = w % 32, quarter = w / 32;
    int low = quarter & 1 ? ql[l + 32] : ql[l];
    low = quarter >= 2 ? low >> 4 : low & 15;
    int high = (qh[l] >> (2 * quarter)) & 3;
    return low | high << 4;
}

static void dequant(float *y, const uint8_t *b) {
    float d = dl_qb_f16(b + 208);
    const int8_t *sc = (const int8_t *)(b + 192);
    for (int i = 0; i < 256; i++)
        y[i] = d * (float)sc[i / 16] * (float)(value_at(b, i) - 32);
}

/* Best symmetric fit x ~ a*q, q in -32..31, over 16 values (see the top). */
static float fit_symmetric(const float *x) {
    float mx = dl_qf_signed_extreme(x, 16);
    if (mx == 0.0f)
        return 0.0f;
    double best = INFINITY, best_a = 0;
    for (int t = -5; t <= 5; t++) {
        double iscale = (-32.0 + 0.1 * t) / mx;
        double sq2 = 0, sqx = 0;
        int q[16];
        for (int j = 0; j < 16; j++) {
            q[j] = dl_qf_clampi((int)lround(x[j] * iscale), -32, 31);
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

static void quantize(uint8_t *b, const float *x) {
    float a[16], amax = 0;
    for (int j = 0; j < 16; j++) {
        a[j] = fit_symmetric(x + 16 * j);
        amax = fmaxf(amax, fabsf(a[j]));
    }
    float d = amax / 127.0f;
    dl_qb_put_f16(b + 208, d);
    float ds = dl_f16_to_f32(dl_f32_to_f16(d));
    int8_t *sc = (int8_t *)(b + 192);
    int q[256];
    for (int j = 0; j < 16; j++) {
        sc[j] = (int8_t)(d > 0 ? dl_qf_clampi((int)lroundf(a[j] / d), -127, 127) : 0);
        float dj = ds * (float)sc[j];
        for (int l = 0; l < 16; l++)
            q[16 * j + l] = dj != 0 ? dl_qf_clampi((int)lroundf(x[16 * j + l] / dj), -32, 31) + 32
                                    : 32;
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

void dl_type_q6_k_to_f32(float *out, const void *src, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 256; i++)
        dequant(out + i * 256, b + i * 210);
}

void dl_type_q6_k_from_f32(void *dst, const float *src, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 256; i++)
        quantize(b + i * 210, src + i * 256);
}

/* The 32 values of one quarter: low nibbles (ql >> lo_shift) and two high bits
 * (qh >> hi_shift). Inlined with constant shifts, since SSE2 has no byte shift by a
 * variable count and the widened loop would be slower than the plain one.
 *   u: [32] out;  ql, qh: [32] */
static inline __attribute__((always_inline)) void quarter_values(uint8_t *u, const uint8_t *ql,
                                                                 const uint8_t *qh, int lo_shift,
                                                                 int hi_shift) {
    for (int l = 0; l < 32; l++)
        u[l] = (uint8_t)(((ql[l] >> lo_shift) & 15) | ((qh[l] >> hi_shift) & 3) << 4);
}

void dl_type_q6_k_qdecode(dl_qpanel *p, int r, const uint8_t *row, int kb0, int nb) {
    for (int i = 0; i < nb; i++) {
        int kb = kb0 + i;
        const uint8_t *b = row + (size_t)(kb / 8) * 210;
        int j = kb % 8, half = j / 4, quarter = j % 4;   /* 32 elements of one 128-half */
        /* quarter q: low nibbles of ql[32 * (q & 1) + l], shifted 4 for q >= 2; high
         * bits 2q, 2q+1 of qh[l] */
        const uint8_t *ql = b + 64 * half + 32 * (quarter & 1), *qh = b + 128 + 32 * half;
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = dl_qb_f16(b + 208);
        uint8_t u[32];
        switch (quarter) {   /* constant shifts per case: the loops vectorize */
        case 0: quarter_values(u, ql, qh, 0, 0); break;
        case 1: quarter_values(u, ql, qh, 0, 2); break;
        case 2: quarter_values(u, ql, qh, 4, 4); break;
        default: quarter_values(u, ql, qh, 4, 6); break;
        }
        dl_qpanel_put(p + i, r, u, d * (float)sc[2 * j], d * (float)sc[2 * j + 1], 0.0f);
    }
}

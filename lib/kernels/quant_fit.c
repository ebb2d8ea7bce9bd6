/* quant_fit.c - the scale searches the quantizers share (quant_fit.h).
 *
 * Q4_K / Q5_K choose their scales by a small search of our own (byte identity with
 * llama-quantize is not a goal; any valid encoding dequantizes the same everywhere). Per
 * sub-block of 32: the affine fit w = a*q - b with b >= 0 (the format's min is never
 * positive). For 11 trial inverse scales around nmax/(max-min) the values are rounded to
 * 0..nmax, then a and b are solved by least squares for those integers; the trial with
 * the least squared error wins. The 8 scales and 8 mins are then quantized to 6 bits
 * against the block maxima (d = max a / 63, dmin = max b / 63) and every value is
 * re-rounded with the scales as stored. */
#include <math.h>
#include <string.h>

#include "kernels/quant_block.h"
#include "kernels/quant_fit.h"

float dl_qf_signed_extreme(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++)
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

void dl_qf_min_max(const float *x, int n, float *mn, float *mx) {
    *mn = INFINITY;
    *mx = -INFINITY;
    for (int j = 0; j < n; j++) {
        *mn = fminf(*mn, x[j]);
        *mx = fmaxf(*mx, x[j]);
    }
}

/* Best affine fit x ~ a*q - b, q in 0..nmax, b >= 0, over n values (see the top). */
static void fit_affine(const float *x, int n, int nmax, float *a_out, float *b_out) {
    float mn, mx;
    dl_qf_min_max(x, n, &mn, &mx);
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
            q[j] = dl_qf_clampi((int)lround((x[j] - mn) * iscale), 0, nmax);
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

void dl_qf_k_affine(uint8_t *head, int q[256], const float *x, int nmax) {
    float a[8], bm[8], amax = 0, bmax = 0;
    for (int j = 0; j < 8; j++) {
        fit_affine(x + 32 * j, 32, nmax, &a[j], &bm[j]);
        amax = fmaxf(amax, a[j]);
        bmax = fmaxf(bmax, bm[j]);
    }
    float d = amax / 63.0f, dmin = bmax / 63.0f;
    dl_qb_put_f16(head, d);
    dl_qb_put_f16(head + 2, dmin);
    float ds = dl_f16_to_f32(dl_f32_to_f16(d)), dms = dl_f16_to_f32(dl_f32_to_f16(dmin));
    int sc[8], m[8];
    for (int j = 0; j < 8; j++) {
        sc[j] = d > 0 ? dl_qf_clampi((int)lroundf(a[j] / d), 0, 63) : 0;
        m[j] = dmin > 0 ? dl_qf_clampi((int)lroundf(bm[j] / dmin), 0, 63) : 0;
    }
    put_k_scales(head + 4, sc, m);
    for (int j = 0; j < 8; j++) {
        float dj = ds * (float)sc[j], mj = dms * (float)m[j];
        for (int l = 0; l < 32; l++) {
            float v = x[32 * j + l];
            q[32 * j + l] = dj > 0 ? dl_qf_clampi((int)lroundf((v + mj) / dj), 0, nmax) : 0;
        }
    }
}

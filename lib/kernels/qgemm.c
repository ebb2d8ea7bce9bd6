/* qgemm.c - the integer product over quantized weights: activation quantization, the
 * weight-panel decoder, the portable kernel and the driver.
 *
 * Every weight format is decoded, one chunk of 256 elements x 64 rows at a time, into
 * one common form (qgemm_impl.h): unsigned 8-bit values with an f32 scale per 32 (per
 * 16 for Q6_K) and either an integer zero point or an f32 min. One kernel per
 * instruction set then serves all eight formats. The decode costs O(rows x K) per
 * product, against O(N x rows x K) multiply-adds, so it vanishes for canvases of a
 * hundred tokens and more; the chunk stays in L1 while every activation row passes.
 *
 * Activations are quantized per 32 values (as Q8_0), also for the K formats: finer
 * than ggml's Q8_K (per 256), so slightly more accurate, and one layout for all. */
#include <math.h>
#include <string.h>

#include "fmt/ggml_types.h"
#include "kernels/cpu.h"
#include "kernels/half.h"
#include "kernels/kernels.h"
#include "kernels/qgemm_impl.h"

static int qkind(uint32_t type) {
    switch (type) {
    case DL_TYPE_Q4_1: case DL_TYPE_Q5_1: case DL_TYPE_Q4_K: case DL_TYPE_Q5_K:
        return DL_QK_MIN32;
    case DL_TYPE_Q6_K:
        return DL_QK_ZP16;
    default:
        return DL_QK_ZP32;
    }
}

static int qzero(uint32_t type) {
    switch (type) {
    case DL_TYPE_Q8_0: return 128;
    case DL_TYPE_Q4_0: return 8;
    case DL_TYPE_Q5_0: return 16;
    case DL_TYPE_Q6_K: return 32;
    default: return 0;
    }
}

/* --- activations */

/* Round to nearest, ties to even, for |v| < 2^22: adding 1.5 * 2^23 leaves no fraction
 * bits (IEEE arithmetic: the compiler may not fold it without -ffast-math). The same
 * rounding as vcvtps2dq under the default MXCSR, and no libm call. */
static inline int round_even(float v) {
    return (int)((v + 12582912.0f) - 12582912.0f);
}

/* The correction terms of one block from its integer half sums (quant.h). */
static void qact_terms(dl_qact *o, int kind, int z, int s0, int s1) {
    o->s = kind == DL_QK_MIN32 ? o->d * (float)(s0 + s1) : 0.0f;
    o->zh[0] = kind == DL_QK_ZP16 ? z * s0 : z * (s0 + s1);
    o->zh[1] = kind == DL_QK_ZP16 ? z * s1 : 0;
}

void dl_qact_row_scalar(dl_qact *out, const float *x, uint32_t wtype, int K) {
    int kind = qkind(wtype), z = qzero(wtype);
    for (int b = 0; b < K / DL_QK; b++) {
        const float *xb = x + (size_t)b * DL_QK;
        dl_qact *o = out + b;
        float amax = 0.0f;
        for (int j = 0; j < DL_QK; j++) {
            float a = xb[j] < 0 ? -xb[j] : xb[j];
            amax = a > amax ? a : amax;
        }
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int s0 = 0, s1 = 0;
        for (int j = 0; j < DL_QK; j++) {
            int q = round_even(xb[j] * id);
            q = q > 127 ? 127 : q < -127 ? -127 : q;
            o->qs[j] = (int8_t)q;
            if (j < 16)
                s0 += q;
            else
                s1 += q;
        }
        o->d = d;
        qact_terms(o, kind, z, s0, s1);
    }
}

void dl_qact_row(dl_qact *out, const float *x, uint32_t wtype, int K) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (dl_qpath_available(DL_QPATH_AVX512_VNNI)) {
        int kind = qkind(wtype), z = qzero(wtype);
        for (int b = 0; b < K / DL_QK; b++) {
            int s0, s1;
            dl_qact_block_avx512(out + b, x + (size_t)b * DL_QK, &s0, &s1);
            qact_terms(out + b, kind, z, s0, s1);
        }
        return;
    }
#endif
    dl_qact_row_scalar(out, x, wtype, K);
}

/* --- weight decoding */

static float f16_at(const uint8_t *p) {
    return dl_half_at(p);
}

static void k_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* Block kb (of 32) of one weight row into row r of a panel block:
 * u[32] values, its scales and min. */
static void decode_block(dl_qpanel *p, int r, const uint8_t *row, uint32_t type, int kb) {
    uint8_t u[32];
    float d0, d1, m = 0.0f;
    switch (type) {
    case DL_TYPE_Q8_0: {
        const uint8_t *b = row + (size_t)kb * 34;
        d0 = d1 = f16_at(b);
        for (int j = 0; j < 32; j++)
            u[j] = (uint8_t)(b[2 + j] ^ 0x80u);   /* q + 128 */
        break;
    }
    case DL_TYPE_Q4_0:
    case DL_TYPE_Q4_1: {
        int q41 = type == DL_TYPE_Q4_1;
        const uint8_t *b = row + (size_t)kb * (q41 ? 20 : 18), *qs = b + (q41 ? 4 : 2);
        d0 = d1 = f16_at(b);
        if (q41)
            m = f16_at(b + 2);
        for (int j = 0; j < 16; j++) {
            u[j] = qs[j] & 15;
            u[j + 16] = qs[j] >> 4;
        }
        break;
    }
    case DL_TYPE_Q5_0:
    case DL_TYPE_Q5_1: {
        int q51 = type == DL_TYPE_Q5_1;
        const uint8_t *b = row + (size_t)kb * (q51 ? 24 : 22), *h = b + (q51 ? 4 : 2);
        const uint8_t *qs = h + 4;
        uint32_t qh = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
        d0 = d1 = f16_at(b);
        if (q51)
            m = f16_at(b + 2);
        for (int j = 0; j < 16; j++) {
            u[j] = (uint8_t)((qs[j] & 15) | ((qh >> j) & 1) << 4);
            u[j + 16] = (uint8_t)((qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
        }
        break;
    }
    case DL_TYPE_Q4_K:
    case DL_TYPE_Q5_K: {
        int q5 = type == DL_TYPE_Q5_K;
        const uint8_t *b = row + (size_t)(kb / 8) * (q5 ? 176 : 144);
        int j = kb % 8, c = j / 2, hi = j % 2, sc, mn;
        k_scale_min(b + 4, j, &sc, &mn);
        d0 = d1 = f16_at(b) * (float)sc;
        m = -(f16_at(b + 2) * (float)mn);
        const uint8_t *qs = b + (q5 ? 48 : 16) + 32 * c, *qh = b + 16;
        for (int l = 0; l < 32; l++) {
            int v = hi ? qs[l] >> 4 : qs[l] & 15;
            if (q5)
                v |= ((qh[l] >> (2 * c + hi)) & 1) << 4;
            u[l] = (uint8_t)v;
        }
        break;
    }
    case DL_TYPE_Q6_K: {
        const uint8_t *b = row + (size_t)(kb / 8) * 210;
        int j = kb % 8, half = j / 4, w0 = (j % 4) * 32;   /* 32 elements of one 128-half */
        const uint8_t *ql = b + 64 * half, *qh = b + 128 + 32 * half;
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = f16_at(b + 208);
        d0 = d * (float)sc[2 * j];
        d1 = d * (float)sc[2 * j + 1];
        int quarter = w0 / 32;
        for (int l = 0; l < 32; l++) {
            int low = quarter & 1 ? ql[l + 32] : ql[l];
            low = quarter >= 2 ? low >> 4 : low & 15;
            u[l] = (uint8_t)(low | ((qh[l] >> (2 * quarter)) & 3) << 4);
        }
        break;
    }
    default:
        return;
    }
    for (int g = 0; g < 8; g++)
        memcpy(p->q[g][r], u + 4 * g, 4);
    p->d[0][r] = d0;
    p->d[1][r] = d1;
    p->m[r] = m;
}

/* --- portable kernel: the plainest loops over the same panel, same f32 operations */

void dl_qkernel_scalar(float *out, int ldo, const dl_qact *xa, int xs, int N,
                       const dl_qpanel *panel, int n_groups, int cols, int nb, int kind, int z) {
    (void)z;
    for (int n = 0; n < N; n++) {
        const dl_qact *xr = xa + (size_t)n * xs;
        for (int c = 0; c < cols; c++) {
            int g = c / 16, r = c % 16;
            float s = out[(size_t)n * ldo + c];
            for (int b = 0; b < nb; b++) {
                const dl_qpanel *p = panel + (size_t)g * nb + b;
                const dl_qact *x = xr + b;
                int32_t sum[2] = { 0, 0 };
                for (int j = 0; j < 32; j++)
                    sum[j / 16] += (int32_t)p->q[j / 4][r][j % 4] * x->qs[j];
                if (kind == DL_QK_ZP16) {
                    s = fmaf(p->d[0][r] * x->d, (float)(sum[0] - x->zh[0]), s);
                    s = fmaf(p->d[1][r] * x->d, (float)(sum[1] - x->zh[1]), s);
                } else if (kind == DL_QK_MIN32) {
                    s = fmaf(p->d[0][r] * x->d, (float)(sum[0] + sum[1]), s);
                    s = fmaf(p->m[r], x->s, s);
                } else {
                    s = fmaf(p->d[0][r] * x->d, (float)(sum[0] + sum[1] - x->zh[0]), s);
                }
            }
            out[(size_t)n * ldo + c] = s;
        }
    }
}

/* --- driver */

static dl_qkernel_fn kernel_for(int path) {
#if defined(__x86_64__) && defined(__GNUC__)
    switch (path) {
    case DL_QPATH_AVX2: return dl_qkernel_avx2;
    case DL_QPATH_AVX_VNNI: return dl_qkernel_avxvnni;
    case DL_QPATH_AVX512_VNNI: return dl_qkernel_avx512vnni;
    default: break;
    }
#else
    (void)path;
#endif
    return dl_qkernel_scalar;
}

void dl_qgemm_cols(int path, float *out, int ldo, const dl_qact *xa, int N, const void *w,
                   uint32_t wtype, int K, int64_t m0, int mc, const float *bias, int accumulate) {
    if (N <= 0 || mc <= 0)
        return;
    if (mc > DL_QGEMM_COLS)
        mc = DL_QGEMM_COLS;
    if (!dl_qpath_available(path))
        path = DL_QPATH_SCALAR;
    dl_qkernel_fn kern = kernel_for(path);
    int kind = qkind(wtype), z = qzero(wtype);
    int xz = path == DL_QPATH_AVX2 && wtype == DL_TYPE_Q8_0;
    size_t rb = dl_row_bytes(wtype, K);
    int KB = K / DL_QK, n_groups = (mc + 15) / 16;
    float *o = out + m0;
    for (int n = 0; n < N; n++)
        if (!accumulate)
            memset(o + (size_t)n * ldo, 0, (size_t)mc * sizeof(float));
    dl_qpanel panel[DL_QGEMM_COLS / 16 * DL_QCHUNK_BLOCKS] __attribute__((aligned(64)));
    for (int kb0 = 0; kb0 < KB; kb0 += DL_QCHUNK_BLOCKS) {
        int nb = KB - kb0 < DL_QCHUNK_BLOCKS ? KB - kb0 : DL_QCHUNK_BLOCKS;
        for (int g = 0; g < n_groups; g++)
            for (int r = 0; r < 16; r++) {
                int64_t m = m0 + 16 * g + r;
                for (int b = 0; b < nb; b++) {
                    dl_qpanel *p = panel + (size_t)g * nb + b;
                    if (16 * g + r < mc) {
                        decode_block(p, r, (const uint8_t *)w + (size_t)m * rb, wtype, kb0 + b);
                    } else {
                        for (int q = 0; q < 8; q++)
                            memset(p->q[q][r], 0, 4);
                        p->d[0][r] = p->d[1][r] = p->m[r] = 0.0f;
                    }
                }
            }
        kern(o, ldo, xa + kb0, KB, N, panel, n_groups, mc, nb, kind, xz ? 0 : z);
    }
    if (bias)
        for (int n = 0; n < N; n++)
            for (int c = 0; c < mc; c++)
                o[(size_t)n * ldo + c] += bias[m0 + c];
}

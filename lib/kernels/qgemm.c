/* qgemm.c - the integer product over quantized weights: activation quantization, the
 * portable kernel and the driver (the formats' panel decoders are in quant_<name>.c).
 *
 * Every weight format is decoded, one chunk of 256 elements x 64 rows at a time, into
 * one common form (qgemm_impl.h): unsigned 8-bit values with an f32 scale per 32 (per
 * 16 for Q6_K) and either an integer zero point or an f32 min. The decoder, the zero
 * point and the kernel per instruction set come from the weight type's row (types.c):
 * one kernel per instruction set serves nearly every format. The decode costs
 * O(rows x K) per product, against O(N x rows x K) multiply-adds, so it vanishes for
 * canvases of a hundred tokens and more; the chunk stays in L1 while every activation
 * row passes.
 *
 * Activations are quantized per 32 values (as Q8_0), also for the K formats: finer
 * than ggml's Q8_K (per 256), so slightly more accurate, and one layout for all. */
#include <math.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/kernels.h"
#include "kernels/qgemm_impl.h"
#include "kernels/types.h"

/* The kind and zero point of a weight type's panels (types.h); ZP32 with zero 0 for an
 * id the integer product does not read, so a stray call quantizes without corrections. */
static void type_kind(uint32_t type, int *kind, int *z) {
    const dl_type_info *ti = dl_type_get(type);
    int ok = ti && ti->product == DL_PRODUCT_INT8;
    *kind = ok ? ti->qkind : DL_QK_ZP32;
    *z = ok ? ti->qzero : 0;
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
    int kind, z;
    type_kind(wtype, &kind, &z);
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
        int kind, z;
        type_kind(wtype, &kind, &z);
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

/* --- portable kernel: the plainest loops over the same panel, same f32 operations */

void dl_qkernel_scalar(float *out, int ldo, const dl_qact *xa, int xs, int N,
                       const dl_qpanel *panel, int n_groups, int cols, int nb, int kind) {
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

void dl_qgemm_cols(int path, float *out, int ldo, const dl_qact *xa, int N, const void *w,
                   uint32_t wtype, int K, int64_t m0, int mc, const float *bias, int accumulate) {
    const dl_type_info *ti = dl_type_get(wtype);
    if (N <= 0 || mc <= 0 || !ti || ti->product != DL_PRODUCT_INT8)
        return;
    if (mc > DL_QGEMM_COLS)
        mc = DL_QGEMM_COLS;
    if (!dl_qpath_available(path))
        path = DL_QPATH_SCALAR;
    dl_qkernel_fn kern = ti->qkernel[path] ? ti->qkernel[path] : dl_qkernel_scalar;
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
                dl_qpanel *p = panel + (size_t)g * nb;   /* this group's nb blocks */
                if (16 * g + r < mc) {
                    int64_t m = m0 + 16 * g + r;
                    ti->qdecode(p, r, (const uint8_t *)w + (size_t)m * rb, kb0, nb);
                } else {
                    for (int b = 0; b < nb; b++) {
                        for (int q = 0; q < 8; q++)
                            memset(p[b].q[q][r], 0, 4);
                        p[b].d[0][r] = p[b].d[1][r] = p[b].m[r] = 0.0f;
                    }
                }
            }
        kern(o, ldo, xa + kb0, KB, N, panel, n_groups, mc, nb, ti->qkind);
    }
    if (bias)
        for (int n = 0; n < N; n++)
            for (int c = 0; c < mc; c++)
                o[(size_t)n * ldo + c] += bias[m0 + c];
}

/* quant_q4_k.c - Q4_K: super-blocks of 256, 144 bytes.
 *   d fp16, dmin fp16, scales[12] (6-bit sc and m per 32, packed), qs[128]
 *   w = (d*sc)*q - dmin*m
 * The float operations are exactly the ones named, left to right, in f32 (d1 = d*sc
 * and m1 = dmin*m first, then d1*q - m1), so a reference written from the same
 * definition reproduces every bit. Dequantization, the quantizer (quant_fit.c's search)
 * and the panel decoder of the integer product (u = q, additive min -m1 per 32). */
#include "kernels/formats.h"
#include "kernels/qgemm_impl.h"
#include "kernels/quant_block.h"
#include "kernels/quant_fit.h"

static void dequant(float *y, const uint8_t *b) {
    float d = dl_qb_f16(b), dmin = dl_qb_f16(b + 2);
    const uint8_t *sc = b + 4, *qs = b + 16;
    for (int c = 0; c < 4; c++) {
        int s0, m0, s1, m1;
        dl_qb_k_scale_min(sc, 2 * c, &s0, &m0);
        dl_qb_k_scale_min(sc, 2 * c + 1, &s1, &m1);
        float d0 = d * (float)s0, n0 = dmin * (float)m0;
        float d1 = d * (float)s1, n1 = dmin * (float)m1;
        for (int l = 0; l < 32; l++) {
            y[64 * c + l] = d0 * (float)(qs[32 * c + l] & 15) - n0;
            y[64 * c + 32 + l] = d1 * (float)(qs[32 * c + l] >> 4) - n1;
        }
    }
}

static void quantize(uint8_t *b, const float *x) {
    int q[256];
    dl_qf_k_affine(b, q, x, 15);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            b[16 + 32 * c + l] = (uint8_t)(q[64 * c + l] | q[64 * c + 32 + l] << 4);
}

void dl_type_q4_k_to_f32(float *out, const void *src, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 256; i++)
        dequant(out + i * 256, b + i * 144);
}

void dl_type_q4_k_from_f32(void *dst, const float *src, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 256; i++)
        quantize(b + i * 144, src + i * 256);
}

void dl_type_q4_k_qdecode(dl_qpanel *p, int r, const uint8_t *row, int kb0, int nb) {
    for (int i = 0; i < nb; i++) {
        int kb = kb0 + i;
        const uint8_t *b = row + (size_t)(kb / 8) * 144;
        int j = kb % 8, c = j / 2, hi = j % 2, sc, mn;
        dl_qb_k_scale_min(b + 4, j, &sc, &mn);
        float d = dl_qb_f16(b) * (float)sc;
        float m = -(dl_qb_f16(b + 2) * (float)mn);
        const uint8_t *qs = b + 16 + 32 * c;
        uint8_t u[32];
        if (hi)   /* one branch per block, constant shifts in the loops: they vectorize */
            for (int l = 0; l < 32; l++)
                u[l] = (uint8_t)(qs[l] >> 4);
        else
            for (int l = 0; l < 32; l++)
                u[l] = (uint8_t)(qs[l] & 15);
        dl_qpanel_put(p + i, r, u, d, d, m);
    }
}

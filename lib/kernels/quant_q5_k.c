/* quant_q5_k.c - Q5_K: super-blocks of 256, 176 bytes.
 *   d fp16, dmin fp16, scales[12] (as Q4_K), qh[32] (5th bits), qs[128]
 *   w = (d*sc)*q - dmin*m, q 5-bit
 * Float operations in Q4_K's order (quant_q4_k.c). Dequantization, the quantizer
 * (quant_fit.c's search) and the panel decoder of the integer product (u = q, additive
 * min -m1 per 32). */
#include <string.h>

#include "kernels/formats.h"
#include "kernels/qgemm_impl.h"
#include "kernels/quant_block.h"
#include "kernels/quant_fit.h"

static void dequant(float *y, const uint8_t *b) {
    float d = dl_qb_f16(b), dmin = dl_qb_f16(b + 2);
    const uint8_t *sc = b + 4, *qh = b + 16, *qs = b + 48;
    for (int c = 0; c < 4; c++) {
        int s0, m0, s1, m1;
        dl_qb_k_scale_min(sc, 2 * c, &s0, &m0);
        dl_qb_k_scale_min(sc, 2 * c + 1, &s1, &m1);
        float d0 = d * (float)s0, n0 = dmin * (float)m0;
        float d1 = d * (float)s1, n1 = dmin * (float)m1;
        for (int l = 0; l < 32; l++) {
            int lo = (qs[32 * c + l] & 15) | ((qh[l] >> (2 * c)) & 1) << 4;
            int hi = (qs[32 * c + l] >> 4) | ((qh[l] >> (2 * c + 1)) & 1) << 4;
            y[64 * c + l] = d0 * (float)lo - n0;
            y[64 * c + 32 + l] = d1 * (float)hi - n1;
        }
    }
}

static void quantize(uint8_t *b, const float *x) {
    int q[256];
    dl_qf_k_affine(b, q, x, 31);
    uint8_t *qh = b + 16, *qs = b + 48;
    memset(qh, 0, 32);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int lo = q[64 * c + l], hi = q[64 * c + 32 + l];
            qs[32 * c + l] = (uint8_t)((lo & 15) | (hi & 15) << 4);
            qh[l] |= (uint8_t)((lo >> 4) << (2 * c) | (hi >> 4) << (2 * c + 1));
        }
}

void dl_type_q5_k_to_f32(float *out, const void *src, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 256; i++)
        dequant(out + i * 256, b + i * 176);
}

void dl_type_q5_k_from_f32(void *dst, const float *src, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 256; i++)
        quantize(b + i * 176, src + i * 256);
}

void dl_type_q5_k_qdecode(dl_qpanel *p, int r, const uint8_t *row, int kb0, int nb) {
    for (int i = 0; i < nb; i++) {
        int kb = kb0 + i;
        const uint8_t *b = row + (size_t)(kb / 8) * 176;
        int j = kb % 8, c = j / 2, hi = j % 2, sc, mn;
        dl_qb_k_scale_min(b + 4, j, &sc, &mn);
        float d = dl_qb_f16(b) * (float)sc;
        float m = -(dl_qb_f16(b + 2) * (float)mn);
        const uint8_t *qs = b + 48 + 32 * c, *qh = b + 16;
        /* constant shifts and a bit test, no byte shift by a variable count (SSE2 has
         * none): both loops vectorize */
        uint8_t u[32], hm = (uint8_t)(1u << (2 * c + hi));
        if (hi)
            for (int l = 0; l < 32; l++)
                u[l] = (uint8_t)((qs[l] >> 4) | (qh[l] & hm ? 16 : 0));
        else
            for (int l = 0; l < 32; l++)
                u[l] = (uint8_t)((qs[l] & 15) | (qh[l] & hm ? 16 : 0));
        dl_qpanel_put(p + i, r, u, d, d, m);
    }
}

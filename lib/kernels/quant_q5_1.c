/* quant_q5_1.c - Q5_1: blocks of 32, 24 bytes.
 *   d fp16, m fp16, qh u32 (bit j = 5th bit of element j), qs[16]   w = d*q + m
 * Dequantization (the format's definition), ggml's reference quantizer, and the panel
 * decoder of the integer product (u = q, additive min m). */
#include "kernels/formats.h"
#include "kernels/qgemm_impl.h"
#include "kernels/quant_block.h"
#include "kernels/quant_fit.h"

static void dequant(float *y, const uint8_t *b) {
    float d = dl_qb_f16(b), m = dl_qb_f16(b + 2);
    uint32_t qh = dl_qb_le32(b + 4);
    for (int j = 0; j < 16; j++) {
        int lo = (b[8 + j] & 15) | (int)((qh >> j) & 1) << 4;
        int hi = (b[8 + j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = d * (float)lo + m;
        y[j + 16] = d * (float)hi + m;
    }
}

static void quantize(uint8_t *b, const float *x) {
    float mn, mx;
    dl_qf_min_max(x, 32, &mn, &mx);
    float d = (mx - mn) / 31.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    dl_qb_put_f16(b, d);
    dl_qb_put_f16(b + 2, mn);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        int lo = (int)((x[j] - mn) * id + 0.5f), hi = (int)((x[j + 16] - mn) * id + 0.5f);
        b[8 + j] = (uint8_t)((lo & 15) | (hi & 15) << 4);
        qh |= (uint32_t)((lo >> 4) & 1) << j | (uint32_t)((hi >> 4) & 1) << (j + 16);
    }
    dl_qb_put32(b + 4, qh);
}

void dl_type_q5_1_to_f32(float *out, const void *src, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++)
        dequant(out + i * 32, b + i * 24);
}

void dl_type_q5_1_from_f32(void *dst, const float *src, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 32; i++)
        quantize(b + i * 24, src + i * 32);
}

void dl_type_q5_1_qdecode(dl_qpanel *p, int r, const uint8_t *row, int kb0, int nb) {
    for (int i = 0; i < nb; i++) {
        const uint8_t *b = row + (size_t)(kb0 + i) * 24, *qs = b + 8;
        uint32_t qh = dl_qb_le32(b + 4);
        uint8_t u[32];
        float d = dl_qb_f16(b), m = dl_qb_f16(b + 2);
        /* a bit test per element rather than a shift by j: the loop vectorizes */
        for (int j = 0; j < 16; j++) {
            u[j] = (uint8_t)((qs[j] & 15) | (qh & (1u << j) ? 16 : 0));
            u[j + 16] = (uint8_t)((qs[j] >> 4) | (qh & (1u << (j + 16)) ? 16 : 0));
        }
        dl_qpanel_put(p + i, r, u, d, d, m);
    }
}

/* quant_q5_0.c - Q5_0: blocks of 32, 22 bytes.
 *   d fp16, qh u32 (bit j = 5th bit of element j), qs[16]   w = d*(q-16)
 * Dequantization (the format's definition), ggml's reference quantizer, and the panel
 * decoder of the integer product (u = q, zero point 16). */
#include "kernels/formats.h"
#include "kernels/qgemm_impl.h"
#include "kernels/quant_block.h"
#include "kernels/quant_fit.h"

static void dequant(float *y, const uint8_t *b) {
    float d = dl_qb_f16(b);
    uint32_t qh = dl_qb_le32(b + 2);
    for (int j = 0; j < 16; j++) {
        int lo = (b[6 + j] & 15) | (int)((qh >> j) & 1) << 4;
        int hi = (b[6 + j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = d * (float)(lo - 16);
        y[j + 16] = d * (float)(hi - 16);
    }
}

static void quantize(uint8_t *b, const float *x) {
    float d = dl_qf_signed_extreme(x, 32) / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    dl_qb_put_f16(b, d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        int lo = (int)(int8_t)(x[j] * id + 16.5f), hi = (int)(int8_t)(x[j + 16] * id + 16.5f);
        lo = lo < 31 ? lo : 31;
        hi = hi < 31 ? hi : 31;
        b[6 + j] = (uint8_t)((lo & 15) | (hi & 15) << 4);
        qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
    }
    dl_qb_put32(b + 2, qh);
}

void dl_type_q5_0_to_f32(float *out, const void *src, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++)
        dequant(out + i * 32, b + i * 22);
}

void dl_type_q5_0_from_f32(void *dst, const float *src, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 32; i++)
        quantize(b + i * 22, src + i * 32);
}

void dl_type_q5_0_qdecode(dl_qpanel *p, int r, const uint8_t *row, int kb0, int nb) {
    for (int i = 0; i < nb; i++) {
        const uint8_t *b = row + (size_t)(kb0 + i) * 22, *qs = b + 6;
        uint32_t qh = dl_qb_le32(b + 2);
        uint8_t u[32];
        float d = dl_qb_f16(b);
        /* a bit test per element rather than a shift by j: the loop vectorizes */
        for (int j = 0; j < 16; j++) {
            u[j] = (uint8_t)((qs[j] & 15) | (qh & (1u << j) ? 16 : 0));
            u[j + 16] = (uint8_t)((qs[j] >> 4) | (qh & (1u << (j + 16)) ? 16 : 0));
        }
        dl_qpanel_put(p + i, r, u, d, d, 0.0f);
    }
}

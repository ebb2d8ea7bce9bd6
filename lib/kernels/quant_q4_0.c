/* quant_q4_0.c - Q4_0: blocks of 32, 18 bytes.
 *   d fp16, qs[16] (lo nibble = element j, hi = j+16)   w = d*(q-8)
 * Dequantization (the format's definition), ggml's reference quantizer, and the panel
 * decoder of the integer product (u = q, zero point 8). */
#include "kernels/formats.h"
#include "kernels/qgemm_impl.h"
#include "kernels/quant_block.h"
#include "kernels/quant_fit.h"

static void dequant(float *y, const uint8_t *b) {
    float d = dl_qb_f16(b);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)((b[2 + j] & 15) - 8);
        y[j + 16] = d * (float)((b[2 + j] >> 4) - 8);
    }
}

static void quantize(uint8_t *b, const float *x) {
    float d = dl_qf_signed_extreme(x, 32) / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    dl_qb_put_f16(b, d);
    for (int j = 0; j < 16; j++) {
        int lo = (int)(int8_t)(x[j] * id + 8.5f), hi = (int)(int8_t)(x[j + 16] * id + 8.5f);
        lo = lo < 15 ? lo : 15;
        hi = hi < 15 ? hi : 15;
        b[2 + j] = (uint8_t)(lo | hi << 4);
    }
}

void dl_type_q4_0_to_f32(float *out, const void *src, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++)
        dequant(out + i * 32, b + i * 18);
}

void dl_type_q4_0_from_f32(void *dst, const float *src, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 32; i++)
        quantize(b + i * 18, src + i * 32);
}

void dl_type_q4_0_qdecode(dl_qpanel *p, int r, const uint8_t *row, int kb0, int nb) {
    for (int i = 0; i < nb; i++) {
        const uint8_t *b = row + (size_t)(kb0 + i) * 18, *qs = b + 2;
        uint8_t u[32];
        float d = dl_qb_f16(b);
        for (int j = 0; j < 16; j++) {
            u[j] = qs[j] & 15;
            u[j + 16] = qs[j] >> 4;
        }
        dl_qpanel_put(p + i, r, u, d, d, 0.0f);
    }
}

/* quant_q8_0.c - Q8_0: blocks of 32, 34 bytes.
 *   d fp16, qs[32] int8                      w = d*q
 * Dequantization (the format's definition), ggml's reference quantizer, and the panel
 * decoder of the integer product (u = q + 128, zero point 128). */
#include <math.h>

#include "kernels/formats.h"
#include "kernels/qgemm_impl.h"
#include "kernels/quant_block.h"

static void dequant(float *y, const uint8_t *b) {
    float d = dl_qb_f16(b);
    for (int j = 0; j < 32; j++)
        y[j] = d * (float)(int8_t)b[2 + j];
}

static void quantize(uint8_t *b, const float *x) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    dl_qb_put_f16(b, d);
    for (int j = 0; j < 32; j++)
        b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
}

void dl_type_q8_0_to_f32(float *out, const void *src, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++)
        dequant(out + i * 32, b + i * 34);
}

void dl_type_q8_0_from_f32(void *dst, const float *src, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 32; i++)
        quantize(b + i * 34, src + i * 32);
}

void dl_type_q8_0_qdecode(dl_qpanel *p, int r, const uint8_t *row, int kb0, int nb) {
    for (int i = 0; i < nb; i++) {
        const uint8_t *b = row + (size_t)(kb0 + i) * 34;
        uint8_t u[32];
        float d = dl_qb_f16(b);
        for (int j = 0; j < 32; j++)
            u[j] = (uint8_t)(b[2 + j] ^ 0x80u);   /* q + 128 */
        dl_qpanel_put(p + i, r, u, d, d, 0.0f);
    }
}

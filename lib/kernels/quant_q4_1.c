/* quant_q4_1.c - Q4_1: blocks of 32, 20 bytes.
 *   d fp16, m fp16, qs[16] (lo nibble = element j, hi = j+16)   w = d*q + m
 * Dequantization (the format's definition), ggml's reference quantizer, and the panel
 * decoder of the integer product (u = q, additive min m). */
#include "kernels/formats.h"
#include "kernels/qgemm_impl.h"
#include "kernels/quant_block.h"
#include "kernels/quant_fit.h"

static void dequant(float *y, const uint8_t *b) {
    float d = dl_qb_f16(b), m = dl_qb_f16(b + 2);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)(b[4 + j] & 15) + m;
        y[j + 16] = d * (float)(b[4 + j] >> 4) + m;
    }
}

static void quantize(uint8_t *b, const float *x) {
    float mn, mx;
    dl_qf_min_max(x, 32, &mn, &mx);
    float d = (mx - mn) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    dl_qb_put_f16(b, d);
    dl_qb_put_f16(b + 2, mn);
    for (int j = 0; j < 16; j++) {
        int lo = (int)(int8_t)((x[j] - mn) * id + 0.5f);
        int hi = (int)(int8_t)((x[j + 16] - mn) * id + 0.5f);
        lo = lo < 15 ? lo : 15;
        hi = hi < 15 ? hi : 15;
        b[4 + j] = (uint8_t)(lo | hi << 4);
    }
}

void dl_type_q4_1_to_f32(float *out, const void *src, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++)
        dequant(out + i * 32, b + i * 20);
}

void dl_type_q4_1_from_f32(void *dst, const float *src, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 32; i++)
        quantize(b + i * 20, src + i * 32);
}

void dl_type_q4_1_qdecode(dl_qpanel *p, int r, const uint8_t *row, int kb0, int nb) {
    for (int i = 0; i < nb; i++) {
        const uint8_t *b = row + (size_t)(kb0 + i) * 20, *qs = b + 4;
        uint8_t u[32];
        float d = dl_qb_f16(b), m = dl_qb_f16(b + 2);
        for (int j = 0; j < 16; j++) {
            u[j] = qs[j] & 15;
            u[j + 16] = qs[j] >> 4;
        }
        dl_qpanel_put(p + i, r, u, d, d, m);
    }
}

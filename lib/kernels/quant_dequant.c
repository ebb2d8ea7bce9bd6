/* quant_dequant.c - exact dequantization of every supported block format, block by
 * block, in the f32 operations quant.h names. These loops are the definition the fast
 * products and the numpy reference (tests/ref/quants.py) are checked against. */
#include <string.h>

#include "fmt/ggml_types.h"
#include "kernels/half.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

static float f16_at(const uint8_t *p) {
    return dl_half_at(p);
}

int dl_quant_type_supported(uint32_t type) {
    switch (type) {
    case DL_TYPE_Q4_0: case DL_TYPE_Q4_1: case DL_TYPE_Q5_0: case DL_TYPE_Q5_1:
    case DL_TYPE_Q8_0: case DL_TYPE_Q4_K: case DL_TYPE_Q5_K: case DL_TYPE_Q6_K:
        return 1;
    default:
        return 0;
    }
}

size_t dl_row_bytes(uint32_t type, int64_t K) {
    const dl_type_info *ti = dl_type_get(type);
    if (!ti || K < 0)
        return 0;
    return (size_t)(K / ti->block_size) * ti->type_size;
}

static void q8_0(float *y, const uint8_t *b) {
    float d = f16_at(b);
    for (int j = 0; j < 32; j++)
        y[j] = d * (float)(int8_t)b[2 + j];
}

static void q4_0(float *y, const uint8_t *b) {
    float d = f16_at(b);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)((b[2 + j] & 15) - 8);
        y[j + 16] = d * (float)((b[2 + j] >> 4) - 8);
    }
}

static void q4_1(float *y, const uint8_t *b) {
    float d = f16_at(b), m = f16_at(b + 2);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)(b[4 + j] & 15) + m;
        y[j + 16] = d * (float)(b[4 + j] >> 4) + m;
    }
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void q5_0(float *y, const uint8_t *b) {
    float d = f16_at(b);
    uint32_t qh = le32(b + 2);
    for (int j = 0; j < 16; j++) {
        int lo = (b[6 + j] & 15) | (int)((qh >> j) & 1) << 4;
        int hi = (b[6 + j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = d * (float)(lo - 16);
        y[j + 16] = d * (float)(hi - 16);
    }
}

static void q5_1(float *y, const uint8_t *b) {
    float d = f16_at(b), m = f16_at(b + 2);
    uint32_t qh = le32(b + 4);
    for (int j = 0; j < 16; j++) {
        int lo = (b[8 + j] & 15) | (int)((qh >> j) & 1) << 4;
        int hi = (b[8 + j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = d * (float)lo + m;
        y[j + 16] = d * (float)hi + m;
    }
}

/* Sub-block j's 6-bit scale and min from Q4_K/Q5_K's 12 packed bytes. */
static void k_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

static void q4_k(float *y, const uint8_t *b) {
    float d = f16_at(b), dmin = f16_at(b + 2);
    const uint8_t *sc = b + 4, *qs = b + 16;
    for (int c = 0; c < 4; c++) {
        int s0, m0, s1, m1;
        k_scale_min(sc, 2 * c, &s0, &m0);
        k_scale_min(sc, 2 * c + 1, &s1, &m1);
        float d0 = d * (float)s0, n0 = dmin * (float)m0;
        float d1 = d * (float)s1, n1 = dmin * (float)m1;
        for (int l = 0; l < 32; l++) {
            y[64 * c + l] = d0 * (float)(qs[32 * c + l] & 15) - n0;
            y[64 * c + 32 + l] = d1 * (float)(qs[32 * c + l] >> 4) - n1;
        }
    }
}

static void q5_k(float *y, const uint8_t *b) {
    float d = f16_at(b), dmin = f16_at(b + 2);
    const uint8_t *sc = b + 4, *qh = b + 16, *qs = b + 48;
    for (int c = 0; c < 4; c++) {
        int s0, m0, s1, m1;
        k_scale_min(sc, 2 * c, &s0, &m0);
        k_scale_min(sc, 2 * c + 1, &s1, &m1);
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

/* The 6-bit value (0..63) of element i (0..255) of a Q6_K block. */
static int q6_k_u(const uint8_t *b, int i) {
    const uint8_t *ql = b + 64 * (i / 128), *qh = b + 128 + 32 * (i / 128);
    int w = i % 128, l = w % 32, quarter = w / 32;
    int low = quarter & 1 ? ql[l + 32] : ql[l];
    low = quarter >= 2 ? low >> 4 : low & 15;
    int high = (qh[l] >> (2 * quarter)) & 3;
    return low | high << 4;
}

static void q6_k(float *y, const uint8_t *b) {
    float d = f16_at(b + 208);
    const int8_t *sc = (const int8_t *)(b + 192);
    for (int i = 0; i < 256; i++)
        y[i] = d * (float)sc[i / 16] * (float)(q6_k_u(b, i) - 32);
}

void dl_dequant_row(uint32_t type, float *out, const void *src, int64_t n) {
    const uint8_t *b = src;
    switch (type) {
    case DL_TYPE_F32:
        memcpy(out, src, (size_t)n * sizeof(float));
        return;
    case DL_TYPE_F16:
        dl_f16_to_f32_row(out, src, (size_t)n);
        return;
    case DL_TYPE_BF16:
        dl_bf16_to_f32_row(out, src, (size_t)n);
        return;
    default:
        break;
    }
    const dl_type_info *ti = dl_type_get(type);
    if (!ti || !dl_quant_type_supported(type))
        return;
    void (*fn)(float *, const uint8_t *) = NULL;
    switch (type) {
    case DL_TYPE_Q8_0: fn = q8_0; break;
    case DL_TYPE_Q4_0: fn = q4_0; break;
    case DL_TYPE_Q4_1: fn = q4_1; break;
    case DL_TYPE_Q5_0: fn = q5_0; break;
    case DL_TYPE_Q5_1: fn = q5_1; break;
    case DL_TYPE_Q4_K: fn = q4_k; break;
    case DL_TYPE_Q5_K: fn = q5_k; break;
    case DL_TYPE_Q6_K: fn = q6_k; break;
    default: return;
    }
    for (int64_t i = 0; i < n / ti->block_size; i++)
        fn(out + i * ti->block_size, b + i * ti->type_size);
}

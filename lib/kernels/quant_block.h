/* quant_block.h - byte-level helpers the block formats share (quant_<name>.c, quant_fit.c):
 * little-endian halves and words, and the packed 6-bit scales of Q4_K and Q5_K. */
#ifndef DL_QUANT_BLOCK_H
#define DL_QUANT_BLOCK_H

#include <stdint.h>

#include "kernels/half.h"
#include "kernels/kernels.h"

static inline float dl_qb_f16(const uint8_t *p) {
    return dl_half_at(p);
}

static inline void dl_qb_put_f16(uint8_t *p, float v) {
    uint16_t h = dl_f32_to_f16(v);
    p[0] = (uint8_t)(h & 255);
    p[1] = (uint8_t)(h >> 8);
}

static inline uint32_t dl_qb_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void dl_qb_put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Sub-block j's 6-bit scale and min from Q4_K/Q5_K's 12 packed bytes. */
static inline void dl_qb_k_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

#endif

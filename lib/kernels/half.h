/* half.h - IEEE binary16 to f32 by bit manipulation, inline for the quantized formats'
 * per-block scales (dl_f16_to_f32 is the arithmetic reference and too slow per block).
 * Exact; NaNs come out quiet with their payload, as F16C's vcvtph2ps gives them. */
#ifndef DL_HALF_H
#define DL_HALF_H

#include <stdint.h>
#include <string.h>

static inline float dl_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 31u, man = h & 1023u, b;
    if (exp == 31u) {
        b = sign | 0x7f800000u | (man ? 0x400000u | (man << 13) : 0u);
    } else if (exp != 0u) {
        b = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0u) {
        b = sign;
    } else {
        /* subnormal: shift the leading 1 up to the implicit bit, lowering the exponent */
        uint32_t e = 113u;
        while (!(man & 1024u)) {
            man <<= 1;
            e--;
        }
        b = sign | (e << 23) | ((man & 1023u) << 13);
    }
    float f;
    memcpy(&f, &b, 4);
    return f;
}

/* The little-endian half at p (any alignment). */
static inline float dl_half_at(const uint8_t *p) {
    return dl_half_to_float((uint16_t)(p[0] | (p[1] << 8)));
}

#endif

/* le.h - little-endian loads and stores at any alignment (GGUF is little-endian on disk;
 * byte-wise composition keeps this correct on any host and free of unaligned access). */
#ifndef DL_LE_H
#define DL_LE_H

#include <stdint.h>
#include <string.h>

static inline uint16_t dl_ld_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t dl_ld_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t dl_ld_u64(const uint8_t *p) {
    return (uint64_t)dl_ld_u32(p) | ((uint64_t)dl_ld_u32(p + 4) << 32);
}
static inline float dl_ld_f32(const uint8_t *p) {
    uint32_t u = dl_ld_u32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline double dl_ld_f64(const uint8_t *p) {
    uint64_t u = dl_ld_u64(p);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static inline void dl_st_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void dl_st_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void dl_st_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

#endif

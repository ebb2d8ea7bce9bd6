/* convert.c - f16 and bf16 rows to f32 (exact), with F16C / AVX2 paths chosen at run
 * time, and the rounding f32 -> f16 / bf16 conversions writers need.
 *
 * The vector paths are compiled with target attributes so the library still runs on
 * any x86-64 (and builds elsewhere). CPU features come from CPUID once (clang 14's
 * __builtin_cpu_supports does not know "f16c"). */
#include <string.h>

#include "kernels/kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define DL_X86_DISPATCH 1
#include <cpuid.h>
#include <immintrin.h>
#include <stdatomic.h>

enum { CPU_F16C = 1, CPU_AVX2 = 2, CPU_KNOWN = 4 };

/* AVX state must also be enabled by the OS (XCR0 bits 1 and 2), not just present. */
static int cpu_features(void) {
    static atomic_int cached = 0;
    int f = atomic_load_explicit(&cached, memory_order_relaxed);
    if (f)
        return f;
    f = CPU_KNOWN;
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 27)) && (c & (1u << 28))) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        if ((lo & 6u) == 6u) {
            if (c & (1u << 29))
                f |= CPU_F16C;
            if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 5)))
                f |= CPU_AVX2;
        }
    }
    atomic_store_explicit(&cached, f, memory_order_relaxed);   /* same value in any race */
    return f;
}
#endif

/* Scalar f16 -> f32 by bit manipulation; the same result as F16C's vcvtph2ps, which
 * turns signalling NaNs quiet while keeping their payload. */
static inline uint32_t f16_bits_to_f32_bits(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 31u;
    uint32_t man = h & 1023u;
    if (exp == 31u)
        return sign | 0x7f800000u | (man ? 0x400000u | (man << 13) : 0u);
    if (exp != 0u)
        return sign | ((exp + 112u) << 23) | (man << 13);
    if (man == 0u)
        return sign;
    /* subnormal half: shift the leading 1 up to the implicit bit, lowering the exponent */
    uint32_t e = 113u;
    while (!(man & 1024u)) {
        man <<= 1;
        e--;
    }
    return sign | (e << 23) | ((man & 1023u) << 13);
}

static void f16_row_scalar(float *out, const uint16_t *in, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t b = f16_bits_to_f32_bits(in[i]);
        memcpy(out + i, &b, 4);
    }
}

static void bf16_row_scalar(float *out, const uint16_t *in, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t b = (uint32_t)in[i] << 16;
        memcpy(out + i, &b, 4);
    }
}

#ifdef DL_X86_DISPATCH
__attribute__((target("avx,f16c")))
static void f16_row_f16c(float *out, const uint16_t *in, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(in + i));
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
    }
    f16_row_scalar(out + i, in + i, n - i);
}

__attribute__((target("avx2")))
static void bf16_row_avx2(float *out, const uint16_t *in, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(in + i));
        __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
        _mm256_storeu_ps(out + i, _mm256_castsi256_ps(w));
    }
    bf16_row_scalar(out + i, in + i, n - i);
}
#endif

void dl_f16_to_f32_row(float *out, const uint16_t *in, size_t n) {
#ifdef DL_X86_DISPATCH
    if (cpu_features() & CPU_F16C) {
        f16_row_f16c(out, in, n);
        return;
    }
#endif
    f16_row_scalar(out, in, n);
}

void dl_bf16_to_f32_row(float *out, const uint16_t *in, size_t n) {
#ifdef DL_X86_DISPATCH
    if (cpu_features() & CPU_AVX2) {
        bf16_row_avx2(out, in, n);
        return;
    }
#endif
    bf16_row_scalar(out, in, n);
}

uint16_t dl_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u);   /* NaN: keep it NaN after truncation */
    u += 0x7fffu + ((u >> 16) & 1u);             /* round half to even */
    return (uint16_t)(u >> 16);
}

uint16_t dl_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u)
        return sign | 0x7e00u | (uint16_t)((a >> 13) & 0x3ffu);
    if (a >= 0x477ff000u)                        /* >= 65520 rounds to inf */
        return sign | 0x7c00u;
    if (a < 0x38800000u) {                       /* below the smallest normal half */
        if (a < 0x33000000u)                     /* <= 2^-25: rounds to zero */
            return sign;
        /* subnormal: value = man24 * 2^(e-150); half unit is 2^-24 */
        uint32_t e = a >> 23;
        uint32_t man = (a & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e;               /* 14..24: bits dropped below 2^-24 */
        uint32_t q = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1u);
        uint32_t halfway = 1u << (shift - 1u);
        if (rem > halfway || (rem == halfway && (q & 1u)))
            q++;
        return sign | (uint16_t)q;
    }
    /* normal: rebias the exponent, round the 13 dropped bits half to even; a carry
     * out of the mantissa correctly bumps the exponent (up to inf) */
    uint32_t r = a - 0x38000000u;
    r += 0xfffu + ((r >> 13) & 1u);
    return sign | (uint16_t)(r >> 13);
}

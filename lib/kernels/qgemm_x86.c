/* qgemm_x86.c - the integer product's kernels for x86-64: AVX-512 VNNI (16 lanes),
 * AVX-VNNI and AVX2 (8 lanes). Compiled with per-function target attributes and
 * picked at run time (kernels/cpu.h), so the library still runs on any x86-64.
 *
 * Lanes are weight rows: a 64-byte panel load holds 4 consecutive elements of 16 rows,
 * and each activation row's 4 matching bytes are broadcast against it, so one
 * vpdpbusd adds 4 products to each of 16 row sums and no horizontal sum is ever
 * needed. R activation rows share each panel load. After each block of 32 (16 for
 * Q6_K) the integer sums are corrected, converted and folded into the f32 results in
 * exactly the order of the portable kernel (qgemm.c), so all paths agree bit for bit.
 * Which kernel serves which weight type is the type's row (types.c). */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <string.h>

#include "kernels/qgemm_impl.h"

#define AI static inline __attribute__((always_inline))

static inline int32_t load4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* ---------------------------------------------------------------- AVX-512 VNNI */

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma")))
#define R512 8

/* R activation rows x one group of 16 weight rows, nb blocks. */
AI T512 void tile512(float *out, int ldo, const dl_qact *xa, int xs, const dl_qpanel *pg,
                     int nb, int kind, __mmask16 mask, const int R) {
    __m512 acc[R512];
    for (int r = 0; r < R; r++)
        acc[r] = _mm512_maskz_loadu_ps(mask, out + (size_t)r * ldo);
    for (int b = 0; b < nb; b++) {
        const dl_qpanel *p = pg + b;
        __m512i is[R512];
        if (kind == DL_QK_ZP16) {
            for (int h = 0; h < 2; h++) {
                for (int r = 0; r < R; r++)
                    is[r] = _mm512_setzero_si512();
                for (int g = 4 * h; g < 4 * h + 4; g++) {
                    __m512i w = _mm512_load_si512((const void *)p->q[g]);
                    for (int r = 0; r < R; r++)
                        is[r] = _mm512_dpbusd_epi32(is[r], w,
                                    _mm512_set1_epi32(load4(xa[(size_t)r * xs + b].qs + 4 * g)));
                }
                __m512 dw = _mm512_load_ps(p->d[h]);
                for (int r = 0; r < R; r++) {
                    const dl_qact *x = xa + (size_t)r * xs + b;
                    __m512i i = _mm512_sub_epi32(is[r], _mm512_set1_epi32(x->zh[h]));
                    __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(x->d));
                    acc[r] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(i), acc[r]);
                }
            }
            continue;
        }
        for (int r = 0; r < R; r++)
            is[r] = _mm512_setzero_si512();
        for (int g = 0; g < 8; g++) {
            __m512i w = _mm512_load_si512((const void *)p->q[g]);
            for (int r = 0; r < R; r++)
                is[r] = _mm512_dpbusd_epi32(is[r], w,
                            _mm512_set1_epi32(load4(xa[(size_t)r * xs + b].qs + 4 * g)));
        }
        __m512 dw = _mm512_load_ps(p->d[0]);
        if (kind == DL_QK_MIN32) {
            __m512 mw = _mm512_load_ps(p->m);
            for (int r = 0; r < R; r++) {
                const dl_qact *x = xa + (size_t)r * xs + b;
                __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(x->d));
                acc[r] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(is[r]), acc[r]);
                acc[r] = _mm512_fmadd_ps(mw, _mm512_set1_ps(x->s), acc[r]);
            }
        } else {
            for (int r = 0; r < R; r++) {
                const dl_qact *x = xa + (size_t)r * xs + b;
                __m512i i = _mm512_sub_epi32(is[r], _mm512_set1_epi32(x->zh[0]));
                __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(x->d));
                acc[r] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(i), acc[r]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        _mm512_mask_storeu_ps(out + (size_t)r * ldo, mask, acc[r]);
}

/* The vector twin of qgemm.c's scalar quantizer: max |x| is order-free, d and 1/d are
 * the same scalar operations, x * id rounds once per lane and vcvtps2dq rounds to
 * nearest even exactly as the scalar magic-number trick does. */
T512 void dl_qact_block_avx512(dl_qact *o, const float *x, int *s0, int *s1) {
    __m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16);
    __m512 m = _mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b));
    float amax = _mm512_reduce_max_ps(m);
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    __m512 vid = _mm512_set1_ps(id);
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    __m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, vid));
    __m512i qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, vid));
    qa = _mm512_min_epi32(_mm512_max_epi32(qa, lo), hi);
    qb = _mm512_min_epi32(_mm512_max_epi32(qb, lo), hi);
    _mm_storeu_si128((__m128i *)o->qs, _mm512_cvtepi32_epi8(qa));
    _mm_storeu_si128((__m128i *)(o->qs + 16), _mm512_cvtepi32_epi8(qb));
    *s0 = _mm512_reduce_add_epi32(qa);
    *s1 = _mm512_reduce_add_epi32(qb);
    o->d = d;
}

T512 void dl_qkernel_avx512vnni(float *out, int ldo, const dl_qact *xa, int xs, int N,
                                const dl_qpanel *panel, int n_groups, int cols, int nb,
                                int kind) {
    for (int n = 0; n < N; n += R512) {
        int R = N - n < R512 ? N - n : R512;
        const dl_qact *x = xa + (size_t)n * xs;
        for (int g = 0; g < n_groups; g++) {
            int valid = cols - 16 * g < 16 ? cols - 16 * g : 16;
            __mmask16 mask = (__mmask16)((1u << valid) - 1u);
            float *o = out + (size_t)n * ldo + 16 * g;
            const dl_qpanel *pg = panel + (size_t)g * nb;
            switch (R) {
            case 8: tile512(o, ldo, x, xs, pg, nb, kind, mask, 8); break;
            case 7: tile512(o, ldo, x, xs, pg, nb, kind, mask, 7); break;
            case 6: tile512(o, ldo, x, xs, pg, nb, kind, mask, 6); break;
            case 5: tile512(o, ldo, x, xs, pg, nb, kind, mask, 5); break;
            case 4: tile512(o, ldo, x, xs, pg, nb, kind, mask, 4); break;
            case 3: tile512(o, ldo, x, xs, pg, nb, kind, mask, 3); break;
            case 2: tile512(o, ldo, x, xs, pg, nb, kind, mask, 2); break;
            default: tile512(o, ldo, x, xs, pg, nb, kind, mask, 1); break;
            }
        }
    }
}

/* ---------------------------------------------------------------- AVX2 / AVX-VNNI */

#define T256 __attribute__((target("avx2,fma")))
#define R256 4

enum { DOT_MADDUBS = 0, DOT_SIGNED = 1, DOT_VNNI = 2 };

/* VEX-encoded vpdpbusd (AVX-VNNI) through the assembler: it has no intrinsic usable
 * from an avx2-only function, and this keeps one kernel body for both paths.
 * acc += sum of 4 products u8(a) * s8(b) per 32-bit lane. */
AI T256 __m256i dpbusd_vex(__m256i acc, __m256i a, __m256i b) {
    __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(a), "x"(b));
    return acc;
}

/* R activation rows x 8 weight rows (one half of a panel group), nb blocks. */
AI T256 void tile256(float *out, int ldo, const dl_qact *xa, int xs, const dl_qpanel *pg,
                     int nb, int kind, int half, __m256i mask, const int R, const int dot) {
    const __m256i ones = _mm256_set1_epi16(1), flip = _mm256_set1_epi8((char)0x80);
    __m256 acc[R256];
    for (int r = 0; r < R; r++)
        acc[r] = _mm256_maskload_ps(out + (size_t)r * ldo, mask);
    for (int b = 0; b < nb; b++) {
        const dl_qpanel *p = pg + b;
        int n_h = kind == DL_QK_ZP16 ? 2 : 1, gpb = 8 / n_h;
        for (int h = 0; h < n_h; h++) {
            __m256i is[R256];
            for (int r = 0; r < R; r++)
                is[r] = _mm256_setzero_si256();
            for (int g = gpb * h; g < gpb * h + gpb; g++) {
                __m256i w = _mm256_load_si256((const __m256i *)(p->q[g][8 * half]));
                __m256i ws = _mm256_xor_si256(w, flip), wa = _mm256_abs_epi8(ws);
                for (int r = 0; r < R; r++) {
                    __m256i x = _mm256_set1_epi32(load4(xa[(size_t)r * xs + b].qs + 4 * g));
                    if (dot == DOT_VNNI) {
                        is[r] = dpbusd_vex(is[r], w, x);
                    } else if (dot == DOT_SIGNED) {
                        /* Q8_0: |w| * (x * sign w) keeps vpmaddubsw below saturation */
                        __m256i t = _mm256_maddubs_epi16(wa, _mm256_sign_epi8(x, ws));
                        is[r] = _mm256_add_epi32(is[r], _mm256_madd_epi16(t, ones));
                    } else {
                        __m256i t = _mm256_maddubs_epi16(w, x);
                        is[r] = _mm256_add_epi32(is[r], _mm256_madd_epi16(t, ones));
                    }
                }
            }
            __m256 dw = _mm256_load_ps(p->d[h] + 8 * half);
            __m256 mw = _mm256_load_ps(p->m + 8 * half);
            for (int r = 0; r < R; r++) {
                const dl_qact *x = xa + (size_t)r * xs + b;
                __m256i i = is[r];
                if (kind != DL_QK_MIN32 && dot != DOT_SIGNED)
                    i = _mm256_sub_epi32(i, _mm256_set1_epi32(x->zh[h]));
                __m256 dd = _mm256_mul_ps(dw, _mm256_set1_ps(x->d));
                acc[r] = _mm256_fmadd_ps(dd, _mm256_cvtepi32_ps(i), acc[r]);
                if (kind == DL_QK_MIN32)
                    acc[r] = _mm256_fmadd_ps(mw, _mm256_set1_ps(x->s), acc[r]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        _mm256_maskstore_ps(out + (size_t)r * ldo, mask, acc[r]);
}

AI T256 void kernel256(float *out, int ldo, const dl_qact *xa, int xs, int N,
                       const dl_qpanel *panel, int n_groups, int cols, int nb, int kind,
                       const int dot) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int n = 0; n < N; n += R256) {
        int R = N - n < R256 ? N - n : R256;
        const dl_qact *x = xa + (size_t)n * xs;
        for (int g = 0; g < n_groups; g++)
            for (int half = 0; half < 2; half++) {
                int valid = cols - 16 * g - 8 * half;
                if (valid <= 0)
                    break;
                __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), lane);
                float *o = out + (size_t)n * ldo + 16 * g + 8 * half;
                const dl_qpanel *pg = panel + (size_t)g * nb;
                switch (R) {
                case 4: tile256(o, ldo, x, xs, pg, nb, kind, half, mask, 4, dot); break;
                case 3: tile256(o, ldo, x, xs, pg, nb, kind, half, mask, 3, dot); break;
                case 2: tile256(o, ldo, x, xs, pg, nb, kind, half, mask, 2, dot); break;
                default: tile256(o, ldo, x, xs, pg, nb, kind, half, mask, 1, dot); break;
                }
            }
    }
}

T256 void dl_qkernel_avx2(float *out, int ldo, const dl_qact *xa, int xs, int N,
                          const dl_qpanel *panel, int n_groups, int cols, int nb, int kind) {
    kernel256(out, ldo, xa, xs, N, panel, n_groups, cols, nb, kind, DOT_MADDUBS);
}

T256 void dl_qkernel_avx2_signed(float *out, int ldo, const dl_qact *xa, int xs, int N,
                                 const dl_qpanel *panel, int n_groups, int cols, int nb,
                                 int kind) {
    kernel256(out, ldo, xa, xs, N, panel, n_groups, cols, nb, kind, DOT_SIGNED);
}

T256 void dl_qkernel_avxvnni(float *out, int ldo, const dl_qact *xa, int xs, int N,
                             const dl_qpanel *panel, int n_groups, int cols, int nb, int kind) {
    kernel256(out, ldo, xa, xs, N, panel, n_groups, cols, nb, kind, DOT_VNNI);
}
#endif

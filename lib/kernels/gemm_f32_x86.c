/* gemm_f32_x86.c - f32 micro-kernels: AVX-512 (12 rows x 32 columns: 24 accumulators)
 * and AVX2+FMA (6 x 16: 12 accumulators). Lanes are weight columns of the packed panel;
 * each activation value is broadcast, and every output runs the same fma chain over k
 * as the portable kernel, so the paths agree bit for bit. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "kernels/gemm.h"

#define AI static inline __attribute__((always_inline))
#define T512 __attribute__((target("avx512f,avx512bw,fma")))
#define T256 __attribute__((target("avx2,fma")))

#define R512 12
AI T512 void tile512(float *out, int ldo, const float *x, int ldx, const float *bp, int kc,
                     __mmask16 m0, __mmask16 m1, const int R) {
    __m512 a0[R512], a1[R512];
    for (int r = 0; r < R; r++) {
        a0[r] = _mm512_maskz_loadu_ps(m0, out + (size_t)r * ldo);
        a1[r] = _mm512_maskz_loadu_ps(m1, out + (size_t)r * ldo + 16);
    }
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(bp + (size_t)k * DL_FGEMM_COLS);
        __m512 b1 = _mm512_load_ps(bp + (size_t)k * DL_FGEMM_COLS + 16);
        for (int r = 0; r < R; r++) {
            __m512 a = _mm512_set1_ps(x[(size_t)r * ldx + k]);
            a0[r] = _mm512_fmadd_ps(a, b0, a0[r]);
            a1[r] = _mm512_fmadd_ps(a, b1, a1[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        _mm512_mask_storeu_ps(out + (size_t)r * ldo, m0, a0[r]);
        _mm512_mask_storeu_ps(out + (size_t)r * ldo + 16, m1, a1[r]);
    }
}

static __mmask16 mask16(int valid) {
    return valid >= 16 ? (__mmask16)0xffff : valid <= 0 ? 0 : (__mmask16)((1u << valid) - 1u);
}

T512 void dl_fkernel_avx512(float *out, int ldo, const float *x, int ldx, int N, const float *bp,
                            int kc, int cols) {
    for (int c0 = 0; c0 < cols; c0 += 32) {
        __mmask16 m0 = mask16(cols - c0), m1 = mask16(cols - c0 - 16);
        for (int n = 0; n < N; n += R512) {
            int R = N - n < R512 ? N - n : R512;
            float *o = out + (size_t)n * ldo + c0;
            const float *xr = x + (size_t)n * ldx;
            const float *b = bp + c0;
            switch (R) {
            case 12: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 12); break;
            case 11: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 11); break;
            case 10: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 10); break;
            case 9: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 9); break;
            case 8: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 8); break;
            case 7: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 7); break;
            case 6: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 6); break;
            case 5: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 5); break;
            case 4: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 4); break;
            case 3: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 3); break;
            case 2: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 2); break;
            default: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 1); break;
            }
        }
    }
}

#define R256 6
AI T256 void tile256(float *out, int ldo, const float *x, int ldx, const float *bp, int kc,
                     __m256i m0, __m256i m1, const int R) {
    __m256 a0[R256], a1[R256];
    for (int r = 0; r < R; r++) {
        a0[r] = _mm256_maskload_ps(out + (size_t)r * ldo, m0);
        a1[r] = _mm256_maskload_ps(out + (size_t)r * ldo + 8, m1);
    }
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(bp + (size_t)k * DL_FGEMM_COLS);
        __m256 b1 = _mm256_load_ps(bp + (size_t)k * DL_FGEMM_COLS + 8);
        for (int r = 0; r < R; r++) {
            __m256 a = _mm256_broadcast_ss(x + (size_t)r * ldx + k);
            a0[r] = _mm256_fmadd_ps(a, b0, a0[r]);
            a1[r] = _mm256_fmadd_ps(a, b1, a1[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        _mm256_maskstore_ps(out + (size_t)r * ldo, m0, a0[r]);
        _mm256_maskstore_ps(out + (size_t)r * ldo + 8, m1, a1[r]);
    }
}

T256 void dl_fkernel_avx2(float *out, int ldo, const float *x, int ldx, int N, const float *bp,
                          int kc, int cols) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int c0 = 0; c0 < cols; c0 += 16) {
        __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols - c0), lane);
        __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols - c0 - 8), lane);
        for (int n = 0; n < N; n += R256) {
            int R = N - n < R256 ? N - n : R256;
            float *o = out + (size_t)n * ldo + c0;
            const float *xr = x + (size_t)n * ldx;
            const float *b = bp + c0;
            switch (R) {
            case 6: tile256(o, ldo, xr, ldx, b, kc, m0, m1, 6); break;
            case 5: tile256(o, ldo, xr, ldx, b, kc, m0, m1, 5); break;
            case 4: tile256(o, ldo, xr, ldx, b, kc, m0, m1, 4); break;
            case 3: tile256(o, ldo, xr, ldx, b, kc, m0, m1, 3); break;
            case 2: tile256(o, ldo, xr, ldx, b, kc, m0, m1, 2); break;
            default: tile256(o, ldo, xr, ldx, b, kc, m0, m1, 1); break;
            }
        }
    }
}
#endif

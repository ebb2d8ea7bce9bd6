/* gemm_f32_x86.c - f32 micro-kernels: AVX-512 (12 rows x 32 columns: 24 accumulators)
 * and AVX2+FMA (6 x 16: 12 accumulators). Lanes are weight columns of the packed panel;
 * each activation value is broadcast, and every output runs the same fma chain over k
 * as the portable kernel, so the paths agree bit for bit. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "kernels/gemm.h"
#include "kernels/types.h"

#define AI static inline __attribute__((always_inline))
#define T512 __attribute__((target("avx512f,avx512bw,fma")))
#define T256 __attribute__((target("avx2,fma")))

#define R512 12
AI T512 void tile512(float *out, int ldo, const float *x, int ldx, const float *bp, int kc,
                     __mmask16 m0, __mmask16 m1, const int R, int zero) {
    __m512 a0[R512], a1[R512];
    for (int r = 0; r < R; r++) {
        a0[r] = zero ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m0, out + (size_t)r * ldo);
        a1[r] = zero ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m1, out + (size_t)r * ldo + 16);
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

/* One row tile of R rows (1..12) over columns c0 .. c0 + 32, R a constant per case. */
AI T512 void tile_rows(float *o, int ldo, const float *xr, int ldx, const float *b, int kc,
                       __mmask16 m0, __mmask16 m1, int R, int zero) {
    switch (R) {
    case 12: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 12, zero); break;
    case 11: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 11, zero); break;
    case 10: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 10, zero); break;
    case 9: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 9, zero); break;
    case 8: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 8, zero); break;
    case 7: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 7, zero); break;
    case 6: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 6, zero); break;
    case 5: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 5, zero); break;
    case 4: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 4, zero); break;
    case 3: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 3, zero); break;
    case 2: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 2, zero); break;
    default: tile512(o, ldo, xr, ldx, b, kc, m0, m1, 1, zero); break;
    }
}

/* Row stride of the copied activations: kc + 16 floats, 9 cache lines for kc = 128, so
 * the 12 rows of a tile fall in 12 different L1 sets. */
#define XB_LD (DL_FGEMM_KC + 16)

/* Activation rows a multiple of 2 KiB apart (K = 512, 1024, 2048, ... floats) put the
 * 12 rows of a tile into one or two sets of the L1 cache, which holds 12 lines per set
 * on the CPUs measured: the tile's rows then evict each other and the panel (1.25x
 * slower at K = 1024; doc/performance.md "Packed weights and the L1 sets"). */
static int rows_alias(int ldx) { return ldx % 512 == 0; }

T512 void dl_fkernel_avx512(float *out, int ldo, const float *x, int ldx, int N, const float *bp,
                            int kc, int cols, int zero) {
    if (rows_alias(ldx) && kc <= DL_FGEMM_KC) {
        /* each row tile's activations copied once to a short stride, then both column
         * halves over the copy: the same values in the same order */
        float xb[R512 * XB_LD] __attribute__((aligned(64)));
        for (int n = 0; n < N; n += R512) {
            int R = N - n < R512 ? N - n : R512;
            for (int r = 0; r < R; r++)
                for (int k = 0; k < kc; k += 16)
                    _mm512_store_ps(xb + r * XB_LD + k, _mm512_maskz_loadu_ps(
                        mask16(kc - k), x + (size_t)(n + r) * ldx + k));
            for (int c0 = 0; c0 < cols; c0 += 32)
                tile_rows(out + (size_t)n * ldo + c0, ldo, xb, XB_LD, bp + c0, kc,
                          mask16(cols - c0), mask16(cols - c0 - 16), R, zero);
        }
        return;
    }
    for (int c0 = 0; c0 < cols; c0 += 32) {
        __mmask16 m0 = mask16(cols - c0), m1 = mask16(cols - c0 - 16);
        for (int n = 0; n < N; n += R512) {
            int R = N - n < R512 ? N - n : R512;
            tile_rows(out + (size_t)n * ldo + c0, ldo, x + (size_t)n * ldx, ldx, bp + c0, kc,
                      m0, m1, R, zero);
        }
    }
}

/* --- packing: 16 weight rows x 16 k at a time, widened to f32 and transposed in
 * registers, so the panel is written with full-vector stores instead of one float at a
 * time. The values are the same as the portable pack's (F16 and BF16 widen exactly;
 * vcvtph2ps quiets NaNs as dl_half_to_float does), so the product's bits do not change. */

/* 16 rows of 16 lanes -> 16 columns: on return r[j][i] holds the old r[i][j]. */
AI T512 void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    }
    /* r[4g + q] now holds, per 128-bit lane L, row 4L.. of group g's quad q */
    for (int h = 0; h < 2; h++)
        for (int q = 0; q < 4; q++) {
            t[8 * h + q] = _mm512_shuffle_f32x4(r[8 * h + q], r[8 * h + 4 + q], 0x88);
            t[8 * h + 4 + q] = _mm512_shuffle_f32x4(r[8 * h + q], r[8 * h + 4 + q], 0xdd);
        }
    for (int q = 0; q < 8; q++) {
        r[q] = _mm512_shuffle_f32x4(t[q], t[8 + q], 0x88);
        r[8 + q] = _mm512_shuffle_f32x4(t[q], t[8 + q], 0xdd);
    }
}

/* 16 elements of a weight row from k (mask: the valid ones), as f32 */
AI T512 __m512 load_row16(const uint8_t *src, uint32_t wtype, __mmask16 m) {
    if (wtype == DL_TYPE_F32)
        return _mm512_maskz_loadu_ps(m, src);
    __m256i h = _mm512_castsi512_si256(_mm512_maskz_loadu_epi16((__mmask32)m, src));
    if (wtype == DL_TYPE_F16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));   /* BF16 */
}

/* One weight type at a time (wtype a constant after inlining), no branch per load: rows
 * past mc read nothing through an empty mask and give zeros. */
AI T512 void pack_type(float *bp, const uint8_t *w, size_t ldw, int64_t m0, int mc, int k0,
                       int kc, const uint32_t wtype, const size_t es) {
    for (int c0 = 0; c0 < DL_FGEMM_COLS; c0 += 16) {
        const uint8_t *base = w + ((size_t)(m0 + c0) * ldw + (size_t)k0) * es;
        int rows = mc - c0 < 0 ? 0 : mc - c0 > 16 ? 16 : mc - c0;
        for (int k = 0; k < kc; k += 16) {
            __mmask16 m = mask16(kc - k);
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = load_row16(base + ((size_t)i * ldw + (size_t)k) * es, wtype,
                                  i < rows ? m : 0);
            transpose16(r);
            if (kc - k >= 16) {
                for (int j = 0; j < 16; j++)
                    _mm512_store_ps(bp + (size_t)(k + j) * DL_FGEMM_COLS + c0, r[j]);
            } else {
                for (int j = 0; j < kc - k; j++)
                    _mm512_store_ps(bp + (size_t)(k + j) * DL_FGEMM_COLS + c0, r[j]);
            }
        }
    }
}

T512 void dl_fpack_trans_avx512(float *bp, const float *w, int ldw, int64_t m0, int mc, int k0,
                                int kc) {
    for (int k = 0; k < kc; k++) {
        const float *src = w + (size_t)(k0 + k) * ldw + m0;
        float *dst = bp + (size_t)k * DL_FGEMM_COLS;
        for (int c = 0; c < DL_FGEMM_COLS; c += 16)
            _mm512_store_ps(dst + c, _mm512_maskz_loadu_ps(mask16(mc - c), src + c));
    }
}

T512 void dl_fpack_avx512(float *bp, const void *w, uint32_t wtype, size_t ldw, int64_t m0,
                          int mc, int k0, int kc) {
    if (wtype == DL_TYPE_F32)
        pack_type(bp, w, ldw, m0, mc, k0, kc, DL_TYPE_F32, 4);
    else if (wtype == DL_TYPE_F16)
        pack_type(bp, w, ldw, m0, mc, k0, kc, DL_TYPE_F16, 2);
    else
        pack_type(bp, w, ldw, m0, mc, k0, kc, DL_TYPE_BF16, 2);
}

/* dl_fpanel_pack's copy: the same transposes over the stored bits (16-bit elements
 * zero-extended into 32-bit lanes and narrowed back), so no value is converted. */
AI T512 void panel_type(void *panel, const uint8_t *w, int64_t K, int64_t m0, int mc,
                        const size_t es) {
    for (int c0 = 0; c0 < DL_FGEMM_COLS; c0 += 16) {
        int rows = mc - c0 < 0 ? 0 : mc - c0 > 16 ? 16 : mc - c0;
        for (int64_t k = 0; k < K; k += 16) {
            int n = K - k < 16 ? (int)(K - k) : 16;
            __mmask16 m = mask16(n);
            __m512 r[16];
            for (int i = 0; i < 16; i++) {
                const uint8_t *src = w + ((size_t)(m0 + c0 + i) * (size_t)K + (size_t)k) * es;
                __mmask16 mi = i < rows ? m : 0;
                r[i] = es == 4 ? _mm512_maskz_loadu_ps(mi, src)
                               : _mm512_castsi512_ps(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(
                                     _mm512_maskz_loadu_epi16((__mmask32)mi, src))));
            }
            transpose16(r);
            for (int j = 0; j < n; j++) {
                size_t at = ((size_t)(k + j) * DL_FGEMM_COLS + (size_t)c0) * es;
                if (es == 4)
                    _mm512_storeu_ps((uint8_t *)panel + at, r[j]);
                else
                    _mm256_storeu_si256((__m256i *)((uint8_t *)panel + at),
                                        _mm512_cvtepi32_epi16(_mm512_castps_si512(r[j])));
            }
        }
    }
}

T512 void dl_fpanel_pack_avx512(void *panel, const void *w, uint32_t wtype, int64_t K,
                                int64_t m0, int mc) {
    if (wtype == DL_TYPE_F32)
        panel_type(panel, w, K, m0, mc, 4);
    else
        panel_type(panel, w, K, m0, mc, 2);
}

#define R256 6
AI T256 void tile256(float *out, int ldo, const float *x, int ldx, const float *bp, int kc,
                     __m256i m0, __m256i m1, const int R, int zero) {
    __m256 a0[R256], a1[R256];
    for (int r = 0; r < R; r++) {
        a0[r] = zero ? _mm256_setzero_ps() : _mm256_maskload_ps(out + (size_t)r * ldo, m0);
        a1[r] = zero ? _mm256_setzero_ps() : _mm256_maskload_ps(out + (size_t)r * ldo + 8, m1);
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
                          int kc, int cols, int zero) {
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
            case 6: tile256(o, ldo, xr, ldx, b, kc, m0, m1, 6, zero); break;
            case 5: tile256(o, ldo, xr, ldx, b, kc, m0, m1, 5, zero); break;
            case 4: tile256(o, ldo, xr, ldx, b, kc, m0, m1, 4, zero); break;
            case 3: tile256(o, ldo, xr, ldx, b, kc, m0, m1, 3, zero); break;
            case 2: tile256(o, ldo, xr, ldx, b, kc, m0, m1, 2, zero); break;
            default: tile256(o, ldo, xr, ldx, b, kc, m0, m1, 1, zero); break;
            }
        }
    }
}
#endif

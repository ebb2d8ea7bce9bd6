/* gemm_bf16.c - the mixed-precision product (gemm_bf16.h): packing, the three kernels
 * and the two drivers (the trainer's products over operands packed once, inference's
 * column task over stored weights).
 *
 * The AVX512_BF16 kernel broadcasts A's pair and vdpbf16ps adds both products into each
 * column's f32 lane: 12 rows x 32 columns per micro-tile (24 accumulators), as the f32
 * kernel (gemm_f32_x86.c). The AMX kernel loads 16 rows of A's pairs (stride lda words)
 * and 16 pair-rows of a B panel (stride 64 words) into tiles; tdpbf16ps adds the 16 x 16
 * products of sixteen pairs into an f32 tile, and a 32 x 32 block of out lives in four.
 * The packed blocks are zero-padded to whole tiles. */
#include <stdatomic.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/gemm_bf16.h"
#include "kernels/types.h"

#define KP DL_BF16_KP
#define NC DL_BF16_COLS

uint16_t dl_bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float from_bf16(uint32_t h) {
    uint32_t u = h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float elem(dl_bview v, int64_t i, int64_t k) { return v.p[i * v.is + k * v.ks]; }

/* --- portable packing and kernel */

/* ap: [R][lda] pairs of k0 .. k0 + kc - 1 */
static void pack_a_ref(uint32_t *ap, int lda, dl_bview a, int R, int64_t k0, int kc) {
    for (int i = 0; i < R; i++)
        for (int p = 0; p < (kc + 1) / 2; p++) {
            uint32_t lo = dl_bf16_round(elem(a, i, k0 + 2 * p));
            uint32_t hi = 2 * p + 1 < kc ? dl_bf16_round(elem(a, i, k0 + 2 * p + 1)) : 0;
            ap[(size_t)i * lda + p] = lo | hi << 16;
        }
}

/* bp: [KP][NC] pairs for columns 0 .. C - 1, zero beyond */
static void pack_b_ref(uint32_t *bp, dl_bview b, int C, int64_t k0, int kc) {
    for (int p = 0; p < (kc + 1) / 2; p++)
        for (int j = 0; j < NC; j++) {
            uint32_t lo = j < C ? dl_bf16_round(elem(b, j, k0 + 2 * p)) : 0;
            uint32_t hi = j < C && 2 * p + 1 < kc ? dl_bf16_round(elem(b, j, k0 + 2 * p + 1)) : 0;
            bp[(size_t)p * NC + j] = lo | hi << 16;
        }
}

/* bp: [KP][NC] pairs of k0 .. k0 + kc - 1 of weight rows m0 .. m0 + C - 1 (rows of K
 * elements of wtype), zero beyond: BF16 as stored, F32 and F16 widened then rounded */
static void pack_w_ref(uint32_t *bp, const void *w, uint32_t wtype, int K, int64_t m0, int C,
                       int64_t k0, int kc) {
    const int kp = (kc + 1) / 2;
    uint16_t h[2 * KP];
    float f[2 * KP];
    for (int j = 0; j < NC; j++) {
        memset(h, 0, sizeof h);
        if (j < C) {
            const size_t at = (size_t)(m0 + j) * (size_t)K + (size_t)k0;
            if (wtype == DL_TYPE_BF16) {
                memcpy(h, (const uint16_t *)w + at, sizeof(uint16_t) * (size_t)kc);
            } else if (wtype == DL_TYPE_F32) {
                for (int k = 0; k < kc; k++)
                    h[k] = dl_bf16_round(((const float *)w)[at + (size_t)k]);
            } else {
                dl_type_get(wtype)->to_f32(f, (const uint16_t *)w + at, kc);
                for (int k = 0; k < kc; k++)
                    h[k] = dl_bf16_round(f[k]);
            }
        }
        for (int p = 0; p < kp; p++)
            bp[(size_t)p * NC + j] = (uint32_t)h[2 * p] | (uint32_t)h[2 * p + 1] << 16;
    }
}

/* out[R][ldo] (+)= ap[R][kp] . bp[kp][C] (zero: s starts at 0, out is not read): per
 * output s = fma(lo pair product, s), then fma(hi, s), pair by pair. The columns are innermost (a row's 64 sums in a local
 * block), so that compilers vectorize the loop: built for the baseline and, where the
 * CPU has them, for AVX2 + FMA, where fmaf is one instruction per lane. Both builds run
 * the same fma sequence per output, so they give the same bits. */
static inline __attribute__((always_inline)) void kernel_ref_body(float *out, int64_t ldo,
                                                                  const uint32_t *ap, int lda,
                                                                  const uint32_t *bp, int R,
                                                                  int C, int kp, int zero) {
    for (int i = 0; i < R; i++) {
        float acc[NC];
        for (int j = 0; j < NC; j++)
            acc[j] = j < C && !zero ? out[i * ldo + j] : 0.0f;
        for (int p = 0; p < kp; p++) {
            uint32_t x = ap[(size_t)i * lda + p];
            float xl = from_bf16(x & 0xffffu), xh = from_bf16(x >> 16);
            const uint32_t *w = bp + (size_t)p * NC;
            for (int j = 0; j < NC; j++) {
                acc[j] = __builtin_fmaf(xl, from_bf16(w[j] & 0xffffu), acc[j]);
                acc[j] = __builtin_fmaf(xh, from_bf16(w[j] >> 16), acc[j]);
            }
        }
        for (int j = 0; j < C; j++)
            out[i * ldo + j] = acc[j];
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) static void kernel_ref_fma(float *out, int64_t ldo,
                                                               const uint32_t *ap, int lda,
                                                               const uint32_t *bp, int R, int C,
                                                               int kp, int zero) {
    kernel_ref_body(out, ldo, ap, lda, bp, R, C, kp, zero);
}
#endif

static void kernel_ref(float *out, int64_t ldo, const uint32_t *ap, int lda, const uint32_t *bp,
                       int R, int C, int kp, int zero) {
#if defined(__x86_64__) && defined(__GNUC__)
    if ((dl_cpu_features() & (DL_CPU_AVX2 | DL_CPU_FMA)) == (DL_CPU_AVX2 | DL_CPU_FMA)) {
        kernel_ref_fma(out, ldo, ap, lda, bp, R, C, kp, zero);
        return;
    }
#endif
    kernel_ref_body(out, ldo, ap, lda, bp, R, C, kp, zero);
}

/* --- AVX512_BF16 */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AI static inline __attribute__((always_inline))
#define TBF __attribute__((target("avx512f,avx512bw,avx512bf16")))
#define MR 12

static __mmask16 mask16(int valid) {
    return valid >= 16 ? (__mmask16)0xffff : valid <= 0 ? 0 : (__mmask16)((1u << valid) - 1u);
}

static __mmask32 mask32(int valid) {
    return valid >= 32 ? (__mmask32)0xffffffffu : valid <= 0 ? 0 : (__mmask32)((1u << valid) - 1u);
}

/* lane t: bf16(v0[t]) in the low half, bf16(v1[t]) in the high half */
AI TBF __m512i interleave(__m512 v0, __m512 v1) {
    static const uint16_t order[32] = { 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                        8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30,
                                        15, 31 };
    return _mm512_permutexvar_epi16(_mm512_loadu_si512(order),
                                    (__m512i)_mm512_cvtne2ps_pbh(v1, v0));
}

/* 16 pairs from two rows of k (the second all zero when !has1), lanes past m zero */
AI TBF __m512i pairs_of(const float *r0, const float *r1, int has1, __mmask16 m) {
    __m512 v0 = _mm512_maskz_loadu_ps(m, r0);
    __m512 v1 = has1 ? _mm512_maskz_loadu_ps(m, r1) : _mm512_setzero_ps();
    return interleave(v0, v1);
}

/* out[t] lane q = in[q] lane t: a 16 x 16 transpose of 32-bit words (pairs) in registers,
 * by 32-bit, 64-bit and 128-bit interleaves */
AI TBF void transpose16(__m512i out[16], const __m512i in[16]) {
    __m512i t[16], u[16];
    for (int q = 0; q < 16; q += 2) {
        t[q] = _mm512_unpacklo_epi32(in[q], in[q + 1]);
        t[q + 1] = _mm512_unpackhi_epi32(in[q], in[q + 1]);
    }
    /* u[4g + e], 128-bit lane L: rows 4g .. 4g + 3 of column 4L + e */
    for (int g = 0; g < 4; g++) {
        const __m512i *x = t + 4 * g;
        u[4 * g + 0] = _mm512_unpacklo_epi64(x[0], x[2]);
        u[4 * g + 1] = _mm512_unpackhi_epi64(x[0], x[2]);
        u[4 * g + 2] = _mm512_unpacklo_epi64(x[1], x[3]);
        u[4 * g + 3] = _mm512_unpackhi_epi64(x[1], x[3]);
    }
    for (int e = 0; e < 4; e++) {
        __m512i lo01 = _mm512_shuffle_i32x4(u[e], u[4 + e], 0x44);       /* lanes 0 1 of each */
        __m512i hi01 = _mm512_shuffle_i32x4(u[e], u[4 + e], 0xee);       /* lanes 2 3 */
        __m512i lo23 = _mm512_shuffle_i32x4(u[8 + e], u[12 + e], 0x44);
        __m512i hi23 = _mm512_shuffle_i32x4(u[8 + e], u[12 + e], 0xee);
        out[e] = _mm512_shuffle_i32x4(lo01, lo23, 0x88);
        out[4 + e] = _mm512_shuffle_i32x4(lo01, lo23, 0xdd);
        out[8 + e] = _mm512_shuffle_i32x4(hi01, hi23, 0x88);
        out[12 + e] = _mm512_shuffle_i32x4(hi01, hi23, 0xdd);
    }
}

/* a row contiguous in k: its pairs are its bf16 values in order.  dst: [kc] bf16 */
AI TBF void row_to_bf16(uint16_t *dst, const float *src, int kc) {
    for (int k = 0; k < kc; k += 16) {
        __m512 v = _mm512_maskz_loadu_ps(mask16(kc - k), src + k);
        _mm256_storeu_si256((__m256i *)(dst + k), (__m256i)_mm512_cvtneps_pbh(v));
    }
}

TBF static void pack_a_fast(uint32_t *ap, int lda, dl_bview a, int R, int64_t k0, int kc) {
    if (a.ks == 1) {
        for (int i = 0; i < R; i++)
            row_to_bf16((uint16_t *)(ap + (size_t)i * lda), a.p + i * a.is + k0, kc);
        return;
    }
    /* rows are contiguous in i (a transposed operand): 16 pairs of 16 rows at a time, made
     * from two k each, then transposed so each row's 16 pairs are stored together (pairs
     * up to the next multiple of 16 are written as zeros) */
    const int kp = (kc + 1) / 2;
    for (int i = 0; i < R; i += 16) {
        __mmask16 m = mask16(R - i);
        int nr = R - i < 16 ? R - i : 16;
        for (int p0 = 0; p0 < kp; p0 += 16) {
            __m512i in[16], out[16];
            for (int q = 0; q < 16; q++) {
                int p = p0 + q;
                in[q] = _mm512_setzero_si512();
                if (p < kp) {
                    const float *r0 = a.p + (k0 + 2 * p) * a.ks + i;
                    in[q] = pairs_of(r0, r0 + a.ks, 2 * p + 1 < kc, m);
                }
            }
            transpose16(out, in);
            for (int t = 0; t < nr; t++)
                _mm512_storeu_si512(ap + (size_t)(i + t) * lda + p0, out[t]);
        }
    }
}

/* 32 k of one column contiguous in k, from `left` valid elements on, as its 16 pairs */
AI TBF __m512i col_pairs_f32(const float *src, int left) {
    __m512 v0 = _mm512_maskz_loadu_ps(mask16(left), src);
    __m512 v1 = _mm512_maskz_loadu_ps(mask16(left - 16), src + 16);
    return (__m512i)_mm512_cvtne2ps_pbh(v1, v0);
}

AI TBF __m512i col_pairs_f16(const uint16_t *src, int left) {
    __m256i h0 = _mm512_castsi512_si256(_mm512_maskz_loadu_epi16(mask32(left < 16 ? left : 16), src));
    __m256i h1 = _mm512_castsi512_si256(_mm512_maskz_loadu_epi16(mask32(left - 16 < 16 ? left - 16 : 16),
                                                                 src + 16));
    return (__m512i)_mm512_cvtne2ps_pbh(_mm512_cvtph_ps(h1), _mm512_cvtph_ps(h0));
}

AI TBF __m512i col_pairs_bf16(const uint16_t *src, int left) {
    return _mm512_maskz_loadu_epi16(mask32(left), src);
}

/* B from columns contiguous in k (an f32 view with ks == 1, or stored weight rows of
 * wtype, row stride ldw elements): 32 k of a column are its 16 pairs in order; 16
 * columns of them are transposed into 16 pair-rows of the panel (columns past C and
 * pairs up to the next multiple of 16 are zeros) */
AI TBF void pack_cols_fast(uint32_t *bp, const void *base, uint32_t wtype, int64_t ldw, int C,
                           int64_t k0, int kc) {
    const int kp = (kc + 1) / 2;
    for (int j = 0; j < NC; j += 16) {
        for (int p0 = 0; p0 < kp; p0 += 16) {
            __m512i in[16], out[16];
            for (int q = 0; q < 16; q++) {
                int in_c = j + q < C;
                size_t at = in_c ? (size_t)(j + q) * (size_t)ldw + (size_t)(k0 + 2 * p0) : 0;
                int left = in_c ? kc - 2 * p0 : 0;
                if (wtype == DL_TYPE_F32)
                    in[q] = col_pairs_f32((const float *)base + at, left);
                else if (wtype == DL_TYPE_F16)
                    in[q] = col_pairs_f16((const uint16_t *)base + at, left);
                else
                    in[q] = col_pairs_bf16((const uint16_t *)base + at, left);
            }
            transpose16(out, in);
            for (int t = 0; t < 16; t++)
                _mm512_store_si512(bp + (size_t)(p0 + t) * NC + j, out[t]);
        }
    }
}

TBF static void pack_b_fast(uint32_t *bp, dl_bview b, int C, int64_t k0, int kc) {
    const int kp = (kc + 1) / 2;
    if (b.is == 1) {
        /* columns are contiguous: two k of 16 columns become 16 pairs */
        for (int p = 0; p < kp; p++) {
            const float *r0 = b.p + (k0 + 2 * p) * b.ks, *r1 = r0 + b.ks;
            int has1 = 2 * p + 1 < kc;
            for (int j = 0; j < NC; j += 16) {
                _mm512_store_si512(bp + (size_t)p * NC + j,
                                   pairs_of(r0 + j, r1 + j, has1, mask16(C - j)));
            }
        }
        return;
    }
    pack_cols_fast(bp, b.p, DL_TYPE_F32, b.is, C, k0, kc);
}

TBF static void pack_w_fast(uint32_t *bp, const void *w, uint32_t wtype, int K, int64_t m0,
                            int C, int64_t k0, int kc) {
    size_t esize = wtype == DL_TYPE_F32 ? 4 : 2;
    const void *base = (const uint8_t *)w + (size_t)m0 * (size_t)K * esize;
    if (wtype == DL_TYPE_F32)
        pack_cols_fast(bp, base, DL_TYPE_F32, K, C, k0, kc);
    else if (wtype == DL_TYPE_F16)
        pack_cols_fast(bp, base, DL_TYPE_F16, K, C, k0, kc);
    else
        pack_cols_fast(bp, base, DL_TYPE_BF16, K, C, k0, kc);
}

TBF static void pack_rows_fast(uint32_t *ap, int lda, const float *x, int ldx, int N, int K) {
    for (int n = 0; n < N; n++) {
        uint16_t *dst = (uint16_t *)(ap + (size_t)n * lda);
        row_to_bf16(dst, x + (size_t)n * ldx, K);
        memset(dst + K, 0, sizeof(uint16_t) * (size_t)(2 * lda - K));
    }
}

AI TBF void micro(float *out, int64_t ldo, const uint32_t *ap, int lda, const uint32_t *bp,
                  int kp, __mmask16 m0, __mmask16 m1, const int R, int zero) {
    __m512 c0[MR], c1[MR];
    for (int r = 0; r < R; r++) {
        c0[r] = zero ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m0, out + r * ldo);
        c1[r] = zero ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m1, out + r * ldo + 16);
    }
    for (int p = 0; p < kp; p++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(bp + (size_t)p * NC);
        __m512bh b1 = (__m512bh)_mm512_load_si512(bp + (size_t)p * NC + 16);
        for (int r = 0; r < R; r++) {
            __m512bh x = (__m512bh)_mm512_set1_epi32((int)ap[(size_t)r * lda + p]);
            c0[r] = _mm512_dpbf16_ps(c0[r], x, b0);
            c1[r] = _mm512_dpbf16_ps(c1[r], x, b1);
        }
    }
    for (int r = 0; r < R; r++) {
        _mm512_mask_storeu_ps(out + r * ldo, m0, c0[r]);
        _mm512_mask_storeu_ps(out + r * ldo + 16, m1, c1[r]);
    }
}

/* out[R][ldo] (+)= ap[R][kp] . bp[kp][C], C <= NC */
TBF static void kernel_fast(float *out, int64_t ldo, const uint32_t *ap, int lda,
                            const uint32_t *bp, int R, int C, int kp, int zero) {
    for (int j = 0; j < C; j += 32) {
        __mmask16 m0 = mask16(C - j), m1 = mask16(C - j - 16);
        for (int i = 0; i < R; i += MR) {
            float *o = out + i * ldo + j;
            const uint32_t *a = ap + (size_t)i * lda, *b = bp + j;
            switch (R - i < MR ? R - i : MR) {
            case 12: micro(o, ldo, a, lda, b, kp, m0, m1, 12, zero); break;
            case 11: micro(o, ldo, a, lda, b, kp, m0, m1, 11, zero); break;
            case 10: micro(o, ldo, a, lda, b, kp, m0, m1, 10, zero); break;
            case 9: micro(o, ldo, a, lda, b, kp, m0, m1, 9, zero); break;
            case 8: micro(o, ldo, a, lda, b, kp, m0, m1, 8, zero); break;
            case 7: micro(o, ldo, a, lda, b, kp, m0, m1, 7, zero); break;
            case 6: micro(o, ldo, a, lda, b, kp, m0, m1, 6, zero); break;
            case 5: micro(o, ldo, a, lda, b, kp, m0, m1, 5, zero); break;
            case 4: micro(o, ldo, a, lda, b, kp, m0, m1, 4, zero); break;
            case 3: micro(o, ldo, a, lda, b, kp, m0, m1, 3, zero); break;
            case 2: micro(o, ldo, a, lda, b, kp, m0, m1, 2, zero); break;
            default: micro(o, ldo, a, lda, b, kp, m0, m1, 1, zero); break;
            }
        }
    }
}

/* --- AMX */
#define TAMX __attribute__((target("amx-tile,amx-bf16")))

static void pad_b_for_tiles(uint32_t *bp, int kp, int kp16) {
    memset(bp + (size_t)kp * NC, 0, sizeof(uint32_t) * (size_t)(kp16 - kp) * NC);
}

/* out[R][ldo] (+)= ap[R][kp] . bp[kp][C] for C <= NC, through a 32 x 32 f32 block; ap
 * and bp readable and zero to whole tiles (32 rows, 16 pairs) */
TAMX static void kernel_amx(float *out, int64_t ldo, const uint32_t *ap, int lda,
                            const uint32_t *bp, int R, int C, int kp, int zero) {
    int kp16 = (kp + 15) & ~15;
    dl_tile_config cfg = { .palette = 1 };
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    float blk[32 * 32] __attribute__((aligned(64)));   /* [32][32]: tiles 0 1 / 2 3 */
    for (int j = 0; j < C; j += 32) {
        int nc = C - j < 32 ? C - j : 32;
        for (int i = 0; i < R; i += 32) {
            int nr = R - i < 32 ? R - i : 32;
            /* a whole block is loaded from out (or zeroed) and stored back in place; an
             * edge block goes through blk, zero-padded */
            int whole = nr == 32 && nc == 32;
            float *c = whole ? out + i * ldo + j : blk;
            int64_t ldc = whole ? ldo : 32;
            if (zero) {
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                _tile_zero(3);
            } else {
                if (!whole) {
                    memset(blk, 0, sizeof blk);
                    for (int r = 0; r < nr; r++)
                        memcpy(blk + r * 32, out + (i + r) * ldo + j, sizeof(float) * (size_t)nc);
                }
                _tile_loadd(0, c, ldc * 4);
                _tile_loadd(1, c + 16, ldc * 4);
                _tile_loadd(2, c + 16 * ldc, ldc * 4);
                _tile_loadd(3, c + 16 * ldc + 16, ldc * 4);
            }
            const uint32_t *a = ap + (size_t)i * lda, *b = bp + j;
            for (int p = 0; p < kp16; p += 16) {
                _tile_loadd(4, a + p, lda * 4);
                _tile_loadd(5, a + (size_t)16 * lda + p, lda * 4);
                _tile_loadd(6, b + (size_t)p * NC, NC * 4);
                _tile_loadd(7, b + (size_t)p * NC + 16, NC * 4);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
            _tile_stored(0, c, ldc * 4);
            _tile_stored(1, c + 16, ldc * 4);
            _tile_stored(2, c + 16 * ldc, ldc * 4);
            _tile_stored(3, c + 16 * ldc + 16, ldc * 4);
            if (!whole)
                for (int r = 0; r < nr; r++)
                    memcpy(out + (i + r) * ldo + j, blk + r * 32, sizeof(float) * (size_t)nc);
        }
    }
    _tile_release();
}

int dl_bf16_available(int path) {
    unsigned f = dl_cpu_features();
    unsigned avx = DL_CPU_AVX512F | DL_CPU_AVX512BW | DL_CPU_AVX512_BF16;
    switch (path) {
    case DL_BF16_PORTABLE:
        return 1;
    case DL_BF16_AVX512:
        return (f & avx) == avx;
    case DL_BF16_AMX:
        return (f & avx) == avx && (f & DL_CPU_AMX_BF16) && dl_amx_granted();
    default:
        return 0;
    }
}
#else
int dl_bf16_available(int path) { return path == DL_BF16_PORTABLE; }
#endif

int dl_bf16_best(void) {
    static atomic_int best = -1;
    int b = atomic_load(&best);
    if (b < 0) {
        b = dl_bf16_available(DL_BF16_AMX) ? DL_BF16_AMX
            : dl_bf16_available(DL_BF16_AVX512) ? DL_BF16_AVX512 : DL_BF16_PORTABLE;
        atomic_store(&best, b);
    }
    return b;
}

const char *dl_bf16_path_name(int path) {
    return path == DL_BF16_AMX ? "amx-bf16" : path == DL_BF16_AVX512 ? "avx512-bf16" : "portable";
}

/* the kernel of path over packed blocks: out (+)= ap . bp, where zero starts the sums
 * at 0 without reading out (the first block of a product that does not accumulate:
 * the same bits as clearing out first, without the pass over it) */
static void run_kernel(int path, float *out, int64_t ldo, const uint32_t *ap, int lda,
                       const uint32_t *bp, int R, int C, int kp, int zero) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (path == DL_BF16_AMX) {
        kernel_amx(out, ldo, ap, lda, bp, R, C, kp, zero);
        return;
    }
    if (path == DL_BF16_AVX512) {
        kernel_fast(out, ldo, ap, lda, bp, R, C, kp, zero);
        return;
    }
#else
    (void)path;
#endif
    kernel_ref(out, ldo, ap, lda, bp, R, C, kp, zero);
}

/* Zero the words of every packed row past the K pairs (odd K: the last pair's high half
 * is zero already) and the rows up to whole 32-row blocks, where AMX tiles read. */
static void pad_packed_a(uint32_t *ap, int lda, int R, int64_t K) {
    int kp = (int)((K + 1) / 2), r32 = dl_bf16_act_rows(R);
    for (int i = 0; i < R; i++)
        memset(ap + (size_t)i * lda + kp, 0, sizeof(uint32_t) * (size_t)(lda - kp));
    memset(ap + (size_t)R * lda, 0, sizeof(uint32_t) * (size_t)lda * (size_t)(r32 - R));
}

void dl_bf16_pack_a(int path, uint32_t *ap, int lda, dl_bview a, int R, int64_t K) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (path != DL_BF16_PORTABLE)
        pack_a_fast(ap, lda, a, R, 0, (int)K);
    else
#else
    (void)path;
#endif
        pack_a_ref(ap, lda, a, R, 0, (int)K);
    pad_packed_a(ap, lda, R, K);
}

void dl_bf16_pack_b(int path, uint32_t *bp, int lda, dl_bview b, int C, int64_t K) {
    int kp = (int)((K + 1) / 2);
#if defined(__x86_64__) && defined(__GNUC__)
    if (path != DL_BF16_PORTABLE)
        pack_b_fast(bp, b, C, 0, (int)K);
    else
#else
    (void)path;
#endif
        pack_b_ref(bp, b, C, 0, (int)K);
    memset(bp + (size_t)kp * NC, 0, sizeof(uint32_t) * (size_t)(lda - kp) * NC);
}

void dl_bgemm_packed(int path, float *out, int64_t ldo, const uint32_t *ap, int lda,
                     const uint32_t *bp, int R, int C, int64_t K, int accumulate) {
    if (K <= 0) {   /* no block to start the sums: an empty product is zero */
        if (!accumulate)
            for (int i = 0; i < R; i++)
                memset(out + i * ldo, 0, sizeof(float) * (size_t)C);
        return;
    }
    const size_t panel = (size_t)lda * NC;
    for (int64_t k0 = 0; k0 < K; k0 += 2 * KP) {
        int kc = K - k0 < 2 * KP ? (int)(K - k0) : 2 * KP;
        for (int j0 = 0; j0 < C; j0 += NC)
            run_kernel(path, out + j0, ldo, ap + k0 / 2, lda, bp + (size_t)(j0 / NC) * panel
                       + (size_t)(k0 / 2) * NC, R, C - j0 < NC ? C - j0 : NC, (kc + 1) / 2,
                       !accumulate && k0 == 0);
    }
}

void dl_bf16_pack_rows(int path, uint32_t *ap, int lda, const float *x, int ldx, int N, int K) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (path != DL_BF16_PORTABLE) {
        pack_rows_fast(ap, lda, x, ldx, N, K);
        return;
    }
#else
    (void)path;
#endif
    for (int n = 0; n < N; n++) {
        uint16_t *dst = (uint16_t *)(ap + (size_t)n * lda);
        for (int k = 0; k < K; k++)
            dst[k] = dl_bf16_round(x[(size_t)n * ldx + k]);
        memset(dst + K, 0, sizeof(uint16_t) * (size_t)(2 * lda - K));
    }
}

void dl_bf16_pack_w(int path, uint32_t *bp, int lda, const void *w, uint32_t wtype, int K,
                    int64_t m0, int C) {
    for (int k0 = 0; k0 < K; k0 += 2 * KP) {
        int kc = K - k0 < 2 * KP ? K - k0 : 2 * KP;
        uint32_t *blk = bp + (size_t)(k0 / 2) * NC;
#if defined(__x86_64__) && defined(__GNUC__)
        if (path != DL_BF16_PORTABLE)
            pack_w_fast(blk, w, wtype, K, m0, C, k0, kc);
        else
#else
        (void)path;
#endif
            pack_w_ref(blk, w, wtype, K, m0, C, k0, kc);
    }
    int kp = (K + 1) / 2;
    memset(bp + (size_t)kp * NC, 0, sizeof(uint32_t) * (size_t)(lda - kp) * NC);
}

void dl_bgemm_cols(int path, float *out, int ldo, const uint32_t *ap, int lda, int N,
                   const void *w, uint32_t wtype, int K, int64_t m0, int mc,
                   const float *bias, int accumulate) {
    if (N <= 0 || mc <= 0 || K <= 0 ||
        (wtype != DL_TYPE_F32 && wtype != DL_TYPE_F16 && wtype != DL_TYPE_BF16))
        return;
    if (mc > NC)
        mc = NC;
    if (!dl_bf16_available(path))
        path = DL_BF16_PORTABLE;
    float *o = out + m0;
    uint32_t bp[KP * NC] __attribute__((aligned(64)));   /* [KP][NC]: 32 KiB */
    for (int k0 = 0; k0 < K; k0 += 2 * KP) {
        int kc = K - k0 < 2 * KP ? K - k0 : 2 * KP;
        int kp = (kc + 1) / 2;
#if defined(__x86_64__) && defined(__GNUC__)
        if (path != DL_BF16_PORTABLE) {
            pack_w_fast(bp, w, wtype, K, m0, mc, k0, kc);
            if (path == DL_BF16_AMX)
                pad_b_for_tiles(bp, kp, (kp + 15) & ~15);
        } else
#endif
            pack_w_ref(bp, w, wtype, K, m0, mc, k0, kc);
        /* k0 is even: its pairs start at word k0 / 2 of every packed row */
        run_kernel(path, o, ldo, ap + k0 / 2, lda, bp, N, mc, kp, !accumulate && k0 == 0);
    }
    if (bias)
        for (int n = 0; n < N; n++)
            for (int c = 0; c < mc; c++)
                o[(size_t)n * ldo + c] += bias[m0 + c];
}

/* gemm_bf16.c - one output tile of a mixed-precision product (gemm_bf16.h).
 *
 * The summed dimension is packed TR_BF16_KP pairs at a time: A into rows of pairs
 * [R][KP] (a pair = two bf16 of consecutive k in one 32-bit word, even k in the low half),
 * B into panels [KP][64] with the pairs of one k-pair for 64 columns side by side. The
 * AVX512_BF16 kernel broadcasts A's pair and vdpbf16ps adds both products into each
 * column's f32 lane: 12 rows x 32 columns per micro-tile (24 accumulators), as the f32
 * kernel of lib/kernels. Padding (odd K, columns past C) is zero in both operands.
 *
 * The same two layouts are what AMX tiles load: 16 rows of A's pairs (64 bytes each,
 * stride KP words) and 16 pair-rows of a B panel (stride NC words) feed tdpbf16ps, which
 * adds the 16 x 16 products of sixteen pairs into an f32 tile. The AMX kernel pads the
 * packed blocks with zeros to whole tiles and keeps a 32 x 32 block of out in four. */
#include <stdatomic.h>
#include <string.h>

#include "gemm_bf16.h"
#include "difflm_internal.h"

#define KP TR_BF16_KP
#define NC TR_BF16_COLS

/* round to nearest, ties to even; NaN stays NaN */
static uint16_t to_bf16(float f) {
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

static float elem(tr_bview v, int64_t i, int64_t k) { return v.p[i * v.is + k * v.ks]; }

static tr_bview column_view(tr_bview b, int64_t j0) { return (tr_bview){ b.p + j0 * b.is, b.is, b.ks }; }

/* --- portable packing and kernel */

/* ap: [R][KP] pairs of k0 .. k0 + kc - 1 */
static void pack_a_ref(uint32_t *ap, tr_bview a, int R, int64_t k0, int kc) {
    for (int i = 0; i < R; i++)
        for (int p = 0; p < (kc + 1) / 2; p++) {
            uint32_t lo = to_bf16(elem(a, i, k0 + 2 * p));
            uint32_t hi = 2 * p + 1 < kc ? to_bf16(elem(a, i, k0 + 2 * p + 1)) : 0;
            ap[(size_t)i * KP + p] = lo | hi << 16;
        }
}

/* bp: [KP][NC] pairs for columns 0 .. C - 1, zero beyond */
static void pack_b_ref(uint32_t *bp, tr_bview b, int C, int64_t k0, int kc) {
    for (int p = 0; p < (kc + 1) / 2; p++)
        for (int j = 0; j < NC; j++) {
            uint32_t lo = j < C ? to_bf16(elem(b, j, k0 + 2 * p)) : 0;
            uint32_t hi = j < C && 2 * p + 1 < kc ? to_bf16(elem(b, j, k0 + 2 * p + 1)) : 0;
            bp[(size_t)p * NC + j] = lo | hi << 16;
        }
}

static void kernel_ref(float *out, int64_t ldo, const uint32_t *ap, const uint32_t *bp, int R,
                       int C, int kp) {
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) {
            float s = out[i * ldo + j];
            for (int p = 0; p < kp; p++) {
                uint32_t x = ap[(size_t)i * KP + p], w = bp[(size_t)p * NC + j];
                s = __builtin_fmaf(from_bf16(x & 0xffffu), from_bf16(w & 0xffffu), s);
                s = __builtin_fmaf(from_bf16(x >> 16), from_bf16(w >> 16), s);
            }
            out[i * ldo + j] = s;
        }
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

TBF static void pack_a_fast(uint32_t *ap, tr_bview a, int R, int64_t k0, int kc) {
    if (a.ks == 1) {
        /* rows are contiguous in k: the pairs are the row's bf16 values in order */
        for (int i = 0; i < R; i++) {
            const float *src = a.p + i * a.is + k0;
            uint16_t *dst = (uint16_t *)(ap + (size_t)i * KP);
            for (int k = 0; k < kc; k += 16) {
                __m512 v = _mm512_maskz_loadu_ps(mask16(kc - k), src + k);
                _mm256_storeu_si256((__m256i *)(dst + k), (__m256i)_mm512_cvtneps_pbh(v));
            }
        }
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
                _mm512_storeu_si512(ap + (size_t)(i + t) * KP + p0, out[t]);
        }
    }
}

TBF static void pack_b_fast(uint32_t *bp, tr_bview b, int C, int64_t k0, int kc) {
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
    /* each column is contiguous in k: 32 k of a column are its 16 pairs in order; 16
     * columns of them are transposed into 16 pair-rows of the panel (columns past C and
     * pairs up to the next multiple of 16 are zeros) */
    for (int j = 0; j < NC; j += 16) {
        for (int p0 = 0; p0 < kp; p0 += 16) {
            __m512i in[16], out[16];
            for (int q = 0; q < 16; q++) {
                int in_c = j + q < C;
                const float *src = in_c ? b.p + (j + q) * b.is + k0 + 2 * p0 : b.p;
                int left = in_c ? kc - 2 * p0 : 0;
                __m512 v0 = _mm512_maskz_loadu_ps(mask16(left), src);
                __m512 v1 = _mm512_maskz_loadu_ps(mask16(left - 16), src + 16);
                in[q] = (__m512i)_mm512_cvtne2ps_pbh(v1, v0);
            }
            transpose16(out, in);
            for (int t = 0; t < 16; t++)
                _mm512_store_si512(bp + (size_t)(p0 + t) * NC + j, out[t]);
        }
    }
}

AI TBF void micro(float *out, int64_t ldo, const uint32_t *ap, const uint32_t *bp, int kp,
                  __mmask16 m0, __mmask16 m1, const int R) {
    __m512 c0[MR], c1[MR];
    for (int r = 0; r < R; r++) {
        c0[r] = _mm512_maskz_loadu_ps(m0, out + r * ldo);
        c1[r] = _mm512_maskz_loadu_ps(m1, out + r * ldo + 16);
    }
    for (int p = 0; p < kp; p++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(bp + (size_t)p * NC);
        __m512bh b1 = (__m512bh)_mm512_load_si512(bp + (size_t)p * NC + 16);
        for (int r = 0; r < R; r++) {
            __m512bh x = (__m512bh)_mm512_set1_epi32((int)ap[(size_t)r * KP + p]);
            c0[r] = _mm512_dpbf16_ps(c0[r], x, b0);
            c1[r] = _mm512_dpbf16_ps(c1[r], x, b1);
        }
    }
    for (int r = 0; r < R; r++) {
        _mm512_mask_storeu_ps(out + r * ldo, m0, c0[r]);
        _mm512_mask_storeu_ps(out + r * ldo + 16, m1, c1[r]);
    }
}

TBF static void kernel_fast(float *out, int64_t ldo, const uint32_t *ap, const uint32_t *bp,
                            int R, int C, int kp) {
    for (int j = 0; j < C; j += 32) {
        __mmask16 m0 = mask16(C - j), m1 = mask16(C - j - 16);
        for (int i = 0; i < R; i += MR) {
            float *o = out + i * ldo + j;
            const uint32_t *a = ap + (size_t)i * KP, *b = bp + j;
            switch (R - i < MR ? R - i : MR) {
            case 12: micro(o, ldo, a, b, kp, m0, m1, 12); break;
            case 11: micro(o, ldo, a, b, kp, m0, m1, 11); break;
            case 10: micro(o, ldo, a, b, kp, m0, m1, 10); break;
            case 9: micro(o, ldo, a, b, kp, m0, m1, 9); break;
            case 8: micro(o, ldo, a, b, kp, m0, m1, 8); break;
            case 7: micro(o, ldo, a, b, kp, m0, m1, 7); break;
            case 6: micro(o, ldo, a, b, kp, m0, m1, 6); break;
            case 5: micro(o, ldo, a, b, kp, m0, m1, 5); break;
            case 4: micro(o, ldo, a, b, kp, m0, m1, 4); break;
            case 3: micro(o, ldo, a, b, kp, m0, m1, 3); break;
            case 2: micro(o, ldo, a, b, kp, m0, m1, 2); break;
            default: micro(o, ldo, a, b, kp, m0, m1, 1); break;
            }
        }
    }
}

/* --- AMX */
#include <sys/syscall.h>
#include <unistd.h>
#define TAMX __attribute__((target("amx-tile,amx-bf16")))

typedef struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* Linux hands out the tile data state only on request; without it the first tile
 * instruction is SIGILL. */
static int amx_granted(void) {
    static atomic_int state;   /* 0 unknown, 1 granted, 2 refused */
    int s = atomic_load(&state);
    if (!s) {
        enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
        s = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0 ? 1 : 2;
        atomic_store(&state, s);
    }
    return s == 1;
}

/* Zero the packed blocks out to whole tiles: A to 32-row blocks (R <= 256 keeps that
 * inside its [256][KP]) and both to a multiple of 16 pairs (KP is one). */
static void pad_for_tiles(uint32_t *ap, uint32_t *bp, int R, int kp, int kp16) {
    int r32 = (R + 31) & ~31;
    for (int i = 0; i < R; i++)
        memset(ap + (size_t)i * KP + kp, 0, sizeof(uint32_t) * (size_t)(kp16 - kp));
    for (int i = R; i < r32; i++)
        memset(ap + (size_t)i * KP, 0, sizeof(uint32_t) * (size_t)kp16);
    memset(bp + (size_t)kp * NC, 0, sizeof(uint32_t) * (size_t)(kp16 - kp) * NC);
}

/* out[R][ldo] += ap[R][kp] . bp[kp][C] for C <= NC, through a 32 x 32 f32 block */
TAMX static void kernel_amx(float *out, int64_t ldo, uint32_t *ap, uint32_t *bp, int R, int C,
                            int kp) {
    int kp16 = (kp + 15) & ~15;
    pad_for_tiles(ap, bp, R, kp, kp16);
    tile_config cfg = { .palette = 1 };
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
            /* a whole block is loaded from out and stored back in place; an edge block
             * goes through blk, zero-padded */
            int whole = nr == 32 && nc == 32;
            float *c = whole ? out + i * ldo + j : blk;
            int64_t ldc = whole ? ldo : 32;
            if (!whole) {
                memset(blk, 0, sizeof blk);
                for (int r = 0; r < nr; r++)
                    memcpy(blk + r * 32, out + (i + r) * ldo + j, sizeof(float) * (size_t)nc);
            }
            _tile_loadd(0, c, ldc * 4);
            _tile_loadd(1, c + 16, ldc * 4);
            _tile_loadd(2, c + 16 * ldc, ldc * 4);
            _tile_loadd(3, c + 16 * ldc + 16, ldc * 4);
            const uint32_t *a = ap + (size_t)i * KP, *b = bp + j;
            for (int p = 0; p < kp16; p += 16) {
                _tile_loadd(4, a + p, KP * 4);
                _tile_loadd(5, a + 16 * KP + p, KP * 4);
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

int tr_bf16_best(void) {
    static atomic_int best = -1;
    int b = atomic_load(&best);
    if (b < 0) {
        unsigned f = dl_cpu_features();
        unsigned avx = DL_CPU_AVX512F | DL_CPU_AVX512BW | DL_CPU_AVX512_BF16;
        b = (f & avx) != avx ? TR_BF16_PORTABLE
            : (f & DL_CPU_AMX_BF16) && amx_granted() ? TR_BF16_AMX : TR_BF16_AVX512;
        atomic_store(&best, b);
    }
    return b;
}
#else
int tr_bf16_best(void) { return TR_BF16_PORTABLE; }
#endif

const char *tr_bf16_path_name(int path) {
    return path == TR_BF16_AMX ? "amx-bf16" : path == TR_BF16_AVX512 ? "avx512-bf16" : "portable";
}

void tr_bgemm_tile(int path, float *out, int64_t ldo, tr_bview a, tr_bview b, int R, int C,
                   int64_t K, int accumulate, float *scratch) {
    uint32_t *ap = (uint32_t *)scratch;                     /* [TR_BF16_ROWS][KP] */
    uint32_t *bp = ap + (size_t)TR_BF16_ROWS * KP;          /* [KP][NC], 64-byte aligned */
    if (!accumulate)
        for (int i = 0; i < R; i++)
            memset(out + i * ldo, 0, sizeof(float) * (size_t)C);
    /* A is packed once per block of k and serves every 64-column panel of B */
    for (int64_t k0 = 0; k0 < K; k0 += 2 * KP) {
        int kc = K - k0 < 2 * KP ? (int)(K - k0) : 2 * KP;
        int kp = (kc + 1) / 2;
#if defined(__x86_64__) && defined(__GNUC__)
        if (path != TR_BF16_PORTABLE) {
            pack_a_fast(ap, a, R, k0, kc);
            for (int j0 = 0; j0 < C; j0 += NC) {
                int nc = C - j0 < NC ? C - j0 : NC;
                pack_b_fast(bp, column_view(b, j0), nc, k0, kc);
                if (path == TR_BF16_AMX)
                    kernel_amx(out + j0, ldo, ap, bp, R, nc, kp);
                else
                    kernel_fast(out + j0, ldo, ap, bp, R, nc, kp);
            }
            continue;
        }
#endif
        pack_a_ref(ap, a, R, k0, kc);
        for (int j0 = 0; j0 < C; j0 += NC) {
            int nc = C - j0 < NC ? C - j0 : NC;
            pack_b_ref(bp, column_view(b, j0), nc, k0, kc);
            kernel_ref(out + j0, ldo, ap, bp, R, nc, kp);
        }
    }
}

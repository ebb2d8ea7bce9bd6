/* qgemm_amx.c - the integer product's AMX-INT8 kernel (x86-64 with AMX tiles, after
 * Linux has granted the tile state: kernels/cpu.h dl_amx_granted).
 *
 * One tdpbsud multiplies a tile of 16 activation rows x 32 signed bytes (one dl_qact
 * block of each row, read in place through the row stride) with the panel block's 8 x 64
 * unsigned bytes, whose layout (qgemm_impl.h: 4 elements of 16 weight rows per 64 bytes)
 * is already AMX's packed B layout. The result tile holds the exact integer sums
 * isum[row][weight row] of that block, the same integers vpdpbusd sums in
 * qgemm_x86.c. What the tile unit cannot do is the f32 part: every block's sums are
 * scaled by their own d and added into the f32 result in block order, so the sums of
 * a chunk's blocks are stored to memory and folded in by AVX-512 with exactly the
 * operations (and order) of the VNNI kernel: every path gives the same bits.
 *
 * That fold is about half of the VNNI kernel's time and all of it remains, so this
 * kernel runs about 1.3x the VNNI one, not the tile unit's multiple (doc/performance.md,
 * "vs llama.cpp, and AMX on quantized weights"). Not for Q6_K (DL_QK_ZP16): a scale per 16 elements
 * would make its tiles half as deep and its folds twice as many, which measured no
 * faster than VNNI, so its type row keeps the VNNI kernel on this path (types.c). The
 * rows past the last whole 16 run the VNNI kernel, so tile shapes never change. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <stdint.h>

#include "kernels/cpu.h"
#include "kernels/qgemm_impl.h"

#define TAMX __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx512vnni,fma")))
#define AI static inline __attribute__((always_inline))

/* The sums of block t of 16 activation rows against one group into sums[t], through
 * sum tile c, activation tile a and weight tile w (immediates: two sets alternate, so
 * one block's loads need not wait for the last one's product). */
#define BLOCK_SUMS(c, a, w, t)                                                         \
    do {                                                                               \
        _tile_loadd(a, x0[t].qs, xstride);                                             \
        _tile_loadd(w, pg[t].q, 64);                                                   \
        _tile_zero(c);                                                                 \
        _tile_dpbsud(c, a, w);                                                         \
        _tile_stored(c, sums[t], 64);                                                  \
    } while (0)

/* 16 activation rows from x0 (xs records apart) x one group of 16 weight rows (pg: its
 * nb blocks): out[r][c] += the chunk, for the columns in mask. */
AI TAMX void group16(float *out, int ldo, const dl_qact *x0, int xs, const dl_qpanel *pg,
                     int nb, int kind, __mmask16 mask, int32_t (*sums)[16][16]) {
    const size_t xstride = (size_t)xs * sizeof(dl_qact);
    for (int t = 0; t < nb; t += 4) {
        BLOCK_SUMS(0, 4, 6, t);
        if (t + 1 < nb)
            BLOCK_SUMS(1, 5, 7, t + 1);
        if (t + 2 < nb)
            BLOCK_SUMS(2, 4, 6, t + 2);
        if (t + 3 < nb)
            BLOCK_SUMS(3, 5, 7, t + 3);
    }
    /* the fold: tile512's operations (qgemm_x86.c), one 16-lane row of sums at a time */
    __m512 acc[16];
    for (int r = 0; r < 16; r++)
        acc[r] = _mm512_maskz_loadu_ps(mask, out + (size_t)r * ldo);
    for (int b = 0; b < nb; b++) {
        __m512 dw = _mm512_load_ps(pg[b].d[0]), mw = _mm512_load_ps(pg[b].m);
        for (int r = 0; r < 16; r++) {
            const dl_qact *x = x0 + (size_t)r * xs + b;
            __m512i i = _mm512_load_si512((const void *)sums[b][r]);
            __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(x->d));
            if (kind == DL_QK_MIN32) {
                acc[r] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(i), acc[r]);
                acc[r] = _mm512_fmadd_ps(mw, _mm512_set1_ps(x->s), acc[r]);
            } else {
                i = _mm512_sub_epi32(i, _mm512_set1_epi32(x->zh[0]));
                acc[r] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(i), acc[r]);
            }
        }
    }
    for (int r = 0; r < 16; r++)
        _mm512_mask_storeu_ps(out + (size_t)r * ldo, mask, acc[r]);
}

TAMX void dl_qkernel_amx(float *out, int ldo, const dl_qact *xa, int xs, int N,
                         const dl_qpanel *panel, int n_groups, int cols, int nb, int kind) {
    int whole = N / 16 * 16;
    if (whole > 0) {
        /* tiles 0-3: sums, 16 x 16 int32; 4, 5: activations, 16 rows x 32 bytes; 6, 7:
         * weights, 8 rows x 64 bytes */
        dl_tile_config cfg = { .palette = 1 };
        for (int t = 0; t < 8; t++) {
            cfg.rows[t] = t < 6 ? 16 : 8;
            cfg.colsb[t] = t == 4 || t == 5 ? 32 : 64;
        }
        _tile_loadconfig(&cfg);
        int32_t sums[DL_QCHUNK_BLOCKS][16][16] __attribute__((aligned(64)));   /* [block][row][col] */
        for (int n = 0; n < whole; n += 16)
            for (int g = 0; g < n_groups; g++) {
                int valid = cols - 16 * g < 16 ? cols - 16 * g : 16;
                group16(out + (size_t)n * ldo + 16 * g, ldo, xa + (size_t)n * xs, xs,
                        panel + (size_t)g * nb, nb, kind, (__mmask16)((1u << valid) - 1u), sums);
            }
        _tile_release();
    }
    if (whole < N)
        dl_qkernel_avx512vnni(out + (size_t)whole * ldo, ldo, xa + (size_t)whole * xs, xs,
                              N - whole, panel, n_groups, cols, nb, kind);
}
#endif

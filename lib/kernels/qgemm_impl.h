/* qgemm_impl.h - what the integer product's driver (qgemm.c) shares with the formats'
 * panel decoders (quant_<name>.c) and the per-instruction-set kernels (qgemm_x86.c): the
 * decoded weight panel and the kernel signature. Internal to lib/kernels. */
#ifndef DL_QGEMM_IMPL_H
#define DL_QGEMM_IMPL_H

#include <stdint.h>
#include <string.h>

#include "kernels/quant.h"
#include "kernels/types.h"

/* 32 elements of 16 weight rows, decoded to unsigned 8-bit values u (0..255) laid out
 * for vpdpbusd: q[g][r] holds elements 4g..4g+3 of row r, so one 64-byte load gives
 * 16 rows x 4 elements. Rows past the weight's end are zero. How u, d and m combine
 * with the activations is the type's qkind (types.h). */
typedef struct dl_qpanel {
    uint8_t q[8][16][4];
    float d[2][16];     /* scale of each half (equal halves outside ZP16) per row */
    float m[16];        /* MIN32: the additive min per row; 0 otherwise */
} dl_qpanel;            /* 704 bytes = 11 cache lines */

/* Blocks per decoded chunk: one K super-block, so every format decodes whole blocks. */
#define DL_QCHUNK_BLOCKS 8

/* Row r of a panel block from one decoded block of 32: values u, the scales of its two
 * halves and its min (what every format's qdecode writes).  u: [32] */
static inline void dl_qpanel_put(dl_qpanel *p, int r, const uint8_t *u, float d0, float d1,
                                 float m) {
    for (int g = 0; g < 8; g++)
        memcpy(p->q[g][r], u + 4 * g, 4);
    p->d[0][r] = d0;
    p->d[1][r] = d1;
    p->m[r] = m;
}

/* The kernels (dl_qkernel_fn, types.h):
 * out[n][16*g + c] += the chunk's contribution, for n < N, every group g < n_groups and
 * the valid columns c of each group (cols = valid columns in all, <= 16 * n_groups).
 *   out: [N][ldo] in/out;  xa: activation blocks of this chunk, row n at xa + n * xs;
 *   panel: [n_groups][nb] decoded blocks;  kind: the weight type's enum dl_qkind. */
void dl_qkernel_scalar(float *out, int ldo, const dl_qact *xa, int xs, int N,
                       const dl_qpanel *panel, int n_groups, int cols, int nb, int kind);
/* The portable activation quantizer (dl_qact_row picks a vector one when it can; both
 * give the same bits). */
void dl_qact_row_scalar(dl_qact *out, const float *x, uint32_t wtype, int K);

#if defined(__x86_64__) && defined(__GNUC__)
/* One block of 32: qs and d, and the integer sums of each half of qs. */
void dl_qact_block_avx512(dl_qact *o, const float *x, int *s0, int *s1);
void dl_qkernel_avx2(float *out, int ldo, const dl_qact *xa, int xs, int N,
                     const dl_qpanel *panel, int n_groups, int cols, int nb, int kind);
/* AVX2 for Q8_0, whose values are signed: vpmaddubsw on |w| and x * sign(w) instead of
 * u = q + 128 (which would saturate its 16-bit pair sums), so the sums need no zh
 * correction. */
void dl_qkernel_avx2_signed(float *out, int ldo, const dl_qact *xa, int xs, int N,
                            const dl_qpanel *panel, int n_groups, int cols, int nb, int kind);
void dl_qkernel_avxvnni(float *out, int ldo, const dl_qact *xa, int xs, int N,
                        const dl_qpanel *panel, int n_groups, int cols, int nb, int kind);
void dl_qkernel_avx512vnni(float *out, int ldo, const dl_qact *xa, int xs, int N,
                           const dl_qpanel *panel, int n_groups, int cols, int nb, int kind);
/* AMX-INT8 (qgemm_amx.c): only where dl_qpath_available(DL_QPATH_AMX_INT8), and not
 * for DL_QK_ZP16. */
void dl_qkernel_amx(float *out, int ldo, const dl_qact *xa, int xs, int N,
                    const dl_qpanel *panel, int n_groups, int cols, int nb, int kind);
#endif

#endif

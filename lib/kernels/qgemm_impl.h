/* qgemm_impl.h - what the integer product's driver (qgemm.c) shares with its
 * per-instruction-set kernels (qgemm_x86.c): the decoded weight panel and the kernel
 * signature. Internal to lib/kernels. */
#ifndef DL_QGEMM_IMPL_H
#define DL_QGEMM_IMPL_H

#include <stdint.h>

#include "kernels/quant.h"

/* How a decoded weight block combines with the activation block (quant.h):
 *   ZP32:  w = dw*(u - z)           isum - zh[0],         one scale per 32
 *   MIN32: w = dw*u + mw            isum, plus mw * s,    one scale and min per 32
 *   ZP16:  w = dw_half*(u - z)      per half of 16: isum_h - zh[h], its own scale */
enum dl_qkind { DL_QK_ZP32 = 0, DL_QK_MIN32 = 1, DL_QK_ZP16 = 2 };

/* 32 elements of 16 weight rows, decoded to unsigned 8-bit values u (0..255) laid out
 * for vpdpbusd: q[g][r] holds elements 4g..4g+3 of row r, so one 64-byte load gives
 * 16 rows x 4 elements. Rows past the weight's end are zero. */
typedef struct dl_qpanel {
    uint8_t q[8][16][4];
    float d[2][16];     /* scale of each half (equal halves outside ZP16) per row */
    float m[16];        /* MIN32: the additive min per row; 0 otherwise */
} dl_qpanel;            /* 704 bytes = 11 cache lines */

/* Blocks per decoded chunk: one K super-block, so every format decodes whole blocks. */
#define DL_QCHUNK_BLOCKS 8

/* out[n][16*g + c] += the chunk's contribution, for n < N, every group g < n_groups and
 * the valid columns c of each group (cols = valid columns in all, <= 16 * n_groups).
 *   out: [N][ldo] in/out;  xa: activation blocks of this chunk, row n at xa + n * xs;
 *   panel: [n_groups][nb] decoded blocks;  xzero: skip the zh correction (the AVX2 path
 *   for Q8_0 multiplies signed values directly, so its sums are already corrected). */
typedef void (*dl_qkernel_fn)(float *out, int ldo, const dl_qact *xa, int xs, int N,
                              const dl_qpanel *panel, int n_groups, int cols, int nb, int kind,
                              int z);

void dl_qkernel_scalar(float *out, int ldo, const dl_qact *xa, int xs, int N,
                       const dl_qpanel *panel, int n_groups, int cols, int nb, int kind, int z);
/* The portable activation quantizer (dl_qact_row picks a vector one when it can; both
 * give the same bits). */
void dl_qact_row_scalar(dl_qact *out, const float *x, uint32_t wtype, int K);

#if defined(__x86_64__) && defined(__GNUC__)
/* One block of 32: qs and d, and the integer sums of each half of qs. */
void dl_qact_block_avx512(dl_qact *o, const float *x, int *s0, int *s1);
void dl_qkernel_avx2(float *out, int ldo, const dl_qact *xa, int xs, int N,
                     const dl_qpanel *panel, int n_groups, int cols, int nb, int kind, int z);
void dl_qkernel_avxvnni(float *out, int ldo, const dl_qact *xa, int xs, int N,
                        const dl_qpanel *panel, int n_groups, int cols, int nb, int kind, int z);
void dl_qkernel_avx512vnni(float *out, int ldo, const dl_qact *xa, int xs, int N,
                           const dl_qpanel *panel, int n_groups, int cols, int nb, int kind, int z);
#endif

#endif

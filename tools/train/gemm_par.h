/* gemm_par.h - the trainer's products on the library's own f32 GEMM (kernels/gemm.h) or
 * in mixed precision (kernels/gemm_bf16.h), cut into fixed tiles and run on the model's thread
 * pool. */
#ifndef DL_TRAIN_GEMM_PAR_H
#define DL_TRAIN_GEMM_PAR_H

#include "difflm_internal.h"

/* Rows of dw per weight-gradient task, and the rows of dout transposed at a time into
 * a [TR_DW_ROWS][TR_DW_LD] per-thread scratch (padded: a stride of a power of two would
 * map every transposed row to the same few cache sets). */
#define TR_DW_ROWS 192
#define TR_DW_NCHUNK 512
#define TR_DW_LD (TR_DW_NCHUNK + 16)
#define TR_DW_SCRATCH ((size_t)TR_DW_ROWS * TR_DW_LD)
/* per-thread scratch of the f32 products, in floats (a multiple of 16: 64-byte aligned
 * slices when the whole is) */
#define TR_GEMM_SCRATCH TR_DW_SCRATCH

/* Words of each bf16 packing buffer for products whose dimensions (rows, columns and
 * the summed one) are all at most d. */
static inline size_t tr_gemm_pack_words(int d) {
    return (size_t)(d + DL_BF16_COLS - 1) / DL_BF16_COLS * DL_BF16_COLS * (size_t)dl_bf16_act_ld(d);
}

/* Where and how the products run. */
typedef struct tr_gemm {
    dl_pool *pool;
    float *scratch;             /* [dl_pool_threads(pool)][TR_GEMM_SCRATCH], 64-byte aligned */
    uint32_t *pack_a, *pack_b;  /* bf16: [tr_gemm_pack_words(max dimension)] each, 64-byte
                                 * aligned: the operands of the product being run */
    int bf16;                   /* 0: f32 (the own GEMM); 1: bf16 operands, f32 sums */
    int bf16_path;              /* the bf16 kernel (dl_bf16_path): dl_bf16_best() unless a
                                 * benchmark picks another */
} tr_gemm;

/* out (+)= x w^T.  out: [N][M] (in/)out;  x: [N][K];  w: [M][K] */
void tr_matmul_par(const tr_gemm *g, float *out, const float *x, const float *w, int accumulate,
                   int N, int K, int M);
/* dx (+)= dout w.  dx: [N][K] (in/)out;  dout: [N][M];  w: [M][K] */
void tr_matmul_dx_par(const tr_gemm *g, float *dx, const float *dout, const float *w,
                      int accumulate, int N, int K, int M);
/* dw += dout^T x.  dw: [M][K] in/out;  dout: [N][M];  x: [N][K] */
void tr_matmul_dw_par(const tr_gemm *g, float *dw, const float *dout, const float *x, int N,
                      int K, int M);

#endif

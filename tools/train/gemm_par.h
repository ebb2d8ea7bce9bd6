/* gemm_par.h - the trainer's products on the library's own f32 GEMM (kernels/gemm.h),
 * cut into fixed tiles and run on the model's thread pool. */
#ifndef DL_TRAIN_GEMM_PAR_H
#define DL_TRAIN_GEMM_PAR_H

#include "core/pool.h"

/* Rows of dw per weight-gradient task, and the rows of dout transposed at a time into
 * a [TR_DW_ROWS][TR_DW_LD] per-thread scratch (padded: a stride of a power of two would
 * map every transposed row to the same few cache sets). */
#define TR_DW_ROWS 192
#define TR_DW_NCHUNK 512
#define TR_DW_LD (TR_DW_NCHUNK + 16)
#define TR_DW_SCRATCH ((size_t)TR_DW_ROWS * TR_DW_LD)

/* out (+)= x w^T.  out: [N][M] (in/)out;  x: [N][K];  w: [M][K] */
void tr_matmul_par(dl_pool *pool, float *out, const float *x, const float *w, int accumulate,
                   int N, int K, int M);
/* dx += dout w.  dx: [N][K] in/out;  dout: [N][M];  w: [M][K] */
void tr_matmul_dx_par(dl_pool *pool, float *dx, const float *dout, const float *w, int N, int K,
                      int M);
/* dw += dout^T x.  dw: [M][K] in/out;  dout: [N][M];  x: [N][K];
 *   scratch: [dl_pool_threads(pool)][TR_DW_SCRATCH] */
void tr_matmul_dw_par(dl_pool *pool, float *scratch, float *dw, const float *dout,
                      const float *x, int N, int K, int M);

#endif

/* gemm_par.h - products of the trainer on its own threads over fixed tiles. */
#ifndef DL_TRAIN_GEMM_PAR_H
#define DL_TRAIN_GEMM_PAR_H

/* out (+)= x w^T.  out: [N][M] (in/)out;  x: [N][K];  w: [M][K] */
void tr_matmul_par(int nt, float *out, const float *x, const float *w, int accumulate, int N,
                   int K, int M);
/* dx += dout w.  dx: [N][K] in/out;  dout: [N][M];  w: [M][K] */
void tr_matmul_dx_par(int nt, float *dx, const float *dout, const float *w, int N, int K, int M);
/* dw += dout^T x.  dw: [M][K] in/out;  dout: [N][M];  x: [N][K] */
void tr_matmul_dw_par(int nt, float *dw, const float *dout, const float *x, int N, int K, int M);

#endif

/* gemm_par.c - the model's products cut into fixed tiles run on dl_parallel_for, with
 * BLAS kept at one thread. Tile edges depend only on the shapes, never on the thread
 * count, so every output element always comes from the same single-threaded sgemm:
 * results are bitwise identical for any number of threads. It also keeps OpenBLAS's
 * own worker threads (which spin on sched_yield between calls) out of the picture. */
#include "gemm_par.h"
#include "kernels/kernels.h"
#include "kernels/kernels_backward.h"

#define TILE_ROWS 256           /* activation rows per tile */
#define TILE_COLS 128           /* output columns per tile */

typedef struct gemm_job {
    float *out;
    const float *a, *b;
    int acc, N, K, M, n_col_tiles;
} gemm_job;

static int span(int total, int tile, int idx, int *start) {
    *start = idx * tile;
    return total - *start < tile ? total - *start : tile;
}

static void fwd_task(void *ctx, int task, int worker) {
    (void)worker;
    gemm_job *j = ctx;
    int n0, m0;
    int nr = span(j->N, TILE_ROWS, task / j->n_col_tiles, &n0);
    int mc = span(j->M, TILE_COLS, task % j->n_col_tiles, &m0);
    dl_matmul(j->out + (size_t)n0 * j->M + m0, j->a + (size_t)n0 * j->K, j->b + (size_t)m0 * j->K,
              NULL, j->acc, nr, j->K, mc, j->M);
}

void tr_matmul_par(int nt, float *out, const float *x, const float *w, int accumulate, int N,
                   int K, int M) {
    dl_blas_set_threads(1);
    gemm_job j = { out, x, w, accumulate, N, K, M, (M + TILE_COLS - 1) / TILE_COLS };
    int row_tiles = (N + TILE_ROWS - 1) / TILE_ROWS;
    dl_parallel_for(nt, row_tiles * j.n_col_tiles, fwd_task, &j);
}

static void dx_task(void *ctx, int task, int worker) {
    (void)worker;
    gemm_job *j = ctx;
    int n0;
    int nr = span(j->N, TILE_ROWS, task, &n0);
    dl_matmul_backward(j->out + (size_t)n0 * j->K, NULL, j->a + (size_t)n0 * j->M, NULL, j->b,
                       nr, j->K, j->M);
}

void tr_matmul_dx_par(int nt, float *dx, const float *dout, const float *w, int N, int K, int M) {
    dl_blas_set_threads(1);
    gemm_job j = { dx, dout, w, 1, N, K, M, 0 };
    dl_parallel_for(nt, (N + TILE_ROWS - 1) / TILE_ROWS, dx_task, &j);
}

/* dw tiles: TILE_COLS rows of dw (output features) x TILE_COLS of its columns */
static void dw_task(void *ctx, int task, int worker) {
    (void)worker;
    gemm_job *j = ctx;
    int m0, k0;
    int mr = span(j->M, TILE_COLS, task / j->n_col_tiles, &m0);
    int kc = span(j->K, TILE_COLS, task % j->n_col_tiles, &k0);
    dl_matmul_backward_w(j->out + (size_t)m0 * j->K + k0, j->a + m0, j->b + k0, j->N, kc, mr,
                         j->M, j->K, j->K);
}

void tr_matmul_dw_par(int nt, float *dw, const float *dout, const float *x, int N, int K, int M) {
    dl_blas_set_threads(1);
    gemm_job j = { dw, dout, x, 1, N, K, M, (K + TILE_COLS - 1) / TILE_COLS };
    int row_tiles = (M + TILE_COLS - 1) / TILE_COLS;
    dl_parallel_for(nt, row_tiles * j.n_col_tiles, dw_task, &j);
}

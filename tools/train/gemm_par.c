/* gemm_par.c - the model's products as fixed tiles of dl_fgemm_cols_f32 (or, in bf16, of
 * tr_bgemm_tile) on the pool.
 * Tile edges depend only on the shapes, never on the thread count, and the own GEMM
 * defines every output as one fma chain in k order (gemm.h), so results are bitwise
 * identical for any number of threads. The own kernels replace sgemm here: they beat
 * the cores Debian's OpenBLAS 0.3.21 offers this CPU (machine.md §3); a training step
 * measured 1.3-1.4x faster.
 *
 * The weight gradient sums over rows, which both its operands keep in their rows, while
 * the GEMM wants one operand with the summed dimension contiguous: each task transposes
 * its slice of dout, TR_DW_NCHUNK rows at a time (each call continues the fma chains
 * from what dw holds, so the chunking does not change the sequence of operations). */
#include "gemm_par.h"
#include "kernels/cpu.h"
#include "kernels/gemm.h"

#define TILE_ROWS 256           /* activation rows per forward / dx task */
#define DW_COLS 256             /* dw columns per weight-gradient task */
#define BF16_COLS 256           /* output columns per bf16 task (at most) */

typedef struct gemm_job {
    float *out, *scratch;
    const float *a, *b;
    int acc, N, K, M, n_col_tiles, col_tile, path, fast;
} gemm_job;

static gemm_job job(const tr_gemm *g, float *out, const float *a, const float *b, int N, int K,
                    int M, int cols, int col_tile) {
    return (gemm_job){ .out = out, .scratch = g->scratch, .a = a, .b = b, .N = N, .K = K, .M = M,
                       .n_col_tiles = (cols + col_tile - 1) / col_tile, .col_tile = col_tile,
                       .path = dl_fpath_best(), .fast = tr_bf16_fast() };
}

/* Columns per bf16 task: wide tiles pack A fewer times, narrow ones make enough tasks
 * to share when there are few rows (either way the same result, gemm_bf16.h). */
static int cols_per_task(const tr_gemm *g, int row_tiles, int cols, int f32_cols) {
    if (!g->bf16)
        return f32_cols;
    return row_tiles * ((cols + BF16_COLS - 1) / BF16_COLS) >= 4 ? BF16_COLS : DL_FGEMM_COLS;
}

static float *scratch_of(const gemm_job *j, int worker) {
    return j->scratch + (size_t)worker * TR_GEMM_SCRATCH;
}

static int span(int total, int tile, int idx, int *start) {
    *start = idx * tile;
    return total - *start < tile ? total - *start : tile;
}

static void fwd_task(void *ctx, int task, int worker) {
    (void)worker;
    gemm_job *j = ctx;
    int n0, m0;
    int nr = span(j->N, TILE_ROWS, task / j->n_col_tiles, &n0);
    int mc = span(j->M, DL_FGEMM_COLS, task % j->n_col_tiles, &m0);
    dl_fgemm_cols_f32(j->path, j->out + (size_t)n0 * j->M, j->M, j->a + (size_t)n0 * j->K, j->K,
                      nr, j->b, j->K, 0, j->K, m0, mc, j->acc);
}

/* the same tiles in bf16: A = x rows, B = w rows */
static void fwd_bf16_task(void *ctx, int task, int worker) {
    gemm_job *j = ctx;
    int n0, m0;
    int nr = span(j->N, TILE_ROWS, task / j->n_col_tiles, &n0);
    int mc = span(j->M, j->col_tile, task % j->n_col_tiles, &m0);
    tr_bview a = { j->a + (size_t)n0 * j->K, j->K, 1 }, b = { j->b + (size_t)m0 * j->K, j->K, 1 };
    tr_bgemm_tile(j->fast, j->out + (size_t)n0 * j->M + m0, j->M, a, b, nr, mc, j->K, j->acc,
                  scratch_of(j, worker));
}

void tr_matmul_par(const tr_gemm *g, float *out, const float *x, const float *w, int accumulate,
                   int N, int K, int M) {
    int row_tiles = (N + TILE_ROWS - 1) / TILE_ROWS;
    gemm_job j = job(g, out, x, w, N, K, M, M, cols_per_task(g, row_tiles, M, DL_FGEMM_COLS));
    j.acc = accumulate;
    dl_pool_run(g->pool, row_tiles * j.n_col_tiles, g->bf16 ? fwd_bf16_task : fwd_task, &j);
}

/* w read transposed: column k of the product is column k of w */
static void dx_task(void *ctx, int task, int worker) {
    (void)worker;
    gemm_job *j = ctx;
    int n0, k0;
    int nr = span(j->N, TILE_ROWS, task / j->n_col_tiles, &n0);
    int kc = span(j->K, DL_FGEMM_COLS, task % j->n_col_tiles, &k0);
    dl_fgemm_cols_f32(j->path, j->out + (size_t)n0 * j->K, j->K, j->a + (size_t)n0 * j->M, j->M,
                      nr, j->b, j->K, 1, j->M, k0, kc, 1);
}

/* bf16: A = dout rows, B(column k, m) = w[m][k] */
static void dx_bf16_task(void *ctx, int task, int worker) {
    gemm_job *j = ctx;
    int n0, k0;
    int nr = span(j->N, TILE_ROWS, task / j->n_col_tiles, &n0);
    int kc = span(j->K, j->col_tile, task % j->n_col_tiles, &k0);
    tr_bview a = { j->a + (size_t)n0 * j->M, j->M, 1 }, b = { j->b + k0, 1, j->K };
    tr_bgemm_tile(j->fast, j->out + (size_t)n0 * j->K + k0, j->K, a, b, nr, kc, j->M, 1,
                  scratch_of(j, worker));
}

void tr_matmul_dx_par(const tr_gemm *g, float *dx, const float *dout, const float *w, int N,
                      int K, int M) {
    int row_tiles = (N + TILE_ROWS - 1) / TILE_ROWS;
    gemm_job j = job(g, dx, dout, w, N, K, M, K, cols_per_task(g, row_tiles, K, DL_FGEMM_COLS));
    dl_pool_run(g->pool, row_tiles * j.n_col_tiles, g->bf16 ? dx_bf16_task : dx_task, &j);
}

/* task = (TR_DW_ROWS rows of dw) x (DW_COLS of its columns) */
static void dw_task(void *ctx, int task, int worker) {
    gemm_job *j = ctx;
    int m0, k0;
    int mr = span(j->M, TR_DW_ROWS, task / j->n_col_tiles, &m0);
    int kc = span(j->K, DW_COLS, task % j->n_col_tiles, &k0);
    float *t = scratch_of(j, worker);   /* [mr][TR_DW_LD] */
    for (int n0 = 0; n0 < j->N; n0 += TR_DW_NCHUNK) {
        int nc = j->N - n0 < TR_DW_NCHUNK ? j->N - n0 : TR_DW_NCHUNK;
        for (int n = 0; n < nc; n++) {
            const float *d = j->a + (size_t)(n0 + n) * j->M + m0;
            for (int r = 0; r < mr; r++)
                t[(size_t)r * TR_DW_LD + n] = d[r];
        }
        for (int c0 = k0; c0 < k0 + kc; c0 += DL_FGEMM_COLS) {
            int cc = k0 + kc - c0 < DL_FGEMM_COLS ? k0 + kc - c0 : DL_FGEMM_COLS;
            dl_fgemm_cols_f32(j->path, j->out + (size_t)m0 * j->K, j->K, t, TR_DW_LD, mr,
                              j->b + (size_t)n0 * j->K, j->K, 1, nc, c0, cc, 1);
        }
    }
}

/* bf16: (TR_DW_ROWS rows of dw) x (some of its columns), summed over all N rows at once:
 * A(row m, n) = dout[n][m] and B(column k, n) = x[n][k] are both read down columns */
static void dw_bf16_task(void *ctx, int task, int worker) {
    gemm_job *j = ctx;
    int m0, k0;
    int mr = span(j->M, TR_DW_ROWS, task / j->n_col_tiles, &m0);
    int kc = span(j->K, j->col_tile, task % j->n_col_tiles, &k0);
    tr_bview a = { j->a + m0, 1, j->M }, b = { j->b + k0, 1, j->K };
    tr_bgemm_tile(j->fast, j->out + (size_t)m0 * j->K + k0, j->K, a, b, mr, kc, j->N, 1,
                  scratch_of(j, worker));
}

void tr_matmul_dw_par(const tr_gemm *g, float *dw, const float *dout, const float *x, int N,
                      int K, int M) {
    int row_tiles = (M + TR_DW_ROWS - 1) / TR_DW_ROWS;
    gemm_job j = job(g, dw, dout, x, N, K, M, K, cols_per_task(g, row_tiles, K, DW_COLS));
    dl_pool_run(g->pool, row_tiles * j.n_col_tiles, g->bf16 ? dw_bf16_task : dw_task, &j);
}

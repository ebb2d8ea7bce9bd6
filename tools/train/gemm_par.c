/* gemm_par.c - the model's products as fixed tiles of dl_fgemm_cols_f32 (or, in bf16, of
 * dl_bgemm_packed over operands packed once per product) on the pool.
 * Tile edges depend only on the shapes, never on the thread count, and the own GEMM
 * defines every output as one fma chain in k order (gemm.h), so results are bitwise
 * identical for any number of threads. The own kernels replace sgemm here: they beat
 * the cores Debian's OpenBLAS 0.3.21 offers this CPU (doc/performance.md, "OpenBLAS and AMX"); a training step
 * measured 1.3-1.4x faster.
 *
 * The weight gradient sums over rows, which both its operands keep in their rows, while
 * the GEMM wants one operand with the summed dimension contiguous: each task transposes
 * its slice of dout, TR_DW_NCHUNK rows at a time (each call continues the fma chains
 * from what dw holds, so the chunking does not change the sequence of operations). */
#include "gemm_par.h"
#include "difflm_internal.h"

#define TILE_ROWS 256           /* activation rows per forward / dx task */
#define DW_COLS 256             /* dw columns per weight-gradient task */
#define BF16_COLS 256           /* output columns per bf16 task (at most) */
#define PACK_ROWS 256           /* rows of A per bf16 packing task */

typedef struct gemm_job {
    float *out, *scratch;
    const float *a, *b;
    int acc, N, K, M, n_col_tiles, path;
} gemm_job;

static gemm_job job(const tr_gemm *g, float *out, const float *a, const float *b, int N, int K,
                    int M, int cols, int col_tile) {
    return (gemm_job){ .out = out, .scratch = g->scratch, .a = a, .b = b, .N = N, .K = K, .M = M,
                       .n_col_tiles = (cols + col_tile - 1) / col_tile, .path = dl_fpath_best() };
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

/* bf16: both operands are packed once (A by rows, PACK_ROWS at a time, B by 64-column
 * panels), then every product is a tiling of dl_bgemm_packed over the packed forms */
typedef struct bf16_job {
    float *out;
    dl_bview a, b;
    uint32_t *ap, *bp;
    int64_t ldo;
    int R, C, K, lda, row_tile, col_tile, n_col_tiles, n_a_chunks, acc, path;
} bf16_job;

static void bf16_pack_task(void *ctx, int task, int worker) {
    (void)worker;
    bf16_job *j = ctx;
    if (task < j->n_a_chunks) {
        int i0, nr = span(j->R, PACK_ROWS, task, &i0);
        dl_bview a = { j->a.p + i0 * j->a.is, j->a.is, j->a.ks };
        dl_bf16_pack_a(j->path, j->ap + (size_t)i0 * j->lda, j->lda, a, nr, j->K);
    } else {
        int j0, nc = span(j->C, DL_BF16_COLS, task - j->n_a_chunks, &j0);
        dl_bview b = { j->b.p + j0 * j->b.is, j->b.is, j->b.ks };
        dl_bf16_pack_b(j->path, j->bp + (size_t)j0 * j->lda, j->lda, b, nc, j->K);
    }
}

static void bf16_task(void *ctx, int task, int worker) {
    (void)worker;
    bf16_job *j = ctx;
    int i0, j0;
    int nr = span(j->R, j->row_tile, task / j->n_col_tiles, &i0);
    int nc = span(j->C, j->col_tile, task % j->n_col_tiles, &j0);
    /* panel j0 / 64 starts at word (j0 / 64) * lda * 64 = j0 * lda */
    dl_bgemm_packed(j->path, j->out + i0 * j->ldo + j0, j->ldo, j->ap + (size_t)i0 * j->lda,
                    j->lda, j->bp + (size_t)j0 * j->lda, nr, nc, j->K, j->acc);
}

/* Columns per task: wide tiles reuse a block of packed A while it is in cache, narrow
 * ones make enough tasks to share when there are few rows (either way the same result,
 * kernels/gemm_bf16.h). */
static void run_bf16(const tr_gemm *g, float *out, dl_bview a, dl_bview b, int R, int C, int K,
                     int row_tile, int acc) {
    int row_tiles = (R + row_tile - 1) / row_tile;
    int col_tile = row_tiles * ((C + BF16_COLS - 1) / BF16_COLS) >= 4 ? BF16_COLS : DL_BF16_COLS;
    bf16_job j = { .out = out, .a = a, .b = b, .ap = g->pack_a, .bp = g->pack_b, .ldo = C,
                   .R = R, .C = C, .K = K, .lda = dl_bf16_act_ld(K), .row_tile = row_tile,
                   .col_tile = col_tile, .n_col_tiles = (C + col_tile - 1) / col_tile,
                   .n_a_chunks = (R + PACK_ROWS - 1) / PACK_ROWS, .acc = acc,
                   .path = g->bf16_path };
    dl_pool_run(g->pool, j.n_a_chunks + (C + DL_BF16_COLS - 1) / DL_BF16_COLS, bf16_pack_task, &j);
    dl_pool_run(g->pool, row_tiles * j.n_col_tiles, bf16_task, &j);
}

void tr_matmul_par(const tr_gemm *g, float *out, const float *x, const float *w, int accumulate,
                   int N, int K, int M) {
    if (g->bf16) {   /* A = x rows, B = w rows */
        run_bf16(g, out, (dl_bview){ x, K, 1 }, (dl_bview){ w, K, 1 }, N, M, K, TILE_ROWS,
                 accumulate);
        return;
    }
    gemm_job j = job(g, out, x, w, N, K, M, M, DL_FGEMM_COLS);
    j.acc = accumulate;
    dl_pool_run(g->pool, (N + TILE_ROWS - 1) / TILE_ROWS * j.n_col_tiles, fwd_task, &j);
}

/* w read transposed: column k of the product is column k of w */
static void dx_task(void *ctx, int task, int worker) {
    (void)worker;
    gemm_job *j = ctx;
    int n0, k0;
    int nr = span(j->N, TILE_ROWS, task / j->n_col_tiles, &n0);
    int kc = span(j->K, DL_FGEMM_COLS, task % j->n_col_tiles, &k0);
    dl_fgemm_cols_f32(j->path, j->out + (size_t)n0 * j->K, j->K, j->a + (size_t)n0 * j->M, j->M,
                      nr, j->b, j->K, 1, j->M, k0, kc, j->acc);
}

void tr_matmul_dx_par(const tr_gemm *g, float *dx, const float *dout, const float *w,
                      int accumulate, int N, int K, int M) {
    if (g->bf16) {   /* A = dout rows, B(column k, m) = w[m][k] */
        run_bf16(g, dx, (dl_bview){ dout, M, 1 }, (dl_bview){ w, 1, K }, N, K, M, TILE_ROWS,
                 accumulate);
        return;
    }
    gemm_job j = job(g, dx, dout, w, N, K, M, K, DL_FGEMM_COLS);
    j.acc = accumulate;
    dl_pool_run(g->pool, (N + TILE_ROWS - 1) / TILE_ROWS * j.n_col_tiles, dx_task, &j);
}

/* task = (TR_DW_ROWS rows of dw) x (DW_COLS of its columns) */
static void dw_task(void *ctx, int task, int worker) {
    gemm_job *j = ctx;
    int m0, k0;
    int mr = span(j->M, TR_DW_ROWS, task / j->n_col_tiles, &m0);
    int kc = span(j->K, DW_COLS, task % j->n_col_tiles, &k0);
    float *t = j->scratch + (size_t)worker * TR_GEMM_SCRATCH;   /* [mr][TR_DW_LD] */
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

void tr_matmul_dw_par(const tr_gemm *g, float *dw, const float *dout, const float *x, int N,
                      int K, int M) {
    if (g->bf16) {   /* summed over all N rows at once: A(m, n) = dout[n][m], B(k, n) = x[n][k] */
        run_bf16(g, dw, (dl_bview){ dout, 1, M }, (dl_bview){ x, 1, K }, M, K, N, TR_DW_ROWS, 1);
        return;
    }
    gemm_job j = job(g, dw, dout, x, N, K, M, K, DW_COLS);
    dl_pool_run(g->pool, (M + TR_DW_ROWS - 1) / TR_DW_ROWS * j.n_col_tiles, dw_task, &j);
}

/* model_weights_bf16.c - weight products in the bf16 precision mode (model_weights.h).
 *
 * A product packs its activations once into bf16 pairs in the caller's scratch (rows
 * split over the threads), then runs tasks of DL_COL_TASK weight rows from column 0,
 * each running the bf16 kernel over every activation row and one panel of the weight:
 * packed once (dl_model_pack: the model's bf16 copy of the float matrices, made by its
 * first bf16 context) or, without that copy, packed by the task
 * (BF16 as stored, F32/F16 rounded while packing), each step again. Packing per step
 * was a quarter of a bf16 step; both give the same bits. Task edges depend only on the
 * shapes, and the kernel computes each output from its own row and column
 * (kernels/gemm_bf16.h), hence the guarantees of dl_weight_matmul_bf16. */
#include <assert.h>

#include "kernels/gemm_bf16.h"
#include "kernels/types.h"
#include "model/model_weights.h"

int dl_weight_bf16(const dl_weight *w, int precision) {
    if (precision != DL_PRECISION_BF16)
        return 0;
    return w->type == DL_TYPE_F32 || w->type == DL_TYPE_F16 || w->type == DL_TYPE_BF16;
}

size_t dl_weight_bf16_scratch_floats(const dl_weight *w, int32_t max_rows) {
    if (!w->data || w->ne0 <= 0 || w->ne1 <= 0)
        return 0;
    int rows = dl_bf16_act_rows(max_rows < 1 ? 1 : max_rows);
    return (size_t)rows * (size_t)dl_bf16_act_ld((int)w->ne0);   /* a pair is float-sized */
}

typedef struct bf16_job {
    float *out;
    const float *x, *bias;
    const dl_weight *w;
    uint32_t *ap;               /* [dl_bf16_act_rows(N)][lda] packed activations */
    int accumulate, N, K, ldo, lda, path;
} bf16_job;

#define PACK_ROWS 32            /* activation rows per packing task (one AMX row block) */

static void pack_task(void *ctx, int task, int worker) {
    (void)worker;
    bf16_job *j = ctx;
    int n0 = task * PACK_ROWS, nr = j->N - n0 < PACK_ROWS ? j->N - n0 : PACK_ROWS;
    uint32_t *ap = j->ap + (size_t)n0 * j->lda;
    if (nr > 0)
        dl_bf16_pack_rows(j->path, ap, j->lda, j->x + (size_t)n0 * j->K, j->K, nr, j->K);
    /* the last block's padding rows are zero: the AMX kernel reads whole 32-row blocks */
    for (int r = nr < 0 ? 0 : nr; r < PACK_ROWS; r++)
        for (int c = 0; c < j->lda; c++)
            ap[(size_t)r * j->lda + c] = 0;
}

static void cols_task(void *ctx, int task, int worker) {
    (void)worker;
    bf16_job *j = ctx;
    int64_t m0 = (int64_t)task * DL_COL_TASK;
    int mc = (int)(j->w->ne1 - m0 < DL_COL_TASK ? j->w->ne1 - m0 : DL_COL_TASK);
    if (!j->w->panels) {
        dl_bgemm_cols(j->path, j->out, j->ldo, j->ap, j->lda, j->N, j->w->data, j->w->type,
                      j->K, m0, mc, j->bias, j->accumulate);
        return;
    }
    /* panel m0 / 64 of the packed copy starts at word (m0 / 64) * lda * 64 = m0 * lda */
    float *o = j->out + m0;
    const uint32_t *panel = (const uint32_t *)j->w->panels + (size_t)m0 * j->lda;
    dl_bgemm_packed(j->path, o, j->ldo, j->ap, j->lda, panel, j->N, mc, j->K, j->accumulate);
    if (j->bias)
        for (int n = 0; n < j->N; n++)
            for (int c = 0; c < mc; c++)
                o[(size_t)n * j->ldo + c] += j->bias[m0 + c];
}

void dl_weight_matmul_bf16(float *out, const float *x, const dl_weight *w, const float *bias,
                           int accumulate, int N, int ldo, float *scratch, size_t cap,
                           dl_pool *pool, int n_threads) {
    if (N <= 0 || !dl_weight_bf16(w, DL_PRECISION_BF16))
        return;
    // an invariant, not an input check: callers size scratch with
    // dl_weight_bf16_scratch_floats (model_forward.c)
    assert(cap >= dl_weight_bf16_scratch_floats(w, N) && "scratch below the bf16 size");
    if (cap < dl_weight_bf16_scratch_floats(w, N))
        return;   // release builds: no product rather than a write past scratch
    bf16_job j = { out, x, bias, w, (uint32_t *)scratch, accumulate, N, (int)w->ne0, ldo,
                   dl_bf16_act_ld((int)w->ne0), dl_bf16_best() };
    dl_pool_for(pool, n_threads, dl_bf16_act_rows(N) / PACK_ROWS, pack_task, &j);
    int n_cols = (int)((w->ne1 + DL_COL_TASK - 1) / DL_COL_TASK);
    dl_pool_for(pool, n_threads, n_cols, cols_task, &j);
}

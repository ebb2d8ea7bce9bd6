/* model_weights_bf16.c - weight products in the bf16 precision mode (model_weights.h).
 *
 * A product packs its activations once into bf16 pairs in the caller's scratch (rows
 * split over the threads), then runs tasks of DL_COL_TASK weight rows from column 0,
 * each running the bf16 kernel over every activation row and one panel of the weight:
 * packed once for the context (dl_model_pack_bf16: a bf16 copy of the float matrices,
 * made when a bf16 context is created) or, without that copy, packed by the task
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
    if (!j->w->bf16) {
        dl_bgemm_cols(j->path, j->out, j->ldo, j->ap, j->lda, j->N, j->w->data, j->w->type,
                      j->K, m0, mc, j->bias, j->accumulate);
        return;
    }
    /* panel m0 / 64 of the packed copy starts at word (m0 / 64) * lda * 64 = m0 * lda */
    float *o = j->out + m0;
    dl_bgemm_packed(j->path, o, j->ldo, j->ap, j->lda, j->w->bf16 + (size_t)m0 * j->lda, j->N, mc,
                    j->K, j->accumulate);
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

/* --- the packed copy */

#define LAYER_WEIGHTS 11

/* Weight idx of the float matrices a bf16 context multiplies (idx < 1 + LAYER_WEIGHTS *
 * n_layer): the head (the embedding when tied), then each layer's dense products; NULL
 * when that one is absent, a vector or not a float type. The expert views stay
 * unpacked: they live in the model's shared array, and a step touches only some. */
static dl_weight *weight_at(dl_model *m, int idx) {
    dl_weight *w;
    if (idx == 0) {
        w = m->output.data ? &m->output : &m->tok_embd;
    } else {
        dl_layer *L = &m->layers[(idx - 1) / LAYER_WEIGHTS];
        dl_weight *ws[LAYER_WEIGHTS] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up,
                                         &L->w_down, &L->router, &L->sh_gate, &L->sh_up,
                                         &L->sh_down };
        w = ws[(idx - 1) % LAYER_WEIGHTS];
    }
    return w->data && w->ne1 > 1 && dl_weight_bf16(w, DL_PRECISION_BF16) ? w : NULL;
}

static int n_weights(const dl_model *m) { return 1 + LAYER_WEIGHTS * m->hp.n_layer; }

static int64_t n_panels(const dl_weight *w) { return (w->ne1 + DL_BF16_COLS - 1) / DL_BF16_COLS; }

/* bytes of w's panels, rounded to whole cache lines */
static size_t packed_bytes(const dl_weight *w) {
    return ((size_t)n_panels(w) * DL_BF16_COLS * (size_t)dl_bf16_act_ld((int)w->ne0) *
            sizeof(uint32_t) + 63) & ~(size_t)63;
}

size_t dl_model_bf16_size(const dl_model *m) {
    size_t bytes = 0;
    for (int i = 0; i < n_weights(m); i++) {
        const dl_weight *w = weight_at((dl_model *)m, i);   /* only read here */
        bytes += w ? packed_bytes(w) : 0;
    }
    return bytes;
}

typedef struct pack_job {
    dl_model *m;
    int path;
} pack_job;

/* task t: the t-th panel in weight order */
static void pack_task_panel(void *ctx, int task, int worker) {
    (void)worker;
    pack_job *j = ctx;
    int64_t t = task;
    for (int i = 0; i < n_weights(j->m); i++) {
        dl_weight *w = weight_at(j->m, i);
        if (!w)
            continue;
        if (t >= n_panels(w)) {
            t -= n_panels(w);
            continue;
        }
        int64_t m0 = t * DL_BF16_COLS;
        int lda = dl_bf16_act_ld((int)w->ne0);
        int c = (int)(w->ne1 - m0 < DL_BF16_COLS ? w->ne1 - m0 : DL_BF16_COLS);
        dl_bf16_pack_w(j->path, (uint32_t *)w->bf16 + (size_t)m0 * lda, lda, w->data, w->type,
                       (int)w->ne0, m0, c);
        return;
    }
}

void dl_model_pack_bf16(dl_model *m, void *buf, dl_pool *pool, int n_threads) {
    uint8_t *p = buf;
    int64_t tasks = 0;
    for (int i = 0; i < n_weights(m); i++) {
        dl_weight *w = weight_at(m, i);
        if (!w)
            continue;
        w->bf16 = (const uint32_t *)p;
        p += packed_bytes(w);
        tasks += n_panels(w);
    }
    pack_job j = { m, dl_bf16_best() };
    dl_pool_for(pool, n_threads, (int)tasks, pack_task_panel, &j);
}

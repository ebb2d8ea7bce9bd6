/* model_weights.c - weight products over F32 / F16 / BF16 storage.
 *
 * Half-precision weights are widened chunk by chunk into caller scratch and multiplied
 * with the f32 sgemm, because Debian's OpenBLAS exports no bf16/f16 GEMM (machine.md
 * §3.5). BLAS itself runs single-threaded; the threads here split every product into
 * fixed tasks of DL_COL_TASK output columns (see model_weights.h for why). */
#include <string.h>

#include "fmt/ggml_types.h"
#include "kernels/kernels.h"
#include "model/model_weights.h"

int dl_weight_type_supported(uint32_t type) {
    return type == DL_TYPE_F32 || type == DL_TYPE_F16 || type == DL_TYPE_BF16;
}

/* Rows per conversion chunk for rows of k floats: a multiple of both column task sizes. */
static int64_t chunk_rows(int64_t k) {
    int64_t r = (int64_t)(DL_WEIGHT_CHUNK_FLOATS / (size_t)k) / DL_HEAD_COL_TASK * DL_HEAD_COL_TASK;
    return r < DL_HEAD_COL_TASK ? DL_HEAD_COL_TASK : r;
}

size_t dl_weight_conv_floats(const dl_weight *w) {
    if (!w->data || w->type == DL_TYPE_F32 || w->ne0 <= 0 || w->ne1 <= 0)
        return 0;
    int64_t rows = w->ne1 < chunk_rows(w->ne0) ? w->ne1 : chunk_rows(w->ne0);
    return (size_t)rows * (size_t)w->ne0;
}

void dl_weight_rows_f32(float *out, const dl_weight *w, int64_t row0, int64_t n_rows) {
    size_t n = (size_t)n_rows * (size_t)w->ne0;
    size_t off = (size_t)row0 * (size_t)w->ne0;
    switch (w->type) {
    case DL_TYPE_F32:
        memcpy(out, (const float *)w->data + off, n * sizeof(float));
        break;
    case DL_TYPE_F16:
        dl_f16_to_f32_row(out, (const uint16_t *)w->data + off, n);
        break;
    case DL_TYPE_BF16:
        dl_bf16_to_f32_row(out, (const uint16_t *)w->data + off, n);
        break;
    default:
        break;   /* the loader admits no other type */
    }
}

const float *dl_weight_vec_f32(const dl_weight *w, float *tmp) {
    if (!w->data)
        return NULL;
    if (w->type == DL_TYPE_F32)
        return (const float *)w->data;
    dl_weight_rows_f32(tmp, w, 0, 1);
    return tmp;
}

/* One chunk of a product: weight rows [m0, m0 + mc) as f32 at wf. */
typedef struct mm_job {
    float *out;
    const float *x, *wf, *bias;
    const dl_weight *w;
    float *conv;
    int accumulate, N, K, ldo, row_groups, n_groups, n_cols, col_task;
    int64_t m0, mc;
} mm_job;

static void convert_task(void *ctx, int task, int worker) {
    (void)worker;
    mm_job *j = ctx;
    int64_t r0 = (int64_t)task * j->col_task;
    int64_t nr = j->mc - r0 < j->col_task ? j->mc - r0 : j->col_task;
    dl_weight_rows_f32(j->conv + (size_t)r0 * j->K, j->w, j->m0 + r0, nr);
}

static void product_task(void *ctx, int task, int worker) {
    (void)worker;
    mm_job *j = ctx;
    /* groups vary fastest: consecutive tasks share one weight panel while it is in cache */
    int c = task / j->n_groups, g = task % j->n_groups;
    int64_t c0 = (int64_t)c * j->col_task;
    int nc = (int)(j->mc - c0 < j->col_task ? j->mc - c0 : j->col_task);
    const float *w = j->wf + (size_t)c0 * j->K;
    const float *b = j->bias ? j->bias + j->m0 + c0 : NULL;
    float *out = j->out + j->m0 + c0;
    if (!j->row_groups) {
        dl_matmul(out, j->x, w, b, j->accumulate, j->N, j->K, nc, j->ldo);
        return;
    }
    int r0 = g * DL_ROW_GROUP, nr = j->N - r0 < DL_ROW_GROUP ? j->N - r0 : DL_ROW_GROUP;
    const float *x = j->x + (size_t)r0 * j->K;
    out += (size_t)r0 * j->ldo;
    if (nr == DL_ROW_GROUP) {
        dl_matmul(out, x, w, b, j->accumulate, DL_ROW_GROUP, j->K, nc, j->ldo);
        return;
    }
    /* the last, partial group runs at full group size on the padded rows */
    float tmp[DL_ROW_GROUP * DL_HEAD_COL_TASK];
    dl_matmul(tmp, x, w, b, 0, DL_ROW_GROUP, j->K, nc, nc);
    for (int r = 0; r < nr; r++)
        for (int m = 0; m < nc; m++) {
            float *o = out + (size_t)r * j->ldo + m;
            *o = j->accumulate ? *o + tmp[r * nc + m] : tmp[r * nc + m];
        }
}

void dl_weight_matmul(float *out, const float *x, const dl_weight *w, const float *bias,
                      int accumulate, int N, int ldo, int row_groups, float *conv,
                      size_t conv_cap, int n_threads) {
    if (N <= 0)
        return;
    mm_job j = { .out = out, .x = x, .bias = bias, .w = w, .conv = conv,
                 .accumulate = accumulate, .N = N, .K = (int)w->ne0, .ldo = ldo,
                 .row_groups = row_groups,
                 .col_task = row_groups ? DL_HEAD_COL_TASK : DL_COL_TASK };
    j.n_groups = row_groups ? (N + DL_ROW_GROUP - 1) / DL_ROW_GROUP : 1;
    int64_t M = w->ne1, step = M;
    if (w->type != DL_TYPE_F32) {
        step = (int64_t)(conv_cap / (size_t)j.K);
        if (step < M)
            step = step / DL_HEAD_COL_TASK * DL_HEAD_COL_TASK;
        if (step < 1)
            return;   /* scratch sized by dl_weight_conv_floats always holds a chunk */
    }
    for (int64_t m0 = 0; m0 < M; m0 += step) {
        j.m0 = m0;
        j.mc = M - m0 < step ? M - m0 : step;
        j.n_cols = (int)((j.mc + j.col_task - 1) / j.col_task);
        /* wf points at weight row m0; product_task adds its own column offset */
        if (w->type == DL_TYPE_F32) {
            j.wf = (const float *)w->data + (size_t)m0 * j.K;
        } else {
            dl_parallel_for(n_threads, j.n_cols, convert_task, &j);
            j.wf = conv;
        }
        dl_parallel_for(n_threads, j.n_cols * j.n_groups, product_task, &j);
    }
}

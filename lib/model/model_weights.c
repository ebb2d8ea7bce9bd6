/* model_weights.c - weight products over every supported storage type.
 *
 * Each product is cut into tasks of DL_COL_TASK output columns from column 0 (see
 * model_weights.h for why), run on the context's pool. Quantized weights first have
 * their activations quantized to int8 blocks, rows split over the threads, into the
 * caller's scratch; the integer kernels then read them from every task.
 *
 * The OpenBLAS path remains for F32/F16/BF16 when chosen (kernels/gemm.h): BLAS itself
 * runs single-threaded and half-precision weights are widened chunk by chunk into the
 * scratch, because Debian's OpenBLAS exports no bf16/f16 GEMM (doc/performance.md, "OpenBLAS and AMX"). */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/types.h"
#include "model/model_weights.h"

/* A weight needs a product and a widening to f32 (row reads: embeddings, vectors). */
static int usable(const dl_type_info *ti) {
    return ti->product != DL_PRODUCT_NONE && ti->to_f32 != NULL;
}

int dl_weight_type_supported(uint32_t type) {
    const dl_type_info *ti = dl_type_get(type);
    return ti && usable(ti);
}

const char *dl_weight_types_str(char *buf, size_t cap) {
    return dl_type_list(buf, cap, usable);
}

static int product_of(uint32_t type) {
    const dl_type_info *ti = dl_type_get(type);
    return ti ? ti->product : DL_PRODUCT_NONE;
}

/* Rows per conversion chunk for rows of k floats: a multiple of both column task sizes. */
static int64_t chunk_rows(int64_t k) {
    int64_t r = (int64_t)(DL_WEIGHT_CHUNK_FLOATS / (size_t)k) / DL_HEAD_COL_TASK * DL_HEAD_COL_TASK;
    return r < DL_HEAD_COL_TASK ? DL_HEAD_COL_TASK : r;
}

static size_t blas_conv_floats(const dl_weight *w) {
    /* OpenBLAS reads f32 only: other float types are widened into the scratch */
    if (dl_gemm_backend() != DL_GEMM_OPENBLAS || product_of(w->type) != DL_PRODUCT_F32 ||
        w->type == DL_TYPE_F32)
        return 0;
    int64_t rows = w->ne1 < chunk_rows(w->ne0) ? w->ne1 : chunk_rows(w->ne0);
    return (size_t)rows * (size_t)w->ne0;
}

size_t dl_weight_scratch_floats(const dl_weight *w, int32_t max_rows) {
    if (!w->data || w->ne0 <= 0 || w->ne1 <= 0)
        return 0;
    if (product_of(w->type) == DL_PRODUCT_INT8) {
        size_t rows = (size_t)(max_rows < 1 ? 1 : max_rows);
        size_t bytes = rows * (size_t)(w->ne0 / DL_QK) * sizeof(dl_qact);
        return (bytes + sizeof(float) - 1) / sizeof(float);
    }
    return blas_conv_floats(w);
}

int dl_weight_rows_independent(const dl_weight *w) {
    return product_of(w->type) == DL_PRODUCT_INT8 || dl_gemm_backend() == DL_GEMM_OWN;
}

void dl_weight_rows_f32(float *out, const dl_weight *w, int64_t row0, int64_t n_rows) {
    size_t rb = dl_row_bytes(w->type, w->ne0);
    for (int64_t r = 0; r < n_rows; r++)
        dl_dequant_row(w->type, out + (size_t)r * (size_t)w->ne0,
                       (const uint8_t *)w->data + (size_t)(row0 + r) * rb, w->ne0);
}

const float *dl_weight_vec_f32(const dl_weight *w, float *tmp) {
    if (!w->data)
        return NULL;
    if (w->type == DL_TYPE_F32)
        return (const float *)w->data;
    dl_weight_rows_f32(tmp, w, 0, 1);
    return tmp;
}

const char *dl_weight_paths_str(char *buf, size_t cap, int precision) {
    int b = dl_gemm_backend();
    int bf16 = precision == DL_PRECISION_BF16;
    /* a log line must not ask Linux for the AMX tiles: before the first quantized
     * product has asked, it names the path that runs where the answer is no */
    unsigned f = dl_cpu_features();
    int amx_pending = (f & DL_CPU_AMX_INT8) && !dl_amx_asked() &&
                      dl_qpath_available(DL_QPATH_AVX512_VNNI);
    snprintf(buf, cap, "f32/f16/bf16 products: %s%s%s; quantized products: int8 %s%s",
             bf16 ? "bf16" : dl_gemm_backend_name(b), bf16 || b == DL_GEMM_OWN ? " " : "",
             bf16 ? dl_bf16_path_name(dl_bf16_best())
                  : b == DL_GEMM_OWN ? dl_fpath_name(dl_fpath_best()) : "",
             amx_pending ? dl_qpath_name(DL_QPATH_AVX512_VNNI) : dl_qpath_name(dl_qpath_best()),
             amx_pending ? ", amx-int8 once Linux grants the tiles" : "");
    return buf;
}

/* --- own kernels: f32 and quantized */

typedef struct own_job {
    float *out;
    const float *x, *bias;
    const dl_weight *w;
    dl_qact *xa;
    int accumulate, N, K, ldo, path;
} own_job;

#define QACT_ROWS 8

static void qact_task(void *ctx, int task, int worker) {
    (void)worker;
    own_job *j = ctx;
    int kb = j->K / DL_QK;
    for (int n = task * QACT_ROWS; n < j->N && n < (task + 1) * QACT_ROWS; n++)
        dl_qact_row(j->xa + (size_t)n * kb, j->x + (size_t)n * j->K, j->w->type, j->K);
}

static void qgemm_task(void *ctx, int task, int worker) {
    (void)worker;
    own_job *j = ctx;
    int64_t m0 = (int64_t)task * DL_COL_TASK;
    int mc = (int)(j->w->ne1 - m0 < DL_COL_TASK ? j->w->ne1 - m0 : DL_COL_TASK);
    dl_qgemm_cols(j->path, j->out, j->ldo, j->xa, j->N, j->w->data, j->w->type, j->K, m0, mc,
                  j->bias, j->accumulate);
}

static void fgemm_task(void *ctx, int task, int worker) {
    (void)worker;
    own_job *j = ctx;
    int64_t m0 = (int64_t)task * DL_COL_TASK;
    int mc = (int)(j->w->ne1 - m0 < DL_COL_TASK ? j->w->ne1 - m0 : DL_COL_TASK);
    if (j->w->panels) {
        size_t panel = (size_t)(m0 / DL_FGEMM_COLS) * dl_fpanel_bytes(j->w->type, j->K);
        dl_fgemm_panel(j->path, j->out, j->ldo, j->x, j->K, j->N,
                       (const uint8_t *)j->w->panels + panel, j->w->type, j->K, m0, mc,
                       j->bias, j->accumulate);
    } else {
        dl_fgemm_cols(j->path, j->out, j->ldo, j->x, j->K, j->N, j->w->data, j->w->type, j->K,
                      m0, mc, j->bias, j->accumulate);
    }
}

/* --- OpenBLAS path: one chunk of a product, weight rows [m0, m0 + mc) as f32 at wf */

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

static void blas_matmul(float *out, const float *x, const dl_weight *w, const float *bias,
                        int accumulate, int N, int ldo, int row_groups, float *conv,
                        size_t conv_cap, dl_pool *pool, int n_threads) {
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
        // an invariant, not an input check: the callers size scratch with
        // dl_weight_scratch_floats, which always holds a chunk
        assert(step >= 1 && "scratch below dl_weight_scratch_floats");
        if (step < 1)
            return;   // release builds: no product rather than a write past scratch
    }
    for (int64_t m0 = 0; m0 < M; m0 += step) {
        j.m0 = m0;
        j.mc = M - m0 < step ? M - m0 : step;
        j.n_cols = (int)((j.mc + j.col_task - 1) / j.col_task);
        /* wf points at weight row m0; product_task adds its own column offset */
        if (w->type == DL_TYPE_F32) {
            j.wf = (const float *)w->data + (size_t)m0 * j.K;
        } else {
            dl_pool_for(pool, n_threads, j.n_cols, convert_task, &j);
            j.wf = conv;
        }
        dl_pool_for(pool, n_threads, j.n_cols * j.n_groups, product_task, &j);
    }
}

void dl_weight_matmul(float *out, const float *x, const dl_weight *w, const float *bias,
                      int accumulate, int N, int ldo, int row_groups, float *scratch,
                      size_t cap, dl_pool *pool, int n_threads) {
    if (N <= 0)
        return;
    int n_cols = (int)((w->ne1 + DL_COL_TASK - 1) / DL_COL_TASK);
    own_job j = { out, x, bias, w, NULL, accumulate, N, (int)w->ne0, ldo, 0 };
    if (product_of(w->type) == DL_PRODUCT_INT8) {
        // an invariant, not an input check (see blas_matmul)
        assert(cap >= dl_weight_scratch_floats(w, N) && "scratch below dl_weight_scratch_floats");
        if (cap < dl_weight_scratch_floats(w, N))
            return;   // release builds: no product rather than a write past scratch
        j.xa = (dl_qact *)scratch;
        j.path = dl_qpath_best();
        dl_pool_for(pool, n_threads, (N + QACT_ROWS - 1) / QACT_ROWS, qact_task, &j);
        dl_pool_for(pool, n_threads, n_cols, qgemm_task, &j);
        return;
    }
    if (dl_gemm_backend() == DL_GEMM_OWN) {
        j.path = dl_fpath_best();
        dl_pool_for(pool, n_threads, n_cols, fgemm_task, &j);
        return;
    }
    blas_matmul(out, x, w, bias, accumulate, N, ldo, row_groups, scratch, cap, pool, n_threads);
}

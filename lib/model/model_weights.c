/* model_weights.c - weight products over F32 / F16 / BF16 storage. Half-precision
 * weights are widened chunk by chunk into caller scratch and multiplied with the f32
 * sgemm, because Debian's OpenBLAS exports no bf16/f16 GEMM (machine.md §3.5); the
 * chunking is over output rows, so each output element's sum is the same whatever the
 * chunk size. */
#include "model/model_weights.h"

#include "fmt/ggml_types.h"
#include "kernels/kernels.h"

int dl_weight_type_supported(uint32_t type) {
    return type == DL_TYPE_F32 || type == DL_TYPE_F16 || type == DL_TYPE_BF16;
}

/* Rows per conversion chunk for a row length of k floats (at least one row). */
static int64_t chunk_rows(int64_t k) {
    int64_t r = (int64_t)(DL_WEIGHT_CHUNK_FLOATS / (size_t)k);
    return r < 1 ? 1 : r;
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
    case DL_TYPE_F32: {
        const float *src = (const float *)w->data + off;
        for (size_t i = 0; i < n; i++)
            out[i] = src[i];
        break;
    }
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

void dl_weight_matmul(float *out, const float *x, const dl_weight *w, const float *bias,
                      int accumulate, int N, int ldo, float *conv, size_t conv_cap) {
    int K = (int)w->ne0, M = (int)w->ne1;
    if (w->type == DL_TYPE_F32) {
        dl_matmul(out, x, (const float *)w->data, bias, accumulate, N, K, M, ldo);
        return;
    }
    int64_t step = (int64_t)(conv_cap / (size_t)K);
    if (step < 1)
        return;   /* caller sized scratch with dl_weight_conv_floats; cannot happen */
    for (int64_t m0 = 0; m0 < M; m0 += step) {
        int mc = (int)(M - m0 < step ? M - m0 : step);
        dl_weight_rows_f32(conv, w, m0, mc);
        dl_matmul(out + m0, x, conv, bias ? bias + m0 : NULL, accumulate, N, K, mc, ldo);
    }
}

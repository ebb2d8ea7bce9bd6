/* model_weights.h - products and row reads over a weight of any supported element type
 * (F32 used in place; F16 and BF16 widened to f32 in bounded row chunks), split into
 * fixed-shape tasks over threads. */
#ifndef DL_MODEL_WEIGHTS_H
#define DL_MODEL_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

/* The largest conversion chunk, in floats (16 MiB): big enough that sgemm runs on long
 * panels, small enough that an 8B model's head needs no second copy of itself. */
#define DL_WEIGHT_CHUNK_FLOATS ((size_t)1 << 22)
/* Weight rows (output columns) per sgemm task. Every product is cut into tasks at
 * multiples of this from column 0, whatever the thread count or chunk size, so each
 * output element is always computed by the same sgemm shape: that is what makes
 * results bitwise independent of n_threads. A multiple of every OpenBLAS unroll. */
#define DL_COL_TASK 64
/* Output columns per task in the row-group mode: its calls have only DL_ROW_GROUP rows,
 * so wider panels keep the call count (and per-call overhead) down. */
#define DL_HEAD_COL_TASK 256
/* Activation rows per sgemm call when results must not depend on which other rows are
 * in the batch (the output head): every call then has exactly this many rows. */
#define DL_ROW_GROUP 16

/* 1 if the forward pass can use weights of this ggml type. */
int dl_weight_type_supported(uint32_t type);

/* Floats of conversion scratch dl_weight_matmul needs for w (0 for F32 weights). */
size_t dl_weight_conv_floats(const dl_weight *w);

/* out[n][m] (+)= x[n] . w[m] + bias[m] for all ne1 rows m of w, on n_threads threads.
 *   out: [N][ldo] out;  x: [N][w->ne0], or with row_groups != 0 [roundup(N, DL_ROW_GROUP)]
 *   rows whose padding rows are readable (their results are dropped);
 *   bias: [w->ne1] f32 or NULL;  conv: conv_cap >= dl_weight_conv_floats(w) floats. */
void dl_weight_matmul(float *out, const float *x, const dl_weight *w, const float *bias,
                      int accumulate, int N, int ldo, int row_groups, float *conv,
                      size_t conv_cap, int n_threads);

/* Rows row0 .. row0+n_rows of w as f32.  out: [n_rows][w->ne0] out */
void dl_weight_rows_f32(float *out, const dl_weight *w, int64_t row0, int64_t n_rows);

/* A vector weight (ne1 == 1) as f32: its own data when F32, else converted into tmp
 * ([w->ne0] floats). NULL when the weight is absent. */
const float *dl_weight_vec_f32(const dl_weight *w, float *tmp);

#endif

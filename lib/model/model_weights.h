/* model_weights.h - products and row reads over a weight of any supported element type
 * (F32 used in place; F16 and BF16 converted to f32 in bounded row chunks). */
#ifndef DL_MODEL_WEIGHTS_H
#define DL_MODEL_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

/* The largest conversion chunk, in floats (16 MiB): big enough that sgemm runs on long
 * panels, small enough that an 8B model's head needs no second copy of itself. */
#define DL_WEIGHT_CHUNK_FLOATS ((size_t)1 << 22)

/* 1 if the forward pass can use weights of this ggml type. */
int dl_weight_type_supported(uint32_t type);

/* Floats of conversion scratch dl_weight_matmul needs for w (0 for F32 weights). */
size_t dl_weight_conv_floats(const dl_weight *w);

/* out[n][m] (+)= x[n] . w[m] + bias[m] for all ne1 rows m of w.
 *   out: [N][ldo] out;  x: [N][w->ne0];  bias: [w->ne1] f32 or NULL;
 *   conv: scratch of conv_cap >= dl_weight_conv_floats(w) floats (unused for F32). */
void dl_weight_matmul(float *out, const float *x, const dl_weight *w, const float *bias,
                      int accumulate, int N, int ldo, float *conv, size_t conv_cap);

/* Rows row0 .. row0+n_rows of w as f32.  out: [n_rows][w->ne0] out */
void dl_weight_rows_f32(float *out, const dl_weight *w, int64_t row0, int64_t n_rows);

/* A vector weight (ne1 == 1) as f32: its own data when F32, else converted into tmp
 * ([w->ne0] floats). NULL when the weight is absent. */
const float *dl_weight_vec_f32(const dl_weight *w, float *tmp);

#endif

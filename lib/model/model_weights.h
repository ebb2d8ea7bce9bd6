/* model_weights.h - products and row reads over a weight of any supported element type,
 * split into fixed-shape tasks over threads.
 *
 * The weight type's row (kernels/types.h) names the product. DL_PRODUCT_F32 (F32, F16,
 * BF16): the library's own f32 kernels (kernels/gemm.h; half types widened while
 * packing), or OpenBLAS sgemm when that backend is chosen (half types then widened in
 * bounded row chunks). DL_PRODUCT_INT8 (the quantized types): the activations are
 * quantized to int8 blocks once per product, then integer kernels (kernels/quant.h) run
 * over tasks of weight rows. */
#ifndef DL_MODEL_WEIGHTS_H
#define DL_MODEL_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "model/model.h"

/* The largest conversion chunk, in floats (16 MiB): big enough that sgemm runs on long
 * panels, small enough that an 8B model's head needs no second copy of itself. */
#define DL_WEIGHT_CHUNK_FLOATS ((size_t)1 << 22)
/* Weight rows (output columns) per task. Every product is cut into tasks at multiples
 * of this from column 0, whatever the thread count or chunk size, so each output
 * element is always computed by the same kernel shape: that is what makes results
 * bitwise independent of n_threads. A multiple of every OpenBLAS unroll, and the
 * column count of the own kernels (DL_FGEMM_COLS, DL_QGEMM_COLS). */
#define DL_COL_TASK 64
/* Output columns per task in the row-group mode of the OpenBLAS path: its calls have
 * only DL_ROW_GROUP rows, so wider panels keep the call count (and overhead) down. */
#define DL_HEAD_COL_TASK 256
/* Activation rows per sgemm call when results must not depend on which other rows are
 * in the batch (the output head): every call then has exactly this many rows. (The own
 * kernels compute each row independently and need no grouping.) */
#define DL_ROW_GROUP 16

/* 1 if the forward pass can use weights of this type id. */
int dl_weight_type_supported(uint32_t type);

/* "F32, F16, ... and BF16": the types dl_weight_type_supported accepts, from the type
 * table, into buf (for error messages). Returns buf. */
const char *dl_weight_types_str(char *buf, size_t cap);

/* Floats of scratch dl_weight_matmul needs for w and up to max_rows activation rows:
 * the quantized activations for quantized weights, the widened chunk for F16/BF16
 * weights on the OpenBLAS path, 0 otherwise. */
size_t dl_weight_scratch_floats(const dl_weight *w, int32_t max_rows);

/* out[n][m] (+)= x[n] . w[m] + bias[m] for all ne1 rows m of w, on the pool (or, when
 * pool is NULL, on n_threads threads started for the call).
 *   out: [N][ldo] out;  x: [N][w->ne0], or with row_groups != 0 [roundup(N, DL_ROW_GROUP)]
 *   rows whose padding rows are readable (their results are dropped);
 *   bias: [w->ne1] f32 or NULL;  scratch: cap >= dl_weight_scratch_floats(w, N) floats. */
void dl_weight_matmul(float *out, const float *x, const dl_weight *w, const float *bias,
                      int accumulate, int N, int ldo, int row_groups, float *scratch,
                      size_t cap, dl_pool *pool, int n_threads);

/* 1 if dl_weight_matmul over w (row_groups 0) computes each activation row on its own,
 * so a row's result is the same bits whatever rows come with it: the own f32 kernels
 * and the integer ones. 0 for the OpenBLAS path, whose sgemm blocks by the row count. */
int dl_weight_rows_independent(const dl_weight *w);

/* --- the bf16 precision mode (model_weights_bf16.c): products over F32/F16/BF16
 * weights with both operands rounded to bf16 and f32 sums (kernels/gemm_bf16.h) on the
 * fastest bf16 path the CPU has. Quantized weights are unaffected. */

/* 1 if products over w run in bf16 under precision (enum dl_precision): a float
 * weight in DL_PRECISION_BF16. */
int dl_weight_bf16(const dl_weight *w, int precision);

/* Floats of scratch dl_weight_matmul_bf16 needs for w and up to max_rows activation
 * rows: the activations packed as bf16 pairs. */
size_t dl_weight_bf16_scratch_floats(const dl_weight *w, int32_t max_rows);

/* out[n][m] (+)= bf16(x[n]) . bf16(w[m]) + bias[m] for all ne1 rows m of w, on the
 * pool, in tasks of DL_COL_TASK columns: bitwise the same for any thread count on a
 * given path, and each row computed on its own (no row groups needed).
 *   out: [N][ldo] out;  x: [N][w->ne0];  w: F32, F16 or BF16;  bias: [w->ne1] or NULL;
 *   scratch: cap >= dl_weight_bf16_scratch_floats(w, N) floats */
void dl_weight_matmul_bf16(float *out, const float *x, const dl_weight *w, const float *bias,
                           int accumulate, int N, int ldo, float *scratch, size_t cap,
                           dl_pool *pool, int n_threads);

/* --- the packed copy (model_pack.c) */

/* Bytes of the copy of m's float matrices (the head and the layers' dense products)
 * packed for precision: each weight's own type in the f32 product's panels
 * (EXACT, own kernels only) or bf16 pair panels (BF16); 0 when there is nothing to pack,
 * as in a quantized model. */
size_t dl_model_pack_size(const dl_model *m, int precision);

/* Packs those matrices into buf (dl_model_pack_size(m, precision) bytes, 64-byte
 * aligned) on pool, and points each one's panels field at its panels, so that the
 * products run over them without packing per product (the same bits). m->layers must
 * be the caller's own copy of the layer table: the fields are written. buf must outlive
 * every product over m, and m's products must run in precision. */
void dl_model_pack(dl_model *m, int precision, void *buf, dl_pool *pool, int n_threads);

/* Rows row0 .. row0+n_rows of w as f32 (dequantized).  out: [n_rows][w->ne0] out */
void dl_weight_rows_f32(float *out, const dl_weight *w, int64_t row0, int64_t n_rows);

/* A vector weight (ne1 == 1) as f32: its own data when F32, else converted into tmp
 * ([w->ne0] floats). NULL when the weight is absent. */
const float *dl_weight_vec_f32(const dl_weight *w, float *tmp);

/* The kernel paths products use now under precision (enum dl_precision), for the
 * create-time log: "f32/f16/bf16 products: own avx512; quantized products: int8
 * avx512-vnni" style (in bf16: "bf16 amx-bf16"), into buf. */
const char *dl_weight_paths_str(char *buf, size_t cap, int precision);

#endif

/* quant.h - the quantized block formats: exact dequantization, quantizers, and the
 * integer matrix product over quantized weights, each reached through the type table
 * (types.h), so these entry points take any type id.
 *
 * Each format's layout, its dequantization (its definition: the float operations named
 * there, left to right, in f32, so a reference written from the same definitions
 * reproduces every bit), its quantizer and its panel decoder live in its own file,
 * quant_<name>.c (Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K today). */
#ifndef DL_QUANT_H
#define DL_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/types.h"

#define DL_QK 32        /* elements per block of the 32-element formats */
#define DL_QK_K 256     /* elements per K super-block */

/* 1 for the quantized types the integer product reads (their rows' product is
 * DL_PRODUCT_INT8). */
int dl_quant_type_supported(uint32_t type);

/* --- dequantization (scalar, exact; the definition of each format)
 * out: [n] out;  src: n / block_size blocks.  n must be a multiple of the block size.
 * Also accepts F32, F16 and BF16, so any stored row can be widened with one call. */
void dl_dequant_row(uint32_t type, float *out, const void *src, int64_t n);

/* --- quantizers (for tools/difflm-quantize and the tests)
 * dst: n / block_size blocks out;  src: [n].  n must be a multiple of the block size.
 * Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 follow ggml's deterministic reference quantizers
 * (doc/formats.md, "Reference quantizers"). The K types search their sub-block scales (quant_fit.c, quant_q6_k.c);
 * any valid encoding reads the same everywhere. Returns 0, or -1 for a type that is not
 * quantized or has no quantizer. */
int dl_quantize_row(uint32_t type, void *dst, const float *src, int64_t n);

/* The same for any type the kernels can write, the float types included (F32 copied,
 * F16 and BF16 rounded to nearest even). Returns 0, or -1 when the type has none. */
int dl_from_f32_row(uint32_t type, void *dst, const float *src, int64_t n);

/* --- activations quantized on the fly for the integer products
 * One record per 32 activations of a row: int8 values q = nearest-even(x * 127/amax),
 * the f32 scale d = amax/127, and the per-weight-type correction terms the kernels
 * need (see qgemm.c): zh = z * sum(q) for weight formats with a zero point z, split in
 * halves of 16 for Q6_K's 16-element scales; s = d * sum(q) for formats with a min. */
typedef struct dl_qact {
    int8_t qs[DL_QK];
    float d;
    float s;
    int32_t zh[2];
} dl_qact;

/* Quantizes one row of K activations for products with weights of type wtype.
 *   out: [K/32] out;  x: [K] */
void dl_qact_row(dl_qact *out, const float *x, uint32_t wtype, int K);

/* --- integer matrix product over output columns [m0, m0 + mc), mc <= DL_QGEMM_COLS:
 *   out[n][m] = (accumulate ? out[n][m] : 0) + sum over blocks b of the row of
 *               fma(dw[m][b] * xa[n][b].d, isum(n, m, b), ...) (+ min terms) + bias[m]
 * with isum the exact integer dot product of the stored weight quants and the
 * activation quants. Each output depends only on its own activation row and weight
 * row, in a fixed order of f32 operations, so every path gives the same bits, for any
 * tiling, thread count or batch composition.
 *   out: [N][ldo] out (columns m0..m0+mc);  xa: [N][K/32] from dl_qact_row;
 *   w: [M][K] stored rows of type wtype (row m at w + m * row_bytes);  bias: [M] or NULL.
 * path is an enum dl_qpath (kernels/cpu.h) available on this CPU. Uses ~24 KiB of stack. */
#define DL_QGEMM_COLS 64
void dl_qgemm_cols(int path, float *out, int ldo, const dl_qact *xa, int N, const void *w,
                   uint32_t wtype, int K, int64_t m0, int mc, const float *bias, int accumulate);

#endif

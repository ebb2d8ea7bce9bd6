/* types.h - the weight types the kernels know, and the table of their traits: one row per
 * type with its block geometry, its conversions from and to f32, and the pieces of the
 * integer product (panel decoder, zero point, kernel per instruction set).
 *
 * Every consumer asks this table: the kernels' row functions (quant.h), the own f32
 * product's widening (gemm_f32.c), the model's products (model/model_weights.c), GGUF's
 * tensor sizes (fmt/), difflm-quantize. Nothing outside the table's rows switches on a
 * type. Adding a type is: its id below, its row in types.c, and its own kernels (one
 * quant_<name>.c, its functions declared in formats.h).
 *
 * The ids are ggml's type numbers, which GGUF stores in each tensor's type field
 * (fmt/ggml_types.h checks every one), so a file's id indexes the table unchanged. The
 * kernels themselves know no file format: an id is just the row's index. */
#ifndef DL_TYPES_H
#define DL_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/cpu.h"

enum dl_type {
    DL_TYPE_F32 = 0,
    DL_TYPE_F16 = 1,
    DL_TYPE_Q4_0 = 2,
    DL_TYPE_Q4_1 = 3,
    /* 4 and 5 are retired ggml ids (Q4_2, Q4_3) */
    DL_TYPE_Q5_0 = 6,
    DL_TYPE_Q5_1 = 7,
    DL_TYPE_Q8_0 = 8,
    DL_TYPE_Q8_1 = 9,
    DL_TYPE_Q2_K = 10,
    DL_TYPE_Q3_K = 11,
    DL_TYPE_Q4_K = 12,
    DL_TYPE_Q5_K = 13,
    DL_TYPE_Q6_K = 14,
    DL_TYPE_Q8_K = 15,
    DL_TYPE_BF16 = 30,
    DL_TYPE_ID_END = 31         /* one past the largest id: for walking the table */
};

struct dl_qact;
struct dl_qpanel;

/* A row of n elements (n a multiple of the block size) to f32.
 *   out: [n] out;  src: n / block_size blocks */
typedef void (*dl_to_f32_fn)(float *out, const void *src, int64_t n);
/* f32 to a row of n elements (n a multiple of the block size).
 *   dst: n / block_size blocks out;  src: [n] */
typedef void (*dl_from_f32_fn)(void *dst, const float *src, int64_t n);
/* Blocks kb0 .. kb0 + nb - 1 (of 32 elements) of one stored row into row r of nb
 * consecutive panel blocks (qgemm_impl.h).  panel: [nb] in/out (row r written) */
typedef void (*dl_qdecode_fn)(struct dl_qpanel *panel, int r, const uint8_t *row, int kb0, int nb);
/* An integer-product kernel over decoded panels: see qgemm_impl.h. */
typedef void (*dl_qkernel_fn)(float *out, int ldo, const struct dl_qact *xa, int xs, int N,
                              const struct dl_qpanel *panel, int n_groups, int cols, int nb,
                              int kind);

/* Which family of matrix products reads a weight of the type. */
enum dl_product {
    DL_PRODUCT_NONE = 0,        /* sized only: the kernels implement no arithmetic on it */
    DL_PRODUCT_F32 = 1,         /* the f32 kernels (gemm.h), widened while packing */
    DL_PRODUCT_INT8 = 2,        /* the integer kernels (quant.h dl_qgemm_cols) */
};

/* How a decoded weight block combines with the activation block (quant.h, qgemm.c):
 *   ZP32:  w = dw*(u - z)           isum - zh[0],         one scale per 32
 *   MIN32: w = dw*u + mw            isum, plus mw * s,    one scale and min per 32
 *   ZP16:  w = dw_half*(u - z)      per half of 16: isum_h - zh[h], its own scale */
enum dl_qkind { DL_QK_ZP32 = 0, DL_QK_MIN32 = 1, DL_QK_ZP16 = 2 };

typedef struct dl_type_info {
    const char *name;           /* "F32", "Q4_K", ... (ggml's spelling) */
    uint32_t block_size;        /* elements per block */
    uint32_t type_size;         /* bytes per block */
    int quantized;              /* 1: blocks of quants with scales; 0: one float per element */
    int product;                /* enum dl_product */
    dl_to_f32_fn to_f32;        /* NULL for a layout the kernels only size */
    dl_from_f32_fn from_f32;    /* NULL when the kernels cannot write the type */
    /* DL_PRODUCT_INT8 only: */
    dl_qdecode_fn qdecode;
    int qkind;                  /* enum dl_qkind */
    int qzero;                  /* z: the unsigned decoded value u of a zero weight */
    dl_qkernel_fn qkernel[DL_QPATH_COUNT];  /* per enum dl_qpath; NULL: not built here */
} dl_type_info;

/* The row of a type id, or NULL for an id this library does not know. */
const dl_type_info *dl_type_get(uint32_t type);

/* A printable name for any id ("type 42" style names go to buf for unknown ids). */
const char *dl_type_name(uint32_t type, char *buf, size_t cap);

/* "F32, F16, ... and BF16": the names of the known types for which keep(row) is nonzero,
 * in id order, into buf (truncated to cap). Error messages list what is supported this
 * way, so the list cannot fall behind the table. Returns buf. */
const char *dl_type_list(char *buf, size_t cap, int (*keep)(const dl_type_info *));

/* Bytes of one stored row of K elements of type (0 for unknown types). */
size_t dl_row_bytes(uint32_t type, int64_t K);

#endif

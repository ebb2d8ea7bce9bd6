/* gemm_bf16.h - the trainer's products in mixed precision (--precision bf16): both
 * operands rounded to bfloat16 (to nearest, ties to even), their products summed in f32.
 *
 * Why: AVX512_BF16's vdpbf16ps does two multiply-adds per f32 lane, twice the work of an
 * f32 FMA per instruction, and the products are most of a training step. bf16 operands
 * with f32 sums are how large models are trained; the master weights, the gradients'
 * sums across products, the norms, attention and AdamW stay f32 (model_train.c).
 *
 * Determinism: tiles and the order of the sums depend only on the shapes, so results
 * are bitwise the same for any thread count on a given kernel path. The paths round
 * differently inside a pair (vdpbf16ps and tdpbf16ps are their own rounding, and AMX
 * sums sixteen pairs per instruction in an order of its own), so they agree to f32
 * rounding, not bit for bit. */
#ifndef DL_TRAIN_GEMM_BF16_H
#define DL_TRAIN_GEMM_BF16_H

#include <stdint.h>

/* An operand: element (i, k) is p[i * is + k * ks]; i indexes output rows (A) or
 * columns (B), k the summed dimension. One of is, ks is 1 in every use. */
typedef struct tr_bview {
    const float *p;
    int64_t is, ks;
} tr_bview;

#define TR_BF16_ROWS 256        /* at most this many output rows per call */
#define TR_BF16_COLS 64         /* columns of B packed at a time */
#define TR_BF16_KP 128          /* pairs of k packed at a time */
/* per-thread scratch of tr_bgemm_tile, in floats: packed A [256][128] and B [128][64] */
#define TR_BF16_SCRATCH ((size_t)TR_BF16_ROWS * TR_BF16_KP + (size_t)TR_BF16_KP * TR_BF16_COLS)

/* Kernel paths, slowest first. */
enum tr_bf16_path {
    TR_BF16_PORTABLE = 0,       /* scalar fmaf */
    TR_BF16_AVX512 = 1,         /* AVX512_BF16 vdpbf16ps, 12 x 32 micro-tile */
    TR_BF16_AMX = 2,            /* AMX tdpbf16ps, 32 x 32 from four 16 x 16 tiles */
};

/* The fastest path this CPU and OS run (the first call asks Linux for the AMX tile
 * state, which is process-wide and stays granted). */
int tr_bf16_best(void);
/* "portable", "avx512-bf16" or "amx-bf16" */
const char *tr_bf16_path_name(int path);

/* out[i][j] = (accumulate ? out[i][j] : 0) + sum over k < K of bf16(A(i, k)) * bf16(B(j, k))
 * for i < R and j < C, summed in f32 two k at a time in k order (so how a product is cut
 * into tiles does not change its result; AMX adds 32 k per step, see above).
 *   out: [R][ldo] (in/)out;  R <= TR_BF16_ROWS;  C >= 1;  K >= 1
 *   scratch: TR_BF16_SCRATCH floats, 64-byte aligned.  path: at most tr_bf16_best() */
void tr_bgemm_tile(int path, float *out, int64_t ldo, tr_bview a, tr_bview b, int R, int C,
                   int64_t K, int accumulate, float *scratch);

#endif

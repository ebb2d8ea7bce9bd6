/* gemm_bf16.h - products in mixed precision: both operands rounded to bfloat16 (to
 * nearest, ties to even), their products summed in f32. The one bf16 kernel of the
 * project: the trainer's --precision bf16 (tools/train) and the inference contexts
 * created with DIFFLM_PRECISION_BF16 (model/model_weights.h) both run it.
 *
 * Why: AVX512_BF16's vdpbf16ps does two multiply-adds per f32 lane, twice the work of an
 * f32 FMA per instruction, and AMX's tdpbf16ps a 16 x 16 x 32 block per instruction.
 * The product of two bf16 values is exact in f32, so only the sums round; what is lost
 * against the f32 path is the operands' mantissa (8 bits instead of 24).
 *
 * Layouts. The summed dimension is cut into blocks of DL_BF16_KP pairs (a pair = two
 * bf16 of consecutive k in one 32-bit word, even k in the low half). The row operand A
 * is packed into rows of pairs, [R][lda] words; the column operand B into panels
 * [DL_BF16_KP][DL_BF16_COLS] with the pair of one k-pair for 64 columns side by side.
 * Padding (odd K, columns past C) is zero in both. These are also what AMX tiles load.
 *
 * Determinism: tiles and the order of the sums depend only on the shapes, and each
 * output's sum reads only its own row of A and column of B, so results are bitwise the
 * same for any thread count on a given path, and a row's result does not depend on
 * the other rows. The paths round differently inside a pair (vdpbf16ps and tdpbf16ps
 * are their own rounding, flush denormals, and AMX sums sixteen pairs per instruction
 * in an order of its own), so they agree to f32 rounding, not bit for bit. */
#ifndef DL_GEMM_BF16_H
#define DL_GEMM_BF16_H

#include <stddef.h>
#include <stdint.h>

/* An f32 operand: element (i, k) is p[i * is + k * ks]; i indexes output rows (A) or
 * columns (B), k the summed dimension. One of is, ks is 1 in every use. */
typedef struct dl_bview {
    const float *p;
    int64_t is, ks;
} dl_bview;

#define DL_BF16_COLS 64         /* columns of B per packed panel (= DL_FGEMM_COLS) */
#define DL_BF16_KP 128          /* pairs of k per kernel call (a panel's block: 32 KiB) */

/* Kernel paths, slowest first. */
enum dl_bf16_path {
    DL_BF16_PORTABLE = 0,       /* scalar fmaf, two per pair, low half first */
    DL_BF16_AVX512 = 1,         /* AVX512_BF16 vdpbf16ps, 12 x 32 micro-tile */
    DL_BF16_AMX = 2,            /* AMX tdpbf16ps, 32 x 32 from four 16 x 16 tiles */
    DL_BF16_PATHS
};

/* The fastest path this CPU and OS run: AMX-BF16 > AVX512_BF16 > portable, after
 * DIFFLM_CPU_MASK (kernels/cpu.h). Where the CPU has AMX-BF16 the first call asks Linux
 * for the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM), which is process-wide and
 * stays granted; only bf16 work calls this, so an exact-precision host never asks. */
int dl_bf16_best(void);
/* 1 if path runs here (for AMX: after asking, as dl_bf16_best) */
int dl_bf16_available(int path);
/* "portable", "avx512-bf16" or "amx-bf16" */
const char *dl_bf16_path_name(int path);

/* bf16(f) to nearest, ties to even; a NaN stays a (quiet) NaN. */
uint16_t dl_bf16_round(float f);

/* Words per packed row (lda) for K, in both forms (and pair-rows per panel of B in the
 * trainer's): whole 16-pair AMX tiles. */
static inline int dl_bf16_act_ld(int64_t K) { return (int)((K + 31) / 32 * 16); }
/* Rows a packed block holds for N rows: whole 32-row AMX blocks (the padding rows zero). */
static inline int dl_bf16_act_rows(int N) { return (N + 31) / 32 * 32; }

/* --- the trainer's form: both operands f32 views, each packed once per product into
 * buffers that every tile of the product then reads (packing per tile cost a third of
 * the products' time at the trainer's shapes) */

/* ap[i] = the pairs of A(i, k), k < K, zero past them up to lda words; rows R up to a
 * whole 32-row block zero too (AMX reads them).
 *   ap: [dl_bf16_act_rows(R)][lda] out;  lda = dl_bf16_act_ld(K) */
void dl_bf16_pack_a(int path, uint32_t *ap, int lda, dl_bview a, int R, int64_t K);
/* One panel of B: bp[p][j] = the pair p of B(j, k) for j < C <= DL_BF16_COLS, zero for
 * the other columns and the pairs past K up to lda.
 *   bp: [lda][DL_BF16_COLS] out, 64-byte aligned;  lda = dl_bf16_act_ld(K) */
void dl_bf16_pack_b(int path, uint32_t *bp, int lda, dl_bview b, int C, int64_t K);
/* out[i][j] = (accumulate ? out[i][j] : 0) + sum over k < K of bf16(A(i, k)) * bf16(B(j, k))
 * for i < R, j < C, over packed operands: ap from dl_bf16_pack_a (its first R rows, or
 * rows r0 .. r0 + R of a larger packing from ap + r0 * lda, r0 a multiple of 32) and bp
 * the ceil(C / DL_BF16_COLS) panels of dl_bf16_pack_b one after the other (or a run of
 * panels of a larger packing). Summed in f32 two k at a time in k order, in blocks of
 * DL_BF16_KP pairs, so how a product is cut into tiles does not change its result (AMX
 * adds 32 k per step, see above).
 *   out: [R][ldo] (in/)out;  path: dl_bf16_available */
void dl_bgemm_packed(int path, float *out, int64_t ldo, const uint32_t *ap, int lda,
                     const uint32_t *bp, int R, int C, int64_t K, int accumulate);

/* --- inference's form: activations packed once per product, weights per column task */

/* ap[n] = x[n] as bf16 pairs, zero past K up to lda words.
 *   ap: [N][lda] out (uint32 pairs);  x: [N][ldx];  lda = dl_bf16_act_ld(K) */
void dl_bf16_pack_rows(int path, uint32_t *ap, int lda, const float *x, int ldx, int N, int K);

/* out[n][m] = (accumulate ? out[n][m] : 0) + sum over k of A(n, k) * bf16(w[m][k])
 * (+ bias[m] after the sum), for m in [m0, m0 + mc), mc <= DL_BF16_COLS, with the sums
 * as in dl_bgemm_packed. w is F32 or F16 (rounded to bf16 while packing) or BF16 (used as
 * stored).
 *   out: [N][ldo] (in/)out;  ap: [dl_bf16_act_rows(N)][lda] from dl_bf16_pack_rows
 *   (rows past N zero);  w: [M][K] of type wtype;  bias: [M] f32 or NULL */
void dl_bgemm_cols(int path, float *out, int ldo, const uint32_t *ap, int lda, int N,
                   const void *w, uint32_t wtype, int K, int64_t m0, int mc,
                   const float *bias, int accumulate);

/* One panel of stored weights packed ahead of time, for dl_bgemm_packed: bp[p][j] =
 * pair p of weight row m0 + j (rounded as dl_bgemm_cols rounds it) for j < C <=
 * DL_BF16_COLS, zero for the other columns and the pairs past K up to lda, so that
 * dl_bgemm_packed over a packed activation block (dl_bf16_pack_rows) gives the bits of
 * dl_bgemm_cols.
 *   bp: [lda][DL_BF16_COLS] out, 64-byte aligned;  lda = dl_bf16_act_ld(K);  w: [M][K] */
void dl_bf16_pack_w(int path, uint32_t *bp, int lda, const void *w, uint32_t wtype, int K,
                    int64_t m0, int C);

#endif

/* gemm.h - the library's own f32 matrix product over weights stored as F32, F16 or
 * BF16: packed per call into f32 panels (F16/BF16 widened while packing), or read from
 * panels packed once in the weight's own type (dl_fpanel_pack; a context's packed copy)
 * and widened as they are read. Either way the same bits.
 *
 * Debian 12's OpenBLAS 0.3.21 misdetects recent CPUs and falls back to slow kernels
 * (doc/performance.md, "OpenBLAS and AMX"); these micro-kernels (AVX-512: 12 rows x 32 columns, AVX2+FMA:
 * 6 x 16) make the speed independent of what OpenBLAS detects. */
#ifndef DL_GEMM_H
#define DL_GEMM_H

#include <stddef.h>
#include <stdint.h>

/* Which f32 product the model uses for F32/F16/BF16 weights. Process-wide, fixed at
 * the first call (scratch sizes depend on it): the library's own kernels whenever the
 * CPU has a vector path (they beat OpenBLAS 0.3.21 on every machine measured,
 * doc/performance.md), else OpenBLAS when built with it. DIFFLM_GEMM=openblas|own in
 * the environment overrides. The choice never depends on timing, so results are
 * reproducible from run to run. */
enum dl_gemm_backend { DL_GEMM_OWN = 0, DL_GEMM_OPENBLAS = 1 };
int dl_gemm_backend(void);
const char *dl_gemm_backend_name(int backend);

/* Columns per call: one task of the model's products (model_weights.h DL_COL_TASK). */
#define DL_FGEMM_COLS 64
/* Elements of K per packed panel: 64 columns x 128 x 4 bytes = 32 KiB of stack. */
#define DL_FGEMM_KC 128

/* out[n][m] = (accumulate ? out[n][m] : 0), then s = fma(x[n][k], w[m][k], s) for
 * k = 0..K-1 in order, then + bias[m]; for m in [m0, m0 + mc), mc <= DL_FGEMM_COLS.
 * That fixed sequence of f32 operations per output is the definition: every path, tile
 * and thread count gives the same bits, and a row's result never depends on the
 * other rows of the batch.
 *   out: [N][ldo] out;  x: [N][ldx];  w: [M][K] of type wtype (F32, F16, BF16);
 *   bias: [M] or NULL.  path: an available enum dl_fpath (kernels/cpu.h). */
void dl_fgemm_cols(int path, float *out, int ldo, const float *x, int ldx, int N,
                   const void *w, uint32_t wtype, int K, int64_t m0, int mc,
                   const float *bias, int accumulate);

/* The same over a strided or transposed f32 weight (attention's keys and values):
 * ldw is the row stride of w; trans_w == 0: w is [M][ldw] (row m = output column m, as
 * above); trans_w != 0: w is [K][ldw] and column m of the product reads w[k][m].
 * Same definition and guarantees as dl_fgemm_cols. */
void dl_fgemm_cols_f32(int path, float *out, int ldo, const float *x, int ldx, int N,
                       const float *w, int ldw, int trans_w, int K, int64_t m0, int mc,
                       int accumulate);

/* The same product over a weight packed once (dl_fpanel_pack): panel holds this call's
 * columns m0 .. m0 + mc as [K][64] elements of wtype, so no packing is paid per call.
 * The same bits as dl_fgemm_cols over the unpacked weight.
 *   panel: dl_fpanel_bytes(wtype, K) bytes, 64-byte aligned;  out, x, bias as above */
void dl_fgemm_panel(int path, float *out, int ldo, const float *x, int ldx, int N,
                    const void *panel, uint32_t wtype, int K, int64_t m0, int mc,
                    const float *bias, int accumulate);

/* Bytes of one packed panel (64 columns of K elements of wtype); 0 for an unknown type. */
size_t dl_fpanel_bytes(uint32_t wtype, int64_t K);

/* panel[k][c] = w[m0 + c][k] as stored (F32, F16 or BF16; no widening) for c < mc, zero
 * for mc <= c < 64, k < K, on path (its vector copy where it has one: the same bytes).
 *   panel: [K][64] out;  w: [M][K] of wtype */
void dl_fpanel_pack(int path, void *panel, const void *w, uint32_t wtype, int64_t K,
                    int64_t m0, int mc);

/* Micro-kernels: out[r][c] (+)= sum over k < kc of x[r][k] * bp[k][c] for r < R rows and
 * c < cols (<= 64) columns, fma in k order, starting from out (zero: from 0, out not
 * read; the first block of a product that does not accumulate).
 *   out: [R][ldo] (in/)out;  x: [R][ldx];  bp: [kc][64] packed weight columns */
void dl_fkernel_scalar(float *out, int ldo, const float *x, int ldx, int N, const float *bp,
                       int kc, int cols, int zero);
#if defined(__x86_64__) && defined(__GNUC__)
void dl_fkernel_avx2(float *out, int ldo, const float *x, int ldx, int N, const float *bp,
                     int kc, int cols, int zero);
void dl_fkernel_avx512(float *out, int ldo, const float *x, int ldx, int N, const float *bp,
                       int kc, int cols, int zero);
/* The panel packing of the portable driver (gemm_f32.c), vectorized: bp[k][c] =
 * w[m0 + c][k0 + k] widened to f32 for c < mc, 0 for mc <= c < 64, k < kc.
 *   bp: [kc][64] out, 64-byte aligned;  w: rows of ldw elements of wtype (F32/F16/BF16) */
void dl_fpack_avx512(float *bp, const void *w, uint32_t wtype, size_t ldw, int64_t m0, int mc,
                     int k0, int kc);
/* dl_fpanel_pack vectorized (F32, F16, BF16): the same bytes. */
void dl_fpanel_pack_avx512(void *panel, const void *w, uint32_t wtype, int64_t K, int64_t m0,
                           int mc);
/* The transposed panel with vector moves (a memcpy per short row costs more than the
 * move): bp[k][c] = w[k0 + k][m0 + c] for c < mc, 0 for mc <= c < 64, k < kc.
 *   bp: [kc][64] out, 64-byte aligned;  w: rows of ldw floats */
void dl_fpack_trans_avx512(float *bp, const float *w, int ldw, int64_t m0, int mc, int k0,
                           int kc);
#endif

#endif

/* gemm_f32.c - driver of the own f32 product: panel packing (with F16/BF16 widening)
 * and the portable kernel. See gemm.h for the definition every path reproduces. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "kernels/types.h"

static atomic_int backend_choice = -1;

int dl_gemm_backend(void) {
    int b = atomic_load_explicit(&backend_choice, memory_order_relaxed);
    if (b >= 0)
        return b;
    b = dl_fpath_best() != DL_FPATH_SCALAR ? DL_GEMM_OWN : DL_GEMM_OPENBLAS;
    const char *env = getenv("DIFFLM_GEMM");
    if (env && !strcmp(env, "openblas"))
        b = DL_GEMM_OPENBLAS;
    else if (env && !strcmp(env, "own"))
        b = DL_GEMM_OWN;
#ifndef DL_HAVE_BLAS
    b = DL_GEMM_OWN;
#endif
    atomic_store_explicit(&backend_choice, b, memory_order_relaxed);
    return b;
}

const char *dl_gemm_backend_name(int backend) {
    return backend == DL_GEMM_OPENBLAS ? "openblas" : "own";
}

void dl_fkernel_scalar(float *out, int ldo, const float *x, int ldx, int N, const float *bp,
                       int kc, int cols, int zero) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < cols; c++) {
            float s = zero ? 0.0f : out[(size_t)n * ldo + c];
            for (int k = 0; k < kc; k++)
                s = fmaf(x[(size_t)n * ldx + k], bp[(size_t)k * DL_FGEMM_COLS + c], s);
            out[(size_t)n * ldo + c] = s;
        }
}

typedef void (*fkernel_fn)(float *, int, const float *, int, int, const float *, int, int, int);

static fkernel_fn kernel_for(int path) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (path == DL_FPATH_AVX512)
        return dl_fkernel_avx512;
    if (path == DL_FPATH_AVX2)
        return dl_fkernel_avx2;
#else
    (void)path;
#endif
    return dl_fkernel_scalar;
}

/* bp[k][c] = w[m0 + c][k0 + k] as f32, w's rows ldw elements of wtype apart (a float
 * type: one element per block, widened by its row's to_f32); columns past mc are zero. */
static void pack(float *bp, const void *w, uint32_t wtype, size_t ldw, int64_t m0, int mc,
                 int k0, int kc) {
    float row[DL_FGEMM_KC];
    const dl_type_info *ti = dl_type_get(wtype);
    size_t esize = ti->type_size;
    for (int c = 0; c < DL_FGEMM_COLS; c++) {
        if (c < mc) {
            const uint8_t *src = (const uint8_t *)w + ((size_t)(m0 + c) * ldw + k0) * esize;
            const float *f = (const float *)src;
            if (wtype != DL_TYPE_F32) {   /* F32 is read in place */
                ti->to_f32(row, src, kc);
                f = row;
            }
            for (int k = 0; k < kc; k++)
                bp[(size_t)k * DL_FGEMM_COLS + c] = f[k];
        } else {
            for (int k = 0; k < kc; k++)
                bp[(size_t)k * DL_FGEMM_COLS + c] = 0.0f;
        }
    }
}

/* Asks for the source of the next panel (weight rows m0 .. m0 + mc, elements k0 ..
 * k0 + kc) to be brought into L2 while the kernel works on the current one. Each row
 * segment is in another page (rows are K elements apart), which the hardware
 * prefetchers do not follow: without this, packing waits on memory for every row. */
static void prefetch_panel(const void *w, size_t esize, size_t ldw, int64_t m0, int mc, int k0,
                           int kc) {
#if defined(__GNUC__)
    size_t bytes = (size_t)kc * esize;
    for (int c = 0; c < mc; c++) {
        const char *src = (const char *)w + ((size_t)(m0 + c) * ldw + (size_t)k0) * esize;
        for (size_t b = 0; b < bytes; b += 64)
            __builtin_prefetch(src + b, 0, 3);
    }
#else
    (void)w; (void)esize; (void)ldw; (void)m0; (void)mc; (void)k0; (void)kc;
#endif
}

/* Asks for n bytes from p to be brought into L2. */
static void prefetch_bytes(const void *p, size_t n) {
#if defined(__GNUC__)
    for (size_t b = 0; b < n; b += 64)
        __builtin_prefetch((const char *)p + b, 0, 3);
#else
    (void)p; (void)n;
#endif
}

/* Activation rows per kernel call between two shares of the next panel's prefetches
 * (a multiple of both micro-tiles' 12 and 6 rows). */
#define PF_SLICE_ROWS 24

/* bp[k][c] = w[k0 + k][m0 + c] (a transposed f32 weight with row stride ldw). */
static void pack_trans(float *bp, const float *w, int ldw, int64_t m0, int mc, int k0, int kc) {
    for (int k = 0; k < kc; k++) {
        const float *src = w + (size_t)(k0 + k) * ldw + m0;
        float *dst = bp + (size_t)k * DL_FGEMM_COLS;
        memcpy(dst, src, (size_t)mc * sizeof(float));
        for (int c = mc; c < DL_FGEMM_COLS; c++)
            dst[c] = 0.0f;
    }
}

/* Every entry point: panels of w (rows ldw apart, or transposed when trans_w, f32 only;
 * or, with panel, packed already by dl_fpanel_pack) through the path's micro-kernel,
 * then the bias. */
static void fgemm(int path, float *out, int ldo, const float *x, int ldx, int N, const void *w,
                  uint32_t wtype, int ldw, int trans_w, const void *panel, int K, int64_t m0,
                  int mc, const float *bias, int accumulate) {
    const dl_type_info *ti = dl_type_get(wtype);
    if (N <= 0 || mc <= 0 || !ti || ti->product != DL_PRODUCT_F32)
        return;
    if (mc > DL_FGEMM_COLS)
        mc = DL_FGEMM_COLS;
    if (!dl_fpath_available(path))
        path = DL_FPATH_SCALAR;
    fkernel_fn kern = kernel_for(path);
    float *o = out + m0;
#if defined(__x86_64__) && defined(__GNUC__)
    const int v512 = path == DL_FPATH_AVX512;   /* the vector moves below */
#endif
    if (!accumulate && K <= 0)   /* no block to start the sums: an empty product is 0 */
        for (int n = 0; n < N; n++)
            memset(o + (size_t)n * ldo, 0, (size_t)mc * sizeof(float));
    float bp[DL_FGEMM_KC * DL_FGEMM_COLS] __attribute__((aligned(64)));
    const size_t row_bytes = DL_FGEMM_COLS * ti->type_size;   /* one k of a packed panel */
    for (int k0 = 0; k0 < K; k0 += DL_FGEMM_KC) {
        int kc = K - k0 < DL_FGEMM_KC ? K - k0 : DL_FGEMM_KC;
        const float *b = bp;
        if (panel) {
            /* packed once: rows k0 .. k0 + kc of the panel, read in place (F32) or
             * widened in one contiguous pass (the same values the packing gives) */
            const uint8_t *src = (const uint8_t *)panel + (size_t)k0 * row_bytes;
            if (wtype == DL_TYPE_F32)
                b = (const float *)src;
            else
                ti->to_f32(bp, src, (int64_t)kc * DL_FGEMM_COLS);
        } else if (trans_w) {
#if defined(__x86_64__) && defined(__GNUC__)
            if (v512)
                dl_fpack_trans_avx512(bp, w, ldw, m0, mc, k0, kc);
            else
#endif
                pack_trans(bp, w, ldw, m0, mc, k0, kc);
        } else {
#if defined(__x86_64__) && defined(__GNUC__)
            if (v512)
                dl_fpack_avx512(bp, w, wtype, (size_t)ldw, m0, mc, k0, kc);
            else
#endif
                pack(bp, w, wtype, (size_t)ldw, m0, mc, k0, kc);
        }
        /* the rows in slices, each after a share of the next panel's prefetches, so the
         * loads spread over the kernel's run instead of stalling it in one burst (rows
         * are independent: slicing them changes no result) */
        int k1 = k0 + DL_FGEMM_KC, kc1 = K - k1 < DL_FGEMM_KC ? K - k1 : DL_FGEMM_KC;
        int slices = trans_w || k1 >= K ? 1 : (N + PF_SLICE_ROWS - 1) / PF_SLICE_ROWS;
        for (int s = 0; s < slices; s++) {
            int n0 = s * PF_SLICE_ROWS, nr = slices == 1 ? N : N - n0 < PF_SLICE_ROWS ? N - n0 : PF_SLICE_ROWS;
            if (panel && k1 < K) {   /* the packed next block: contiguous, a share of it */
                size_t bytes = (size_t)kc1 * row_bytes, b0 = bytes * (size_t)s / (size_t)slices;
                prefetch_bytes((const uint8_t *)panel + (size_t)k1 * row_bytes + b0,
                               bytes * (size_t)(s + 1) / (size_t)slices - b0);
            } else if (!trans_w && k1 < K) {
                prefetch_panel(w, ti->type_size, (size_t)ldw, m0 + mc * s / slices,
                               mc * (s + 1) / slices - mc * s / slices, k1, kc1);
            }
            kern(o + (size_t)n0 * ldo, ldo, x + (size_t)n0 * ldx + k0, ldx, nr, b, kc, mc,
                 !accumulate && k0 == 0);
        }
    }
    if (bias)
        for (int n = 0; n < N; n++)
            for (int c = 0; c < mc; c++)
                o[(size_t)n * ldo + c] += bias[m0 + c];
}

void dl_fgemm_cols_f32(int path, float *out, int ldo, const float *x, int ldx, int N,
                       const float *w, int ldw, int trans_w, int K, int64_t m0, int mc,
                       int accumulate) {
    fgemm(path, out, ldo, x, ldx, N, w, DL_TYPE_F32, ldw, trans_w, NULL, K, m0, mc, NULL,
          accumulate);
}

void dl_fgemm_cols(int path, float *out, int ldo, const float *x, int ldx, int N,
                   const void *w, uint32_t wtype, int K, int64_t m0, int mc,
                   const float *bias, int accumulate) {
    fgemm(path, out, ldo, x, ldx, N, w, wtype, K, 0, NULL, K, m0, mc, bias, accumulate);
}

void dl_fgemm_panel(int path, float *out, int ldo, const float *x, int ldx, int N,
                    const void *panel, uint32_t wtype, int K, int64_t m0, int mc,
                    const float *bias, int accumulate) {
    fgemm(path, out, ldo, x, ldx, N, NULL, wtype, 0, 0, panel, K, m0, mc, bias, accumulate);
}

size_t dl_fpanel_bytes(uint32_t wtype, int64_t K) {
    const dl_type_info *ti = dl_type_get(wtype);
    return ti ? (size_t)K * DL_FGEMM_COLS * ti->type_size : 0;
}

/* panel[k][c] = w[m0 + c][k] for one element size (T: uint32_t or uint16_t) */
#define FPANEL_PACK(T)                                                                    \
    do {                                                                                  \
        T *dst = panel;                                                                   \
        for (int c = 0; c < DL_FGEMM_COLS; c++) {                                        \
            const T *src = (const T *)w + (size_t)(m0 + c) * (size_t)K;                   \
            for (int64_t k = 0; k < K; k++)                                               \
                dst[(size_t)k * DL_FGEMM_COLS + (size_t)c] = c < mc ? src[k] : 0;         \
        }                                                                                 \
    } while (0)

void dl_fpanel_pack(int path, void *panel, const void *w, uint32_t wtype, int64_t K,
                    int64_t m0, int mc) {
    if (wtype != DL_TYPE_F32 && wtype != DL_TYPE_F16 && wtype != DL_TYPE_BF16)
        return;
#if defined(__x86_64__) && defined(__GNUC__)
    if (path == DL_FPATH_AVX512 && dl_fpath_available(path)) {
        dl_fpanel_pack_avx512(panel, w, wtype, K, m0, mc);
        return;
    }
#else
    (void)path;
#endif
    /* row by row: sequential reads, writes 64 elements apart within a panel that stays
     * in L2; the elements are copied as stored (widening waits for the product) */
    if (wtype == DL_TYPE_F32)
        FPANEL_PACK(uint32_t);
    else
        FPANEL_PACK(uint16_t);
}

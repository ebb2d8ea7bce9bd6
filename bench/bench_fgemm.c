/* bench_fgemm - the own f32 product as a denoising step runs it: weights that come from
 * memory, not from a cache, and where its time goes (panel packing against the kernel).
 *
 *   bench_fgemm [-N ROWS] [-K K] [-M COLS] [-W WEIGHTS] [-r REPS] [--type f32|f16|bf16]
 *
 * W distinct weights of [M][K] (default 24: 277 MB of F32 at the FFN shape, several
 * times any L3) are multiplied in turn, one thread, tasks of 64 columns as the model
 * cuts them, so every panel is packed from memory as in a step. Then the same calls
 * split: the micro-kernel alone on one packed panel (its ceiling here) and the packing
 * alone. Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), best of REPS, so a
 * busy machine's preemption stays out of them (its cache and memory contention does
 * not). Rates count 2*N*M*K operations. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "difflm_internal.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *xalloc(size_t n) {
    void *p = aligned_alloc(64, (n + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "bench_fgemm: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

int main(int argc, char **argv) {
    int N = 128, K = 1024, M = 2816, W = 24, reps = 5;
    uint32_t type = DL_TYPE_F32;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "-N") && v) N = atoi(v), i++;
        else if (!strcmp(argv[i], "-K") && v) K = atoi(v), i++;
        else if (!strcmp(argv[i], "-M") && v) M = atoi(v), i++;
        else if (!strcmp(argv[i], "-W") && v) W = atoi(v), i++;
        else if (!strcmp(argv[i], "-r") && v) reps = atoi(v), i++;
        else if (!strcmp(argv[i], "--type") && v) {
            type = !strcmp(v, "f16") ? DL_TYPE_F16 : !strcmp(v, "bf16") ? DL_TYPE_BF16
                                                                          : DL_TYPE_F32;
            i++;
        } else {
            fprintf(stderr, "usage: bench_fgemm [-N ROWS] [-K K] [-M COLS] [-W WEIGHTS] "
                            "[-r REPS] [--type f32|f16|bf16]\n");
            return 2;
        }
    }
    if (N < 1 || K < 1 || M < 1 || W < 1 || reps < 1) {
        fprintf(stderr, "bench_fgemm: sizes must be positive\n");
        return 2;
    }
    int path = dl_fpath_best();
    size_t es = type == DL_TYPE_F32 ? 4 : 2, wbytes = (size_t)M * K * es;
    uint8_t *w = xalloc(wbytes * W);     /* [W][M][K] of type */
    float *x = xalloc((size_t)N * K * 4); /* [N][K] */
    float *out = xalloc((size_t)N * M * 4); /* [N][M] */
    for (size_t i = 0; i < wbytes * W / 2; i++)   /* finite values in every type */
        ((uint16_t *)w)[i] = (uint16_t)(0x3c00u ^ (i & 0xffu));
    for (size_t i = 0; i < (size_t)N * K; i++)
        x[i] = (float)(i % 7) * 0.1f;
    printf("path %s, %s weights, out[%d][%d] = x[%d][%d] . w[%d][%d]^T, %d weights "
           "(%.0f MB), 1 thread, thread CPU time\n",
           dl_fpath_name(path), dl_type_get(type)->name, N, M, N, K, M, K, W,
           (double)wbytes * W / 1e6);
    double gflop = 2.0 * N * (double)K * M / 1e9, best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = cpu_now();
        for (int j = 0; j < W; j++)
            for (int m0 = 0; m0 < M; m0 += DL_FGEMM_COLS)
                dl_fgemm_cols(path, out, M, x, K, N, w + wbytes * j, type, K, m0,
                              M - m0 < DL_FGEMM_COLS ? M - m0 : DL_FGEMM_COLS, NULL, 0);
        double t = (cpu_now() - t0) / W;
        best = t < best ? t : best;
    }
    printf("%-34s %8.2f ms %8.1f GFLOP/s\n", "product (weights from memory)", best * 1e3,
           gflop / best);
#if defined(__x86_64__) && defined(__GNUC__)
    if (path == DL_FPATH_AVX512) {
        static float bp[DL_FGEMM_KC * DL_FGEMM_COLS] __attribute__((aligned(64)));
        double bk = 1e30, bpk = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = cpu_now();
            for (int m0 = 0; m0 < M; m0 += DL_FGEMM_COLS)
                for (int k0 = 0; k0 < K; k0 += DL_FGEMM_KC)
                    dl_fkernel_avx512(out + m0, M, x + k0, K, N, bp,
                                      K - k0 < DL_FGEMM_KC ? K - k0 : DL_FGEMM_KC,
                                      M - m0 < DL_FGEMM_COLS ? M - m0 : DL_FGEMM_COLS, 0);
            double t = cpu_now() - t0;
            bk = t < bk ? t : bk;
            t0 = cpu_now();
            for (int j = 0; j < W; j++)
                for (int m0 = 0; m0 < M; m0 += DL_FGEMM_COLS)
                    for (int k0 = 0; k0 < K; k0 += DL_FGEMM_KC)
                        dl_fpack_avx512(bp, w + wbytes * j, type, (size_t)K, m0,
                                        M - m0 < DL_FGEMM_COLS ? M - m0 : DL_FGEMM_COLS, k0,
                                        K - k0 < DL_FGEMM_KC ? K - k0 : DL_FGEMM_KC);
            t = (cpu_now() - t0) / W;
            bpk = t < bpk ? t : bpk;
        }
        printf("%-34s %8.2f ms %8.1f GFLOP/s\n", "micro-kernel alone (one panel)", bk * 1e3,
               gflop / bk);
        printf("%-34s %8.2f ms\n", "packing alone (from memory)", bpk * 1e3);
    }
#endif
    free(w);
    free(x);
    free(out);
    return 0;
}

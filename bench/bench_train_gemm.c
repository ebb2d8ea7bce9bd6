/* bench_train_gemm - the trainer's products (tools/train/gemm_par.h) on every kernel path,
 * against the machine's f32 ceiling, in one run.
 *
 *   bench_train_gemm [-t THREADS] [-N ROWS] [-s SECONDS]
 *
 * The shapes are the default model's (doc/default-model.md): N rows of activations
 * (a batch of 16 x 256 tokens by default) through the feed-forward (E 256 -> F 768 and
 * back), the query projection (256 -> 256) and the tied output layer (256 -> vocab 4096),
 * each as a forward product, its input gradient (dx) and its weight gradient (dw). Paths:
 * f32 (the library's own GEMM), and bf16 operands with f32 sums on the portable kernel,
 * AVX512_BF16 and AMX, where the CPU has them. Rates count 2*N*K*M operations per
 * product; best of repeated runs. The FMA ceiling is f32: bf16 paths can exceed it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "ceiling.h"
#include "difflm_internal.h"
#include "gemm_par.h"

typedef struct shape {
    const char *name;
    int K, M;
} shape;

typedef struct prod {
    const tr_gemm *g;
    int kind, N, K, M;   /* kind 0: forward, 1: dx, 2: dw */
    const float *x, *w, *dout;
    float *out, *dx, *dw;
} prod;

static void run(void *arg) {
    prod *p = arg;
    if (p->kind == 0)
        tr_matmul_par(p->g, p->out, p->x, p->w, 0, p->N, p->K, p->M);
    else if (p->kind == 1)
        tr_matmul_dx_par(p->g, p->dx, p->dout, p->w, 1, p->N, p->K, p->M);
    else
        tr_matmul_dw_par(p->g, p->dw, p->dout, p->x, p->N, p->K, p->M);
}

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

int main(int argc, char **argv) {
    int threads = 0, N = 4096;
    double secs = 0.5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-t")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-N")) N = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-s")) secs = atof(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_train_gemm [-t THREADS] [-N ROWS] [-s SECONDS]\n");
            return 2;
        }
    }
    if (N < 1) {
        fprintf(stderr, "bench_train_gemm: N must be positive\n");
        return 2;
    }
    static const shape shapes[] = { { "ffn up   256->768", 256, 768 },
                                    { "ffn down 768->256", 768, 256 },
                                    { "wq       256->256", 256, 256 },
                                    { "output   256->4096", 256, 4096 } };
    enum { NSHAPE = sizeof shapes / sizeof shapes[0], MAXD = 4096 };
    dl_err err;
    tr_gemm g = { 0 };
    if (dl_pool_create(&g.pool, threads, &err)) {
        fprintf(stderr, "bench_train_gemm: %s\n", err.msg);
        return 1;
    }
    threads = dl_pool_threads(g.pool);
    g.scratch = dl_aligned_alloc(sizeof(float) * TR_GEMM_SCRATCH * (size_t)threads);
    int maxd = N > MAXD ? N : MAXD;
    g.pack_a = dl_aligned_alloc(sizeof(uint32_t) * tr_gemm_pack_words(maxd));
    g.pack_b = dl_aligned_alloc(sizeof(uint32_t) * tr_gemm_pack_words(maxd));
    float *x = dl_aligned_alloc(sizeof(float) * (size_t)N * MAXD);
    float *w = dl_aligned_alloc(sizeof(float) * (size_t)MAXD * MAXD);
    float *dout = dl_aligned_alloc(sizeof(float) * (size_t)N * MAXD);
    float *out = dl_aligned_alloc(sizeof(float) * (size_t)N * MAXD);
    float *dx = dl_aligned_alloc(sizeof(float) * (size_t)N * MAXD);
    float *dw = dl_aligned_alloc(sizeof(float) * (size_t)MAXD * MAXD);
    if (!g.scratch || !g.pack_a || !g.pack_b || !x || !w || !dout || !out || !dx || !dw) {
        fprintf(stderr, "bench_train_gemm: out of memory\n");
        return 1;
    }
    uint64_t s = 1;
    for (size_t i = 0; i < (size_t)N * MAXD; i++) {
        x[i] = frand(&s);
        dout[i] = frand(&s) * 0.01f;
    }
    for (size_t i = 0; i < (size_t)MAXD * MAXD; i++)
        w[i] = frand(&s) * 0.05f;
    memset(dx, 0, sizeof(float) * (size_t)N * MAXD);
    memset(dw, 0, sizeof(float) * (size_t)MAXD * MAXD);

    char feat[256];
    printf("cpu features: %s\nthreads: %d, N %d rows\n", dl_cpu_features_str(feat, sizeof feat),
           threads, N);
    double peak = bench_peak_fma(g.pool);
    printf("peak f32 FMA (register loop): %.1f GFLOP/s\n\n", peak);

    /* path -1: f32; 0 .. best: bf16 on that kernel */
    int best = dl_bf16_best();
    printf("%-20s %-5s %10s", "product", "", "f32");
    for (int path = 0; path <= best; path++)
        printf(" %12s", dl_bf16_path_name(path));
    printf("   (GFLOP/s; last column / f32, / ceiling)\n");
    double total_t[4] = { 0 }, total_flop = 0;
    static const char *const kinds[] = { "fwd", "dx", "dw" };
    for (int si = 0; si < NSHAPE; si++)
        for (int kind = 0; kind < 3; kind++) {
            const shape *sh = &shapes[si];
            prod p = { &g, kind, N, sh->K, sh->M, x, w, dout, out, dx, dw };
            double flop = 2.0 * N * sh->K * (double)sh->M, gf[4] = { 0 };
            total_flop += flop;
            printf("%-20s %-5s", sh->name, kinds[kind]);
            for (int path = -1; path <= best; path++) {
                g.bf16 = path >= 0;
                g.bf16_path = path >= 0 ? path : 0;
                double t = bench_best(run, &p, secs, 3);
                total_t[path + 1] += t;
                gf[path + 1] = flop / t * 1e-9;
                printf(" %*.1f", path < 0 ? 10 : 12, gf[path + 1]);
            }
            printf("   %.2fx, %.2fx\n", gf[best + 1] / gf[0], peak > 0 ? gf[best + 1] / peak : 0);
        }
    printf("%-26s", "all twelve");
    for (int path = -1; path <= best; path++)
        printf(" %*.1f", path < 0 ? 10 : 12, total_flop / total_t[path + 1] * 1e-9);
    printf("   %.2fx, %.2fx\n", total_t[0] / total_t[best + 1],
           peak > 0 ? total_flop / total_t[best + 1] * 1e-9 / peak : 0);
    dl_aligned_free(g.scratch);
    dl_aligned_free(g.pack_a);
    dl_aligned_free(g.pack_b);
    dl_aligned_free(x);
    dl_aligned_free(w);
    dl_aligned_free(dout);
    dl_aligned_free(out);
    dl_aligned_free(dx);
    dl_aligned_free(dw);
    dl_pool_free(g.pool);
    return 0;
}

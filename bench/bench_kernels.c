/* bench_kernels - the machine's ceiling and the matrix products on it.
 *
 *   bench_kernels [-t THREADS] [-N ROWS] [-K K] [-M COLS] [-s SECONDS]
 *
 * Reports, on THREADS threads (default: all cores):
 *  - peak f32 FMA throughput of a register-only loop (AVX-512 when present, else AVX2);
 *  - f32 products out[N][M] = x[N][K] w[M][K]^T: OpenBLAS cblas_sgemm (its own threads;
 *    its core name printed: Debian's 0.3.21 misdetects recent CPUs) and the library's own
 *    kernels (every available path, tasks of 64 columns on the pool);
 *  - the same product with weights in F16, BF16 and every quantized format, with the
 *    activations quantized on the fly as the model does (included in the time);
 *  - the bf16 precision mode's product over F32, F16 and BF16 weights on the best bf16
 *    path (activations rounded to bf16 once per product, included in the time).
 * Rates count 2*N*M*K operations per product. Best of repeated runs. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "ceiling.h"
#include "difflm_internal.h"

#ifdef DL_HAVE_BLAS
#include <cblas.h>
#endif

typedef struct prod {
    dl_pool *pool;
    int threads, N, K, M, path;
    uint32_t type;
    const float *x;
    const void *w;
    dl_qact *xa;
    float *out;
} prod;

static void fgemm_task(void *ctx, int task, int worker) {
    (void)worker;
    prod *p = ctx;
    int m0 = task * DL_FGEMM_COLS, mc = p->M - m0 < DL_FGEMM_COLS ? p->M - m0 : DL_FGEMM_COLS;
    dl_fgemm_cols(p->path, p->out, p->M, p->x, p->K, p->N, p->w, p->type, p->K, m0, mc, NULL, 0);
}

static void qact_task(void *ctx, int task, int worker) {
    (void)worker;
    prod *p = ctx;
    for (int n = task * 16; n < p->N && n < task * 16 + 16; n++)
        dl_qact_row(p->xa + (size_t)n * (p->K / 32), p->x + (size_t)n * p->K, p->type, p->K);
}

static void qgemm_task(void *ctx, int task, int worker) {
    (void)worker;
    prod *p = ctx;
    int m0 = task * DL_QGEMM_COLS, mc = p->M - m0 < DL_QGEMM_COLS ? p->M - m0 : DL_QGEMM_COLS;
    dl_qgemm_cols(p->path, p->out, p->M, p->xa, p->N, p->w, p->type, p->K, m0, mc, NULL, 0);
}

static void run_fgemm(void *arg) {
    prod *p = arg;
    dl_pool_run(p->pool, (p->M + DL_FGEMM_COLS - 1) / DL_FGEMM_COLS, fgemm_task, p);
}

static void run_qgemm(void *arg) {
    prod *p = arg;
    dl_pool_run(p->pool, (p->N + 15) / 16, qact_task, p);
    dl_pool_run(p->pool, (p->M + DL_QGEMM_COLS - 1) / DL_QGEMM_COLS, qgemm_task, p);
}

/* a bf16-mode product as a context runs it (model_weights.h dl_weight_matmul_bf16) */
typedef struct bprod {
    dl_pool *pool;
    int threads, N;
    dl_weight w;
    const float *x;
    float *out, *scratch;
    size_t cap;
} bprod;

static void run_bgemm(void *arg) {
    bprod *b = arg;
    dl_weight_matmul_bf16(b->out, b->x, &b->w, NULL, 0, b->N, (int)b->w.ne1, b->scratch, b->cap,
                          b->pool, b->threads);
}

#ifdef DL_HAVE_BLAS
static void run_blas(void *arg) {
    prod *p = arg;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, p->N, p->M, p->K, 1.0f, p->x, p->K,
                (const float *)p->w, p->K, 0.0f, p->out, p->M);
}
#endif

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

int main(int argc, char **argv) {
    int threads = 0, N = 512, K = 1024, M = 2816;
    double secs = 1.0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-t")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-N")) N = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-K")) K = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-M")) M = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-s")) secs = atof(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_kernels [-t THREADS] [-N ROWS] [-K K] [-M COLS] [-s SECONDS]\n");
            return 2;
        }
    }
    if (K % 256 != 0 || N < 1 || M < 1) {
        fprintf(stderr, "bench_kernels: K must be a multiple of 256, N and M positive\n");
        return 2;
    }
    dl_pool *pool;
    dl_err err;
    if (dl_pool_create(&pool, threads, &err)) {
        fprintf(stderr, "bench_kernels: %s\n", err.msg);
        return 1;
    }
    threads = dl_pool_threads(pool);
    char feat[256];
    printf("cpu features: %s\nthreads: %d\n", dl_cpu_features_str(feat, sizeof feat), threads);
#ifdef DL_HAVE_BLAS
    printf("openblas: %s (core %s)\n", openblas_get_config(), openblas_get_corename());
#endif

    /* ceiling */
    double peak = bench_peak_fma(pool);
    if (peak > 0)
        printf("peak f32 FMA (%s, register loop): %.1f GFLOP/s\n",
               dl_fpath_available(DL_FPATH_AVX512) ? "avx512" : "avx2", peak);

    size_t nx = (size_t)N * K, nw = (size_t)M * K;
    float *x = dl_aligned_alloc(nx * sizeof(float)), *wf = dl_aligned_alloc(nw * sizeof(float));
    float *out = dl_aligned_alloc((size_t)N * M * sizeof(float));
    void *wq = dl_aligned_alloc(nw * sizeof(float));
    dl_qact *xa = dl_aligned_alloc((size_t)N * (K / 32) * sizeof(dl_qact));
    if (!x || !wf || !out || !wq || !xa) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        return 1;
    }
    uint64_t s = 1;
    for (size_t i = 0; i < nx; i++)
        x[i] = frand(&s);
    for (size_t i = 0; i < nw; i++)
        wf[i] = frand(&s) * 0.05f;
    double flop = 2.0 * N * M * (double)K;
    printf("\nproduct out[%d][%d] = x[%d][%d] . w[%d][%d]^T (%.2f GFLOP)\n", N, M, N, K, M, K,
           flop / 1e9);
    printf("%-28s %10s %10s %8s\n", "kernel", "ms", "GFLOP/s", "of peak");
    prod p = { pool, threads, N, K, M, 0, DL_TYPE_F32, x, wf, xa, out };
    double best_f32 = 0;
#ifdef DL_HAVE_BLAS
    {
        double t = bench_best_openblas(run_blas, &p, secs, 3, threads);
        if (t > 0) {
            printf("%-28s %10.2f %10.1f %7.0f%%\n", "openblas sgemm f32", t * 1e3,
                   flop / t / 1e9, peak > 0 ? 100 * flop / t / 1e9 / peak : 0);
            best_f32 = flop / t / 1e9;
        }
    }
#endif
    for (int path = 0; path < DL_FPATH_COUNT; path++) {
        if (!dl_fpath_available(path) || (path == DL_FPATH_SCALAR && dl_fpath_best() != path))
            continue;
        p.path = path;
        double t = bench_best(run_fgemm, &p, secs, 3);
        char name[64];
        snprintf(name, sizeof name, "own f32 (%s)", dl_fpath_name(path));
        printf("%-28s %10.2f %10.1f %7.0f%%\n", name, t * 1e3, flop / t / 1e9,
               peak > 0 ? 100 * flop / t / 1e9 / peak : 0);
        best_f32 = flop / t / 1e9 > best_f32 ? flop / t / 1e9 : best_f32;
    }
    printf("best f32 product: %.1f GFLOP/s\n", best_f32);

    static const uint32_t half_types[] = { DL_TYPE_F16, DL_TYPE_BF16 };
    uint16_t *wh = wq;
    for (int h = 0; h < 2; h++) {
        for (size_t i = 0; i < nw; i++)
            wh[i] = half_types[h] == DL_TYPE_F16 ? dl_f32_to_f16(wf[i]) : dl_f32_to_bf16(wf[i]);
        p.type = half_types[h];
        p.w = wq;
        p.path = dl_fpath_best();
        double t = bench_best(run_fgemm, &p, secs, 3);
        char name[64], tb[16];
        snprintf(name, sizeof name, "own %s (%s)", dl_type_name(p.type, tb, sizeof tb),
                 dl_fpath_name(p.path));
        printf("%-28s %10.2f %10.1f %7.0f%%\n", name, t * 1e3, flop / t / 1e9,
               peak > 0 ? 100 * flop / t / 1e9 / peak : 0);
    }

    /* the bf16 precision mode (model_weights_bf16.c: activations packed once per
     * product, then the bf16 kernel per 64-column task) on the best bf16 path */
    static const uint32_t bf16_types[] = { DL_TYPE_F32, DL_TYPE_F16, DL_TYPE_BF16 };
    for (int h = 0; h < 3; h++) {
        for (size_t i = 0; i < nw && h > 0; i++)
            wh[i] = bf16_types[h] == DL_TYPE_F16 ? dl_f32_to_f16(wf[i]) : dl_f32_to_bf16(wf[i]);
        bprod b = { pool, threads, N, { h > 0 ? (const void *)wq : wf, bf16_types[h], K, M, NULL }, x,
                    out, NULL, 0 };
        b.cap = dl_weight_bf16_scratch_floats(&b.w, N);
        b.scratch = dl_aligned_alloc(b.cap * sizeof(float));
        if (!b.scratch)
            break;
        double t = bench_best(run_bgemm, &b, secs, 3);
        char name[64], tb[16];
        snprintf(name, sizeof name, "bf16 mode %s (%s)", dl_type_name(bf16_types[h], tb, sizeof tb),
                 dl_bf16_path_name(dl_bf16_best()));
        printf("%-28s %10.2f %10.1f %7.0f%%\n", name, t * 1e3, flop / t / 1e9,
               peak > 0 ? 100 * flop / t / 1e9 / peak : 0);
        dl_aligned_free(b.scratch);
    }

    /* every type the integer product reads, from the type table (kernels/types.h) */
    uint32_t qtypes[DL_TYPE_ID_END];
    size_t n_qtypes = 0;
    for (uint32_t t = 0; t < DL_TYPE_ID_END; t++)
        if (dl_quant_type_supported(t))
            qtypes[n_qtypes++] = t;
    for (size_t t = 0; t < n_qtypes; t++) {
        size_t rb = dl_row_bytes(qtypes[t], K);
        for (int m = 0; m < M; m++)
            dl_quantize_row(qtypes[t], (uint8_t *)wq + (size_t)m * rb, wf + (size_t)m * K, K);
        p.type = qtypes[t];
        p.w = wq;
        for (int path = DL_QPATH_COUNT - 1; path >= 0; path--) {
            if (!dl_qpath_available(path))
                continue;
            if (path == DL_QPATH_SCALAR && dl_qpath_best() != path)
                continue;   /* the portable loops are a reference, far too slow to time here */
            if (path != dl_qpath_best() && qtypes[t] != DL_TYPE_Q8_0 && qtypes[t] != DL_TYPE_Q4_K)
                continue;   /* slower paths: two representative formats */
            p.path = path;
            double tm = bench_best(run_qgemm, &p, secs, 3);
            char name[64], tb[16];
            /* a path whose kernel for this type is another path's (Q6_K on AMX) says so */
            const dl_type_info *ti = dl_type_get(p.type);
            int same = path == DL_QPATH_AMX_INT8 &&
                       ti->qkernel[path] == ti->qkernel[DL_QPATH_AVX512_VNNI];
            snprintf(name, sizeof name, "own %s (%s%s)", dl_type_name(p.type, tb, sizeof tb),
                     dl_qpath_name(path), same ? ": vnni" : "");
            printf("%-28s %10.2f %10.1f %7.0f%%\n", name, tm * 1e3, flop / tm / 1e9,
                   peak > 0 ? 100 * flop / tm / 1e9 / peak : 0);
        }
    }
    dl_aligned_free(x);
    dl_aligned_free(wf);
    dl_aligned_free(out);
    dl_aligned_free(wq);
    dl_aligned_free(xa);
    dl_pool_free(pool);
    return 0;
}

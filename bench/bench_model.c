/* bench_model - time per denoising step per weight type, against the machine's ceiling
 * measured in the same run.
 *
 *   bench_model [-t THREADS] [--dir DIR] [--canvas 128,512] [--types f32,f16,...]
 *               [--default PATH] [-s SECONDS]
 *
 * 1. Ceiling: a peak f32 FMA loop on every thread; the best f32 product at the model's
 *    FFN shape (512 x 1024 x 2816), OpenBLAS (its own threads) and the own kernels.
 * 2. A LLaDA-shaped model (d 1024, 12 layers, 16 heads, ff 2816, vocab 4096: 154M matrix
 *    parameters, the shape of doc/performance.md, "llama.cpp baseline") is written by the project's GGUF writer
 *    in F32, F16 and BF16, and converted by tools/difflm-quantize to Q8_0, Q4_0, Q4_K_M,
 *    Q5_K_M and Q6_K (files kept in DIR, reused by later runs).
 * 3. Each file is measured in a fresh process (so peak RSS is its own): one step = a
 *    full forward over the canvas + the head for a block of 32 rows, best of repeated
 *    steps, on a pool of THREADS threads, interleaved with spans of the same length
 *    running the own f32 product at the model's FFN shape in a forked process ("gemm
 *    now", best span: the machine is shared, so the ceiling is re-measured under the
 *    same load and the same sampling). Reported: ms per step, GFLOP/s
 *    (2 x matrix parameters x tokens + attention 4 x T^2 x head_dim x heads per layer
 *    + the head), fraction of "gemm now" and of the FMA peak, canvas tokens per
 *    second, peak RSS against file size + arena.
 * 4. The project's default model (models/difflm-default.gguf) the same way, in its own
 *    type and Q8_0. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "ceiling.h"
#include "difflm_internal.h"
#include "model_tiny.h"

#ifdef DL_HAVE_BLAS
#include <cblas.h>
#endif

#ifndef DL_QUANTIZE_PATH
#define DL_QUANTIZE_PATH "difflm-quantize"
#endif
#ifndef DL_DEFAULT_MODEL_PATH
#define DL_DEFAULT_MODEL_PATH "models/difflm-default.gguf"
#endif

#define HEAD_ROWS 32
#define MAX_CANVAS 8

/* GFLOP/s of the own f32 product (pool) at the model's FFN shape (512 x E x F), over
 * a span of secs seconds; measured next to each step so both see the same load. */
static double gemm_now(dl_pool *pool, int E, int F, double secs);

typedef struct gemm_args {
    int threads, E, F;
    double secs;
} gemm_args;

static double gemm_child(void *p) {
    const gemm_args *a = p;
    dl_pool *pool = NULL;
    dl_err e = { 0 };
    double g = dl_pool_create(&pool, a->threads, &e) == 0 ? gemm_now(pool, a->E, a->F, a->secs) : 0;
    dl_pool_free(pool);
    return g;
}

/* gemm_now in a forked process with its own pool, so its buffers never count in this
 * process's peak RSS. */
static double gemm_forked(int threads, int E, int F, double secs) {
    gemm_args a = { threads, E, F, secs };
    return bench_forked(gemm_child, &a);
}

/* --- child: one model file, all canvas sizes */

typedef struct step_arg {
    dl_model *m;
    void *scratch, *hscratch;
    int32_t *tok, *rows;
    float *hidden, *logits;
    int T;
} step_arg;

static void one_step(void *p) {
    step_arg *a = p;
    dl_err e = { 0 };
    if (dl_model_forward(a->m, a->scratch, a->tok, a->T, a->hidden, NULL, &e) != 0) {
        fprintf(stderr, "bench_model: forward: %s\n", e.msg);
        exit(1);
    }
    dl_model_logits(a->m, a->hscratch, a->hidden, a->rows, HEAD_ROWS, a->logits);
}

static double step_gflop(const dl_hparams *hp, int T) {
    double E = hp->n_embd, hd = hp->head_dim, F = hp->n_ff;
    double per_tok = 2.0 * (E * hd * hp->n_head * 2 + E * hd * hp->n_head_kv * 2 + 3 * E * F);
    double attn = 4.0 * (double)T * T * hd * hp->n_head;
    return (hp->n_layer * (per_tok * T + attn) + 2.0 * HEAD_ROWS * E * hp->n_vocab) / 1e9;
}

static int child(const char *path, const int *canvas, int n_canvas, int threads, double secs) {
    dl_err e = { 0 };
    dl_gguf *g = NULL;
    dl_model *m = NULL;
    dl_pool *pool = NULL;
    if (dl_gguf_open(&g, path, &e) || dl_model_load(&m, g, NULL, &e) ||
        dl_pool_create(&pool, threads, &e)) {
        fprintf(stderr, "bench_model: %s: %s\n", path, e.msg);
        return 1;
    }
    m->pool = pool;
    m->n_threads = dl_pool_threads(pool);
    struct stat st;
    double file_mib = stat(path, &st) == 0 ? (double)st.st_size / (1 << 20) : 0;
    int Tmax = 0;
    for (int i = 0; i < n_canvas; i++)
        Tmax = canvas[i] > Tmax ? canvas[i] : Tmax;
    if (Tmax > m->hp.n_ctx_train)
        Tmax = m->hp.n_ctx_train;
    size_t fs = dl_model_scratch_size(m, Tmax), hs = dl_model_logits_scratch_size(m, HEAD_ROWS);
    size_t hb = (size_t)Tmax * m->hp.n_embd * 4, lb = (size_t)HEAD_ROWS * m->hp.n_vocab * 4;
    double arena_mib = (double)(fs + hs + hb + lb) / (1 << 20);
    step_arg a = { m, dl_aligned_alloc(fs), dl_aligned_alloc(hs), malloc((size_t)Tmax * 4),
                   malloc(HEAD_ROWS * 4), dl_aligned_alloc(hb), dl_aligned_alloc(lb), 0 };
    if (!a.scratch || !a.hscratch || !a.tok || !a.rows || !a.hidden || !a.logits) {
        fprintf(stderr, "bench_model: out of memory\n");
        return 1;
    }
    for (int i = 0; i < Tmax; i++)
        a.tok[i] = (int32_t)((i * 2654435761u) % (unsigned)m->hp.n_vocab);
    for (int i = 0; i < HEAD_ROWS; i++)
        a.rows[i] = i % Tmax;
    for (int i = 0; i < n_canvas; i++) {
        if (i > 0 && canvas[i - 1] >= Tmax)
            break;   /* the model's context is shorter: that size was measured already */
        a.T = canvas[i] > Tmax ? Tmax : canvas[i];
        /* steps and spans of the f32 product of the same length, interleaved, best of
         * each: the machine is shared, and both see the same load this way */
        double t = 1e30, gemm = 0, start = bench_now();
        one_step(&a);
        for (int rep = 0; rep < 3 || bench_now() - start < secs; rep++) {
            double t0 = bench_now();
            one_step(&a);
            double ts = bench_now() - t0;
            t = ts < t ? ts : t;
            double gs = gemm_forked(threads, m->hp.n_embd, m->hp.n_ff, ts);
            gemm = gs > gemm ? gs : gemm;
            if (rep >= 9)
                break;
        }
        double gf = step_gflop(&m->hp, a.T);
        /* one line per canvas for the parent: T s gflop file arena rss gemm */
        printf("R %d %.6f %.6f %.3f %.3f %.3f %.3f\n", a.T, t, gf, file_mib, arena_mib,
               bench_peak_rss_mib(), gemm);
        fflush(stdout);
    }
    dl_aligned_free(a.scratch);
    dl_aligned_free(a.hscratch);
    free(a.tok);
    free(a.rows);
    dl_aligned_free(a.hidden);
    dl_aligned_free(a.logits);
    dl_pool_free(pool);
    dl_model_free(m);
    dl_gguf_close(g);
    return 0;
}

/* --- parent */

typedef struct result {
    int T;
    double t, gf, file, arena, rss, gemm;
} result;

/* Runs this program as a child on one file; returns the number of results read. */
static int measure(const char *self, const char *path, const char *canvas_arg, int threads,
                   double secs, result *res) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' --child '%s' --canvas %s -t %d -s %g", self, path,
             canvas_arg, threads, secs);
    FILE *p = popen(cmd, "r");
    if (!p)
        return 0;
    int n = 0;
    char line[512];
    while (fgets(line, sizeof line, p) && n < MAX_CANVAS) {
        result r;
        if (sscanf(line, "R %d %lf %lf %lf %lf %lf %lf", &r.T, &r.t, &r.gf, &r.file, &r.arena,
                   &r.rss, &r.gemm) == 7)
            res[n++] = r;
    }
    pclose(p);
    return n;
}

static int run_quantize(const char *in, const char *out, const char *type, int threads) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' -t %d '%s' '%s' %s > /dev/null", DL_QUANTIZE_PATH, threads,
             in, out, type);
    return system(cmd);
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

typedef struct prod {
    dl_pool *pool;
    int N, K, M, path;
    const float *x, *w;
    float *out;
} prod;

static void fgemm_task(void *ctx, int task, int worker) {
    (void)worker;
    prod *p = ctx;
    int m0 = task * DL_FGEMM_COLS, mc = p->M - m0 < DL_FGEMM_COLS ? p->M - m0 : DL_FGEMM_COLS;
    dl_fgemm_cols(p->path, p->out, p->M, p->x, p->K, p->N, p->w, DL_TYPE_F32, p->K, m0, mc,
                  NULL, 0);
}

static void run_fgemm(void *arg) {
    prod *p = arg;
    dl_pool_run(p->pool, (p->M + DL_FGEMM_COLS - 1) / DL_FGEMM_COLS, fgemm_task, p);
}

static double gemm_now(dl_pool *pool, int E, int F, double secs) {
    int N = 512, K = E, M = F;
    float *x = dl_aligned_alloc((size_t)N * K * 4), *w = dl_aligned_alloc((size_t)M * K * 4);
    float *out = dl_aligned_alloc((size_t)N * M * 4);
    double r = 0;
    if (x && w && out) {
        /* real-looking values: all-zero operands run measurably faster on some cores */
        for (size_t i = 0; i < (size_t)N * K; i++)
            x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        for (size_t i = 0; i < (size_t)M * K; i++)
            w[i] = (float)((i * 104729) % 1000) / 20000.0f - 0.025f;
        prod p = { pool, N, K, M, dl_fpath_best(), x, w, out };
        run_fgemm(&p);   /* warm-up */
        /* the aggregate rate over a span as long as a step: the same sampling as the step's */
        int reps = 0;
        double t0 = bench_now(), t;
        do {
            run_fgemm(&p);
            reps++;
        } while ((t = bench_now() - t0) < secs);
        r = 2.0 * N * K * M * reps / 1e9 / t;
    }
    dl_aligned_free(x);
    dl_aligned_free(w);
    dl_aligned_free(out);
    return r;
}

#ifdef DL_HAVE_BLAS
static void run_blas(void *arg) {
    prod *p = arg;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, p->N, p->M, p->K, 1.0f, p->x, p->K,
                p->w, p->K, 0.0f, p->out, p->M);
}
#endif

/* "of gemm": against the own f32 product measured around this very step (child);
 * "of peak": against the FMA loop measured at the start. */
static void print_rows(const char *name, const result *r, int n, double peak) {
    for (int i = 0; i < n; i++) {
        double gfs = r[i].gf / r[i].t;
        printf("%-10s %6d %9.1f %9.1f %9.1f %8.0f%% %7.0f%% %9.0f %8.1f %8.1f %7.1f %6.2f\n",
               name, r[i].T, r[i].t * 1e3, gfs, r[i].gemm,
               r[i].gemm > 0 ? 100 * gfs / r[i].gemm : 0, peak > 0 ? 100 * gfs / peak : 0,
               r[i].T / r[i].t, r[i].rss, r[i].file, r[i].arena,
               r[i].rss / (r[i].file + r[i].arena));
    }
    fflush(stdout);
}

static void header(void) {
    printf("%-10s %6s %9s %9s %9s %9s %8s %9s %8s %8s %7s %6s\n", "type", "canvas", "ms/step",
           "GFLOP/s", "gemm now", "of gemm", "of peak", "tok/s", "rss MiB", "file MiB",
           "arena", "ratio");
}

int main(int argc, char **argv) {
    int threads = 0;
    const char *dir = "bench-models", *canvas_arg = "128,512", *types_arg = NULL;
    const char *def_model = NULL, *child_path = NULL;
    double secs = 2.0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "-t") && v) threads = atoi(v), i++;
        else if (!strcmp(argv[i], "--dir") && v) dir = v, i++;
        else if (!strcmp(argv[i], "--canvas") && v) canvas_arg = v, i++;
        else if (!strcmp(argv[i], "--types") && v) types_arg = v, i++;
        else if (!strcmp(argv[i], "--default") && v) def_model = v, i++;
        else if (!strcmp(argv[i], "--child") && v) child_path = v, i++;
        else if (!strcmp(argv[i], "-s") && v) secs = atof(v), i++;
        else {
            fprintf(stderr, "usage: bench_model [-t THREADS] [--dir DIR] [--canvas 128,512] "
                            "[--types f32,q8_0,...] [--default PATH] [-s SECONDS]\n");
            return 2;
        }
    }
    int canvas[MAX_CANVAS], n_canvas = 0;
    for (const char *c = canvas_arg; *c && n_canvas < MAX_CANVAS;) {
        canvas[n_canvas++] = atoi(c);
        const char *comma = strchr(c, ',');
        if (!comma)
            break;
        c = comma + 1;
    }
    if (child_path)
        return child(child_path, canvas, n_canvas, threads, secs);

    double t_start = bench_now();
    dl_pool *pool;
    dl_err e = { 0 };
    if (dl_pool_create(&pool, threads, &e)) {
        fprintf(stderr, "bench_model: %s\n", e.msg);
        return 1;
    }
    threads = dl_pool_threads(pool);
    char feat[256];
    printf("cpu features: %s\nthreads: %d; own kernels: f32 %s, int8 %s; model f32 products: %s\n",
           dl_cpu_features_str(feat, sizeof feat), threads, dl_fpath_name(dl_fpath_best()),
           dl_qpath_name(dl_qpath_best()), dl_gemm_backend_name(dl_gemm_backend()));

    /* 1. ceiling */
    double peak = bench_peak_fma(pool), best = 0, blas = 0, own = 0;
    {
        int N = 512, K = 1024, M = 2816;
        float *x = dl_aligned_alloc((size_t)N * K * 4), *w = dl_aligned_alloc((size_t)M * K * 4);
        float *out = dl_aligned_alloc((size_t)N * M * 4);
        if (!x || !w || !out)
            return 1;
        for (size_t i = 0; i < (size_t)N * K; i++)
            x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        for (size_t i = 0; i < (size_t)M * K; i++)
            w[i] = (float)((i * 104729) % 1000) / 20000.0f - 0.025f;
        prod p = { pool, N, K, M, dl_fpath_best(), x, w, out };
        double gf = 2.0 * N * K * M / 1e9;
#ifdef DL_HAVE_BLAS
        double t = bench_best_openblas(run_blas, &p, 1.0, 3, threads);
        blas = t > 0 ? gf / t : 0;
        printf("openblas %s core %s\n", openblas_get_config(), openblas_get_corename());
#endif
        own = gf / bench_best(run_fgemm, &p, 1.0, 3);
        best = blas > own ? blas : own;
        dl_aligned_free(x);
        dl_aligned_free(w);
        dl_aligned_free(out);
    }
    printf("ceiling: peak f32 FMA %.1f GFLOP/s; f32 product 512x1024x2816: OpenBLAS %.1f, "
           "own %.1f GFLOP/s (best %.1f)\n\n", peak, blas, own, best);
    dl_pool_free(pool);

    /* 2. model files */
    char path[1024], src[1024];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "bench_model: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    static const char *const all_types[] = { "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m",
                                              "q5_k_m", "q6_k" };
    const int n_all = (int)(sizeof all_types / sizeof all_types[0]);
    snprintf(src, sizeof src, "%s/llada154m-f32.gguf", dir);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/llada154m-%s.gguf", dir, all_types[i]);
        if (exists(path))
            continue;
        dl_tiny_spec s;
        dl_tiny_spec_init(&s, DIFFLM_ARCH_LLADA);
        s.n_embd = 1024;
        s.n_layer = 12;
        s.n_head = 16;
        s.n_head_kv = 16;
        s.n_ff = 2816;
        s.n_vocab = 4096;
        s.n_ctx = 4096;
        s.seed = 7;
        s.wtype = i == 0 ? DL_TYPE_F32 : i == 1 ? DL_TYPE_F16 : DL_TYPE_BF16;
        double t0 = bench_now();
        if (dl_tiny_write(&s, path, &e)) {
            fprintf(stderr, "bench_model: %s: %s\n", path, e.msg);
            return 1;
        }
        printf("wrote %s (%.1f s)\n", path, bench_now() - t0);
    }
    for (int i = 3; i < n_all; i++) {
        snprintf(path, sizeof path, "%s/llada154m-%s.gguf", dir, all_types[i]);
        if (exists(path))
            continue;
        double t0 = bench_now();
        if (run_quantize(src, path, all_types[i], threads) != 0) {
            fprintf(stderr, "bench_model: quantizing to %s failed (%s)\n", all_types[i],
                    DL_QUANTIZE_PATH);
            return 1;
        }
        printf("wrote %s (%.1f s)\n", path, bench_now() - t0);
    }

    /* 3. steps per type */
    printf("\nLLaDA-shaped model, d 1024, 12 layers, 16 heads, ff 2816, vocab 4096 (154M matrix "
           "parameters); one step = forward over the canvas + head for %d rows\n", HEAD_ROWS);
    header();
    for (int i = 0; i < n_all; i++) {
        if (types_arg && !strstr(types_arg, all_types[i]))
            continue;
        snprintf(path, sizeof path, "%s/llada154m-%s.gguf", dir, all_types[i]);
        result r[MAX_CANVAS];
        int n = measure(argv[0], path, canvas_arg, threads, secs, r);
        if (n == 0)
            printf("%-10s failed\n", all_types[i]);
        print_rows(all_types[i], r, n, peak);
    }

    /* 4. the default model */
    if (!def_model)
        def_model = exists("models/difflm-default.gguf") ? "models/difflm-default.gguf"
                                                         : DL_DEFAULT_MODEL_PATH;
    if (exists(def_model)) {
        snprintf(path, sizeof path, "%s/default-q8_0.gguf", dir);
        run_quantize(def_model, path, "q8_0", threads);
        printf("\ndefault model %s (and its Q8_0 conversion)\n", def_model);
        header();
        const char *paths[2] = { def_model, path };
        const char *names[2] = { "as stored", "q8_0" };
        for (int i = 0; i < 2; i++) {
            result r[MAX_CANVAS];
            int n = measure(argv[0], paths[i], canvas_arg, threads, secs, r);
            print_rows(names[i], r, n, peak);
        }
    } else {
        printf("\ndefault model %s not found: skipped\n", def_model);
    }
    printf("\ntotal %.0f s\n", bench_now() - t_start);
    return 0;
}

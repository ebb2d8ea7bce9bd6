/* bench_attention - attention's cost per denoising step, the tiled online-softmax kernel
 * (lib/kernels/attention_tiled.c) against the score-matrix kernel it replaces in
 * inference (dl_attention_head), measured alternately in one run.
 *
 *   bench_attention [-t THREADS] [--canvas 128,512,...] [-s SECONDS]
 *                   [--heads 16] [--kv-heads 16] [--hd 64] [--layers 12]
 *
 * The shape defaults to bench_model's LLaDA-shaped model (16 heads of 64, 12 layers).
 * One layer's attention runs as the model runs it: tasks of (head, block of 32
 * queries) on the pool, every query against every key of the canvas; best of repeated
 * runs, times the layer count = ms per step. GFLOP/s counts 4 T^2 hd heads per layer
 * (two products), exp and softmax not counted. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "difflm_internal.h"

#define QB 32
#define MAX_CANVAS 16

typedef struct attn_bench {
    dl_pool *pool;
    int T, nh, nkv, hd, path, threads;
    const float *q, *k, *v;
    float *out, *scores;   /* scores: [threads][slot] */
    size_t slot;           /* max(QB * T, the tiled kernel's work area) */
} attn_bench;

static void task_scores(void *ctx, int task, int worker) {
    attn_bench *b = ctx;
    int nb = (b->T + QB - 1) / QB, blk = task % nb, h = task / nb, q0 = blk * QB;
    int nq = b->T - q0 < QB ? b->T - q0 : QB, ldq = b->nh * b->hd, ldkv = b->nkv * b->hd;
    size_t qo = (size_t)q0 * ldq + (size_t)h * b->hd, ko = (size_t)(h / (b->nh / b->nkv)) * b->hd;
    dl_attention_head(b->out + qo, b->scores + (size_t)worker * b->slot, b->q + qo, b->k + ko,
                      b->v + ko, nq, b->T, b->hd, ldq, ldkv);
}

#define TB (DL_ATTN_TG * DL_ATTN_TQ)   /* the tiled kernel's task: TG blocks of queries */

static void task_tiled(void *ctx, int task, int worker) {
    attn_bench *b = ctx;
    int nb = (b->T + TB - 1) / TB, blk = task % nb, h = task / nb, q0 = blk * TB;
    int nq = b->T - q0 < TB ? b->T - q0 : TB, ldq = b->nh * b->hd, ldkv = b->nkv * b->hd;
    size_t qo = (size_t)q0 * ldq + (size_t)h * b->hd, ko = (size_t)(h / (b->nh / b->nkv)) * b->hd;
    dl_attention_tiled_head(b->path, b->out + qo, b->scores + (size_t)worker * b->slot, b->q + qo, b->k + ko, b->v + ko, nq, b->T,
                            b->hd, ldq, ldkv, 0, q0);
}

static void run_scores(void *arg) {
    attn_bench *b = arg;
    dl_pool_run(b->pool, b->nh * ((b->T + QB - 1) / QB), task_scores, b);
}

static void run_tiled(void *arg) {
    attn_bench *b = arg;
    dl_pool_run(b->pool, b->nh * ((b->T + TB - 1) / TB), task_tiled, b);
}

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

int main(int argc, char **argv) {
    int threads = 0, nh = 16, nkv = 16, hd = 64, layers = 12;
    const char *canvas_arg = "128,512,1024,2048,4096";
    double secs = 1.0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "-t") && v) threads = atoi(v), i++;
        else if (!strcmp(argv[i], "--canvas") && v) canvas_arg = v, i++;
        else if (!strcmp(argv[i], "-s") && v) secs = atof(v), i++;
        else if (!strcmp(argv[i], "--heads") && v) nh = atoi(v), i++;
        else if (!strcmp(argv[i], "--kv-heads") && v) nkv = atoi(v), i++;
        else if (!strcmp(argv[i], "--hd") && v) hd = atoi(v), i++;
        else if (!strcmp(argv[i], "--layers") && v) layers = atoi(v), i++;
        else {
            fprintf(stderr, "usage: bench_attention [-t THREADS] [--canvas 128,512] [-s SECONDS] "
                            "[--heads N] [--kv-heads N] [--hd N] [--layers N]\n");
            return 2;
        }
    }
    if (nh < 1 || nkv < 1 || nh % nkv || hd < 1 || hd > DL_ATTN_TILED_MAX_HD || layers < 1) {
        fprintf(stderr, "bench_attention: heads a multiple of kv-heads, 1 <= hd <= %d\n",
                DL_ATTN_TILED_MAX_HD);
        return 2;
    }
    int canv[MAX_CANVAS], nc = 0, Tmax = 0;
    for (const char *c = canvas_arg; *c && nc < MAX_CANVAS;) {
        int t = atoi(c);
        if (t < 1) {
            fprintf(stderr, "bench_attention: bad canvas list '%s'\n", canvas_arg);
            return 2;
        }
        canv[nc++] = t;
        Tmax = t > Tmax ? t : Tmax;
        const char *comma = strchr(c, ',');
        if (!comma)
            break;
        c = comma + 1;
    }
    dl_pool *pool;
    dl_err err;
    if (dl_pool_create(&pool, threads, &err)) {
        fprintf(stderr, "bench_attention: %s\n", err.msg);
        return 1;
    }
    threads = dl_pool_threads(pool);
    char feat[256];
    printf("cpu features: %s\nthreads: %d\nshape: %d heads (%d K/V) of %d, %d layers; tiled path %s\n",
           dl_cpu_features_str(feat, sizeof feat), threads, nh, nkv, hd, layers,
           dl_fpath_name(dl_attention_tiled_path()));
    size_t nq = (size_t)Tmax * nh * hd, nk = (size_t)Tmax * nkv * hd;
    float *q = dl_aligned_alloc(nq * 4), *k = dl_aligned_alloc(nk * 4), *v = dl_aligned_alloc(nk * 4);
    float *out = dl_aligned_alloc(nq * 4);
    size_t slot = (size_t)QB * Tmax > dl_attention_tiled_work_floats(hd)
                      ? (size_t)QB * Tmax : dl_attention_tiled_work_floats(hd);
    float *scores = dl_aligned_alloc((size_t)threads * slot * 4);
    if (!q || !k || !v || !out || !scores) {
        fprintf(stderr, "bench_attention: out of memory\n");
        return 1;
    }
    uint64_t s = 3;
    for (size_t i = 0; i < nq; i++)
        q[i] = frand(&s);
    for (size_t i = 0; i < nk; i++)
        k[i] = frand(&s), v[i] = frand(&s);
    printf("\n| canvas | scores: ms/step | GFLOP/s | tiled: ms/step | GFLOP/s | scores / tiled |\n");
    printf("|---|---|---|---|---|---|\n");
    for (int c = 0; c < nc; c++) {
        attn_bench b = { pool, canv[c], nh, nkv, hd, dl_attention_tiled_path(), threads, q, k, v,
                         out, scores, slot };
        double flop = 4.0 * canv[c] * (double)canv[c] * hd * nh;
        /* alternate the two, three rounds, best of each: the machine is shared */
        double ts = 1e30, tt = 1e30;
        for (int round = 0; round < 3; round++) {
            double a = bench_best(run_scores, &b, secs / 3, 2);
            double t = bench_best(run_tiled, &b, secs / 3, 2);
            ts = a < ts ? a : ts;
            tt = t < tt ? t : tt;
        }
        printf("| %d | %.1f | %.1f | %.1f | %.1f | %.2f |\n", canv[c], ts * 1e3 * layers,
               flop / ts / 1e9, tt * 1e3 * layers, flop / tt / 1e9, ts / tt);
        fflush(stdout);
    }
    dl_aligned_free(q); dl_aligned_free(k); dl_aligned_free(v); dl_aligned_free(out);
    dl_aligned_free(scores);
    dl_pool_free(pool);
    return 0;
}

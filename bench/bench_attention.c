/* bench_attention - attention's cost per denoising step, the tiled online-softmax kernel
 * (lib/kernels/attention_tiled.c) against the score-matrix kernel it replaces in
 * inference (dl_attention_head), measured alternately in one run.
 *
 *   bench_attention [-t THREADS] [--canvas 128,512,...] [-s SECONDS]
 *                   [--heads 16] [--kv-heads 16] [--hd 64] [--layers 12]
 *                   [--model FILE.gguf]
 *
 * The shape defaults to bench_model's LLaDA-shaped model (16 heads of 64, 12 layers).
 * One layer's attention runs as the model runs it: tasks of (head, block of 32
 * queries) on the pool, every query against every key of the canvas; best of repeated
 * runs, times the layer count = ms per step. GFLOP/s counts 4 T^2 hd heads per layer
 * (two products), exp and softmax not counted.
 *
 * --model: the shape is the model's, and each round also times one whole step of it
 * (a forward over the canvas + the head for 32 rows, as bench_model's step) with each
 * kernel in the model (dl_attention_tiled_set_choice), so attention's share of a step
 * comes from times taken side by side: the machine is shared. The model's context must
 * hold the longest canvas. */
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

/* one step of a model: forward over T tokens + the head for HEAD_ROWS rows */
#define HEAD_ROWS 32
typedef struct step_bench {
    dl_model *m;
    void *scratch, *hscratch;
    int32_t *tok, *rows;
    float *hidden, *logits;
    int T, choice;
} step_bench;

static void run_step(void *arg) {
    step_bench *a = arg;
    dl_err e = { 0 };
    dl_attention_tiled_set_choice(a->choice);
    if (dl_model_forward(a->m, a->scratch, a->tok, a->T, a->hidden, NULL, &e) != 0) {
        fprintf(stderr, "bench_attention: forward: %s\n", e.msg);
        exit(1);
    }
    dl_model_logits(a->m, a->hscratch, a->hidden, a->rows, HEAD_ROWS, a->logits);
}

/* one timed call (after the caller's warm-up) */
static double time_once(void (*fn)(void *), void *arg) {
    double t0 = bench_now();
    fn(arg);
    return bench_now() - t0;
}

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

int main(int argc, char **argv) {
    int threads = 0, nh = 16, nkv = 16, hd = 64, layers = 12;
    const char *canvas_arg = "128,512,1024,2048,4096", *model_path = NULL;
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
        else if (!strcmp(argv[i], "--model") && v) model_path = v, i++;
        else {
            fprintf(stderr, "usage: bench_attention [-t THREADS] [--canvas 128,512] [-s SECONDS] "
                            "[--heads N] [--kv-heads N] [--hd N] [--layers N] [--model FILE]\n");
            return 2;
        }
    }
    dl_err err = { 0 };
    dl_gguf *g = NULL;
    dl_model *m = NULL;
    if (model_path) {
        if (dl_gguf_open(&g, model_path, &err) || dl_model_load(&m, g, NULL, &err)) {
            fprintf(stderr, "bench_attention: %s: %s\n", model_path, err.msg);
            return 1;
        }
        nh = m->hp.n_head, nkv = m->hp.n_head_kv, hd = m->hp.head_dim, layers = m->hp.n_layer;
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
    if (m && Tmax > m->hp.n_ctx_train) {
        fprintf(stderr, "bench_attention: canvas %d is longer than the model's context %d\n", Tmax,
                (int)m->hp.n_ctx_train);
        return 2;
    }
    dl_pool *pool;
    if (dl_pool_create(&pool, threads, &err)) {
        fprintf(stderr, "bench_attention: %s\n", err.msg);
        return 1;
    }
    threads = dl_pool_threads(pool);
    step_bench sb = { 0 };
    if (m) {
        m->pool = pool;
        m->n_threads = threads;
        size_t fs = dl_model_scratch_size(m, Tmax), hs = dl_model_logits_scratch_size(m, HEAD_ROWS);
        sb = (step_bench){ m, dl_aligned_alloc(fs), dl_aligned_alloc(hs), malloc((size_t)Tmax * 4),
                           malloc(HEAD_ROWS * 4), dl_aligned_alloc((size_t)Tmax * m->hp.n_embd * 4),
                           dl_aligned_alloc((size_t)HEAD_ROWS * m->hp.n_vocab * 4), 0, 0 };
        if (!sb.scratch || !sb.hscratch || !sb.tok || !sb.rows || !sb.hidden || !sb.logits) {
            fprintf(stderr, "bench_attention: out of memory\n");
            return 1;
        }
        for (int i = 0; i < Tmax; i++)
            sb.tok[i] = (int32_t)((i * 2654435761u) % (unsigned)m->hp.n_vocab);
        for (int i = 0; i < HEAD_ROWS; i++)
            sb.rows[i] = i;
        printf("model: %s\n", model_path);
    }
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
    if (m) {
        printf("\n| canvas | step, scores: ms | of it attention | step, tiled: ms | of it attention "
               "| attention scores / tiled | step scores / tiled |\n|---|---|---|---|---|---|---|\n");
    } else {
        printf("\n| canvas | scores: ms/step | GFLOP/s | tiled: ms/step | GFLOP/s | scores / tiled |\n");
        printf("|---|---|---|---|---|---|\n");
    }
    for (int c = 0; c < nc && m; c++) {
        attn_bench b = { pool, canv[c], nh, nkv, hd, dl_attention_tiled_path(), threads, q, k, v,
                         out, scores, slot };
        step_bench s0 = sb, s1 = sb;
        s0.T = s1.T = canv[c];
        s0.choice = -1;
        s1.choice = dl_attention_tiled_path();
        /* warm-up, then rounds of the four side by side, best of each */
        run_scores(&b), run_tiled(&b), run_step(&s0), run_step(&s1);
        int rounds = canv[c] <= 1024 ? 5 : 3;
        double as = 1e30, at = 1e30, ss = 1e30, st = 1e30;
        for (int r = 0; r < rounds; r++) {
            /* the order flips every round: neither kernel always runs second */
            double x, y;
            x = time_once(r & 1 ? run_tiled : run_scores, &b);
            y = time_once(r & 1 ? run_scores : run_tiled, &b);
            as = DL_MIN(as, r & 1 ? y : x), at = DL_MIN(at, r & 1 ? x : y);
            x = time_once(run_step, r & 1 ? &s1 : &s0);
            y = time_once(run_step, r & 1 ? &s0 : &s1);
            ss = DL_MIN(ss, r & 1 ? y : x), st = DL_MIN(st, r & 1 ? x : y);
        }
        as *= layers, at *= layers;
        printf("| %d | %.1f | %.1f ms, %.0f%% | %.1f | %.1f ms, %.0f%% | %.2f | %.2f |\n", canv[c],
               ss * 1e3, as * 1e3, 100 * as / ss, st * 1e3, at * 1e3, 100 * at / st, as / at, ss / st);
        fflush(stdout);
    }
    for (int c = 0; c < nc && !m; c++) {
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
    if (m) {
        dl_aligned_free(sb.scratch); dl_aligned_free(sb.hscratch); free(sb.tok); free(sb.rows);
        dl_aligned_free(sb.hidden); dl_aligned_free(sb.logits);
        dl_model_free(m);
        dl_gguf_close(g);
    }
    dl_pool_free(pool);
    return 0;
}

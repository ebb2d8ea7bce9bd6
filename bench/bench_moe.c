/* bench_moe - an LLaDA2-mini-shaped mixture of experts against a dense model with the same
 * active parameters, per step, in one run.
 *
 *   bench_moe [-t THREADS] [--dir DIR] [--layers L] [--canvas 32,256] [--types q4_k_m,q8_0]
 *             [-s SECONDS] [--rounds N]
 *
 * 1. Two llada2 files are written by the project's GGUF writer in BF16 and converted by
 *    tools/difflm-quantize to each TYPE (kept in DIR, reused by later runs):
 *      moe:   hidden 2048, 16 query / 4 key-value heads of 128 (RoPE on 64), layer 0 dense
 *             of width 4608, layers 1 .. L-1 MoE: 256 experts of width 512, top 8 in 4 of
 *             8 groups, plus a shared expert of 512 (LLaDA2-mini's layer, with L layers
 *             instead of 20 and vocab 4096 instead of 157184, so the head does not hide
 *             the layers);
 *      dense: the same attention and L dense layers of width 4608 = (8 + 1) x 512, so a
 *             token meets the same FFN parameters in either file (the router's 2048 x 256
 *             aside).
 * 2. Each file runs in a fresh process (its own peak RSS), its selection bias zeroed (see
 *    child()): one step = a forward over the
 *    canvas + the head for its first 32 rows, best of the steps of SECONDS, on THREADS
 *    threads. Canvas 32 is a block diffusion step of LLaDA2 with its exact KV cache (one
 *    block of 32 rows through the layers; attention to a short prefix costs little);
 *    larger canvases are full passes. The files are measured in turn, ROUNDS times,
 *    alternating MoE and dense, and the best of the rounds is kept (the machine is
 *    shared; both see the same load this way).
 * 3. Reported: ms per step for each, their ratio, file size and peak RSS (the mapped file
 *    pages the steps touched plus the arena). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_common.h"
#include "difflm_internal.h"
#include "model_tiny.h"

#ifndef DL_QUANTIZE_PATH
#define DL_QUANTIZE_PATH "difflm-quantize"
#endif

#define HEAD_ROWS 32
#define MAX_CANVAS 8
#define MAX_TYPES 8

/* --- child: one file, every canvas size */

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
        fprintf(stderr, "bench_moe: forward: %s\n", e.msg);
        exit(1);
    }
    dl_model_logits(a->m, a->hscratch, a->hidden, a->rows, a->T < HEAD_ROWS ? a->T : HEAD_ROWS,
                    a->logits);
}

static int child(const char *path, const int *canvas, int n_canvas, int threads, double secs) {
    dl_err e = { 0 };
    dl_gguf *g = NULL;
    dl_model *m = NULL;
    dl_pool *pool = NULL;
    if (dl_gguf_open(&g, path, &e) || dl_model_load(&m, g, NULL, &e) ||
        dl_pool_create(&pool, threads, &e)) {
        fprintf(stderr, "bench_moe: %s: %s\n", path, e.msg);
        return 1;
    }
    m->pool = pool;
    m->n_threads = dl_pool_threads(pool);
    /* The writer's random selection bias (sd 0.5 against sigmoid scores in (0, 1)) would
     * send most tokens to the same few experts; a trained bias balances the experts'
     * load, so the steps run without it (the router's random logits spread the tokens). */
    float *zeros = calloc((size_t)(m->hp.n_expert > 0 ? m->hp.n_expert : 1), sizeof *zeros);
    for (int il = 0; il < m->hp.n_layer; il++)
        if (m->layers[il].router_bias.data)
            m->layers[il].router_bias = (dl_weight){ zeros, DL_TYPE_F32, m->hp.n_expert, 1, NULL };
    int Tmax = 0;
    for (int i = 0; i < n_canvas; i++)
        Tmax = canvas[i] > Tmax ? canvas[i] : Tmax;
    size_t fs = dl_model_scratch_size(m, Tmax), hs = dl_model_logits_scratch_size(m, HEAD_ROWS);
    size_t hb = (size_t)Tmax * m->hp.n_embd * 4, lb = (size_t)HEAD_ROWS * m->hp.n_vocab * 4;
    step_arg a = { m, dl_aligned_alloc(fs), dl_aligned_alloc(hs), malloc((size_t)Tmax * 4),
                   malloc(HEAD_ROWS * 4), dl_aligned_alloc(hb), dl_aligned_alloc(lb), 0 };
    if (!a.scratch || !a.hscratch || !a.tok || !a.rows || !a.hidden || !a.logits) {
        fprintf(stderr, "bench_moe: out of memory\n");
        return 1;
    }
    for (int i = 0; i < Tmax; i++)
        a.tok[i] = (int32_t)((i * 2654435761u) % (unsigned)m->hp.n_vocab);
    for (int i = 0; i < HEAD_ROWS; i++)
        a.rows[i] = i % Tmax;
    for (int i = 0; i < n_canvas; i++) {
        a.T = canvas[i];
        double t = bench_best(one_step, &a, secs, 3);
        printf("R %d %.6f %.3f\n", a.T, t, bench_peak_rss_mib());
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
    free(zeros);
    return 0;
}

/* --- parent */

typedef struct result {
    double t[MAX_CANVAS], rss, file;
} result;

static int measure(const char *self, const char *path, const char *canvas_arg, int threads,
                   double secs, result *r, int n_canvas) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' --child '%s' --canvas %s -t %d -s %g", self, path,
             canvas_arg, threads, secs);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, p)) {
        int T;
        double t, rss;
        if (sscanf(line, "R %d %lf %lf", &T, &t, &rss) == 3 && n < n_canvas) {
            if (t < r->t[n])
                r->t[n] = t;
            if (rss > r->rss)
                r->rss = rss;
            n++;
        }
    }
    int rc = pclose(p);
    struct stat st;
    r->file = stat(path, &st) == 0 ? (double)st.st_size / (1 << 20) : 0;
    return rc == 0 && n == n_canvas ? 0 : -1;
}

static void spec_of(dl_tiny_spec *s, int moe, int layers) {
    dl_tiny_spec_init(s, DIFFLM_ARCH_LLADA2);
    s->n_embd = 2048, s->n_head = 16, s->n_head_kv = 4, s->n_layer = layers;
    s->n_vocab = 4096, s->n_ctx = 4096, s->wtype = DL_TYPE_BF16, s->seed = 5;
    s->n_ff = 9 * 512;
    s->n_expert = 256, s->n_expert_used = 8, s->n_ff_exp = 512;
    s->n_group = 8, s->topk_group = 4, s->routed_scale = 2.5f;
    s->n_ff_shexp = moe ? 512 : 0;
    s->n_dense_lead = moe ? 1 : layers;
}

/* DIR/NAME-TYPE.gguf, made (BF16 written, then quantized) when absent. */
static int ensure(const char *dir, const char *name, int moe, int layers, const char *type,
                  int threads, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s-L%d-%s.gguf", dir, name, layers, type);
    struct stat st;
    if (stat(path, &st) == 0)
        return 0;
    char bf16[1024], cmd[4096];
    snprintf(bf16, sizeof bf16, "%s/%s-L%d-bf16.gguf", dir, name, layers);
    if (stat(bf16, &st) != 0) {
        dl_tiny_spec s;
        spec_of(&s, moe, layers);
        dl_err e = { 0 };
        fprintf(stderr, "bench_moe: writing %s\n", bf16);
        if (dl_tiny_write(&s, bf16, &e)) {
            fprintf(stderr, "bench_moe: %s: %s\n", bf16, e.msg);
            return -1;
        }
    }
    fprintf(stderr, "bench_moe: quantizing %s\n", path);
    snprintf(cmd, sizeof cmd, "'%s' -t %d '%s' '%s' %s > /dev/null", DL_QUANTIZE_PATH, threads,
             bf16, path, type);
    return system(cmd) == 0 ? 0 : -1;
}

static int parse_list(const char *arg, int *out, int cap) {
    int n = 0;
    for (const char *p = arg; *p && n < cap;) {
        out[n++] = atoi(p);
        const char *c = strchr(p, ',');
        if (!c)
            break;
        p = c + 1;
    }
    return n;
}

int main(int argc, char **argv) {
    int threads = 2, layers = 3, rounds = 2;
    double secs = 3.0;
    const char *dir = "/tmp/difflm-bench-moe", *canvas_arg = "32,256", *types_arg = "q4_k_m,q8_0";
    const char *child_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: bench_moe [-t THREADS] [--dir DIR] [--layers L] [--canvas 32,256] "
                   "[--types q4_k_m,q8_0] [-s SECONDS] [--rounds N]\n");
            return 0;
        }
        if (!v) {
            fprintf(stderr, "bench_moe: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "-t"))
            threads = atoi(v);
        else if (!strcmp(a, "--dir"))
            dir = v;
        else if (!strcmp(a, "--layers"))
            layers = atoi(v);
        else if (!strcmp(a, "--canvas"))
            canvas_arg = v;
        else if (!strcmp(a, "--types"))
            types_arg = v;
        else if (!strcmp(a, "-s"))
            secs = atof(v);
        else if (!strcmp(a, "--rounds"))
            rounds = atoi(v);
        else if (!strcmp(a, "--child"))
            child_path = v;
        else {
            fprintf(stderr, "bench_moe: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    int canvas[MAX_CANVAS];
    int n_canvas = parse_list(canvas_arg, canvas, MAX_CANVAS);
    if (threads < 1 || layers < 2 || n_canvas < 1 || rounds < 1) {
        fprintf(stderr, "bench_moe: bad arguments\n");
        return 2;
    }
    for (int i = 0; i < n_canvas; i++)
        if (canvas[i] < 1 || canvas[i] > 4096) {
            fprintf(stderr, "bench_moe: canvas %d out of [1, 4096]\n", canvas[i]);
            return 2;
        }
    if (child_path)
        return child(child_path, canvas, n_canvas, threads, secs);

    mkdir(dir, 0755);
    char types[MAX_TYPES][32];
    int n_types = 0;
    for (const char *p = types_arg; *p && n_types < MAX_TYPES;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        snprintf(types[n_types++], sizeof types[0], "%.*s", (int)n, p);
        if (!c)
            break;
        p = c + 1;
    }
    char paths[MAX_TYPES][2][1024];
    for (int k = 0; k < n_types; k++)
        for (int moe = 0; moe < 2; moe++)
            if (ensure(dir, moe ? "moe" : "dense", moe, layers, types[k], threads, paths[k][moe],
                       sizeof paths[k][moe]))
                return 1;
    result res[MAX_TYPES][2];
    for (int k = 0; k < n_types; k++)
        for (int moe = 0; moe < 2; moe++) {
            memset(&res[k][moe], 0, sizeof res[k][moe]);
            for (int i = 0; i < MAX_CANVAS; i++)
                res[k][moe].t[i] = 1e30;
        }
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < n_types; k++)
            for (int moe = 1; moe >= 0; moe--)
                if (measure(argv[0], paths[k][moe], canvas_arg, threads, secs, &res[k][moe],
                            n_canvas)) {
                    fprintf(stderr, "bench_moe: %s failed\n", paths[k][moe]);
                    return 1;
                }
    printf("llada2-shaped, %d layers (1 dense + %d MoE), %d threads, best of %d rounds\n\n",
           layers, layers - 1, threads, rounds);
    printf("| type | canvas | MoE ms/step | dense ms/step | MoE / dense | MoE file MiB | MoE peak RSS MiB | dense file MiB | dense peak RSS MiB |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < n_types; k++)
        for (int i = 0; i < n_canvas; i++) {
            const result *m = &res[k][1], *d = &res[k][0];
            printf("| %s | %d | %.1f | %.1f | %.2f | %.0f | %.0f | %.0f | %.0f |\n", types[k],
                   canvas[i], m->t[i] * 1e3, d->t[i] * 1e3, m->t[i] / d->t[i], m->file, m->rss,
                   d->file, d->rss);
        }
    return 0;
}

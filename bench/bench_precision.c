/* bench_precision - the bf16 precision mode against the exact one on the same model, in
 * one run, through the public API: speed per denoising step and the logits' error.
 *
 *   bench_precision [-t THREADS] [-s SECONDS] [--canvas 128,512] [--gen N] MODEL.gguf...
 *
 * Per model, one exact context and one bf16 context (difflm_ctx_params.precision) on
 * the same loaded weights:
 * 1. Speed: one step = difflm_logits over a canvas of T ids with the head over 32 rows
 *    (a full forward + one block's head, as bench_model's step), the two contexts
 *    alternating step by step (pairs in alternating order) for at least SECONDS and 5
 *    pairs: the best of each, their ratio, and the median of the pairs' ratios (each
 *    pair ran under the same load: the robust figure on a shared machine).
 * 2. Accuracy: for each prompt below, the canvas [prompt | MASK x (128 - prompt)] once
 *    through both: the largest |bf16 - exact| logit over every row, the largest |logit|,
 *    and how many masked rows have the same greedy (argmax) token.
 * 3. With --gen N > 0: each prompt generated greedily (N tokens, N steps, blocks of 32)
 *    by both contexts, and the fraction of generated positions with the same token. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "difflm.h"

#define HEAD_ROWS 32
#define ACC_CANVAS 128

static const char *const prompts[] = {
    "The capital of France is",
    "Once upon a time, there was a little girl who",
    "def fibonacci(n):",
    "In 1905, Albert Einstein published",
};
#define N_PROMPTS (int)(sizeof prompts / sizeof prompts[0])

static void die(const char *what, int st) {
    fprintf(stderr, "bench_precision: %s: %s\n", what, difflm_status_str(st));
    exit(1);
}

static difflm_ctx *make_ctx(difflm_model *m, int threads, int max_canvas, int32_t precision) {
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.n_threads = threads;
    cp.max_canvas = max_canvas;
    cp.precision = precision;
    int st;
    difflm_ctx *c = difflm_ctx_create(m, &cp, &st);
    if (!c)
        die("difflm_ctx_create", st);
    return c;
}

/* one step: the forward over ids[0 .. T) and the head over HEAD_ROWS of its rows */
static double step(difflm_ctx *c, const difflm_token *ids, int T, const int32_t *rows,
                   float *out, size_t cap) {
    size_t n;
    double t0 = bench_now();
    int st = difflm_logits(c, ids, (size_t)T, rows, HEAD_ROWS, out, cap, &n);
    if (st != DIFFLM_OK)
        die("difflm_logits", st);
    return bench_now() - t0;
}

#define MAX_REPS 40

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void speed(difflm_ctx *ex, difflm_ctx *bf, int V, const int *canvas, int n_canvas,
                  int mask, double secs) {
    size_t cap = (size_t)HEAD_ROWS * (size_t)V;
    float *out = malloc(sizeof(float) * cap);
    for (int c = 0; c < n_canvas; c++) {
        int T = canvas[c];
        difflm_token *ids = malloc(sizeof(difflm_token) * (size_t)T);
        int32_t rows[HEAD_ROWS];
        for (int i = 0; i < T; i++)   /* a quarter prompt-like ids, then MASKs */
            ids[i] = i < T / 4 ? (difflm_token)((i * 2654435761u) % (unsigned)V) : mask;
        for (int i = 0; i < HEAD_ROWS; i++)
            rows[i] = (T / 4 + i) % T;
        step(ex, ids, T, rows, out, cap);   /* warm-up */
        step(bf, ids, T, rows, out, cap);
        double te = 1e30, tb = 1e30, ratio[MAX_REPS], start = bench_now();
        int reps = 0;
        while (reps < 5 || (bench_now() - start < secs && reps < MAX_REPS)) {
            /* a pair in alternating order, so neither mode always runs first */
            double a, b;
            if (reps & 1) {
                b = step(bf, ids, T, rows, out, cap);
                a = step(ex, ids, T, rows, out, cap);
            } else {
                a = step(ex, ids, T, rows, out, cap);
                b = step(bf, ids, T, rows, out, cap);
            }
            te = a < te ? a : te;
            tb = b < tb ? b : tb;
            ratio[reps++] = b / a;
        }
        qsort(ratio, (size_t)reps, sizeof ratio[0], cmp_double);
        printf("  canvas %4d: exact %8.1f ms/step, bf16 %8.1f ms/step (best of %d each): "
               "bf16/exact %.2f of the best, %.2f median of %d pairs\n", T, te * 1e3, tb * 1e3,
               reps, tb / te, ratio[reps / 2], reps);
        fflush(stdout);
        free(ids);
    }
    free(out);
}

static size_t prompt_canvas(difflm_ctx *c, const char *text, difflm_token *ids, int T, int mask) {
    size_t np = 0;
    int st = difflm_tokenize(c, text, strlen(text), DIFFLM_TOKENIZE_ADD_BOS, ids, (size_t)T, &np);
    if (st != DIFFLM_OK)
        die("difflm_tokenize", st);
    for (int i = (int)np; i < T; i++)
        ids[i] = mask;
    return np;
}

static void accuracy(difflm_ctx *ex, difflm_ctx *bf, int V, int mask) {
    const int T = ACC_CANVAS;
    size_t cap = (size_t)T * (size_t)V, n;
    float *le = malloc(sizeof(float) * cap), *lb = malloc(sizeof(float) * cap);
    difflm_token ids[ACC_CANVAS];
    double worst_all = 0;
    int same_all = 0, rows_all = 0;
    for (int p = 0; p < N_PROMPTS; p++) {
        size_t np = prompt_canvas(ex, prompts[p], ids, T, mask);
        int st = difflm_logits(ex, ids, (size_t)T, NULL, 0, le, cap, &n);
        if (st == DIFFLM_OK)
            st = difflm_logits(bf, ids, (size_t)T, NULL, 0, lb, cap, &n);
        if (st != DIFFLM_OK)
            die("difflm_logits", st);
        double worst = 0, big = 0;
        int same = 0;
        for (int r = 0; r < T; r++) {
            const float *a = le + (size_t)r * V, *b = lb + (size_t)r * V;
            int ia = 0, ib = 0;
            for (int v = 0; v < V; v++) {
                double d = fabs((double)a[v] - b[v]);
                worst = d > worst ? d : worst;
                big = fabs(a[v]) > big ? fabs(a[v]) : big;
                ia = a[v] > a[ia] ? v : ia;
                ib = b[v] > b[ib] ? v : ib;
            }
            if (r >= (int)np)
                same += ia == ib;
        }
        printf("  prompt %d: max |bf16 - exact| logit %.4f, max |logit| %.2f, greedy tokens "
               "agree on %d of %d masked rows\n", p, worst, big, same, T - (int)np);
        worst_all = worst > worst_all ? worst : worst_all;
        same_all += same;
        rows_all += T - (int)np;
    }
    printf("  all prompts: max |bf16 - exact| logit %.4f; greedy agreement %.1f%% (%d of %d)\n",
           worst_all, 100.0 * same_all / rows_all, same_all, rows_all);
    free(le);
    free(lb);
}

static void generations(difflm_ctx *ex, difflm_ctx *bf, int gen) {
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = gen;
    g.steps = gen;
    int same = 0, total = 0;
    for (int p = 0; p < N_PROMPTS; p++) {
        difflm_token pr[64], out[2][1024];
        size_t np = 0, n[2];
        if (difflm_tokenize(ex, prompts[p], strlen(prompts[p]), DIFFLM_TOKENIZE_ADD_BOS, pr, 64,
                            &np) != DIFFLM_OK)
            die("difflm_tokenize", DIFFLM_E_INVALID_ARG);
        difflm_ctx *c[2] = { ex, bf };
        for (int i = 0; i < 2; i++) {
            int st = difflm_generate_begin(c[i], pr, np, &g);
            while (st == DIFFLM_OK)
                st = difflm_generate_step(c[i]);
            if (st != DIFFLM_DONE)
                die("difflm_generate_step", st);
            difflm_canvas(c[i], out[i], 1024, &n[i]);
        }
        int s = 0;
        for (size_t i = np; i < n[0] && i < n[1]; i++)
            s += out[0][i] == out[1][i];
        printf("  prompt %d: greedy generation of %d tokens, %d the same\n", p, gen, s);
        same += s;
        total += gen;
    }
    printf("  all prompts: %.1f%% of the generated tokens the same (%d of %d)\n",
           100.0 * same / total, same, total);
}

int main(int argc, char **argv) {
    int threads = 0, gen = 0, canvas[8], n_canvas = 0;
    double secs = 2.0;
    const char *canvas_arg = "128,512";
    int first = argc;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "-t") && v) threads = atoi(v), i++;
        else if (!strcmp(argv[i], "-s") && v) secs = atof(v), i++;
        else if (!strcmp(argv[i], "--canvas") && v) canvas_arg = v, i++;
        else if (!strcmp(argv[i], "--gen") && v) gen = atoi(v), i++;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: bench_precision [-t THREADS] [-s SECONDS] [--canvas 128,512] "
                            "[--gen N] MODEL.gguf...\n");
            return 2;
        } else {
            first = i;
            break;
        }
    }
    for (const char *s = canvas_arg; *s && n_canvas < 8;) {
        canvas[n_canvas++] = atoi(s);
        const char *c = strchr(s, ',');
        if (!c)
            break;
        s = c + 1;
    }
    if (first >= argc || gen < 0 || gen > 512) {
        fprintf(stderr, "bench_precision: no model given (or --gen outside 0 .. 512)\n");
        return 2;
    }
    int max_canvas = ACC_CANVAS;
    for (int i = 0; i < n_canvas; i++)
        max_canvas = canvas[i] > max_canvas ? canvas[i] : max_canvas;
    for (int f = first; f < argc; f++) {
        difflm_model_params mp;
        difflm_model_params_init(&mp);
        mp.path = argv[f];
        int st;
        difflm_model *m = difflm_model_load(&mp, &st);
        if (!m)
            die(argv[f], st);
        int mc = max_canvas;
        difflm_model_info info = { .struct_size = sizeof info };
        difflm_model_describe(m, &info);
        if (gen > 0 && gen + 64 > mc)
            mc = gen + 64;
        difflm_ctx *ex = make_ctx(m, threads, mc, DIFFLM_PRECISION_EXACT);
        difflm_ctx *bf = make_ctx(m, threads, mc, DIFFLM_PRECISION_BF16);
        printf("%s: d %d, %d layers, vocab %d\n", argv[f], info.n_embd, info.n_layer, info.n_vocab);
        speed(ex, bf, info.n_vocab, canvas, n_canvas, info.mask_id, secs);
        accuracy(ex, bf, info.n_vocab, info.mask_id);
        if (gen > 0)
            generations(ex, bf, gen);
        difflm_free(ex);
        difflm_free(bf);
        difflm_model_free(m);
    }
    return 0;
}

/* bench_block.c - the block diffusion schedule's exact KV cache (doc/performance.md,
 * "Block diffusion"), through the public API on a block-causal model:
 *
 *   gen    a generation of --gen tokens after a 64-token prompt with the cache and with
 *          DIFFLM_GEN_BLOCK_RECOMPUTE (the canvas recomputed up to the block's end every
 *          step), alternately --reps times, best of each; the two must give the same
 *          canvas and the same number of steps (exit status 1 otherwise);
 *   steps  the cost of one step as the prompt grows (--prompts, each a multiple of the
 *          block length): the first step (the prompt's blocks and the first block run
 *          through the layers) and the block's later steps (only its rows, against the
 *          cache), best over --timed later steps, with the cache and recomputing; the
 *          step callback stops each run there, and the two partial canvases must agree.
 *
 * Greedy, block_threshold 1 (the scheduled counts only, one token per step with
 * steps = gen), so every run does the same steps and no threshold cuts a block short.
 * usage: bench_block MODEL.gguf [--gen N] [--prompts P1,P2,..] [--timed K] [--threads T]
 *                               [--reps R] [--no-recompute] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "difflm.h"

#define MAX_PROMPTS 16

typedef struct step_times {
    int32_t n;            /* steps seen */
    double last;          /* bench_now() at the previous callback (or at the begin) */
    double first;         /* the first step's wall time */
    double later_best;    /* the best of the first block's later steps */
    int32_t block_steps;  /* steps of the first decoded block (its later ones are timed) */
    int32_t stop_after;   /* > 0: the callback stops the generation after this step */
} step_times;

static int on_step(const difflm_step_info *info, void *user) {
    step_times *t = user;
    double now = bench_now();
    double dt = now - t->last;
    if (info->step == 1)
        t->first = dt;
    else if (info->step <= t->block_steps && dt < t->later_best)
        t->later_best = dt;
    t->n = info->step;
    t->last = bench_now();   // the callback's own time stays out of the next step's
    return t->stop_after > 0 && info->step >= t->stop_after;
}

/* One generation; returns its wall time from begin to DONE (< 0 on an error). */
static double run(difflm_ctx *ctx, const difflm_token *prompt, size_t n, difflm_gen_params g,
                  int32_t block_steps, int32_t stop_after, step_times *t,
                  difflm_token *canvas, size_t cap, size_t *len) {
    memset(t, 0, sizeof *t);
    t->later_best = 1e30;
    t->block_steps = block_steps;
    t->stop_after = stop_after;
    g.step_fn = on_step;
    g.step_user = t;
    double t0 = bench_now();
    t->last = t0;
    int st = difflm_generate_begin(ctx, prompt, n, &g);
    t->last = bench_now();
    while (st == DIFFLM_OK)
        st = difflm_generate_step(ctx);
    double wall = bench_now() - t0;
    if (st != DIFFLM_DONE && !(stop_after > 0 && st == DIFFLM_E_CANCELLED)) {
        fprintf(stderr, "bench_block: %s: %s\n", difflm_status_str(st), difflm_last_error(ctx));
        return -1;
    }
    if (difflm_canvas(ctx, canvas, cap, len) != DIFFLM_OK)
        return -1;
    return wall;
}

static int parse_list(const char *s, int32_t *out, int max) {
    int n = 0;
    while (*s && n < max) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 1 << 20)
            return -1;
        out[n++] = (int32_t)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return *s ? -1 : n;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    int32_t gen = 256, threads = 2, reps = 3, recompute = 1, timed = 8;
    int32_t prompts[MAX_PROMPTS] = {64, 128, 256, 512, 1024, 2048};
    int n_prompts = 6;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--gen") && i + 1 < argc)
            gen = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--timed") && i + 1 < argc)
            timed = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-recompute"))
            recompute = 0;
        else if (!strcmp(argv[i], "--prompts") && i + 1 < argc) {
            if ((n_prompts = parse_list(argv[++i], prompts, MAX_PROMPTS)) < 1) {
                fprintf(stderr, "bench_block: --prompts takes up to %d lengths >= 1\n",
                        MAX_PROMPTS);
                return 2;
            }
        } else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "usage: %s MODEL.gguf [--gen N] [--prompts P1,P2,..] "
                            "[--timed K] [--threads T] [--reps R] [--no-recompute]\n", argv[0]);
            return 2;
        }
    }
    if (!path || gen < 1 || threads < 1 || reps < 1 || timed < 1) {
        fprintf(stderr, "bench_block: need a model, --gen, --timed, --threads and --reps "
                        ">= 1\n");
        return 2;
    }
    difflm_model_params mp;
    difflm_model_params_init(&mp);
    mp.path = path;
    int st;
    difflm_model *m = difflm_model_load(&mp, &st);
    if (!m) {
        fprintf(stderr, "bench_block: %s: %s\n", path, difflm_status_str(st));
        return 1;
    }
    difflm_model_info mi = {.struct_size = sizeof mi};
    difflm_model_describe(m, &mi);
    const int32_t B = mi.block_length;
    if (B < 1) {
        fprintf(stderr, "bench_block: %s is not block-causal (no diffusion.block_length)\n",
                path);
        return 1;
    }
    int32_t max_prompt = 64;
    for (int i = 0; i < n_prompts; i++) {
        if (prompts[i] % B) {
            fprintf(stderr, "bench_block: prompt %d is not a multiple of the block length %d\n",
                    prompts[i], B);
            return 2;
        }
        max_prompt = prompts[i] > max_prompt ? prompts[i] : max_prompt;
    }
    const int32_t step_gen = 2 * B;   // the step table decodes (the start of) two blocks
    int32_t cap = max_prompt + (gen > step_gen ? gen : step_gen) + B;
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.n_threads = threads;
    cp.max_canvas = cap;
    difflm_ctx *ctx = difflm_ctx_create(m, &cp, &st);
    if (!ctx) {
        fprintf(stderr, "bench_block: ctx_create (max_canvas %d): %s\n", cap,
                difflm_status_str(st));
        return 1;
    }
    difflm_token *prompt = malloc((size_t)max_prompt * sizeof *prompt);
    difflm_token *ca = malloc((size_t)cap * sizeof *ca), *cb = malloc((size_t)cap * sizeof *cb);
    if (!prompt || !ca || !cb)
        return 1;
    for (int32_t i = 0; i < max_prompt; i++)   // ids clear of the specials, varied
        prompt[i] = 300 + (int32_t)((i * 7919u) % (uint32_t)(mi.n_vocab - 300));

    printf("model %s: n_embd %d, %d layers, block %d, %d threads\n", path, mi.n_embd,
           mi.n_layer, B, threads);

    /* gen: cached against recomputed, alternately */
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = gen;
    g.steps = gen;
    g.block_threshold = 1.0f;
    double best_c = 1e30, best_r = 1e30;
    int32_t steps_c = 0, steps_r = 0;
    size_t la = 0, lb = 0;
    step_times t;
    for (int r = 0; r < reps; r++) {
        g.flags = 0;
        double w = run(ctx, prompt, 64, g, B, 0, &t, ca, (size_t)cap, &la);
        steps_c = t.n;
        if (w < 0)
            return 1;
        best_c = w < best_c ? w : best_c;
        if (!recompute)
            continue;
        g.flags = DIFFLM_GEN_BLOCK_RECOMPUTE;
        w = run(ctx, prompt, 64, g, B, 0, &t, cb, (size_t)cap, &lb);
        steps_r = t.n;
        if (w < 0)
            return 1;
        best_r = w < best_r ? w : best_r;
        if (la != lb || steps_c != steps_r || memcmp(ca, cb, la * sizeof *ca)) {
            fprintf(stderr, "bench_block: the cache and the recompute differ (%zu vs %zu "
                            "positions, %d vs %d steps)\n", la, lb, steps_c, steps_r);
            return 1;
        }
    }
    printf("gen %d after a 64-token prompt (%zu positions, %d steps):\n", gen, la, steps_c);
    printf("  block cache  %9.1f ms  %7.2f ms/step  %7.1f tokens/s\n", best_c * 1e3,
           best_c * 1e3 / steps_c, gen / best_c);
    if (recompute)
        printf("  recompute    %9.1f ms  %7.2f ms/step  %7.1f tokens/s  (cache %.2fx faster, "
               "same tokens)\n", best_r * 1e3, best_r * 1e3 / steps_r, gen / best_r,
               best_r / best_c);

    /* steps: the cost of one step as the prompt grows */
    if (timed > B - 1)
        timed = B - 1;
    printf("per step, gen %d (two blocks): the first step, and the best of the %d after it\n",
           step_gen, timed);
    printf("  %7s  %14s  %14s  %14s\n", "prompt", "first (ms)", "cached (ms)",
           recompute ? "recompute (ms)" : "");
    g.gen_length = step_gen;
    g.steps = step_gen;
    for (int i = 0; i < n_prompts; i++) {
        double first = 1e30, later = 1e30, later_r = 1e30;
        for (int r = 0; r < reps; r++) {
            g.flags = 0;
            if (run(ctx, prompt, (size_t)prompts[i], g, B, 1 + timed, &t, ca, (size_t)cap, &la) < 0)
                return 1;
            first = t.first < first ? t.first : first;
            later = t.later_best < later ? t.later_best : later;
            if (!recompute)
                continue;
            g.flags = DIFFLM_GEN_BLOCK_RECOMPUTE;
            if (run(ctx, prompt, (size_t)prompts[i], g, B, 1 + timed, &t, cb, (size_t)cap, &lb) < 0)
                return 1;
            later_r = t.later_best < later_r ? t.later_best : later_r;
            if (la != lb || memcmp(ca, cb, la * sizeof *ca)) {
                fprintf(stderr, "bench_block: prompt %d: the cache and the recompute differ\n",
                        prompts[i]);
                return 1;
            }
        }
        if (recompute)
            printf("  %7d  %14.2f  %14.2f  %14.2f\n", prompts[i], first * 1e3, later * 1e3,
                   later_r * 1e3);
        else
            printf("  %7d  %14.2f  %14.2f\n", prompts[i], first * 1e3, later * 1e3);
    }
    free(prompt);
    free(ca);
    free(cb);
    difflm_free(ctx);
    difflm_model_free(m);
    return 0;
}

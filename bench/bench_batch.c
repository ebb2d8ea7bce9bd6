/* bench_batch.c - the throughput of batches (difflm_batch_*): one step of B canvases
 * against one step of a single canvas of the same length, on one context with 2 threads
 * (public API only). The two are timed alternately in one run (a shared machine's load
 * then weighs on both alike), best of each; the ratio batch / single is the number
 * doc/performance.md reports (target for 4 canvases of 128 tokens, quantized: <= 2.5).
 * usage: bench_batch MODEL.gguf [--canvases B] [--canvas T] [--reps R] [--threads N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "difflm.h"

#define MAX_B 16

int main(int argc, char **argv) {
    const char *path = NULL;
    int B = 4, T = 128, reps = 12, threads = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--canvases") && i + 1 < argc)
            B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--canvas") && i + 1 < argc)
            T = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "usage: %s MODEL.gguf [--canvases B] [--canvas T] [--reps R] "
                            "[--threads N]\n", argv[0]);
            return 2;
        }
    }
    if (!path || B < 1 || B > MAX_B || T < 17 || reps < 1 || threads < 1) {
        fprintf(stderr, "bench_batch: need a model, 1 <= B <= %d, T >= 17, reps >= 1\n", MAX_B);
        return 2;
    }
    difflm_model_params mp;
    difflm_model_params_init(&mp);
    mp.path = path;
    int st;
    difflm_model *m = difflm_model_load(&mp, &st);
    if (!m) {
        fprintf(stderr, "bench_batch: %s: %s\n", path, difflm_status_str(st));
        return 1;
    }
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.n_threads = threads;
    cp.max_canvas = T;
    cp.max_batch = B;
    difflm_ctx *ctx = difflm_ctx_create(m, &cp, &st);
    if (!ctx) {
        fprintf(stderr, "bench_batch: ctx_create: %s\n", difflm_status_str(st));
        return 1;
    }
    // prompts of 16 tokens (different per canvas), the rest of each canvas generated
    difflm_token prompts[MAX_B][16];
    const difflm_token *ps[MAX_B];
    size_t ns[MAX_B];
    for (int b = 0; b < B; b++) {
        for (int i = 0; i < 16; i++)
            prompts[b][i] = 300 + 17 * b + i;
        ps[b] = prompts[b];
        ns[b] = 16;
    }
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = T - 16;
    g.steps = T - 16;   // one token per step: never DONE within the timed steps
    g.block_length = T - 16;
    double best_1 = 1e30, best_b = 1e30;
    int single_left = 0, batch_left = 0;
    for (int r = 0; r <= reps; r++) {   // r == 0 warms both up
        if (single_left == 0) {
            if ((st = difflm_generate_begin(ctx, prompts[0], 16, &g)) != 0)
                break;
            single_left = g.steps;
        }
        double t0 = bench_now();
        st = difflm_generate_step(ctx);
        double t1 = bench_now() - t0;
        single_left--;
        if (st < 0)
            break;
        // a batch begin ends the single generation: it begins again next round
        if ((st = difflm_batch_begin(ctx, ps, ns, (size_t)B, NULL, &g)) != 0)
            break;
        (void)batch_left;
        t0 = bench_now();
        st = difflm_batch_step(ctx);
        double tb = bench_now() - t0;
        single_left = 0;
        if (st < 0)
            break;
        if (r > 0) {
            best_1 = t1 < best_1 ? t1 : best_1;
            best_b = tb < best_b ? tb : best_b;
        }
    }
    if (st < 0) {
        fprintf(stderr, "bench_batch: %s: %s\n", difflm_status_str(st), difflm_last_error(ctx));
        return 1;
    }
    printf("model %s, %d threads, canvas %d: one canvas %.1f ms/step, %d canvases %.1f ms/step "
           "(%.1f ms per canvas), ratio %.2f, throughput %.2fx\n", path, threads, T,
           best_1 * 1e3, B, best_b * 1e3, best_b * 1e3 / B, best_b / best_1,
           B * best_1 / best_b);
    difflm_free(ctx);
    difflm_model_free(m);
    return 0;
}

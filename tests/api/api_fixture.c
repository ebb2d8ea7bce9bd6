/* api_fixture.c - the API tests' shared setup (api_fixture.h). */
#include "api_fixture.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

const char *api_model_path[2];

/* The fixture's one failure path: the message, then exit 1 (see the header). */
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("api_fixture: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

int api_fixture_args(int argc, char **argv, int n_more, const char *more_usage) {
    if (argc < 3 + n_more) {
        fprintf(stderr, "usage: %s LLADA.gguf DREAM.gguf%s%s\n", argv[0], n_more ? " " : "",
                n_more ? more_usage : "");
        return 2;
    }
    api_model_path[API_LLADA] = argv[1];
    api_model_path[API_DREAM] = argv[2];
    return 0;
}

difflm_ctx *api_open(const char *path, int32_t n_threads, int32_t max_canvas) {
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = path;
    p.n_threads = n_threads;
    p.max_canvas = max_canvas;
    int st = 12345;   /* not a status: create must write one */
    difflm_ctx *ctx = difflm_create(&p, &st);
    if (!ctx || st != DIFFLM_OK)
        fail("difflm_create %s: %s%s", path, difflm_status_name(st),
             ctx ? " (with a context)" : "");
    return ctx;
}

difflm_model *api_load(const char *path) {
    difflm_model_params mp;
    difflm_model_params_init(&mp);
    mp.path = path;
    int st = 12345;
    difflm_model *m = difflm_model_load(&mp, &st);
    if (!m || st != DIFFLM_OK)
        fail("difflm_model_load %s: %s", path, difflm_status_name(st));
    return m;
}

difflm_ctx *api_ctx(difflm_model *m, int32_t n_threads, int32_t max_canvas) {
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.n_threads = n_threads;
    cp.max_canvas = max_canvas;
    int st = 12345;
    difflm_ctx *ctx = difflm_ctx_create(m, &cp, &st);
    if (!ctx || st != DIFFLM_OK)
        fail("difflm_ctx_create: %s", difflm_status_name(st));
    return ctx;
}

difflm_model_info api_info(difflm_ctx *ctx) {
    difflm_model_info info;
    info.struct_size = sizeof info;
    int st = difflm_model_info_get(ctx, &info);
    if (st != DIFFLM_OK)
        fail("difflm_model_info_get: %s", difflm_status_name(st));
    return info;
}

void api_gen(difflm_gen_params *g, int32_t gen_length, int32_t steps, int32_t block_length) {
    difflm_gen_params_init(g);
    g->gen_length = gen_length;
    g->steps = steps;
    g->block_length = block_length;
}

int api_steps(difflm_ctx *ctx, int *n_ok) {
    int st, n = 0;
    while ((st = difflm_generate_step(ctx)) == DIFFLM_OK)
        n++;
    if (n_ok)
        *n_ok = n;
    return st;
}

int api_run(difflm_ctx *ctx, const difflm_token *prompt, size_t n, const difflm_gen_params *g,
            difflm_token *canvas, size_t cap, size_t *n_canvas, int *n_steps) {
    int ok = 0;
    int st = difflm_generate_begin(ctx, prompt, n, g);
    if (st == DIFFLM_OK)
        st = api_steps(ctx, &ok);
    else
        ok = -1;   /* no step was called */
    if (n_steps)
        *n_steps = ok + 1;
    if (st == DIFFLM_DONE) {
        int cs = difflm_canvas(ctx, canvas, cap, n_canvas);
        if (cs != DIFFLM_OK)
            fail("difflm_canvas: %s: %s", difflm_status_name(cs), difflm_last_error(ctx));
    }
    return st;
}

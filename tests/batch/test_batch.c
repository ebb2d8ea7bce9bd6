/* test_batch.c - difflm_batch_begin/step/canvas through the public API only: a batch of
 * 1 .. 4 canvases (different prompts and lengths, each its own seed) gives every canvas
 * bitwise the tokens difflm_generate_begin/step give it alone, with 1 and 2 threads, on
 * LLaDA and Dream files whose n_ff leaves a SwiGLU tail and on a quantized one; the step
 * callback's per-canvas calls; cancel; the argument, support and state errors.
 * usage: test_batch LLADA.gguf DREAM.gguf QUANT.gguf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "difflm.h"

#define N_MODELS 3
#define GEN 24
#define MAX_CANVAS 64

static const char *model_paths[N_MODELS];

/* Prompts of different lengths (ids inside every fixture's vocabulary, no MASK id 5). */
static const difflm_token prompt_ids[4][12] = {
    { 1, 300, 42 },
    { 1, 17, 99, 250, 61, 200, 8 },
    { 1, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50 },
    { 1 },
};
static const size_t prompt_lens[4] = { 3, 7, 12, 1 };
static const uint64_t seeds[4] = { 11, 22, 33, 44 };

static difflm_ctx *open_ctx(difflm_model *m, int32_t n_threads, int32_t max_batch) {
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    ck_assert_int_eq(cp.max_batch, 1);
    cp.n_threads = n_threads;
    cp.max_canvas = MAX_CANVAS;
    cp.max_batch = max_batch;
    int st = 12345;
    difflm_ctx *ctx = difflm_ctx_create(m, &cp, &st);
    ck_assert_msg(ctx != NULL, "ctx_create: %s", difflm_status_str(st));
    return ctx;
}

static difflm_model *load(int which) {
    difflm_model_params mp;
    difflm_model_params_init(&mp);
    mp.path = model_paths[which];
    int st;
    difflm_model *m = difflm_model_load(&mp, &st);
    ck_assert_msg(m != NULL, "load %s: %s", model_paths[which], difflm_status_str(st));
    return m;
}

/* The generation settings the comparisons run: the model's defaults greedy, sampled
 * with filters, a second schedule, and parallel decoding with early stop (canvases
 * complete at different steps). */
#define N_SETTINGS 4
static difflm_gen_params settings(int which, int arch) {
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = GEN;
    g.steps = 12;
    g.block_length = 8;
    switch (which) {
    case 0:
        break;
    case 1:
        g.temperature = 0.8f;
        g.top_k = 50;
        g.top_p = 0.9f;
        break;
    case 2:
        g.schedule = arch == DIFFLM_ARCH_LLADA ? DIFFLM_SCHEDULE_TIMESTEPS : DIFFLM_SCHEDULE_BLOCKS;
        g.remasking = arch == DIFFLM_ARCH_LLADA ? DIFFLM_REMASK_TOPK_MARGIN : DIFFLM_REMASK_RANDOM;
        g.temperature = 0.5f;
        break;
    default:
        g.parallel = DIFFLM_PARALLEL_THRESHOLD;
        g.threshold = 0.02f;
        g.steps = GEN;
        g.flags = DIFFLM_GEN_EARLY_STOP | DIFFLM_GEN_CONFIDENCE_EOS_EOT_INF;
        g.temperature = 1.0f;
        break;
    }
    return g;
}

/* Canvas of prompt k generated alone with seed s. */
static size_t solo(difflm_ctx *ctx, int k, const difflm_gen_params *g0, uint64_t s,
                   difflm_token *out) {
    difflm_gen_params g = *g0;
    g.seed = s;
    int st = difflm_generate_begin(ctx, prompt_ids[k], prompt_lens[k], &g);
    ck_assert_msg(st == DIFFLM_OK, "begin: %s: %s", difflm_status_str(st), difflm_last_error(ctx));
    while ((st = difflm_generate_step(ctx)) == DIFFLM_OK)
        ;
    ck_assert_msg(st == DIFFLM_DONE, "step: %s: %s", difflm_status_str(st), difflm_last_error(ctx));
    size_t n = 0;
    ck_assert_int_eq(difflm_canvas(ctx, out, MAX_CANVAS, &n), DIFFLM_OK);
    ck_assert_uint_eq(n, prompt_lens[k] + GEN);
    return n;
}

static int model_arch(difflm_model *m) {
    difflm_model_info info = {.struct_size = sizeof info};
    ck_assert_int_eq(difflm_model_describe(m, &info), DIFFLM_OK);
    return info.arch;
}

/* Every batch of 1 .. 4 canvases (prompts first .. first + size, cyclically, so each
 * canvas meets different neighbours) against each canvas alone. DIFFLM_TEST_QUICK=1
 * (the valgrind and sanitizer setups) takes only first = 0: every size once. */
static void batch_equals_solo(int which, int32_t n_threads) {
    const char *quick = getenv("DIFFLM_TEST_QUICK");
    const int n_first = quick && *quick && strcmp(quick, "0") != 0 ? 1 : 4;
    difflm_model *m = load(which);
    int arch = model_arch(m);
    difflm_ctx *ctx = open_ctx(m, n_threads, 4);
    difflm_ctx *alone = open_ctx(m, n_threads, 1);
    for (int set = 0; set < N_SETTINGS; set++) {
        difflm_gen_params g = settings(set, arch);
        difflm_token ref[4][MAX_CANVAS];
        for (int k = 0; k < 4; k++)
            solo(alone, k, &g, seeds[k], ref[k]);
        for (size_t size = 1; size <= 4; size++)
            for (int first = 0; first < n_first; first++) {
                const difflm_token *ps[4];
                size_t ns[4];
                uint64_t ss[4];
                for (size_t i = 0; i < size; i++) {
                    int k = (first + (int)i) % 4;
                    ps[i] = prompt_ids[k];
                    ns[i] = prompt_lens[k];
                    ss[i] = seeds[k];
                }
                int st = difflm_batch_begin(ctx, ps, ns, size, ss, &g);
                ck_assert_msg(st == DIFFLM_OK, "batch_begin: %s: %s", difflm_status_str(st),
                              difflm_last_error(ctx));
                int steps = 0;
                while ((st = difflm_batch_step(ctx)) == DIFFLM_OK)
                    ck_assert_int_lt(++steps, 1000);
                ck_assert_msg(st == DIFFLM_DONE, "batch_step: %s: %s", difflm_status_str(st),
                              difflm_last_error(ctx));
                ck_assert_int_eq(difflm_batch_step(ctx), DIFFLM_DONE);
                for (size_t i = 0; i < size; i++) {
                    int k = (first + (int)i) % 4;
                    difflm_token got[MAX_CANVAS];
                    size_t n = 0;
                    ck_assert_int_eq(difflm_batch_canvas(ctx, i, got, MAX_CANVAS, &n), DIFFLM_DONE);
                    ck_assert_uint_eq(n, prompt_lens[k] + GEN);
                    ck_assert_msg(memcmp(got, ref[k], n * sizeof *got) == 0,
                                  "model %d, threads %d, settings %d: canvas %zu (prompt %d) of a "
                                  "batch of %zu differs from its solo run", which, n_threads, set,
                                  i, k, size);
                }
            }
    }
    difflm_free(alone);
    difflm_free(ctx);
    difflm_model_free(m);
}

START_TEST(equals_solo_1_thread) {
    batch_equals_solo(_i, 1);
}
END_TEST

START_TEST(equals_solo_2_threads) {
    batch_equals_solo(_i, 2);
}
END_TEST

/* seeds NULL: every canvas runs g->seed, so two canvases of one prompt agree. */
START_TEST(seeds_null_uses_g_seed) {
    difflm_model *m = load(0);
    difflm_ctx *ctx = open_ctx(m, 2, 2);
    difflm_gen_params g = settings(1, model_arch(m));
    g.seed = 5;
    difflm_token ref[MAX_CANVAS], a[MAX_CANVAS], b[MAX_CANVAS];
    solo(ctx, 1, &g, 5, ref);
    const difflm_token *ps[2] = { prompt_ids[1], prompt_ids[1] };
    size_t ns[2] = { prompt_lens[1], prompt_lens[1] }, n;
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 2, NULL, &g), DIFFLM_OK);
    int st;
    while ((st = difflm_batch_step(ctx)) == DIFFLM_OK)
        ;
    ck_assert_int_eq(st, DIFFLM_DONE);
    ck_assert_int_eq(difflm_batch_canvas(ctx, 0, a, MAX_CANVAS, &n), DIFFLM_DONE);
    ck_assert_int_eq(difflm_batch_canvas(ctx, 1, b, MAX_CANVAS, &n), DIFFLM_DONE);
    ck_assert(memcmp(a, ref, n * sizeof *a) == 0 && memcmp(b, ref, n * sizeof *b) == 0);
    difflm_free(ctx);
    difflm_model_free(m);
}
END_TEST

/* ---- the step callback: once per running canvas, in order; a non-zero return stops */

typedef struct cb_log {
    int calls[4];
    int order_ok;
    int last_index;
    int stop_canvas, stop_step;   /* return 1 there */
    size_t lens[4];
} cb_log;

static int on_step(const difflm_step_info *info, void *user) {
    cb_log *l = user;
    ck_assert_int_ge(info->batch_index, 0);
    ck_assert_int_lt(info->batch_index, 4);
    if (info->batch_index <= l->last_index)
        l->order_ok = 0;
    l->last_index = info->batch_index;
    l->calls[info->batch_index]++;
    ck_assert_int_eq(info->step, l->calls[info->batch_index]);
    ck_assert_uint_eq(info->canvas_length, l->lens[info->batch_index]);
    ck_assert_int_eq(info->prompt_length, (int)(l->lens[info->batch_index] - GEN));
    return info->batch_index == l->stop_canvas && info->step == l->stop_step;
}

START_TEST(step_callback) {
    difflm_model *m = load(_i);
    difflm_ctx *ctx = open_ctx(m, 2, 3);
    difflm_gen_params g = settings(0, model_arch(m));
    cb_log l = { .stop_canvas = -1 };
    g.step_fn = on_step;
    g.step_user = &l;
    const difflm_token *ps[3] = { prompt_ids[0], prompt_ids[1], prompt_ids[2] };
    size_t ns[3] = { prompt_lens[0], prompt_lens[1], prompt_lens[2] };
    for (int i = 0; i < 3; i++)
        l.lens[i] = ns[i] + GEN;
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 3, NULL, &g), DIFFLM_OK);
    int st, steps = 0;
    do {
        l.order_ok = 1;
        l.last_index = -1;
        st = difflm_batch_step(ctx);
        steps++;
        ck_assert(l.order_ok);
    } while (st == DIFFLM_OK);
    ck_assert_int_eq(st, DIFFLM_DONE);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(l.calls[i], steps);   // fixed schedule: every canvas every step

    // a stop at canvas 1's third step: canvas 2's call of that step is skipped
    memset(l.calls, 0, sizeof l.calls);
    l.stop_canvas = 1;
    l.stop_step = 3;
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 3, NULL, &g), DIFFLM_OK);
    while ((st = difflm_batch_step(ctx)) == DIFFLM_OK)
        ;
    ck_assert_int_eq(st, DIFFLM_E_CANCELLED);
    ck_assert_int_eq(l.calls[0], 3);
    ck_assert_int_eq(l.calls[1], 3);
    ck_assert_int_eq(l.calls[2], 2);
    ck_assert_int_eq(difflm_batch_step(ctx), DIFFLM_E_CANCELLED);   // stays cancelled
    difflm_token out[MAX_CANVAS];
    size_t n;
    ck_assert_int_eq(difflm_batch_canvas(ctx, 2, out, MAX_CANVAS, &n), DIFFLM_OK);
    difflm_free(ctx);
    difflm_model_free(m);
}
END_TEST

/* difflm_cancel before a step stops it; begin clears the request. */
START_TEST(cancel) {
    difflm_model *m = load(0);
    difflm_ctx *ctx = open_ctx(m, 2, 2);
    difflm_gen_params g = settings(0, model_arch(m));
    const difflm_token *ps[2] = { prompt_ids[0], prompt_ids[3] };
    size_t ns[2] = { prompt_lens[0], prompt_lens[3] };
    difflm_cancel(ctx);
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 2, NULL, &g), DIFFLM_OK);
    ck_assert_int_eq(difflm_batch_step(ctx), DIFFLM_OK);
    difflm_cancel(ctx);
    ck_assert_int_eq(difflm_batch_step(ctx), DIFFLM_E_CANCELLED);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(ctx), "cancel"));
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 2, NULL, &g), DIFFLM_OK);
    ck_assert_int_eq(difflm_batch_step(ctx), DIFFLM_OK);
    difflm_free(ctx);
    difflm_model_free(m);
}
END_TEST

/* ---- what create allocates for max_batch 3 is what memory_required promised (give or
 * take the pool's thread records and allocator headers), as tests/api checks for 1 */

typedef struct heap {
    void *base[512];
    size_t size[512];
    int n;
    size_t live;
} heap;

static void *heap_alloc(size_t size, size_t align, void *user) {
    heap *h = user;
    void *p = NULL;
    if (h->n < 512 && posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align,
                                     size) == 0) {
        h->base[h->n] = p;
        h->size[h->n++] = size;
        h->live += size;
    }
    return p;
}

static void heap_free(void *ptr, void *user) {
    heap *h = user;
    for (int i = 0; ptr && i < h->n; i++)
        if (h->base[i] == ptr) {
            h->live -= h->size[i];
            h->base[i] = h->base[--h->n];
            h->size[i] = h->size[h->n];
            free(ptr);
            return;
        }
}

START_TEST(memory_required_matches) {
    difflm_model *m = load(_i);
    static heap h;
    memset(&h, 0, sizeof h);
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.n_threads = 2;
    cp.max_canvas = MAX_CANVAS;
    cp.max_batch = 3;
    cp.alloc_fn = heap_alloc;
    cp.free_fn = heap_free;
    cp.alloc_user = &h;
    size_t need = 0;
    ck_assert_int_eq(difflm_ctx_memory_required(m, &cp, &need), DIFFLM_OK);
    int st;
    difflm_ctx *ctx = difflm_ctx_create(m, &cp, &st);
    ck_assert_ptr_nonnull(ctx);
    // the context's own part; the model's packed copy of the weights, which the first
    // answer counted, was made by this context from the model's allocator (none on
    // the OpenBLAS path: DIFFLM_GEMM=openblas, batch-openblas)
    size_t own = 0;
    ck_assert_int_eq(difflm_ctx_memory_required(m, &cp, &own), DIFFLM_OK);
    const char *gemm = getenv("DIFFLM_GEMM");
    if (gemm && !strcmp(gemm, "openblas"))
        ck_assert_uint_eq(need, own);
    else
        ck_assert_uint_gt(need, own);
    ck_assert_msg(h.live >= own && h.live <= own + 16384,
                  "create allocated %zu bytes, memory_required said %zu", h.live, own);
    // a full batch runs in it without another allocation
    size_t before = h.live;
    int n_before = h.n;
    difflm_gen_params g = settings(1, model_arch(m));
    const difflm_token *ps[3] = { prompt_ids[0], prompt_ids[1], prompt_ids[2] };
    size_t ns[3] = { prompt_lens[0], prompt_lens[1], prompt_lens[2] };
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 3, seeds, &g), DIFFLM_OK);
    while ((st = difflm_batch_step(ctx)) == DIFFLM_OK)
        ;
    ck_assert_int_eq(st, DIFFLM_DONE);
    ck_assert_uint_eq(h.live, before);
    ck_assert_int_eq(h.n, n_before);
    difflm_free(ctx);
    ck_assert_int_eq(h.n, 0);
    difflm_model_free(m);
}
END_TEST

/* ---- errors */

START_TEST(errors) {
    difflm_model *m = load(_i);
    difflm_ctx *ctx = open_ctx(m, 1, 2);
    difflm_gen_params g = settings(0, model_arch(m));
    const difflm_token *ps[3] = { prompt_ids[0], prompt_ids[1], prompt_ids[2] };
    size_t ns[3] = { prompt_lens[0], prompt_lens[1], prompt_lens[2] }, n = 99;
    difflm_token out[MAX_CANVAS];

    // state: nothing begun
    ck_assert_int_eq(difflm_batch_step(ctx), DIFFLM_E_STATE);
    ck_assert_int_eq(difflm_batch_canvas(ctx, 0, out, MAX_CANVAS, &n), DIFFLM_E_STATE);
    // arguments
    ck_assert_int_eq(difflm_batch_begin(NULL, ps, ns, 1, NULL, &g), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_batch_step(NULL), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_batch_canvas(NULL, 0, out, MAX_CANVAS, &n), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_batch_begin(ctx, NULL, ns, 1, NULL, &g), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, NULL, 1, NULL, &g), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 1, NULL, NULL), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 0, NULL, &g), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 3, NULL, &g), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(ctx), "max_batch 2"));
    const difflm_token *nullp[2] = { prompt_ids[0], NULL };
    ck_assert_int_eq(difflm_batch_begin(ctx, nullp, ns, 2, NULL, &g), DIFFLM_E_INVALID_ARG);
    size_t zero[2] = { 3, 0 };
    ck_assert_int_eq(difflm_batch_begin(ctx, nullp, zero, 2, NULL, &g), DIFFLM_OK);  // empty prompt
    difflm_token masked[3] = { 1, 5, 7 };   // the fixtures' MASK id in a prompt
    const difflm_token *mp[2] = { prompt_ids[0], masked };
    ck_assert_int_eq(difflm_batch_begin(ctx, mp, ns, 2, NULL, &g), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(ctx), "canvas 1"));
    ck_assert_int_eq(difflm_batch_step(ctx), DIFFLM_E_STATE);   // a failed begin leaves none
    size_t long_n[2] = { 3, MAX_CANVAS - GEN + 1 };
    difflm_token big[MAX_CANVAS] = { 0 };
    const difflm_token *bp[2] = { prompt_ids[0], big };
    ck_assert_int_eq(difflm_batch_begin(ctx, bp, long_n, 2, NULL, &g), DIFFLM_E_TOO_LONG);
    difflm_gen_params bad = g;
    bad.steps = 0;
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 2, NULL, &bad), DIFFLM_E_INVALID_ARG);
    bad = g;
    bad.cfg_scale = -1.0f;
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 2, NULL, &bad), DIFFLM_E_INVALID_ARG);
    // what a batch does not run
    bad = g;
    bad.cfg_scale = 1.0f;
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 2, NULL, &bad), DIFFLM_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(ctx), "classifier-free"));
    bad = g;
    bad.cache = DIFFLM_CACHE_DUAL;
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 2, NULL, &bad), DIFFLM_E_UNSUPPORTED);
    bad.cache = 7;
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 2, NULL, &bad), DIFFLM_E_INVALID_ARG);
    bad = g;
    bad.flags = DIFFLM_GEN_ALL_LOGITS;
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 2, NULL, &bad), DIFFLM_E_UNSUPPORTED);

    // canvas reads
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 2, NULL, &g), DIFFLM_OK);
    ck_assert_int_eq(difflm_batch_canvas(ctx, 2, out, MAX_CANVAS, &n), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_batch_canvas(ctx, 1, NULL, 0, &n), DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, ns[1] + GEN);
    ck_assert_int_eq(difflm_batch_canvas(ctx, 1, out, MAX_CANVAS, NULL), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_batch_canvas(ctx, 1, NULL, 5, &n), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_batch_canvas(ctx, 1, out, MAX_CANVAS, &n), DIFFLM_OK);
    ck_assert_int_eq(memcmp(out, prompt_ids[1], ns[1] * sizeof *out), 0);
    ck_assert_int_eq(out[ns[1]], 5);   // MASK
    // one generation at a time: a single begin ends the batch, a batch begin the single
    ck_assert_int_eq(difflm_canvas(ctx, out, MAX_CANVAS, &n), DIFFLM_E_STATE);
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt_ids[0], prompt_lens[0], &g), DIFFLM_OK);
    ck_assert_int_eq(difflm_batch_step(ctx), DIFFLM_E_STATE);
    ck_assert_int_eq(difflm_batch_canvas(ctx, 0, out, MAX_CANVAS, &n), DIFFLM_E_STATE);
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 2, NULL, &g), DIFFLM_OK);
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_E_STATE);
    ck_assert_int_eq(difflm_canvas(ctx, out, MAX_CANVAS, &n), DIFFLM_E_STATE);
    difflm_free(ctx);

    // capacity
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.max_canvas = MAX_CANVAS;
    int st = 0;
    cp.max_batch = 65;
    ck_assert_ptr_null(difflm_ctx_create(m, &cp, &st));
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
    cp.max_batch = -1;
    ck_assert_ptr_null(difflm_ctx_create(m, &cp, &st));
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
    size_t b1 = 0, b0 = 0, b4 = 0;
    cp.max_batch = 0;
    ck_assert_int_eq(difflm_ctx_memory_required(m, &cp, &b0), DIFFLM_OK);
    cp.max_batch = 1;
    ck_assert_int_eq(difflm_ctx_memory_required(m, &cp, &b1), DIFFLM_OK);
    cp.max_batch = 4;
    ck_assert_int_eq(difflm_ctx_memory_required(m, &cp, &b4), DIFFLM_OK);
    ck_assert_uint_eq(b0, b1);
    ck_assert_uint_gt(b4, b1);
    cp.max_batch = 1;   // default max_batch: a batch of one runs
    ctx = difflm_ctx_create(m, &cp, &st);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 2, NULL, &g), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 1, NULL, &g), DIFFLM_OK);
    difflm_free(ctx);
    // an older difflm_ctx_params (without max_batch) is still accepted, as max_batch 1
    cp.struct_size = (uint32_t)offsetof(difflm_ctx_params, max_batch);
    ck_assert_int_eq(difflm_ctx_memory_required(m, &cp, &b0), DIFFLM_OK);
    ck_assert_uint_eq(b0, b1);
    difflm_model_free(m);
}
END_TEST

/* difflm_logits between batch steps leaves the batch's tokens alone. */
START_TEST(logits_between_steps) {
    difflm_model *m = load(1);
    difflm_ctx *ctx = open_ctx(m, 2, 2), *alone = open_ctx(m, 2, 1);
    difflm_gen_params g = settings(1, model_arch(m));
    difflm_token ref[MAX_CANVAS], got[MAX_CANVAS];
    solo(alone, 2, &g, seeds[2], ref);
    const difflm_token *ps[2] = { prompt_ids[0], prompt_ids[2] };
    size_t ns[2] = { prompt_lens[0], prompt_lens[2] }, n;
    uint64_t ss[2] = { seeds[0], seeds[2] };
    difflm_model_info info = {.struct_size = sizeof info};
    ck_assert_int_eq(difflm_model_info_get(ctx, &info), DIFFLM_OK);
    float *logits = malloc(sizeof(float) * (size_t)info.n_vocab * 40);
    ck_assert_ptr_nonnull(logits);
    ck_assert_int_eq(difflm_batch_begin(ctx, ps, ns, 2, ss, &g), DIFFLM_OK);
    int st;
    do {
        ck_assert_int_eq(difflm_logits(ctx, prompt_ids[2], 12, NULL, 0, logits,
                                       (size_t)info.n_vocab * 40, &n), DIFFLM_OK);
    } while ((st = difflm_batch_step(ctx)) == DIFFLM_OK);
    ck_assert_int_eq(st, DIFFLM_DONE);
    ck_assert_int_eq(difflm_batch_canvas(ctx, 1, got, MAX_CANVAS, &n), DIFFLM_DONE);
    ck_assert(memcmp(got, ref, n * sizeof *got) == 0);
    free(logits);
    difflm_free(alone);
    difflm_free(ctx);
    difflm_model_free(m);
}
END_TEST

int main(int argc, char **argv) {
    if (argc != 1 + N_MODELS) {
        fprintf(stderr, "usage: %s LLADA.gguf DREAM.gguf QUANT.gguf\n", argv[0]);
        return 2;
    }
    for (int i = 0; i < N_MODELS; i++)
        model_paths[i] = argv[1 + i];
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("batch");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, equals_solo_1_thread, 0, N_MODELS);
    tcase_add_loop_test(tc, equals_solo_2_threads, 0, N_MODELS);
    tcase_add_test(tc, seeds_null_uses_g_seed);
    tcase_add_loop_test(tc, step_callback, 0, 2);
    tcase_add_test(tc, cancel);
    tcase_add_loop_test(tc, errors, 0, 2);
    tcase_add_loop_test(tc, memory_required_matches, 0, 2);
    tcase_add_test(tc, logits_between_steps);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/* test_cache.c - the prefix and dual KV caches against the uncached forward pass, and
 * the decoding options through the public API.
 *
 * What "exact" means here. A pass computes each row with the same kernels whatever
 * rows come with it, except that the GEMM library may pick a different blocking for a
 * different number of rows, which can change the last bit of a sum. So:
 *   - the block-start pass that fills the cache IS the plain forward (one function,
 *     same row count): compared bitwise;
 *   - a cached pass and a full-canvas pass with the same K/V (a cached pass on the
 *     canvas the cache was filled from; a cached pass against "the uncached forward
 *     with the out-of-block K/V frozen", built from dl_model_pass): they compute the
 *     same sums, but in products with a different number of rows, and OpenBLAS's sgemm
 *     rounds a row differently with the row count (measured: a 16-row product is not
 *     bitwise rows 24..40 of a 72-row one). So they are compared within EXACT_REL = 1e-6
 *     relative error in the 2-norm (||a - b|| / ||b||: a few float32 roundings), and
 *     EXACT_MAX_REL = 1e-5 of the largest magnitude for any single element. They
 *     are not bitwise equal here; the test says so when they are;
 *   - a cached pass against the plain forward of the changed canvas: that is the
 *     approximation itself, reported and bounded by APPROX_REL. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_compat.h"
#include "core/core.h"
#include "difflm.h"
#include "fmt/gguf.h"
#include "model/model.h"
#include "model_tiny.h"

#define EXACT_REL 1e-6
#define EXACT_MAX_REL 1e-5
/* A random-weight model is far more sensitive to its context than a trained one, so
 * this is a loose bound; it guards against gross errors (wrong rows, positions or
 * layers), which give differences of order 1. */
#define APPROX_REL 0.35

typedef struct fixture {
    void *buf;
    size_t n;
    dl_gguf *g;
    dl_model *m;
    void *scratch, *kv_mem;
    dl_kv_cache kv;
    int32_t max_tokens;
} fixture;

static void fx_open(fixture *f, const dl_tiny_spec *s, int32_t max_tokens) {
    memset(f, 0, sizeof *f);
    dl_err e = {0};
    ck_assert_int_eq(dl_tiny_to_buffer(s, &f->buf, &f->n, &e), 0);
    ck_assert_msg(dl_gguf_open_mem(&f->g, f->buf, f->n, &e) == 0, "%s", e.msg);
    ck_assert_msg(dl_model_load(&f->m, f->g, NULL, &e) == 0, "%s", e.msg);
    f->m->n_threads = 1;
    f->max_tokens = max_tokens;
    f->scratch = dl_aligned_alloc(dl_model_scratch_size(f->m, max_tokens));
    f->kv_mem = dl_aligned_alloc(dl_kv_cache_size(f->m, max_tokens));
    ck_assert(f->scratch && f->kv_mem);
    dl_kv_cache_bind(&f->kv, f->m, f->kv_mem, max_tokens);
}

static void fx_close(fixture *f) {
    dl_aligned_free(f->scratch);
    dl_aligned_free(f->kv_mem);
    dl_model_free(f->m);
    dl_gguf_close(f->g);
    free(f->buf);
}

/* The model shapes every test runs on: MHA, GQA with f16 weights, Dream (biases,
 * shifted logits, half-split RoPE, GQA 7:1). */
static void spec_for(dl_tiny_spec *s, int which) {
    if (which == 2) {
        dl_tiny_spec_init(s, DIFFLM_ARCH_DREAM);
        s->n_embd = 56;
        s->n_head = 7;
        s->n_head_kv = 1;
        s->n_ff = 96;
        s->seed = 31;
        return;
    }
    dl_tiny_spec_init(s, DIFFLM_ARCH_LLADA);
    s->seed = 30 + (uint64_t)which;
    if (which == 1) {
        s->n_head_kv = 2;
        s->wtype = DL_TYPE_F16;
    }
}
#define N_SPECS 3

static void random_tokens(int32_t *t, int32_t n, int32_t n_vocab, uint64_t seed) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int32_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        t[i] = 8 + (int32_t)(x % (uint64_t)(n_vocab - 8));   // past the control tokens
    }
}

/* max |a - b| / max |b| over n values. */
static double rel_diff(const float *a, const float *b, size_t n) {
    double md = 0.0, mb = 0.0;
    for (size_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)a[i] - (double)b[i]));
        mb = fmax(mb, fabs((double)b[i]));
    }
    return mb > 0.0 ? md / mb : md;
}

#define L_CANVAS 72
#define BLK_LO 24
#define BLK_HI 40

static float *hidden_buf(const fixture *f, int32_t rows) {
    float *h = malloc((size_t)rows * (size_t)f->m->hp.n_embd * sizeof(float));
    ck_assert_ptr_nonnull(h);
    return h;
}

static void forward_ok(fixture *f, const int32_t *tok, int32_t n, float *h) {
    dl_err e = {0};
    ck_assert_msg(dl_model_forward(f->m, f->scratch, tok, n, h, NULL, &e) == 0, "%s", e.msg);
}

static void fill_ok(fixture *f, const int32_t *tok, int32_t n, float *h) {
    dl_err e = {0};
    ck_assert_msg(dl_model_forward_fill(f->m, f->scratch, tok, n, h, &f->kv, NULL, &e) == 0,
                  "%s", e.msg);
}

static void cached_ok(fixture *f, const int32_t *tok, int32_t n, int32_t r0, int32_t nr, float *h) {
    dl_err e = {0};
    ck_assert_msg(dl_model_forward_cached(f->m, f->scratch, tok, n, r0, nr, h, &f->kv, NULL,
                                          &e) == 0, "%s", e.msg);
}

/* ||a - b|| / ||b|| over n values. */
static double rel_norm(const float *a, const float *b, size_t n) {
    double dd = 0.0, bb = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        dd += d * d;
        bb += (double)b[i] * (double)b[i];
    }
    return bb > 0.0 ? sqrt(dd / bb) : sqrt(dd);
}

/* Checks a against b within EXACT_REL (2-norm) and EXACT_MAX_REL (largest element), and
 * says whether they are bitwise equal. */
static void expect_exact(const char *what, int which, const float *a, const float *b, size_t n) {
    double d = rel_norm(a, b, n), dm = rel_diff(a, b, n);
    int bitwise = memcmp(a, b, n * sizeof(float)) == 0;
    printf("model %d: %-44s rel err %.3g (max %.3g)%s\n", which, what, d, dm,
           bitwise ? " bitwise equal" : "");
    ck_assert_msg(d <= EXACT_REL, "model %d: %s: rel err %g > %g", which, what, d, EXACT_REL);
    ck_assert_msg(dm <= EXACT_MAX_REL, "model %d: %s: max rel diff %g > %g", which, what, dm,
                  EXACT_MAX_REL);
}

/* ---------------------------------------------------------------- model level */

/* The block-start pass that fills the cache is the plain forward, bit for bit. */
START_TEST(test_fill_is_forward) {
    dl_tiny_spec s;
    spec_for(&s, _i);
    fixture f;
    fx_open(&f, &s, L_CANVAS);
    int32_t tok[L_CANVAS];
    random_tokens(tok, L_CANVAS, s.n_vocab, 1);
    float *plain = hidden_buf(&f, L_CANVAS), *filled = hidden_buf(&f, L_CANVAS);
    forward_ok(&f, tok, L_CANVAS, plain);
    fill_ok(&f, tok, L_CANVAS, filled);
    size_t n = (size_t)L_CANVAS * (size_t)f.m->hp.n_embd;
    ck_assert_msg(memcmp(plain, filled, n * sizeof(float)) == 0, "model %d: fill != forward", _i);
    // a shorter canvas in the same cache (its rows past the canvas are never read)
    fill_ok(&f, tok, 40, filled);
    forward_ok(&f, tok, 40, plain);
    ck_assert(memcmp(plain, filled, (size_t)40 * f.m->hp.n_embd * sizeof(float)) == 0);
    free(plain);
    free(filled);
    fx_close(&f);
}
END_TEST

/* On the canvas the cache was filled from, nothing is approximated: the block (dual)
 * or block + suffix (prefix) rows of a cached pass equal the full forward's. */
START_TEST(test_cached_same_canvas_is_exact) {
    dl_tiny_spec s;
    spec_for(&s, _i);
    fixture f;
    fx_open(&f, &s, L_CANVAS);
    const int32_t E = f.m->hp.n_embd;
    int32_t tok[L_CANVAS];
    random_tokens(tok, L_CANVAS, s.n_vocab, 2);
    float *full = hidden_buf(&f, L_CANVAS), *rows = hidden_buf(&f, L_CANVAS);
    fill_ok(&f, tok, L_CANVAS, full);
    cached_ok(&f, tok, L_CANVAS, BLK_LO, BLK_HI - BLK_LO, rows);
    expect_exact("dual, same canvas vs full forward", _i, rows, full + (size_t)BLK_LO * E,
                 (size_t)(BLK_HI - BLK_LO) * E);
    cached_ok(&f, tok, L_CANVAS, BLK_LO, L_CANVAS - BLK_LO, rows);
    expect_exact("prefix, same canvas vs full forward", _i, rows, full + (size_t)BLK_LO * E,
                 (size_t)(L_CANVAS - BLK_LO) * E);
    // a block of one row, and the last rows of the canvas
    cached_ok(&f, tok, L_CANVAS, 5, 1, rows);
    expect_exact("one row, same canvas", _i, rows, full + (size_t)5 * E, (size_t)E);
    cached_ok(&f, tok, L_CANVAS, L_CANVAS - 3, 3, rows);
    expect_exact("last rows, same canvas", _i, rows, full + (size_t)(L_CANVAS - 3) * E,
                 (size_t)3 * E);
    free(full);
    free(rows);
    fx_close(&f);
}
END_TEST

/* Within a block, after its tokens changed: the cached pass equals an uncached pass
 * over the whole new canvas whose out-of-block K/V are frozen at the block-start
 * values (dl_model_pass: every row computed, only the block's K/V fresh). */
START_TEST(test_cached_equals_frozen_forward) {
    dl_tiny_spec s;
    spec_for(&s, _i);
    fixture f;
    fx_open(&f, &s, L_CANVAS);
    const int32_t E = f.m->hp.n_embd;
    const size_t kv_bytes = dl_kv_cache_size(f.m, L_CANVAS);
    int32_t c0[L_CANVAS], c1[L_CANVAS];
    random_tokens(c0, L_CANVAS, s.n_vocab, 3);
    memcpy(c1, c0, sizeof c0);
    random_tokens(c1 + BLK_LO + 2, 5, s.n_vocab, 4);   // a few block tokens decoded
    float *h0 = hidden_buf(&f, L_CANVAS), *cached = hidden_buf(&f, L_CANVAS);
    float *frozen = hidden_buf(&f, L_CANVAS), *plain = hidden_buf(&f, L_CANVAS);
    void *kv_copy = dl_aligned_alloc(kv_bytes);
    ck_assert_ptr_nonnull(kv_copy);
    dl_kv_cache kv2;
    dl_kv_cache_bind(&kv2, f.m, kv_copy, L_CANVAS);
    forward_ok(&f, c1, L_CANVAS, plain);

    for (int mode = 0; mode < 2; mode++) {   // 0 dual: the block is fresh; 1 prefix: block + suffix
        int32_t hi = mode == 0 ? BLK_HI : L_CANVAS;
        fill_ok(&f, c0, L_CANVAS, h0);
        memcpy(kv_copy, f.kv_mem, kv_bytes);
        cached_ok(&f, c1, L_CANVAS, BLK_LO, hi - BLK_LO, cached);
        dl_pass p = {c1, L_CANVAS, 0, L_CANVAS, &kv2, BLK_LO, hi - BLK_LO};
        dl_err e = {0};
        ck_assert_msg(dl_model_pass(f.m, f.scratch, &p, frozen, NULL, &e) == 0, "%s", e.msg);
        expect_exact(mode == 0 ? "dual vs frozen-K/V full forward" : "prefix vs frozen-K/V full forward",
                     _i, cached, frozen + (size_t)BLK_LO * E, (size_t)(hi - BLK_LO) * E);
        // ... and both caches hold the same K/V afterwards (the fresh rows written alike)
        expect_exact("K/V written by the cached vs frozen pass", _i, f.kv_mem, kv_copy,
                     kv_bytes / sizeof(float));
        // the approximation is real, and bounded
        double d = rel_diff(cached, plain + (size_t)BLK_LO * E, (size_t)(hi - BLK_LO) * E);
        printf("model %d: %-44s max rel diff %.3g\n", _i,
               mode == 0 ? "dual vs uncached forward (approximation)"
                         : "prefix vs uncached forward (approximation)", d);
        ck_assert_msg(d > 1e-5, "model %d: the cache changed nothing: is the test live?", _i);
        ck_assert_msg(d < APPROX_REL, "model %d: cache error %g >= %g", _i, d, APPROX_REL);
        // the cached rows track the change: closer to the new canvas's forward than the
        // block-start rows (which ignore the change) are
        double moved = rel_diff(h0 + (size_t)BLK_LO * E, plain + (size_t)BLK_LO * E,
                                (size_t)(hi - BLK_LO) * E);
        printf("model %d: %-44s max rel diff %.3g\n", _i, "  (block-start rows vs uncached)",
               moved);
        ck_assert_msg(d < 0.5 * moved, "model %d: cache error %g vs change %g", _i, d, moved);
    }
    // rows of the prompt are never changed by a block's tokens in the layer-0 K/V, so a
    // pass over a canvas that only differs past the block equals the frozen one too:
    // nothing to test there; but the prefix rows of the cache must be untouched by a
    // dual step (only the block's K/V are written)
    fill_ok(&f, c0, L_CANVAS, h0);
    memcpy(kv_copy, f.kv_mem, kv_bytes);
    cached_ok(&f, c1, L_CANVAS, BLK_LO, BLK_HI - BLK_LO, cached);
    const size_t layer = (size_t)L_CANVAS * (size_t)f.kv.dkv;
    for (int32_t il = 0; il < f.m->hp.n_layer; il++) {
        const float *a = f.kv.k + il * layer, *b = kv2.k + il * layer;
        ck_assert(memcmp(a, b, (size_t)BLK_LO * f.kv.dkv * sizeof(float)) == 0);
        ck_assert(memcmp(a + (size_t)BLK_HI * f.kv.dkv, b + (size_t)BLK_HI * f.kv.dkv,
                         (size_t)(L_CANVAS - BLK_HI) * f.kv.dkv * sizeof(float)) == 0);
    }
    dl_aligned_free(kv_copy);
    free(h0);
    free(cached);
    free(frozen);
    free(plain);
    fx_close(&f);
}
END_TEST

/* The thread count changes nothing in a cached pass. */
START_TEST(test_cached_thread_determinism) {
    dl_tiny_spec s;
    spec_for(&s, _i);
    fixture f;
    fx_open(&f, &s, L_CANVAS);
    const size_t n = (size_t)(L_CANVAS - BLK_LO) * f.m->hp.n_embd;
    int32_t c0[L_CANVAS], c1[L_CANVAS];
    random_tokens(c0, L_CANVAS, s.n_vocab, 5);
    memcpy(c1, c0, sizeof c0);
    random_tokens(c1 + BLK_LO, 4, s.n_vocab, 6);
    float *h = hidden_buf(&f, L_CANVAS), *a = hidden_buf(&f, L_CANVAS);
    float *b = hidden_buf(&f, L_CANVAS);
    const int threads[2] = {1, 3};
    for (int t = 0; t < 2; t++) {
        f.m->n_threads = threads[t];
        fill_ok(&f, c0, L_CANVAS, h);
        cached_ok(&f, c1, L_CANVAS, BLK_LO, L_CANVAS - BLK_LO, t ? b : a);
    }
    ck_assert_msg(memcmp(a, b, n * sizeof(float)) == 0, "model %d: 1 vs 3 threads differ", _i);
    free(h);
    free(a);
    free(b);
    fx_close(&f);
}
END_TEST

START_TEST(test_pass_arguments) {
    dl_tiny_spec s;
    spec_for(&s, 0);
    fixture f;
    fx_open(&f, &s, 16);
    int32_t tok[32];
    random_tokens(tok, 32, s.n_vocab, 7);
    float *h = hidden_buf(&f, 32);
    dl_err e = {0};
    fill_ok(&f, tok, 16, h);
    const int32_t bad[][3] = {{16, 4, 13}, {16, -1, 2}, {16, 0, 0}, {16, 10, 7}, {17, 0, 4}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_int_eq(dl_model_forward_cached(f.m, f.scratch, tok, bad[i][0], bad[i][1],
                                                 bad[i][2], h, &f.kv, NULL, &e),
                         DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_model_forward_cached(f.m, f.scratch, tok, 16, 0, 4, h, NULL, NULL, &e),
                     DIFFLM_E_INVALID_ARG);
    // a pass without a cache must run every row
    dl_pass p = {tok, 16, 2, 4, NULL, 0, 0};
    ck_assert_int_eq(dl_model_pass(f.m, f.scratch, &p, h, NULL, &e), DIFFLM_E_INVALID_ARG);
    // fresh rows outside the computed ones
    p = (dl_pass){tok, 16, 2, 4, &f.kv, 1, 4};
    ck_assert_int_eq(dl_model_pass(f.m, f.scratch, &p, h, NULL, &e), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "fresh"));
    // an id outside the vocabulary in the computed rows
    tok[5] = s.n_vocab;
    ck_assert_int_eq(dl_model_forward_cached(f.m, f.scratch, tok, 16, 4, 4, h, &f.kv, NULL, &e),
                     DIFFLM_E_INVALID_ARG);
    int cancel = 1;
    tok[5] = 9;
    ck_assert_int_eq(dl_model_forward_cached(f.m, f.scratch, tok, 16, 4, 4, h, &f.kv, &cancel, &e),
                     DIFFLM_E_CANCELLED);
    free(h);
    fx_close(&f);
}
END_TEST

/* ---------------------------------------------------------------- through the API */

static char g_model[N_SPECS][64];

static void write_models(void) {
    for (int i = 0; i < N_SPECS; i++) {
        dl_tiny_spec s;
        spec_for(&s, i);
        snprintf(g_model[i], sizeof g_model[i], "/tmp/difflm-test-cache-%d-%d.gguf", (int)getpid(), i);
        dl_err e = {0};
        if (dl_tiny_write(&s, g_model[i], &e) != 0) {
            fprintf(stderr, "cannot write %s: %s\n", g_model[i], e.msg);
            exit(1);
        }
    }
}

static void remove_models(void) {
    for (int i = 0; i < N_SPECS; i++)
        unlink(g_model[i]);
}

static difflm_ctx *open_ctx(int which, int32_t n_threads) {
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = g_model[which];
    p.n_threads = n_threads;
    p.max_canvas = 96;
    int st = 0;
    difflm_ctx *ctx = difflm_create(&p, &st);
    ck_assert_msg(ctx != NULL, "create: %s", difflm_status_str(st));
    return ctx;
}

#define MAX_STEPS 128
typedef struct recorder {
    int32_t n;
    int32_t committed[MAX_STEPS];
    int32_t canvas[MAX_STEPS][96];
    int32_t len;
} recorder;

static int record(const difflm_step_info *info, void *user) {
    recorder *r = user;
    ck_assert(r->n < MAX_STEPS && info->canvas_length <= 96);
    ck_assert_int_eq(info->step, r->n + 1);
    ck_assert(info->total_steps >= info->step);
    r->committed[r->n] = info->n_committed;
    memcpy(r->canvas[r->n], info->canvas, info->canvas_length * sizeof(int32_t));
    r->len = (int32_t)info->canvas_length;
    r->n++;
    return 0;
}

static const difflm_token k_prompt[] = {0, 300, 301, 302, 303, 304, 305};
#define N_PROMPT 7

/* Runs one generation to the end with the step API; returns the step count, the
 * final canvas in out. */
static int32_t generate(difflm_ctx *ctx, difflm_gen_params *g, const difflm_token *prompt,
                        size_t n_prompt, recorder *rec, difflm_token *out) {
    memset(rec, 0, sizeof *rec);
    g->step_fn = record;
    g->step_user = rec;
    int rc = difflm_generate_begin(ctx, prompt, n_prompt, g);
    ck_assert_msg(rc == DIFFLM_OK, "begin: %s", difflm_last_error(ctx));
    int32_t steps = 0;
    while ((rc = difflm_generate_step(ctx)) == DIFFLM_OK)
        steps++;
    ck_assert_msg(rc == DIFFLM_DONE, "step: %s", difflm_last_error(ctx));
    steps++;
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_DONE);   // and nothing more runs
    ck_assert_int_eq(rec->n, steps);
    int32_t sum = 0;
    for (int32_t i = 0; i < rec->n; i++)
        sum += rec->committed[i];
    ck_assert_int_eq(sum, g->gen_length);
    size_t n = 0;
    ck_assert_int_eq(difflm_canvas(ctx, out, 96, &n), DIFFLM_OK);
    ck_assert_int_eq((int32_t)n, (int32_t)n_prompt + g->gen_length);
    return steps;
}

static void gen_defaults(difflm_gen_params *g, int32_t gen, int32_t steps, int32_t block) {
    difflm_gen_params_init(g);
    g->gen_length = gen;
    g->steps = steps;
    g->block_length = block;
    g->schedule = DIFFLM_SCHEDULE_BLOCKS;
}

/* Dream under a cache: at every block's first step, the block's first position commits
 * (the later, cached steps compute no row before the block, so they cannot predict it). */
START_TEST(test_dream_cache_commits_block_first) {
    static recorder rec;
    difflm_token out[96];
    difflm_ctx *ctx = open_ctx(2, 2);
    difflm_model_info mi = {.struct_size = sizeof mi};
    difflm_model_info_get(ctx, &mi);
    ck_assert_int_eq(mi.shift_logits, 1);
    for (int32_t cache = DIFFLM_CACHE_PREFIX; cache <= DIFFLM_CACHE_DUAL; cache++)
        for (int32_t par = DIFFLM_PARALLEL_NONE; par <= DIFFLM_PARALLEL_FACTOR; par++) {
            difflm_gen_params g;
            gen_defaults(&g, 32, 32, 8);
            g.schedule = DIFFLM_SCHEDULE_AUTO;   // resolves to BLOCKS under a cache
            g.cache = cache;
            g.parallel = par;
            generate(ctx, &g, k_prompt, N_PROMPT, &rec, out);
            // the step that first touches a block commits its first position
            int32_t started = -1;
            for (int32_t st = 0; st < rec.n; st++) {
                int32_t blk = -1;
                for (int32_t p = N_PROMPT; p < N_PROMPT + 32; p++) {
                    int was = st == 0 ? 0 : rec.canvas[st - 1][p] != mi.mask_id;
                    if (!was && rec.canvas[st][p] != mi.mask_id) {
                        blk = (p - N_PROMPT) / 8;
                        break;
                    }
                }
                if (blk > started) {
                    ck_assert_msg(rec.canvas[st][N_PROMPT + 8 * blk] != mi.mask_id,
                                  "cache %d parallel %d: block %d started at step %d without "
                                  "its first position", cache, par, blk, st + 1);
                    started = blk;
                }
            }
            ck_assert_int_eq(started, 3);
        }
    // without a cache Dream keeps its own schedule and nothing is forced
    difflm_gen_params g;
    gen_defaults(&g, 32, 32, 8);
    g.schedule = DIFFLM_SCHEDULE_TIMESTEPS;
    g.cache = DIFFLM_CACHE_DUAL;
    ck_assert_int_eq(difflm_generate_begin(ctx, k_prompt, N_PROMPT, &g), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(ctx), "BLOCKS"));
    difflm_free(ctx);
}
END_TEST

/* A block decoded in one step only ever sees the block-start full pass: the cached
 * generation is then the uncached one, token for token. And the first step of any
 * cached generation is the uncached first step. */
START_TEST(test_cache_exact_when_blocks_take_one_step) {
    static recorder r0, r1;
    difflm_token a[96], b[96];
    difflm_ctx *ctx = open_ctx(_i, 2);
    for (int32_t cache = DIFFLM_CACHE_PREFIX; cache <= DIFFLM_CACHE_DUAL; cache++) {
        difflm_gen_params g;
        gen_defaults(&g, 32, 4, 8);
        generate(ctx, &g, k_prompt, N_PROMPT, &r0, a);
        g.cache = cache;
        generate(ctx, &g, k_prompt, N_PROMPT, &r1, b);
        if (_i != 2)   // (Dream forces the block's first position: another rule)
            ck_assert(memcmp(a, b, sizeof(difflm_token) * (N_PROMPT + 32)) == 0);
        gen_defaults(&g, 32, 32, 8);
        generate(ctx, &g, k_prompt, N_PROMPT, &r0, a);
        g.cache = cache;
        generate(ctx, &g, k_prompt, N_PROMPT, &r1, b);
        if (_i != 2)
            ck_assert(memcmp(r0.canvas[0], r1.canvas[0], sizeof(int32_t) * (N_PROMPT + 32)) == 0);
    }
    difflm_free(ctx);
}
END_TEST

/* Every option, alone and together, gives the same tokens with 1 and 3 threads. */
START_TEST(test_options_thread_determinism) {
    static recorder rec;
    difflm_token a[96], b[96];
    difflm_ctx *c1 = open_ctx(_i, 1), *c3 = open_ctx(_i, 3);
    for (int cfg = 0; cfg < 6; cfg++) {
        difflm_gen_params g;
        gen_defaults(&g, 32, 32, 8);
        g.cache = cfg % 3;
        g.parallel = cfg < 3 ? DIFFLM_PARALLEL_THRESHOLD : DIFFLM_PARALLEL_FACTOR;
        g.threshold = 0.05f;
        g.factor = 3.0f;
        g.flags = DIFFLM_GEN_EARLY_STOP | (cfg == 4 ? DIFFLM_GEN_ALL_LOGITS : 0);
        int32_t s1 = generate(c1, &g, k_prompt, N_PROMPT, &rec, a);
        int32_t s3 = generate(c3, &g, k_prompt, N_PROMPT, &rec, b);
        ck_assert_int_eq(s1, s3);
        ck_assert_msg(memcmp(a, b, sizeof(difflm_token) * (N_PROMPT + 32)) == 0,
                      "model %d config %d: 1 and 3 threads differ", _i, cfg);
    }
    difflm_free(c1);
    difflm_free(c3);
}
END_TEST

/* DIFFLM_GEN_ALL_LOGITS changes the work, not the tokens: with and without a cache, with
 * an empty prompt (Dream's row 0 then predicts positions 0 and 1), at temperature > 0. */
START_TEST(test_all_logits_same_tokens) {
    static recorder rec;
    difflm_token a[96], b[96];
    difflm_ctx *ctx = open_ctx(_i, 2);
    static const difflm_token none[1] = {0};
    for (int cfg = 0; cfg < 4; cfg++) {
        difflm_gen_params g;
        gen_defaults(&g, 24, 24, 8);
        g.cache = cfg % 3;
        g.temperature = cfg == 3 ? 0.7f : 0.0f;
        g.seed = 11;
        if (_i == 2 && cfg == 0)
            g.schedule = DIFFLM_SCHEDULE_TIMESTEPS;
        size_t np = cfg == 1 ? 0 : N_PROMPT;
        const difflm_token *pr = np ? k_prompt : none;
        generate(ctx, &g, pr, np, &rec, a);
        g.flags |= DIFFLM_GEN_ALL_LOGITS;
        generate(ctx, &g, pr, np, &rec, b);
        ck_assert_msg(memcmp(a, b, sizeof(difflm_token) * (np + 24)) == 0,
                      "model %d config %d: all-logits changed the tokens", _i, cfg);
    }
    difflm_free(ctx);
}
END_TEST

START_TEST(test_api_option_checks) {
    difflm_ctx *ctx = open_ctx(0, 1);
    difflm_gen_params g;
    gen_defaults(&g, 16, 16, 8);
    g.cache = 3;
    ck_assert_int_eq(difflm_generate_begin(ctx, k_prompt, N_PROMPT, &g), DIFFLM_E_INVALID_ARG);
    g.cache = DIFFLM_CACHE_DUAL;
    g.cfg_scale = 1.0f;
    ck_assert_int_eq(difflm_generate_begin(ctx, k_prompt, N_PROMPT, &g), DIFFLM_E_UNSUPPORTED);
    g.cfg_scale = 0.0f;
    g.parallel = DIFFLM_PARALLEL_THRESHOLD;
    g.threshold = 0.0f;
    ck_assert_int_eq(difflm_generate_begin(ctx, k_prompt, N_PROMPT, &g), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(ctx), "threshold"));
    // an old caller's struct (without the new fields) gets the defaults
    difflm_gen_params init;
    gen_defaults(&init, 16, 16, 8);
    ck_assert(init.parallel == DIFFLM_PARALLEL_NONE && init.cache == DIFFLM_CACHE_NONE);
    ck_assert(init.threshold == 0.9f && init.factor == 1.0f);
    gen_defaults(&g, 16, 16, 8);
    g.struct_size = (uint32_t)offsetof(difflm_gen_params, parallel);
    g.parallel = 77;   // past the old struct: never read
    ck_assert_int_eq(difflm_generate_begin(ctx, k_prompt, N_PROMPT, &g), DIFFLM_OK);
    difflm_free(ctx);
}
END_TEST

int main(void) {
    write_models();
    Suite *su = suite_create("cache");
    TCase *tc = tcase_create("cache");
    /* Under valgrind (meson test --setup valgrind) one model shape is enough to check
     * memory; every shape runs in the plain setup. */
    int n_specs = getenv("DIFFLM_TEST_QUICK") ? 1 : N_SPECS;
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_fill_is_forward, 0, n_specs);
    tcase_add_loop_test(tc, test_cached_same_canvas_is_exact, 0, n_specs);
    tcase_add_loop_test(tc, test_cached_equals_frozen_forward, 0, n_specs);
    tcase_add_loop_test(tc, test_cached_thread_determinism, 0, n_specs);
    tcase_add_test(tc, test_pass_arguments);
    tcase_add_test(tc, test_dream_cache_commits_block_first);
    tcase_add_loop_test(tc, test_cache_exact_when_blocks_take_one_step, 0, n_specs);
    tcase_add_loop_test(tc, test_options_thread_determinism, 0, n_specs);
    tcase_add_loop_test(tc, test_all_logits_same_tokens, 0, n_specs);
    tcase_add_test(tc, test_api_option_checks);
    suite_add_tcase(su, tc);
    int rc = dl_run_suite(su);
    remove_models();
    return rc;
}

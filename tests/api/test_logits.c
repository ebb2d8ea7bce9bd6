/* test_logits.c - difflm_logits through the public API only: against the independent
 * numpy reference (tests/ref/refcli.py logits, run by meson at build time on the same
 * ids), all rows against chosen rows and 1 against 2 threads bitwise, the documented
 * shift (the step commits the argmax of the row the header names), bad arguments, the
 * size query, cancel, a generation that runs on unchanged around the calls, and no
 * allocation per call.
 * usage: test_logits LLADA.gguf DREAM.gguf LLADA_REF.bin DREAM_REF.bin IDS */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "api_fixture.h"

static const char *ref_paths[2];
static difflm_token ref_ids[256];
static size_t n_ref_ids;

static difflm_ctx *open_ctx(int which, int32_t n_threads, int32_t max_canvas) {
    return api_open(api_model_path[which], n_threads, max_canvas);
}

/* Logits of every row into a new buffer of n * n_vocab floats. */
static float *all_logits(difflm_ctx *ctx, const difflm_token *ids, size_t n) {
    size_t need = 0, got = 0;
    ck_assert_int_eq(difflm_logits(ctx, ids, n, NULL, 0, NULL, 0, &need),
                     DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(need, n * (size_t)api_info(ctx).n_vocab);
    float *out = malloc(need * sizeof *out);
    ck_assert_ptr_nonnull(out);
    int st = difflm_logits(ctx, ids, n, NULL, 0, out, need, &got);
    ck_assert_msg(st == DIFFLM_OK, "difflm_logits: %s: %s", difflm_status_str(st),
                  difflm_last_error(ctx));
    ck_assert_uint_eq(got, need);
    return out;
}

/* Little-endian float32 [n][n_vocab], as refcli.py writes it. */
static float *read_ref(const char *path, size_t n_floats) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    unsigned char *b = malloc(4 * n_floats + 1);
    float *x = malloc(n_floats * sizeof *x);
    ck_assert(b && x);
    size_t got = fread(b, 1, 4 * n_floats + 1, f);
    fclose(f);
    ck_assert_msg(got == 4 * n_floats, "%s holds %zu bytes, want %zu", path, got, 4 * n_floats);
    for (size_t i = 0; i < n_floats; i++) {
        uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
                     (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
        memcpy(&x[i], &u, 4);
    }
    free(b);
    return x;
}

/* The same tolerance as tests/model/golden_logits.py: 1e-4 of the logits' scale. */
START_TEST(against_reference) {
    for (int m = 0; m < 2; m++) {
        difflm_ctx *ctx = open_ctx(m, 2, 0);
        const size_t V = (size_t)api_info(ctx).n_vocab, n = n_ref_ids;
        float *c = all_logits(ctx, ref_ids, n);
        float *ref = read_ref(ref_paths[m], n * V);
        double scale = 1.0, err = 0.0;
        for (size_t i = 0; i < n * V; i++)
            scale = fmax(scale, fabs((double)ref[i]));
        for (size_t i = 0; i < n * V; i++) {
            ck_assert_msg(isfinite(c[i]), "logit %zu is not finite", i);
            err = fmax(err, fabs((double)c[i] - (double)ref[i]));
        }
        ck_assert_msg(err <= 1e-4 * scale, "%s: max |C - ref| %.3e, scale %.3f",
                      api_model_path[m], err, scale);
        free(ref);
        free(c);
        difflm_free(ctx);
    }
}
END_TEST

/* Chosen rows (out of order, repeated, more than one head chunk of them) give the bits
 * of the same rows of the full output; 1 and 2 threads give the same bits. */
START_TEST(rows_and_threads_bitwise) {
    for (int m = 0; m < 2; m++) {
        difflm_ctx *one = open_ctx(m, 1, 0), *two = open_ctx(m, 2, 0);
        const size_t V = (size_t)api_info(one).n_vocab, n = n_ref_ids;
        float *a = all_logits(one, ref_ids, n), *b = all_logits(two, ref_ids, n);
        ck_assert_int_eq(memcmp(a, b, n * V * sizeof *a), 0);

        int32_t rows[70];
        size_t n_rows = sizeof rows / sizeof rows[0];
        for (size_t i = 0; i < n_rows; i++)
            rows[i] = (int32_t)((i * 17 + 3) % n);
        rows[5] = rows[6] = (int32_t)n - 1;
        float *sel = malloc(n_rows * V * sizeof *sel);
        size_t got = 0;
        for (int t = 0; t < 2; t++) {
            memset(sel, 0xff, n_rows * V * sizeof *sel);
            ck_assert_int_eq(difflm_logits(t ? two : one, ref_ids, n, rows, n_rows, sel,
                                           n_rows * V, &got), DIFFLM_OK);
            ck_assert_uint_eq(got, n_rows * V);
            for (size_t i = 0; i < n_rows; i++)
                ck_assert_msg(memcmp(sel + i * V, a + (size_t)rows[i] * V, V * sizeof *sel) == 0,
                              "row %d (request %zu, %d threads) differs from the full pass",
                              rows[i], i, t + 1);
        }
        /* A single row, and zero rows (nothing written, no pass needed). */
        int32_t last = (int32_t)n - 1;
        ck_assert_int_eq(difflm_logits(one, ref_ids, n, &last, 1, sel, V, &got), DIFFLM_OK);
        ck_assert_uint_eq(got, V);
        ck_assert_int_eq(memcmp(sel, a + (size_t)last * V, V * sizeof *sel), 0);
        ck_assert_int_eq(difflm_logits(one, ref_ids, n, rows, 0, NULL, 0, &got), DIFFLM_OK);
        ck_assert_uint_eq(got, 0);
        /* A shorter canvas is its own pass: not the prefix of the long one's rows. */
        float *s = all_logits(one, ref_ids, 3);
        ck_assert_int_ne(memcmp(s, a, 3 * V * sizeof *s), 0);
        free(s);
        free(sel);
        free(a);
        free(b);
        difflm_free(one);
        difflm_free(two);
    }
}
END_TEST

/* The header's shift rule, checked against what a greedy step commits: position p's
 * token is the argmax of row p (LLaDA) or row p - 1 (Dream) of the pre-step canvas. */
START_TEST(shift_matches_the_steps) {
    for (int m = 0; m < 2; m++) {
        difflm_ctx *ctx = open_ctx(m, 1, 0);
        const difflm_model_info info = api_info(ctx);
        ck_assert_int_eq(info.shift_logits, m == 1);
        const size_t V = (size_t)info.n_vocab;
        difflm_gen_params g;
        api_gen(&g, 12, 3, 12);
        difflm_token prompt[] = {0, 300, 301, 17}, before[64], after[64];
        size_t n0, n1;
        ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 4, &g), DIFFLM_OK);
        int committed = 0;
        for (int step = 0; step < 3; step++) {
            ck_assert_int_eq(difflm_canvas(ctx, before, 64, &n0), DIFFLM_OK);
            float *lg = all_logits(ctx, before, n0);
            int st = difflm_generate_step(ctx);
            ck_assert(st == DIFFLM_OK || st == DIFFLM_DONE);
            ck_assert_int_eq(difflm_canvas(ctx, after, 64, &n1), DIFFLM_OK);
            ck_assert_uint_eq(n0, n1);
            for (size_t p = 0; p < n0; p++) {
                if (before[p] == after[p])
                    continue;
                ck_assert_int_eq(before[p], info.mask_id);
                size_t row = info.shift_logits && p > 0 ? p - 1 : p;
                size_t best = 0;
                for (size_t v = 1; v < V; v++)
                    if (lg[row * V + v] > lg[row * V + best])
                        best = v;
                ck_assert_msg((size_t)after[p] == best, "%s step %d: position %zu got %d, "
                              "argmax of row %zu is %zu", api_model_path[m], step + 1, p,
                              after[p], row, best);
                committed++;
            }
            free(lg);
        }
        ck_assert_int_eq(committed, 12);
        difflm_free(ctx);
    }
}
END_TEST

START_TEST(bad_arguments) {
    difflm_ctx *ctx = open_ctx(0, 1, 8);
    const size_t V = (size_t)api_info(ctx).n_vocab;
    float *out = malloc(9 * V * sizeof *out);
    difflm_token ids[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    int32_t rows[2] = {0, 3};
    size_t got = 77;

    ck_assert_int_eq(difflm_logits(NULL, ids, 4, NULL, 0, out, 4 * V, &got), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_logits(ctx, NULL, 4, NULL, 0, out, 4 * V, &got), DIFFLM_E_INVALID_ARG);
    ck_assert_uint_eq(got, 0);
    ck_assert_int_eq(difflm_logits(ctx, ids, 4, NULL, 0, out, 4 * V, NULL), DIFFLM_E_INVALID_ARG);
    got = 77;
    ck_assert_int_eq(difflm_logits(ctx, ids, 0, NULL, 0, out, 4 * V, &got), DIFFLM_E_INVALID_ARG);
    ck_assert_uint_eq(got, 0);
    ck_assert_int_eq(difflm_logits(ctx, ids, 4, NULL, 0, NULL, 4 * V, &got), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_logits(ctx, ids, 4, NULL, 2, out, 4 * V, &got), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(ctx), "n_rows"));
    /* ids outside the vocabulary, rows outside the canvas */
    ids[2] = (difflm_token)V;
    ck_assert_int_eq(difflm_logits(ctx, ids, 4, NULL, 0, out, 4 * V, &got), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(ctx), "index 2"));
    ids[2] = -1;
    ck_assert_int_eq(difflm_logits(ctx, ids, 4, NULL, 0, out, 4 * V, &got), DIFFLM_E_INVALID_ARG);
    ids[2] = 3;
    rows[1] = 4;
    ck_assert_int_eq(difflm_logits(ctx, ids, 4, rows, 2, out, 2 * V, &got), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(difflm_last_error(ctx), "rows[1]"));
    rows[1] = -1;
    ck_assert_int_eq(difflm_logits(ctx, ids, 4, rows, 2, out, 2 * V, &got), DIFFLM_E_INVALID_ARG);
    rows[1] = 3;
    /* n_rows * n_vocab past SIZE_MAX */
    ck_assert_int_eq(difflm_logits(ctx, ids, 4, rows, SIZE_MAX / 2, out, 2 * V, &got),
                     DIFFLM_E_INVALID_ARG);
    /* longer than max_canvas (8): E_TOO_LONG, even for a size query */
    ck_assert_int_eq(difflm_logits(ctx, ids, 9, NULL, 0, out, 9 * V, &got), DIFFLM_E_TOO_LONG);
    ck_assert_int_eq(difflm_logits(ctx, ids, 9, NULL, 0, NULL, 0, &got), DIFFLM_E_TOO_LONG);
    ck_assert_uint_eq(got, 0);
    /* exactly max_canvas is fine */
    ck_assert_int_eq(difflm_logits(ctx, ids, 8, NULL, 0, out, 8 * V, &got), DIFFLM_OK);
    ck_assert_uint_eq(got, 8 * V);
    free(out);
    difflm_free(ctx);
}
END_TEST

/* Too small a buffer: the size, and nothing written (checked before any work). */
START_TEST(buffer_too_small) {
    difflm_ctx *ctx = open_ctx(1, 1, 0);
    const size_t V = (size_t)api_info(ctx).n_vocab;
    difflm_token ids[5] = {4, 5, 6, 5, 8};
    int32_t rows[3] = {4, 0, 4};
    float *out = malloc(5 * V * sizeof *out);
    size_t got = 0;
    ck_assert_int_eq(difflm_logits(ctx, ids, 5, NULL, 0, NULL, 0, &got), DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(got, 5 * V);
    memset(out, 0x5a, 5 * V * sizeof *out);
    got = 0;
    ck_assert_int_eq(difflm_logits(ctx, ids, 5, NULL, 0, out, 5 * V - 1, &got),
                     DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(got, 5 * V);
    for (size_t i = 0; i < 5 * V; i++) {
        uint32_t u;
        memcpy(&u, &out[i], 4);
        ck_assert_uint_eq(u, 0x5a5a5a5au);
    }
    ck_assert_int_eq(difflm_logits(ctx, ids, 5, rows, 3, out, 3 * V - 1, &got),
                     DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(got, 3 * V);
    ck_assert_int_eq(difflm_logits(ctx, ids, 5, rows, 3, out, 3 * V, &got), DIFFLM_OK);
    ck_assert_uint_eq(got, 3 * V);
    free(out);
    difflm_free(ctx);
}
END_TEST

typedef struct canceller {
    difflm_ctx *ctx;
    volatile int stop;
} canceller;

static void *cancel_until_stopped(void *arg) {
    canceller *c = arg;
    while (!c->stop)
        difflm_cancel(c->ctx);
    return NULL;
}

START_TEST(cancel) {
    difflm_ctx *ctx = open_ctx(0, 1, 0);
    const size_t V = (size_t)api_info(ctx).n_vocab, n = n_ref_ids;
    float *want = all_logits(ctx, ref_ids, n);
    float *out = malloc(n * V * sizeof *out);
    size_t got = 0;

    /* Outside a generation: the call the request stops spends it. */
    difflm_cancel(ctx);
    ck_assert_int_eq(difflm_logits(ctx, ref_ids, n, NULL, 0, out, n * V, &got), DIFFLM_E_CANCELLED);
    ck_assert_uint_eq(got, 0);
    ck_assert_int_eq(difflm_logits(ctx, ref_ids, n, NULL, 0, out, n * V, &got), DIFFLM_OK);
    ck_assert_int_eq(memcmp(out, want, n * V * sizeof *out), 0);
    /* A size query runs nothing and leaves the request for the call that runs. */
    difflm_cancel(ctx);
    ck_assert_int_eq(difflm_logits(ctx, ref_ids, n, NULL, 0, NULL, 0, &got),
                     DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(difflm_logits(ctx, ref_ids, n, NULL, 0, out, n * V, &got), DIFFLM_E_CANCELLED);

    /* From another thread, over and over while calls run: each ends cancelled or
     * complete and right, and the context works afterwards. */
    canceller cc = {ctx, 0};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, cancel_until_stopped, &cc), 0);
    int n_cancelled = 0;
    /* at least 50 calls, and on a busy machine as many more as it takes the thread to
     * start and land one request */
    for (long i = 0; i < 50 || (n_cancelled == 0 && i < 10000000); i++) {
        int st = difflm_logits(ctx, ref_ids, n, NULL, 0, out, n * V, &got);
        ck_assert(st == DIFFLM_OK || st == DIFFLM_E_CANCELLED);
        if (st == DIFFLM_OK)
            ck_assert_int_eq(memcmp(out, want, n * V * sizeof *out), 0);
        n_cancelled += st == DIFFLM_E_CANCELLED;
    }
    cc.stop = 1;
    pthread_join(th, NULL);
    ck_assert_int_gt(n_cancelled, 0);
    int st = difflm_logits(ctx, ref_ids, n, NULL, 0, out, n * V, &got);
    if (st == DIFFLM_E_CANCELLED)   // the thread's last request, made after the last call
        st = difflm_logits(ctx, ref_ids, n, NULL, 0, out, n * V, &got);
    ck_assert_int_eq(st, DIFFLM_OK);
    ck_assert_int_eq(memcmp(out, want, n * V * sizeof *out), 0);

    /* During a generation the request is the generation's too, and stays until begin. */
    difflm_gen_params g;
    api_gen(&g, 8, 8, 8);
    difflm_token prompt[] = {0, 300};
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 2, &g), DIFFLM_OK);
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_OK);
    difflm_cancel(ctx);
    ck_assert_int_eq(difflm_logits(ctx, ref_ids, n, NULL, 0, out, n * V, &got), DIFFLM_E_CANCELLED);
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_E_CANCELLED);
    ck_assert_int_eq(difflm_logits(ctx, ref_ids, n, NULL, 0, out, n * V, &got), DIFFLM_E_CANCELLED);
    ck_assert_int_eq(difflm_generate_begin(ctx, prompt, 2, &g), DIFFLM_OK);
    ck_assert_int_eq(difflm_logits(ctx, ref_ids, n, NULL, 0, out, n * V, &got), DIFFLM_OK);
    ck_assert_int_eq(memcmp(out, want, n * V * sizeof *out), 0);
    /* Once the generation is complete, the request is the next call's alone again. */
    ck_assert_int_eq(api_steps(ctx, NULL), DIFFLM_DONE);
    difflm_cancel(ctx);
    ck_assert_int_eq(difflm_logits(ctx, ref_ids, n, NULL, 0, out, n * V, &got), DIFFLM_E_CANCELLED);
    ck_assert_int_eq(difflm_logits(ctx, ref_ids, n, NULL, 0, out, n * V, &got), DIFFLM_OK);
    ck_assert_int_eq(difflm_generate_step(ctx), DIFFLM_DONE);
    free(out);
    free(want);
    difflm_free(ctx);
}
END_TEST

/* Runs a generation to DONE; with `peek`, difflm_logits runs between every two steps, on
 * the current canvas and on a full-length unrelated canvas. Returns the canvas length. */
static size_t generate(difflm_ctx *ctx, const difflm_gen_params *g, int peek, difflm_token *canvas) {
    const size_t V = (size_t)api_info(ctx).n_vocab;
    const size_t max = (size_t)api_info(ctx).max_canvas;
    difflm_token prompt[] = {0, 300, 301, 302, 17}, *other = malloc(max * sizeof *other);
    float *buf = malloc(max * V * sizeof *buf);
    for (size_t i = 0; i < max; i++)
        other[i] = (difflm_token)((i * 37 + 11) % V);
    size_t n = 0, got;
    int st = difflm_generate_begin(ctx, prompt, 5, g);
    ck_assert_int_eq(st, DIFFLM_OK);
    while (st == DIFFLM_OK) {
        if (peek) {
            ck_assert_int_eq(difflm_canvas(ctx, canvas, 256, &n), DIFFLM_OK);
            ck_assert_int_eq(difflm_logits(ctx, canvas, n, NULL, 0, buf, max * V, &got), DIFFLM_OK);
            ck_assert_int_eq(difflm_logits(ctx, other, max, NULL, 0, buf, max * V, &got), DIFFLM_OK);
        }
        st = difflm_generate_step(ctx);
    }
    ck_assert_msg(st == DIFFLM_DONE, "generation: %s: %s", difflm_status_str(st),
                  difflm_last_error(ctx));
    ck_assert_int_eq(difflm_canvas(ctx, canvas, 256, &n), DIFFLM_OK);
    free(buf);
    free(other);
    return n;
}

START_TEST(generation_undisturbed) {
    static const int32_t caches[] = {DIFFLM_CACHE_NONE, DIFFLM_CACHE_DUAL, DIFFLM_CACHE_PREFIX};
    for (int m = 0; m < 2; m++) {
        for (int c = 0; c < 4; c++) {
            difflm_gen_params g;
            api_gen(&g, 24, 12, c == 0 ? 24 : 8);
            g.temperature = 0.7f;   // the random stream is the generation's: it must not move
            g.seed = 99;
            if (c < 3)
                g.cache = caches[c];
            else
                g.cfg_scale = 1.5f;
            if (g.cache != DIFFLM_CACHE_NONE)
                g.schedule = DIFFLM_SCHEDULE_BLOCKS;
            difflm_token a[256], b[256];
            difflm_ctx *ctx = open_ctx(m, 2, 64);
            size_t na = generate(ctx, &g, 0, a);
            size_t nb = generate(ctx, &g, 1, b);
            ck_assert_uint_eq(na, nb);
            ck_assert_msg(memcmp(a, b, na * sizeof *a) == 0,
                          "%s, setting %d: the generation changed when difflm_logits ran "
                          "between its steps", api_model_path[m], c);
            difflm_free(ctx);
        }
    }
}
END_TEST

/* A host allocator that counts its calls: a logits call makes none (the arena serves). */
static long n_host_allocs;

static void *count_alloc(size_t size, size_t align, void *user) {
    (void)user;
    __atomic_add_fetch(&n_host_allocs, 1, __ATOMIC_SEQ_CST);
    void *p = NULL;
    return posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1)
               ? NULL
               : p;
}

static void count_free(void *ptr, void *user) {
    (void)user;
    free(ptr);
}

START_TEST(no_allocation_per_call) {
    difflm_model_params mp;
    difflm_model_params_init(&mp);
    mp.path = api_model_path[1];
    mp.alloc_fn = count_alloc;
    mp.free_fn = count_free;
    int st;
    difflm_model *model = difflm_model_load(&mp, &st);
    ck_assert_ptr_nonnull(model);
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.n_threads = 2;
    difflm_ctx *ctx = difflm_ctx_create(model, &cp, &st);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_gt(n_host_allocs, 0);   // the allocator is the one in use
    const size_t V = (size_t)api_info(ctx).n_vocab, n = n_ref_ids;
    float *out = malloc(n * V * sizeof *out);
    int32_t rows[3] = {2, 1, 2};
    size_t got;
    long before = n_host_allocs;
    ck_assert_int_eq(difflm_logits(ctx, ref_ids, n, NULL, 0, NULL, 0, &got),
                     DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(difflm_logits(ctx, ref_ids, n, NULL, 0, out, n * V, &got), DIFFLM_OK);
    ck_assert_int_eq(difflm_logits(ctx, ref_ids, n, rows, 3, out, 3 * V, &got), DIFFLM_OK);
    ck_assert_int_eq(n_host_allocs, before);
    free(out);
    difflm_free(ctx);
    difflm_model_free(model);
}
END_TEST

static Suite *logits_suite(void) {
    Suite *s = suite_create("logits");
    TCase *tc = tcase_create("logits");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, against_reference);
    tcase_add_test(tc, rows_and_threads_bitwise);
    tcase_add_test(tc, shift_matches_the_steps);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, buffer_too_small);
    tcase_add_test(tc, cancel);
    tcase_add_test(tc, generation_undisturbed);
    tcase_add_test(tc, no_allocation_per_call);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv) {
    int rc = api_fixture_args(argc, argv, 3, "LLADA_REF.bin DREAM_REF.bin IDS");
    if (rc)
        return rc;
    ref_paths[0] = argv[3];
    ref_paths[1] = argv[4];
    for (const char *p = argv[5]; *p && n_ref_ids < sizeof ref_ids / sizeof ref_ids[0];) {
        char *end;
        ref_ids[n_ref_ids++] = (difflm_token)strtol(p, &end, 10);
        p = *end == ',' ? end + 1 : end;
        if (end == p && *p) {
            fprintf(stderr, "bad IDS at \"%s\"\n", p);
            return 2;
        }
    }
    if (n_ref_ids < 33) {
        fprintf(stderr, "IDS: want at least 33 ids (more than one head chunk), got %zu\n",
                n_ref_ids);
        return 2;
    }
    return dl_run_suite(logits_suite());
}

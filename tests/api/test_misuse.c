/* test_misuse.c - the public API under misuse and threads, through libdifflm.so only:
 * NULL for every pointer argument of every call; parameter structs of an older host
 * (struct_size smaller: the released minimum works, less is refused) and of a newer one
 * (larger, zero tail accepted, any non-zero tail byte refused); steps before begin and
 * after DONE; every caller buffer one element too small; difflm_cancel from another
 * thread landing within one step (latency measured and printed); N contexts on N
 * threads giving the tokens of a single one.
 * usage: test_misuse LLADA.gguf DREAM.gguf */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_fixture.h"

static int failures;

#define EXPECT(cond, ...)                                                  \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "test_misuse:%d: %s: ", __LINE__, #cond);      \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
            failures++;                                                    \
        }                                                                  \
    } while (0)
#define EXPECT_ST(call, want)                                                          \
    do {                                                                               \
        int st_ = (call);                                                              \
        EXPECT(st_ == (want), "%s gave %s, want %s", #call, difflm_status_name(st_),   \
               difflm_status_name(want));                                              \
    } while (0)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- NULL everywhere */
static void free_ptr(void *p, void *user) {
    (void)user;
    free(p);
}

static void nulls(const char *path) {
    int st = 0;
    EXPECT(difflm_create(NULL, &st) == NULL && st == DIFFLM_E_INVALID_ARG, "create(NULL)");
    EXPECT(difflm_create(NULL, NULL) == NULL, "create(NULL, NULL)");
    difflm_params p;
    difflm_params_init(&p);   /* model_path NULL */
    EXPECT(difflm_create(&p, &st) == NULL && st == DIFFLM_E_INVALID_ARG, "no path: %d", st);
    EXPECT(difflm_model_load(NULL, &st) == NULL && st == DIFFLM_E_INVALID_ARG, "load(NULL)");
    difflm_model_params mp;
    difflm_model_params_init(&mp);
    EXPECT(difflm_model_load(&mp, &st) == NULL && st == DIFFLM_E_INVALID_ARG, "no path");
    mp.path = path;
    mp.alloc_fn = NULL;
    mp.free_fn = free_ptr;   /* half an allocator */
    EXPECT(difflm_model_load(&mp, &st) == NULL && st == DIFFLM_E_INVALID_ARG, "half allocator");
    EXPECT(difflm_ctx_create(NULL, NULL, &st) == NULL && st == DIFFLM_E_INVALID_ARG, "ctx NULL");
    size_t bytes;
    EXPECT_ST(difflm_ctx_memory_required(NULL, NULL, &bytes), DIFFLM_E_INVALID_ARG);
    EXPECT(difflm_ctx_model(NULL) == NULL, "ctx_model(NULL)");
    EXPECT(difflm_last_error(NULL) != NULL, "last_error(NULL) must be a string");
    difflm_model_info info = {.struct_size = sizeof info};
    EXPECT_ST(difflm_model_info_get(NULL, &info), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_model_describe(NULL, &info), DIFFLM_E_INVALID_ARG);
    difflm_token ids[8];
    size_t n;
    char text[64];
    EXPECT_ST(difflm_tokenize(NULL, "a", 1, 0, ids, 8, &n), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_detokenize(NULL, ids, 0, 0, text, 64, &n), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_chat_format(NULL, NULL, 0, 1, text, 64, &n), DIFFLM_E_INVALID_ARG);
    difflm_gen_params g;
    api_gen(&g, 8, 4, 8);
    EXPECT_ST(difflm_generate_begin(NULL, ids, 0, &g), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_generate_step(NULL), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_canvas(NULL, ids, 8, &n), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_sample(NULL, "a", &g, text, 64, &n), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_logits(NULL, ids, 1, NULL, 0, NULL, 0, &n), DIFFLM_E_INVALID_ARG);
    difflm_cancel(NULL);
    difflm_free(NULL);
    difflm_model_free(NULL);
    difflm_params_init(NULL);
    difflm_model_params_init(NULL);
    difflm_ctx_params_init(NULL);
    difflm_gen_params_init(NULL);

    difflm_ctx *ctx = api_open(path, 1, 64);
    EXPECT_ST(difflm_model_info_get(ctx, NULL), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_tokenize(ctx, NULL, 3, 0, ids, 8, &n), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_tokenize(ctx, "abc", 3, 0, NULL, 8, &n), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_tokenize(ctx, "abc", 3, 0, ids, 8, NULL), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_detokenize(ctx, NULL, 2, 0, text, 64, &n), DIFFLM_E_INVALID_ARG);
    ids[0] = 10;
    EXPECT_ST(difflm_detokenize(ctx, ids, 1, 0, NULL, 64, &n), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_detokenize(ctx, ids, 1, 0, text, 64, NULL), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_chat_format(ctx, NULL, 2, 1, text, 64, &n), DIFFLM_E_INVALID_ARG);
    const difflm_chat_message bad[1] = {{NULL, "x"}};
    EXPECT_ST(difflm_chat_format(ctx, bad, 1, 1, text, 64, &n), DIFFLM_E_INVALID_ARG);
    const difflm_chat_message bad2[1] = {{"user", NULL}};
    EXPECT_ST(difflm_chat_format(ctx, bad2, 1, 1, text, 64, &n), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_chat_format(ctx, bad2, 1, 1, NULL, 64, &n), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_generate_begin(ctx, NULL, 2, &g), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_generate_begin(ctx, ids, 1, NULL), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_canvas(ctx, NULL, 8, &n), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_sample(ctx, NULL, &g, text, 64, &n), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_sample(ctx, "a", NULL, text, 64, &n), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_sample(ctx, "a", &g, NULL, 64, &n), DIFFLM_E_INVALID_ARG);
    EXPECT_ST(difflm_sample(ctx, "a", &g, text, 64, NULL), DIFFLM_E_INVALID_ARG);
    EXPECT(difflm_last_error(ctx)[0] != '\0', "a failure says why");
    /* the context still works */
    EXPECT_ST(difflm_sample(ctx, "a", &g, text, 64, &n), DIFFLM_OK);
    difflm_free(ctx);
}

/* ---- struct_size: older and newer hosts */
static void struct_sizes(const char *path) {
    int st;
    /* the first released difflm_gen_params ended at step_user: such a host works */
    difflm_ctx *ctx = api_open(path, 1, 64);
    difflm_token prompt[] = {9, 10};
    difflm_gen_params g;
    api_gen(&g, 8, 4, 8);
    g.struct_size = offsetof(difflm_gen_params, step_user) + sizeof(void *);
    g.parallel = 77;   /* past the old size: never read */
    g.cache = 99;
    EXPECT_ST(difflm_generate_begin(ctx, prompt, 2, &g), DIFFLM_OK);
    g.struct_size = offsetof(difflm_gen_params, step_user);
    EXPECT_ST(difflm_generate_begin(ctx, prompt, 2, &g), DIFFLM_E_INVALID_ARG);
    g.struct_size = 0;
    EXPECT_ST(difflm_generate_begin(ctx, prompt, 2, &g), DIFFLM_E_INVALID_ARG);
    /* newer: a zero tail is fine, each non-zero tail byte is refused */
    struct {
        difflm_gen_params g;
        unsigned char tail[24];
    } big;
    memset(&big, 0, sizeof big);
    api_gen(&big.g, 8, 4, 8);
    big.g.struct_size = sizeof big;
    EXPECT_ST(difflm_generate_begin(ctx, prompt, 2, &big.g), DIFFLM_OK);
    for (size_t i = 0; i < sizeof big.tail; i += 7) {
        big.tail[i] = 0x80;
        EXPECT_ST(difflm_generate_begin(ctx, prompt, 2, &big.g), DIFFLM_E_INVALID_ARG);
        big.tail[i] = 0;
    }
    difflm_free(ctx);

    /* the model, context and one-call params, and model_info */
    struct {
        difflm_model_params p;
        unsigned char tail[16];
    } mbig;
    memset(&mbig, 0, sizeof mbig);
    difflm_model_params_init(&mbig.p);
    mbig.p.path = path;
    mbig.p.struct_size = sizeof mbig;
    difflm_model *m = difflm_model_load(&mbig.p, &st);
    EXPECT(m != NULL, "model params with a zero tail: %s", difflm_status_name(st));
    mbig.tail[15] = 1;
    EXPECT(difflm_model_load(&mbig.p, &st) == NULL && st == DIFFLM_E_INVALID_ARG, "tail");
    mbig.tail[15] = 0;
    mbig.p.struct_size = offsetof(difflm_model_params, alloc_user);   /* below the first layout */
    EXPECT(difflm_model_load(&mbig.p, &st) == NULL && st == DIFFLM_E_INVALID_ARG, "short");
    struct {
        difflm_ctx_params p;
        unsigned char tail[16];
    } cbig;
    memset(&cbig, 0, sizeof cbig);
    difflm_ctx_params_init(&cbig.p);
    cbig.p.struct_size = sizeof cbig;
    cbig.p.max_canvas = 32;
    ctx = difflm_ctx_create(m, &cbig.p, &st);
    EXPECT(ctx != NULL, "ctx params with a zero tail: %s", difflm_status_name(st));
    difflm_free(ctx);
    cbig.tail[0] = 1;
    EXPECT(difflm_ctx_create(m, &cbig.p, &st) == NULL && st == DIFFLM_E_INVALID_ARG, "tail");
    cbig.tail[0] = 0;
    cbig.p.struct_size = 3;
    EXPECT(difflm_ctx_create(m, &cbig.p, &st) == NULL && st == DIFFLM_E_INVALID_ARG, "short");
    size_t bytes;
    EXPECT_ST(difflm_ctx_memory_required(m, &cbig.p, &bytes), DIFFLM_E_INVALID_ARG);
    /* model_info: an older, smaller struct gets its fields and its size back; a newer
     * one keeps its tail untouched */
    struct {
        difflm_model_info i;
        unsigned char tail[8];
    } ibig;
    memset(&ibig, 0xAB, sizeof ibig);
    ibig.i.struct_size = sizeof ibig;
    EXPECT_ST(difflm_model_describe(m, &ibig.i), DIFFLM_OK);
    EXPECT(ibig.i.struct_size == sizeof(difflm_model_info) && ibig.tail[0] == 0xAB &&
           ibig.tail[7] == 0xAB, "a newer info struct: size %u", ibig.i.struct_size);
    difflm_model_info small;
    memset(&small, 0xCD, sizeof small);
    /* the oldest accepted layout ends before n_params */
    small.struct_size = offsetof(difflm_model_info, n_params);
    EXPECT_ST(difflm_model_describe(m, &small), DIFFLM_OK);
    EXPECT(small.struct_size == offsetof(difflm_model_info, n_params) && small.n_vocab > 0 &&
           small.n_params == 0xCDCDCDCDCDCDCDCDull, "an older info struct: size %u",
           small.struct_size);
    small.struct_size = offsetof(difflm_model_info, n_params) - 1;
    EXPECT_ST(difflm_model_describe(m, &small), DIFFLM_E_INVALID_ARG);
    small.struct_size = 2;
    EXPECT_ST(difflm_model_describe(m, &small), DIFFLM_E_INVALID_ARG);
    difflm_model_free(m);
}

/* ---- the generation's states and small buffers */
static void states_and_buffers(const char *path) {
    difflm_ctx *ctx = api_open(path, 1, 64);
    difflm_token ids[64];
    size_t n = 99;
    EXPECT_ST(difflm_generate_step(ctx), DIFFLM_E_STATE);
    EXPECT_ST(difflm_generate_step(ctx), DIFFLM_E_STATE);
    EXPECT_ST(difflm_canvas(ctx, ids, 64, &n), DIFFLM_E_STATE);
    /* tokenize: exact need, one short */
    const char *text = "The quick brown fox jumps over the lazy dog";
    EXPECT_ST(difflm_tokenize(ctx, text, strlen(text), 0, ids, 0, &n), DIFFLM_E_BUFFER_TOO_SMALL);
    size_t need = n;
    EXPECT(need > 1, "need %zu", need);
    EXPECT_ST(difflm_tokenize(ctx, text, strlen(text), 0, ids, need - 1, &n),
              DIFFLM_E_BUFFER_TOO_SMALL);
    EXPECT(n == need, "one short: %zu, need %zu", n, need);
    EXPECT_ST(difflm_tokenize(ctx, text, strlen(text), 0, ids, need, &n), DIFFLM_OK);
    char out[128];
    size_t m;
    EXPECT_ST(difflm_detokenize(ctx, ids, need, 0, out, strlen(text) - 1, &m),
              DIFFLM_E_BUFFER_TOO_SMALL);
    EXPECT(m == strlen(text), "detokenize need %zu", m);
    const difflm_chat_message msgs[1] = {{"user", "hi"}};
    EXPECT_ST(difflm_chat_format(ctx, msgs, 1, 1, out, 0, &m), DIFFLM_E_BUFFER_TOO_SMALL);
    size_t chat_need = m;
    EXPECT_ST(difflm_chat_format(ctx, msgs, 1, 1, out, chat_need, &m), DIFFLM_E_BUFFER_TOO_SMALL);
    EXPECT_ST(difflm_chat_format(ctx, msgs, 1, 1, out, chat_need + 1, &m), DIFFLM_OK);
    EXPECT(m == chat_need && out[m] == '\0', "chat: %zu bytes", m);

    difflm_gen_params g;
    api_gen(&g, 8, 4, 8);
    EXPECT_ST(difflm_generate_begin(ctx, ids, 3, &g), DIFFLM_OK);
    EXPECT_ST(difflm_canvas(ctx, ids + 32, 10, &n), DIFFLM_E_BUFFER_TOO_SMALL);
    EXPECT(n == 11, "canvas needs %zu", n);
    int st, steps = 0;
    while ((st = difflm_generate_step(ctx)) == DIFFLM_OK)
        steps++;
    EXPECT(st == DIFFLM_DONE && steps < 8, "end: %s after %d", difflm_status_name(st), steps);
    for (int i = 0; i < 3; i++)
        EXPECT_ST(difflm_generate_step(ctx), DIFFLM_DONE);
    difflm_cancel(ctx);   /* after DONE: still DONE, nothing runs */
    EXPECT_ST(difflm_generate_step(ctx), DIFFLM_DONE);
    EXPECT_ST(difflm_canvas(ctx, ids + 32, 11, &n), DIFFLM_OK);
    /* sample into buffers too small for its text */
    char tiny[2];
    st = difflm_sample(ctx, "hello", &g, tiny, 1, &m);
    EXPECT(st == DIFFLM_E_BUFFER_TOO_SMALL || (st == DIFFLM_OK && m == 0), "sample cap 1: %s",
           difflm_status_name(st));
    difflm_free(ctx);
}

/* ---- cancel from another thread, mid-step */
typedef struct canceller {
    difflm_ctx *ctx;
    double delay, t_cancel;
} canceller;

static void *cancel_later(void *arg) {
    canceller *c = arg;
    struct timespec ts = {0, (long)(c->delay * 1e9)};
    nanosleep(&ts, NULL);
    c->t_cancel = now();
    difflm_cancel(c->ctx);
    return NULL;
}

static void cancel_latency(const char *path) {
    difflm_ctx *ctx = api_open(path, 2, 512);
    difflm_gen_params g;
    api_gen(&g, 448, 448, 448);
    difflm_token prompt[] = {9, 10, 11};
    /* one step's time, measured */
    EXPECT_ST(difflm_generate_begin(ctx, prompt, 3, &g), DIFFLM_OK);
    double t0 = now();
    for (int i = 0; i < 3; i++)
        EXPECT_ST(difflm_generate_step(ctx), DIFFLM_OK);
    double step_s = (now() - t0) / 3;
    double worst = 0;
    for (int trial = 0; trial < 3; trial++) {
        EXPECT_ST(difflm_generate_begin(ctx, prompt, 3, &g), DIFFLM_OK);
        canceller c = {ctx, step_s * (2.5 + trial), 0};
        pthread_t th;
        pthread_create(&th, NULL, cancel_later, &c);
        int st;
        int steps = 0;
        static double started[512];   /* when each step began */
        for (;;) {
            started[steps] = now();
            if ((st = difflm_generate_step(ctx)) != DIFFLM_OK || ++steps >= 500)
                break;
        }
        double t_end = now();
        pthread_join(th, NULL);
        EXPECT(st == DIFFLM_E_CANCELLED, "ended with %s", difflm_status_name(st));
        /* the step running when cancel came is the one that stops: none that began
         * after it completed */
        for (int i = 0; i < steps; i++)
            EXPECT(started[i] < c.t_cancel, "step %d began %.3f ms after the cancel and ran",
                   i + 1, 1e3 * (started[i] - c.t_cancel));
        double lat = t_end - c.t_cancel;
        if (lat > worst)
            worst = lat;
    }
    printf("%s: a step takes %.2f ms; difflm_cancel from another thread landed after at most "
           "%.2f ms (%.2f steps)\n", path, 1e3 * step_s, 1e3 * worst, worst / step_s);
    EXPECT(worst <= 2.0 * step_s + 0.1, "cancel latency %.3f s, a step %.3f s", worst, step_s);
    difflm_free(ctx);
}

/* ---- N contexts on N threads */
#define N_CTX 4
typedef struct worker {
    difflm_model *model;
    int n_threads;
    difflm_token canvas[64];
    size_t n;
    int st;
} worker;

static void *run_worker(void *arg) {
    worker *w = arg;
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.n_threads = w->n_threads;
    cp.max_canvas = 64;
    difflm_ctx *ctx = difflm_ctx_create(w->model, &cp, &w->st);
    if (!ctx)
        return NULL;
    difflm_gen_params g;
    api_gen(&g, 24, 12, 8);
    g.temperature = 0.8f;
    g.top_k = 40;
    g.seed = 1234;
    difflm_token prompt[] = {20, 21, 22, 23, 24};
    w->st = api_run(ctx, prompt, 5, &g, w->canvas, 64, &w->n, NULL);
    if (w->st == DIFFLM_DONE)   /* and the canvas read */
        w->st = DIFFLM_OK;
    difflm_free(ctx);
    return NULL;
}

static void n_threads_same_tokens(const char *path) {
    difflm_model *m = api_load(path);
    worker ref = {m, 1, {0}, 0, 0};
    run_worker(&ref);
    EXPECT(ref.st == DIFFLM_OK, "single: %s", difflm_status_name(ref.st));
    worker w[N_CTX];
    pthread_t th[N_CTX];
    for (int i = 0; i < N_CTX; i++) {
        w[i] = (worker){m, 1 + i % 2, {0}, 0, 0};
        pthread_create(&th[i], NULL, run_worker, &w[i]);
    }
    for (int i = 0; i < N_CTX; i++) {
        pthread_join(th[i], NULL);
        EXPECT(w[i].st == DIFFLM_OK && w[i].n == ref.n &&
               memcmp(w[i].canvas, ref.canvas, ref.n * sizeof ref.canvas[0]) == 0,
               "context %d on its thread: %s, tokens differ from the single run", i,
               difflm_status_name(w[i].st));
    }
    difflm_model_free(m);
    printf("%s: %d contexts on %d threads gave the single thread's %zu tokens\n", path, N_CTX,
           N_CTX, ref.n);
}

int main(int argc, char **argv) {
    int rc = api_fixture_args(argc, argv, 0, NULL);
    if (rc)
        return rc;
    for (int a = 0; a < 2; a++) {
        nulls(api_model_path[a]);
        struct_sizes(api_model_path[a]);
        states_and_buffers(api_model_path[a]);
        n_threads_same_tokens(api_model_path[a]);
    }
    cancel_latency(api_model_path[API_LLADA]);
    printf("%d problems\n", failures);
    return failures ? 1 : 0;
}

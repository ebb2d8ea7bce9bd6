/* test_alloc_fail.c - allocation-failure injection over whole host sessions, for every n:
 * the n-th allocation of the library (lib/core/alloc.c's test hook, which sees both the
 * C library's scope of difflm_create and a host allocator's scope) fails during
 * create (model load + context), tokenize, chat format, generate_begin, the steps, the
 * canvas, sample and free. Each time: every call returns OK / DONE or E_NOMEM (nothing
 * else: the cause must be reported as what it is), nothing crashes, every block allocated
 * since arming is freed by the end (the hook's live count, the host allocator's own, and
 * valgrind / LeakSanitizer in those setups), and a fresh session afterwards works. Then
 * a failing mmap (lib/fmt/mapped_file.c's hook): a status, no leak, and the next load
 * works. DIFFLM_TEST_QUICK=1 (valgrind and ASan setups) samples the n's.
 *
 * It links the internal library for the two hooks, and drives it through the public API.
 * usage: test_alloc_fail LLADA.gguf DREAM.gguf */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "difflm.h"
#include "fmt/mapped_file.h"

static int failures;

#define EXPECT(cond, ...)                                                     \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "test_alloc_fail:%d: %s: ", __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
            failures++;                                                       \
        }                                                                     \
    } while (0)

/* ---- a host allocator that counts its live blocks */

typedef struct host_heap {
    pthread_mutex_t mu;
    long live;
} host_heap;

static void *heap_alloc(size_t size, size_t align, void *user) {
    host_heap *h = user;
    void *p = NULL;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) != 0)
        return NULL;
    pthread_mutex_lock(&h->mu);
    h->live++;
    pthread_mutex_unlock(&h->mu);
    return p;
}

static void heap_free(void *p, void *user) {
    host_heap *h = user;
    if (!p)
        return;
    pthread_mutex_lock(&h->mu);
    h->live--;
    pthread_mutex_unlock(&h->mu);
    free(p);
}

/* ---- one session */

static int ok_or_nomem(int st) { return st == DIFFLM_OK || st == DIFFLM_DONE || st == DIFFLM_E_NOMEM; }

typedef struct outcome {
    int nomem;          /* calls that returned E_NOMEM */
    int complete;       /* every call succeeded */
} outcome;

#define CHECK_CALL(n, what, st)                                                           \
    do {                                                                                  \
        EXPECT(ok_or_nomem(st), "n=%ld: %s returned %s", n, what, difflm_status_name(st)); \
        if ((st) == DIFFLM_E_NOMEM)                                                       \
            o.nomem++;                                                                    \
        if ((st) < 0)                                                                     \
            o.complete = 0;                                                               \
    } while (0)

/* host: NULL = difflm_create (the C library's allocator), else load + ctx_create with it. */
static outcome session(const char *path, host_heap *host, long n) {
    outcome o = {0, 1};
    int st = 12345;
    difflm_ctx *ctx = NULL;
    difflm_model *model = NULL;
    if (!host) {
        difflm_params p;
        difflm_params_init(&p);
        p.model_path = path;
        p.n_threads = 2;
        p.max_canvas = 48;
        ctx = difflm_create(&p, &st);
    } else {
        difflm_model_params mp;
        difflm_model_params_init(&mp);
        mp.path = path;
        mp.alloc_fn = heap_alloc;
        mp.free_fn = heap_free;
        mp.alloc_user = host;
        model = difflm_model_load(&mp, &st);
        if (model) {
            difflm_ctx_params cp;
            difflm_ctx_params_init(&cp);
            cp.n_threads = 2;
            cp.max_canvas = 48;
            cp.alloc_fn = heap_alloc;
            cp.free_fn = heap_free;
            cp.alloc_user = host;
            ctx = difflm_ctx_create(model, &cp, &st);
        }
        difflm_model_free(model);   /* the context holds its own reference */
    }
    EXPECT((ctx != NULL) == (st == DIFFLM_OK), "n=%ld: create gave %p with %s", n, (void *)ctx,
           difflm_status_name(st));
    CHECK_CALL(n, "create", st);
    if (!ctx)
        return o;

    difflm_token prompt[32];
    size_t n_prompt = 0;
    st = difflm_tokenize(ctx, "Hello world, hello <|im_start|>", 31,
                         DIFFLM_TOKENIZE_ADD_BOS | DIFFLM_TOKENIZE_PARSE_SPECIAL, prompt, 32,
                         &n_prompt);
    CHECK_CALL(n, "tokenize", st);
    if (st != DIFFLM_OK) {
        prompt[0] = 9;
        n_prompt = 1;
    }
    char text[512];
    size_t n_text = 0;
    st = difflm_detokenize(ctx, prompt, n_prompt, 0, text, sizeof text, &n_text);
    CHECK_CALL(n, "detokenize", st);
    const difflm_chat_message msgs[2] = {{"system", "be brief"}, {"user", "hi"}};
    st = difflm_chat_format(ctx, msgs, 2, 1, text, sizeof text, &n_text);
    CHECK_CALL(n, "chat_format", st);

    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = 12;
    g.steps = 6;
    g.block_length = 6;
    g.temperature = 0.5f;
    g.seed = 3;
    st = difflm_generate_begin(ctx, prompt, n_prompt, &g);
    CHECK_CALL(n, "generate_begin", st);
    for (int i = 0; i < 8 && st == DIFFLM_OK; i++) {
        st = difflm_generate_step(ctx);
        CHECK_CALL(n, "generate_step", st);
    }
    difflm_token canvas[48];
    size_t n_canvas = 0;
    if (st == DIFFLM_DONE) {
        st = difflm_canvas(ctx, canvas, 48, &n_canvas);
        CHECK_CALL(n, "canvas", st);
    }
    g.cache = DIFFLM_CACHE_DUAL;   /* the cache's own buffers */
    g.parallel = DIFFLM_PARALLEL_THRESHOLD;
    st = difflm_sample(ctx, "hi", &g, text, sizeof text, &n_text);
    CHECK_CALL(n, "sample", st);
    difflm_free(ctx);
    return o;
}

/* Every n (every stride-th in quick mode) of a session's allocations fails in turn. */
static void sweep(const char *path, int with_host, int quick) {
    host_heap h;
    pthread_mutex_init(&h.mu, NULL);
    h.live = 0;
    host_heap *host = with_host ? &h : NULL;
    /* unarmed, then counted */
    outcome o = session(path, host, 0);
    EXPECT(o.complete, "%s: the plain session failed", path);
    dl_alloc_test_fail_at(0);
    o = session(path, host, 0);
    long total;
    int fired;
    long live;
    dl_alloc_test_stats(&total, &fired, &live);
    EXPECT(o.complete && live == 0 && h.live == 0, "%s: the counted session: live %ld / %ld",
           path, live, h.live);
    EXPECT(total > 50, "%s: only %ld allocations counted", path, total);
    long stride = quick ? total / 40 + 1 : 1;
    long tried = 0, surfaced = 0, recovered = 0;
    for (long n = 1; n <= total && failures < 20; n += stride) {
        dl_alloc_test_fail_at(n);
        o = session(path, host, n);
        long count;
        dl_alloc_test_stats(&count, &fired, &live);
        dl_alloc_test_fail_at(0);
        tried++;
        EXPECT(fired, "n=%ld of %ld: the failure never came (the session allocates less "
               "than the counted one)", n, total);
        EXPECT(live == 0, "n=%ld: %ld blocks still allocated after difflm_free", n, live);
        EXPECT(h.live == 0, "n=%ld: the host allocator has %ld blocks out", n, h.live);
        EXPECT(o.nomem > 0 || o.complete, "n=%ld: a call failed without E_NOMEM", n);
        surfaced += o.nomem > 0;
        recovered += o.nomem == 0;
        if (!quick || n % (stride * 8) == 1) {   /* and a fresh one works */
            outcome f = session(path, host, 0);
            EXPECT(f.complete, "n=%ld: the fresh session after the failure failed", n);
        }
    }
    printf("%s, %s: %ld allocations a session; failed %ld of them in turn: %ld surfaced as "
           "E_NOMEM, %ld absorbed (the session still completed)\n", path,
           with_host ? "host allocator" : "difflm_create", total, tried, surfaced, recovered);
    pthread_mutex_destroy(&h.mu);
}

/* mmap failing: a status, no leak, and the next load works. */
static void map_failure(const char *path) {
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = path;
    p.max_canvas = 32;
    for (int i = 0; i < 2; i++) {
        dl_alloc_test_fail_at(0);
        dl_map_test_fail_next(i == 0 ? ENOMEM : EACCES);
        int st = 0;
        difflm_ctx *ctx = difflm_create(&p, &st);
        long count, live;
        int fired;
        dl_alloc_test_stats(&count, &fired, &live);
        EXPECT(ctx == NULL && st == DIFFLM_E_IO, "mmap failure: ctx %p, %s", (void *)ctx,
               difflm_status_name(st));
        EXPECT(live == 0, "mmap failure left %ld blocks", live);
        difflm_free(ctx);
        ctx = difflm_create(&p, &st);
        EXPECT(ctx != NULL, "the load after an mmap failure: %s", difflm_status_name(st));
        difflm_free(ctx);
    }
    dl_map_test_fail_next(0);
    printf("%s: mmap failures give E_IO with nothing left allocated\n", path);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_alloc_fail LLADA.gguf DREAM.gguf\n");
        return 2;
    }
    const char *q = getenv("DIFFLM_TEST_QUICK");
    int quick = q && *q && strcmp(q, "0") != 0;
    for (int a = 1; a < argc; a++) {
        map_failure(argv[a]);
        sweep(argv[a], 0, quick);
        sweep(argv[a], 1, quick);
    }
    printf("%d problems\n", failures);
    return failures ? 1 : 0;
}

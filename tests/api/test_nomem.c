/* test_nomem.c - every allocation failure ends in a clean status: no crash, no leak.
 * usage: test_nomem MODEL.gguf...   (with LD_PRELOAD=libfailmalloc.so for fault injection)
 *
 * For n = 1, 2, ... the n-th allocation made after arming fails while a host-style
 * session runs (create, tokenize, generate_begin + steps, sample, free). Every call
 * must return OK/DONE or a negative status, and once difflm_free has run, nothing
 * allocated during the session may still be live. The loop stops at the first n the
 * session no longer reaches. Without the shim (e.g. under valgrind, whose own malloc
 * replacement is in charge) the session runs once, unarmed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "difflm.h"

static void (*fm_arm)(long);
static void (*fm_disarm)(void);
static void (*fm_reset)(void);
static int (*fm_fired)(void);
static long (*fm_count)(void);
static long (*fm_outstanding)(void);

static int failures;
static char last_log[512]; /* the library's last message: says where a failure came from */

static void keep_log(int32_t level, const char *message, void *user) {
    (void)level, (void)user;
    snprintf(last_log, sizeof last_log, "%s", message);
}

#define EXPECT(cond, ...)                                               \
    do {                                                                \
        if (!(cond)) {                                                  \
            fprintf(stderr, "test_nomem:%d: %s: ", __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                               \
            fputc('\n', stderr);                                        \
            failures++;                                                 \
        }                                                               \
    } while (0)

/* A failed call must say why with a real error status (never a positive code, never OK
 * with garbage). DONE is the normal end of generation. */
static int clean(int st) { return st == DIFFLM_OK || st == DIFFLM_DONE || st < 0; }

/* The model and the calls are valid, so the only error an injected failure may cause
 * is E_NOMEM: anything else would misreport the cause to the host. */
static void expect_nomem(long n, const char *call, int st) {
    EXPECT(st >= 0 || st == DIFFLM_E_NOMEM, "n=%ld: %s failed with %s, not E_NOMEM (%s)", n,
           call, difflm_status_str(st), last_log);
}

/* One host session; returns how many calls ended in an error status. */
static int session(const char *path, int n_threads, long n) {
    int errors = 0;
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = path;
    p.n_threads = n_threads;
    p.max_canvas = 64;
    p.log_fn = keep_log;
    last_log[0] = '\0';
    int st = 12345;
    difflm_ctx *ctx = difflm_create(&p, &st);
    EXPECT((ctx != NULL) == (st == DIFFLM_OK), "n=%ld: create ctx=%p status %d", n, (void *)ctx, st);
    EXPECT(ctx || st < 0, "n=%ld: create failed with status %d", n, st);
    expect_nomem(n, "create", st);
    if (!ctx)
        return 1;

    difflm_token prompt[32];
    size_t n_prompt = 0;
    st = difflm_tokenize(ctx, "hello world", 11, DIFFLM_TOKENIZE_ADD_BOS, prompt, 32, &n_prompt);
    EXPECT(clean(st) && st != DIFFLM_DONE, "n=%ld: tokenize status %d", n, st);
    expect_nomem(n, "tokenize", st);
    if (st != DIFFLM_OK) {
        errors++;
        prompt[0] = 1;
        n_prompt = 1;
    }

    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = 8;
    g.steps = 4;
    g.block_length = 4;
    st = difflm_generate_begin(ctx, prompt, n_prompt, &g);
    EXPECT(clean(st) && st != DIFFLM_DONE, "n=%ld: generate_begin status %d", n, st);
    expect_nomem(n, "generate_begin", st);
    for (int i = 0; i < 6 && st == DIFFLM_OK; i++) {
        st = difflm_generate_step(ctx);
        EXPECT(clean(st), "n=%ld: generate_step %d status %d", n, i, st);
        expect_nomem(n, "generate_step", st);
    }
    if (st < 0)
        errors++;

    g.cache = DIFFLM_CACHE_DUAL; /* the cache paths allocate their own buffers */
    char out[256];
    size_t n_out = 0;
    st = difflm_sample(ctx, "hello", &g, out, sizeof out, &n_out);
    EXPECT(clean(st) && st != DIFFLM_DONE, "n=%ld: sample status %d", n, st);
    expect_nomem(n, "sample", st);
    if (st == DIFFLM_OK)
        EXPECT(n_out < sizeof out && out[n_out] == '\0', "n=%ld: sample output not terminated", n);
    else
        errors++;
    difflm_free(ctx);
    return errors;
}

/* Injects a failure at every allocation a session on `path` makes. */
static void sweep(const char *path, int n_threads) {
    /* Baseline: arm with no failure to learn how many allocations a session makes and
     * that a clean session frees all of them. */
    fm_arm(0);
    EXPECT(session(path, n_threads, 0) == 0, "%s: the counted session failed", path);
    fm_disarm();
    long total = fm_count();
    long live = fm_outstanding();
    fm_reset();
    EXPECT(live == 0, "%s: a clean session left %ld blocks allocated", path, live);
    EXPECT(total > 0, "the shim counted no allocations");

    long n = 1, with_errors = 0;
    for (;; n++) {
        fm_arm(n);
        int errors = session(path, n_threads, n);
        fm_disarm();
        int fired = fm_fired();
        live = fm_outstanding();
        fm_reset();
        EXPECT(live == 0, "n=%ld: %ld blocks still allocated after difflm_free", n, live);
        if (fired && errors)
            with_errors++;
        if (!fired) {
            EXPECT(errors == 0, "n=%ld: no allocation failed but a call did", n);
            break;
        }
        if (failures > 20)
            break;
        if (n > 4 * total + 100) { /* the count must not run away */
            EXPECT(0, "allocation %ld still reached (a session made %ld)", n, total);
            break;
        }
    }
    printf("%s, %d thread(s): a session makes %ld allocations; failed each in turn "
           "(%ld surfaced as E_NOMEM)\n", path, n_threads, total, with_errors);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_nomem MODEL.gguf...\n");
        return 2;
    }
    fm_arm = (void (*)(long))dlsym(RTLD_DEFAULT, "failmalloc_arm");
    fm_disarm = (void (*)(void))dlsym(RTLD_DEFAULT, "failmalloc_disarm");
    fm_reset = (void (*)(void))dlsym(RTLD_DEFAULT, "failmalloc_reset");
    fm_fired = (int (*)(void))dlsym(RTLD_DEFAULT, "failmalloc_fired");
    fm_count = (long (*)(void))dlsym(RTLD_DEFAULT, "failmalloc_count");
    fm_outstanding = (long (*)(void))dlsym(RTLD_DEFAULT, "failmalloc_outstanding");
    int shim = fm_arm && fm_disarm && fm_reset && fm_fired && fm_count && fm_outstanding;
    if (shim) {
        /* Loaded is not enough: valgrind redirects malloc to its own, past the shim. */
        fm_arm(0);
        void *volatile probe = malloc(16);
        free(probe);
        shim = fm_count() > 0;
        fm_reset();
    }

    for (int a = 1; a < argc; a++)
        for (int n_threads = 1; n_threads <= 2; n_threads++) {
            /* Unarmed first: one-time lazy initialisation in third-party code (OpenBLAS
             * buffers and threads, PCRE2 tables) happens here, not in a counted session. */
            EXPECT(session(argv[a], n_threads, 0) == 0, "%s: the unarmed session failed",
                   argv[a]);
            if (shim)
                sweep(argv[a], n_threads);
        }
    if (!shim)
        printf("failmalloc shim not preloaded or bypassed (valgrind): plain sessions only\n");
    printf("%d problems\n", failures);
    return failures ? 1 : 0;
}

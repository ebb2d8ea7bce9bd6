/* test_model_ctx.c - the model/context split through the public API only: contexts on
 * one model give the tokens of a private one, alone or concurrently; the model's heap is
 * the same after its contexts ran; the model may be freed first; host allocators see
 * every block back; ctx_memory_required matches what create allocates; a failing host
 * allocator ends every call cleanly with nothing left allocated.
 * usage: test_model_ctx LLADA.gguf DREAM.gguf */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "api_fixture.h"

/* ---- a host allocator that records its blocks */

#define MAX_BLOCKS 4096

typedef struct host_heap {
    pthread_mutex_t mu;
    void *base[MAX_BLOCKS];
    size_t size[MAX_BLOCKS];
    int n_live;
    long n_calls;               /* alloc calls so far */
    long fail_at;               /* the alloc call (1-based) that fails; 0 = none */
    size_t live_bytes;
} host_heap;

static void heap_init(host_heap *h) {
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
}

static void *heap_alloc(size_t size, size_t align, void *user) {
    host_heap *h = user;
    ck_assert(align >= 1 && align <= 64 && (align & (align - 1)) == 0);
    pthread_mutex_lock(&h->mu);
    void *p = NULL;
    if (++h->n_calls != h->fail_at && h->n_live < MAX_BLOCKS &&
        posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) == 0) {
        memset(p, 0, size);   // the hash below reads whole blocks, padding included
        h->base[h->n_live] = p;
        h->size[h->n_live++] = size;
        h->live_bytes += size;
    }
    pthread_mutex_unlock(&h->mu);
    return p;
}

static void heap_free(void *ptr, void *user) {
    host_heap *h = user;
    if (!ptr)
        return;
    pthread_mutex_lock(&h->mu);
    int i = 0;
    while (i < h->n_live && h->base[i] != ptr)
        i++;
    ck_assert_msg(i < h->n_live, "free of a block this allocator never gave out");
    h->live_bytes -= h->size[i];
    h->base[i] = h->base[--h->n_live];
    h->size[i] = h->size[h->n_live];
    pthread_mutex_unlock(&h->mu);
    free(ptr);
}

/* FNV-1a over every live block, in address order independence: summed per block. */
static uint64_t heap_hash(host_heap *h) {
    uint64_t sum = 0;
    for (int i = 0; i < h->n_live; i++) {
        uint64_t x = 1469598103934665603ull ^ (uint64_t)(uintptr_t)h->base[i];
        const unsigned char *b = h->base[i];
        for (size_t k = 0; k < h->size[i]; k++)
            x = (x ^ b[k]) * 1099511628211ull;
        sum += x;
    }
    return sum;
}

/* ---- helpers */

static difflm_model *load(const char *path, host_heap *h, int *st) {
    difflm_model_params mp;
    difflm_model_params_init(&mp);
    mp.path = path;
    if (h) {
        mp.alloc_fn = heap_alloc;
        mp.free_fn = heap_free;
        mp.alloc_user = h;
    }
    return difflm_model_load(&mp, st);
}

static difflm_ctx *make_ctx(difflm_model *m, int threads, host_heap *h, int *st) {
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.n_threads = threads;
    cp.max_canvas = 64;
    if (h) {
        cp.alloc_fn = heap_alloc;
        cp.free_fn = heap_free;
        cp.alloc_user = h;
    }
    return difflm_ctx_create(m, &cp, st);
}

static void gen_params(difflm_gen_params *g) {
    api_gen(g, 16, 8, 8);
    g->temperature = 0.7f;
    g->remasking = DIFFLM_REMASK_RANDOM;
    g->seed = 11;
}

/* Generates from a fixed prompt; returns the status, the canvas in out[0..*n). */
static int generate(difflm_ctx *ctx, difflm_token *out, size_t *n) {
    const difflm_token prompt[] = {15, 17, 42, 9};
    difflm_gen_params g;
    gen_params(&g);
    int st = api_run(ctx, prompt, 4, &g, out, 64, n, NULL);
    return st == DIFFLM_DONE ? DIFFLM_OK : st;   /* and the canvas read */
}

/* The canvas of a context from difflm_create, the reference every split run must give. */
static size_t reference_canvas(const char *path, difflm_token *out) {
    difflm_ctx *ctx = api_open(path, 1, 64);
    size_t n = 0;
    int st = generate(ctx, out, &n);
    ck_assert_msg(st == DIFFLM_OK, "generate: %s: %s", difflm_status_name(st),
                  difflm_last_error(ctx));
    difflm_free(ctx);
    return n;
}

/* ---- tests */

START_TEST(status_names) {
#define CHECK_NAME_(name, value, text) ck_assert_str_eq(difflm_status_name(value), "DIFFLM_" #name);
    DIFFLM_STATUS_LIST(CHECK_NAME_)
#undef CHECK_NAME_
    ck_assert_str_eq(difflm_status_name(12345), "DIFFLM_UNKNOWN_STATUS");
}
END_TEST

START_TEST(bad_params) {
    int st = 0;
    ck_assert_ptr_null(difflm_model_load(NULL, &st));
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
    difflm_model_params mp;
    difflm_model_params_init(&mp);
    ck_assert_ptr_null(difflm_model_load(&mp, &st));   // no path
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
    mp.path = api_model_path[0];
    mp.alloc_fn = heap_alloc;   // alloc without free
    ck_assert_ptr_null(difflm_model_load(&mp, &st));
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
    mp.alloc_fn = NULL;
    mp.struct_size = 8;
    ck_assert_ptr_null(difflm_model_load(&mp, &st));
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);

    difflm_model *m = load(api_model_path[0], NULL, &st);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_null(difflm_ctx_create(NULL, NULL, &st));
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_null(difflm_ctx_create(m, NULL, &st));
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.max_canvas = INT32_MAX;   // refused up front, not after minutes of allocation
    ck_assert_ptr_null(difflm_ctx_create(m, &cp, &st));
    ck_assert_int_eq(st, DIFFLM_E_INVALID_ARG);
    size_t bytes = 0;
    ck_assert_int_eq(difflm_ctx_memory_required(m, &cp, &bytes), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_ctx_memory_required(m, NULL, &bytes), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_ctx_memory_required(NULL, &cp, &bytes), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(difflm_model_describe(NULL, NULL), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_null(difflm_ctx_model(NULL));
    difflm_model_free(m);
    difflm_model_free(NULL);
}
END_TEST

/* Contexts on one model, one after the other, with 1 and 2 threads: the canvas of a
 * private model; the model freed before its last context. */
START_TEST(shared_model_same_tokens) {
    const char *path = api_model_path[_i];
    difflm_token ref[64], got[64];
    size_t n_ref = reference_canvas(path, ref), n = 0;
    int st;
    difflm_model *m = load(path, NULL, &st);
    ck_assert_msg(m, "load: %s", difflm_status_str(st));
    difflm_model_info info = {.struct_size = sizeof info};
    ck_assert_int_eq(difflm_model_describe(m, &info), DIFFLM_OK);
    ck_assert_int_eq(info.max_canvas, 0);
    ck_assert_int_eq(info.arch, _i == 0 ? DIFFLM_ARCH_LLADA : DIFFLM_ARCH_DREAM);
    difflm_ctx *a = make_ctx(m, 1, NULL, &st), *b = make_ctx(m, 2, NULL, &st);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_eq(difflm_ctx_model(a), m);
    ck_assert_int_eq(generate(a, got, &n), DIFFLM_OK);
    ck_assert_uint_eq(n, n_ref);
    ck_assert_mem_eq(got, ref, n * sizeof *got);
    difflm_model_free(m);   // b keeps the model alive
    ck_assert_int_eq(generate(b, got, &n), DIFFLM_OK);
    ck_assert_mem_eq(got, ref, n * sizeof *got);
    difflm_free(a);
    ck_assert_int_eq(generate(b, got, &n), DIFFLM_OK);
    ck_assert_mem_eq(got, ref, n * sizeof *got);
    difflm_free(b);
}
END_TEST

/* path loaded on the host heap mh (its allocations visible), ch set up for contexts */
static difflm_model *load_watched(const char *path, host_heap *mh, host_heap *ch) {
    heap_init(mh);
    heap_init(ch);
    int st;
    difflm_model *m = load(path, mh, &st);
    ck_assert_msg(m, "load: %s", difflm_status_str(st));
    return m;
}

typedef struct run_arg {
    difflm_ctx *ctx;
    difflm_token canvas[64];
    size_t n;
    int st;
} run_arg;

static void *run_thread(void *p) {
    run_arg *r = p;
    for (int k = 0; k < 3 && r->st == DIFFLM_OK; k++)
        r->st = generate(r->ctx, r->canvas, &r->n);
    return NULL;
}

/* Four contexts on one model generate at once on four threads: each gives the tokens
 * of a private model, and the model's heap (host-allocated, so visible here) holds the
 * same bytes afterwards: nothing wrote to the model. Creating them adds one thing to
 * it, once: the packed copy of the float weights (difflm_ctx_params.pack_weights; three
 * blocks: its record, its layer table, its panels), made by the first context, which
 * the model's own bytes survive. */
START_TEST(concurrent_contexts_model_untouched) {
    const char *path = api_model_path[_i];
    difflm_token ref[64];
    size_t n_ref = reference_canvas(path, ref);
    host_heap mh, ch;
    difflm_model *m = load_watched(path, &mh, &ch);
    ck_assert_int_gt(mh.n_live, 0);
    int live_after_load = mh.n_live;
    run_arg r[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].ctx = make_ctx(m, 1 + i % 2, &ch, &r[i].st);
        ck_assert_ptr_nonnull(r[i].ctx);
    }
    // contexts allocate from their own heap, but for the model's one packed copy
    ck_assert_int_eq(mh.n_live, live_after_load + 3);
    uint64_t before = heap_hash(&mh);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, run_thread, &r[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(r[i].st, DIFFLM_OK);
        ck_assert_uint_eq(r[i].n, n_ref);
        ck_assert_mem_eq(r[i].canvas, ref, n_ref * sizeof ref[0]);
    }
    ck_assert_uint_eq(heap_hash(&mh), before);   // the reference count as well: 1 + 4
    for (int i = 0; i < 4; i++)
        difflm_free(r[i].ctx);
    ck_assert_int_eq(ch.n_live, 0);
    difflm_model_free(m);
    ck_assert_int_eq(mh.n_live, 0);
    ck_assert_uint_eq(mh.live_bytes, 0);
}
END_TEST

typedef struct create_arg {
    difflm_model *m;
    host_heap *h;
    pthread_barrier_t *go;
    difflm_ctx *ctx;
    int st;
} create_arg;

static void *create_thread(void *p) {
    create_arg *a = p;
    pthread_barrier_wait(a->go);
    a->ctx = make_ctx(a->m, 1, a->h, &a->st);
    return NULL;
}

/* Four threads create contexts on one model at the same moment: the first to get the
 * model's lock makes its packed copy of the weights, the others wait for it and use it
 * (the model gains one copy, three blocks), and each context then gives the tokens of a
 * private model. Under TSan (doc/testing.md) this is the race check of the copy. */
START_TEST(concurrent_creation_one_copy) {
    const char *path = api_model_path[_i];
    difflm_token ref[64];
    size_t n_ref = reference_canvas(path, ref);
    host_heap mh, ch;
    difflm_model *m = load_watched(path, &mh, &ch);
    int live_after_load = mh.n_live;
    pthread_barrier_t go;
    ck_assert_int_eq(pthread_barrier_init(&go, NULL, 4), 0);
    create_arg a[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (create_arg){ .m = m, .h = &ch, .go = &go };
        ck_assert_int_eq(pthread_create(&th[i], NULL, create_thread, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    ck_assert_int_eq(mh.n_live, live_after_load + 3);
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(a[i].ctx != NULL, "create %d: %s", i, difflm_status_str(a[i].st));
        difflm_token got[64];
        size_t n = 0;
        ck_assert_int_eq(generate(a[i].ctx, got, &n), DIFFLM_OK);
        ck_assert_uint_eq(n, n_ref);
        ck_assert_mem_eq(got, ref, n_ref * sizeof ref[0]);
        difflm_free(a[i].ctx);
    }
    ck_assert_int_eq(ch.n_live, 0);
    difflm_model_free(m);
    ck_assert_int_eq(mh.n_live, 0);
}
END_TEST

/* What create allocates is what memory_required promised, give or take the pool's
 * thread records and allocator headers: from the context's allocator its own part, which
 * memory_required says once the model holds its packed copy of the weights; the first
 * answer counted that copy too, made by the first context. */
START_TEST(memory_required_matches) {
    int st;
    difflm_model *m = load(api_model_path[_i], NULL, &st);
    ck_assert_ptr_nonnull(m);
    host_heap ch;
    heap_init(&ch);
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.n_threads = 2;
    cp.max_canvas = 64;
    size_t need = 0;
    ck_assert_int_eq(difflm_ctx_memory_required(m, &cp, &need), DIFFLM_OK);
    difflm_ctx *ctx = make_ctx(m, 2, &ch, &st);
    ck_assert_ptr_nonnull(ctx);
    size_t own = 0;
    ck_assert_int_eq(difflm_ctx_memory_required(m, &cp, &own), DIFFLM_OK);
    ck_assert_msg(ch.live_bytes >= own && ch.live_bytes <= own + 16384,
                  "create allocated %zu bytes, memory_required said %zu", ch.live_bytes, own);
    difflm_model_info info = { .struct_size = sizeof info };
    ck_assert_int_eq(difflm_model_describe(m, &info), DIFFLM_OK);
    // F32 weights, whose panels are padded to 64 rows: at least 4 bytes per parameter
    ck_assert_msg(need - own >= 4 * info.n_params, "the packed copy: %zu bytes for %llu "
                  "parameters", need - own, (unsigned long long)info.n_params);
    need = own;
    cp.max_canvas = 128;   // grows with the canvas
    size_t need2 = 0;
    ck_assert_int_eq(difflm_ctx_memory_required(m, &cp, &need2), DIFFLM_OK);
    ck_assert_uint_gt(need2, need);
    difflm_free(ctx);
    ck_assert_int_eq(ch.n_live, 0);
    difflm_model_free(m);
}
END_TEST

/* The n-th host allocation fails, for every n of load + create + a generation: each
 * call returns a status (E_NOMEM where the failure lands), nothing crashes, and once
 * everything is freed the host has every block back. */
START_TEST(host_allocator_failures) {
    const char *path = api_model_path[_i];
    long total = 0;
    for (long fail = 1;; fail++) {
        host_heap h;
        heap_init(&h);
        h.fail_at = fail;
        int st = DIFFLM_OK;
        difflm_model *m = load(path, &h, &st);
        difflm_ctx *ctx = NULL;
        if (m)
            ctx = make_ctx(m, 2, &h, &st);
        if (ctx) {
            difflm_token out[64];
            size_t n;
            st = generate(ctx, out, &n);
        }
        if (h.n_calls < fail) {   // every allocation succeeded: the run is complete
            ck_assert_int_eq(st, DIFFLM_OK);
            total = h.n_calls;
        } else {
            ck_assert_msg(st == DIFFLM_E_NOMEM, "failing allocation %ld gave %s", fail,
                          difflm_status_name(st));
        }
        difflm_free(ctx);
        difflm_model_free(m);
        ck_assert_msg(h.n_live == 0, "failing allocation %ld left %d blocks", fail, h.n_live);
        if (total)
            break;
    }
    ck_assert_int_gt(total, 10);
}
END_TEST

static Suite *split_suite(void) {
    Suite *s = suite_create("model_ctx");
    TCase *tc = tcase_create("model_ctx");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, status_names);
    tcase_add_test(tc, bad_params);
    tcase_add_loop_test(tc, shared_model_same_tokens, 0, 2);
    tcase_add_loop_test(tc, concurrent_contexts_model_untouched, 0, 2);
    tcase_add_loop_test(tc, concurrent_creation_one_copy, 0, 2);
    tcase_add_loop_test(tc, memory_required_matches, 0, 2);
    tcase_add_loop_test(tc, host_allocator_failures, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv) {
    int rc = api_fixture_args(argc, argv, 0, NULL);
    return rc ? rc : dl_run_suite(split_suite());
}

/* test_batch_forward.c - dl_model_forward_batch against dl_model_forward per canvas:
 * every hidden row bitwise equal, for canvases of different lengths in different
 * company, 1 and 2 threads, LLaDA and Dream, f32 weights and a quantized matrix; an
 * n_ff (72) whose rows leave a SwiGLU tail, so elementwise chunks that crossed from one
 * canvas into the next would show; the scratch bound; the argument errors. */
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "core/pool.h"
#include "fmt/gguf.h"
#include "model/model.h"
#include "tiny_fixture.h"

/* A tiny model of arch with n_ff 72 (a SwiGLU tail), q8_tensor (may be NULL) quantized. */
static void fx_load(tiny_fixture *f, int arch, const char *q8_tensor) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, arch);
    s.n_ff = 72;
    s.q8_tensor = q8_tensor;
    tiny_load(f, &s, NULL);
}

static int32_t *tokens(int T, int V, uint32_t seed) {
    int32_t *t = malloc((size_t)T * 4);
    for (int i = 0; i < T; i++) {
        seed = seed * 1103515245u + 12345u;
        t[i] = (int32_t)((seed >> 8) % (uint32_t)V);
    }
    return t;
}

#define N_CANVAS 6
static const int lens[N_CANVAS] = { 27, 31, 36, 25, 1, 9 };

static void check_model(int arch, const char *q8, int n_threads) {
    tiny_fixture f;
    fx_load(&f, arch, q8);
    dl_model *m = f.m;
    dl_err e = { 0 };
    dl_pool *pool = NULL;
    ck_assert_int_eq(dl_pool_create(&pool, n_threads, &e), 0);
    m->pool = pool;
    m->n_threads = n_threads;
    const int E = m->hp.n_embd;
    int32_t *tok[N_CANVAS];
    float *solo[N_CANVAS];
    for (int c = 0; c < N_CANVAS; c++) {
        tok[c] = tokens(lens[c], m->hp.n_vocab, 100u + (uint32_t)c);
        size_t ns = dl_model_scratch_size(m, lens[c]);
        void *s = scratch_new(ns);
        solo[c] = malloc((size_t)lens[c] * E * 4);
        ck_assert_int_eq(dl_model_forward(m, s, tok[c], lens[c], solo[c], NULL, &e), 0);
        scratch_check_free(s, ns);
    }
    /* batches of 1 .. N_CANVAS canvases starting at each canvas (cyclically);
     * DIFFLM_TEST_QUICK=1 (valgrind, sanitizers): starting at the first only */
    const char *quick = getenv("DIFFLM_TEST_QUICK");
    const int n_first = quick && *quick && strcmp(quick, "0") != 0 ? 1 : N_CANVAS;
    for (int size = 1; size <= N_CANVAS; size++)
        for (int first = 0; first < n_first; first++) {
            dl_canvas_seg segs[N_CANVAS];
            int rows = 0, longest = 0;
            for (int i = 0; i < size; i++) {
                int c = (first + i) % N_CANVAS;
                segs[i] = (dl_canvas_seg){ tok[c], lens[c] };
                rows += lens[c];
                longest = lens[c] > longest ? lens[c] : longest;
            }
            size_t ns = dl_model_batch_scratch_size(m, rows, longest);
            void *s = scratch_new(ns);
            float *h = malloc((size_t)rows * E * 4);
            int rc = dl_model_forward_batch(m, s, segs, size, h, NULL, &e);
            ck_assert_msg(rc == 0, "%s", e.msg);
            scratch_check_free(s, ns);
            int r0 = 0;
            for (int i = 0; i < size; i++) {
                int c = (first + i) % N_CANVAS;
                ck_assert_msg(memcmp(h + (size_t)r0 * E, solo[c], (size_t)lens[c] * E * 4) == 0,
                              "arch %d, %d threads: canvas %d in a batch of %d from %d differs "
                              "from its own pass", arch, n_threads, c, size, first);
                r0 += lens[c];
            }
            free(h);
        }
    for (int c = 0; c < N_CANVAS; c++) {
        free(tok[c]);
        free(solo[c]);
    }
    dl_pool_free(pool);
    tiny_close(&f);
}

START_TEST(batch_equals_solo) {
    static const int archs[] = { DIFFLM_ARCH_LLADA, DIFFLM_ARCH_DREAM };
    for (int a = 0; a < 2; a++)
        for (int nt = 1; nt <= 2; nt++) {
            check_model(archs[a], NULL, nt);
            check_model(archs[a], "blk.0.attn_q.weight", nt);
        }
}
END_TEST

START_TEST(bad_arguments) {
    tiny_fixture f;
    fx_load(&f, DIFFLM_ARCH_LLADA, NULL);
    dl_model *m = f.m;
    int32_t ok[4] = { 1, 2, 3, 4 }, bad[2] = { 1, 1 << 20 };
    size_t ns = dl_model_batch_scratch_size(m, 8, 4);
    void *s = scratch_new(ns);
    float *h = malloc((size_t)8 * m->hp.n_embd * 4);
    dl_err e = { 0 };
    dl_canvas_seg segs[DL_MAX_BATCH + 1];
    for (int i = 0; i <= DL_MAX_BATCH; i++)
        segs[i] = (dl_canvas_seg){ ok, 1 };
    ck_assert_int_eq(dl_model_forward_batch(m, s, segs, 0, h, NULL, &e), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_model_forward_batch(m, s, segs, DL_MAX_BATCH + 1, h, NULL, &e),
                     DIFFLM_E_INVALID_ARG);
    segs[1] = (dl_canvas_seg){ ok, 0 };
    ck_assert_int_eq(dl_model_forward_batch(m, s, segs, 2, h, NULL, &e), DIFFLM_E_INVALID_ARG);
    segs[1] = (dl_canvas_seg){ bad, 2 };
    ck_assert_int_eq(dl_model_forward_batch(m, s, segs, 2, h, NULL, &e), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "canvas 1"));
    segs[1] = (dl_canvas_seg){ ok, 4 };
    int cancel = 1;
    ck_assert_int_eq(dl_model_forward_batch(m, s, segs, 2, h, &cancel, &e), DIFFLM_E_CANCELLED);
    ck_assert_int_eq(dl_model_forward_batch(m, s, segs, 2, h, NULL, &e), 0);
    scratch_check_free(s, ns);
    free(h);
    tiny_close(&f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("batch_forward");
    TCase *tc = tcase_create("batch_forward");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, batch_equals_solo);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}

/* test_attention_paths.c - a whole forward pass with each attention kernel the model can
 * run: the score-matrix kernel (dl_attention_head, what training runs) and the tiled
 * online-softmax kernel on each of its paths (attention_tiled.h), on bidirectional and
 * block-causal tiny models (MHA, GQA, head_dim 16 and 64, a canvas that is no multiple
 * of the tiles), through the plain forward, the batched forward and a cached pass.
 *
 * Tolerance: relative to the largest hidden value, 1e-4. The kernels compute the same
 * softmax in different orders: test_attention_tiled bounds the tiled kernel's error
 * against exact arithmetic at ~3e-5 of max|v| for these sizes (70 keys, head_dim <= 64),
 * and the score-matrix kernel rounds comparably; two layers of these random models do
 * not amplify that past 3x (the observed differences are ~1e-6). A mask applied
 * differently (a key of a later block seen, or one of its own block missed) moves the
 * hidden rows by 1e-2 and more. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check_compat.h"
#include "difflm_internal.h"
#include "model_tiny.h"

#define T_MAX 70
#define TOL 1e-4

typedef struct case_spec {
    const char *name;
    int32_t arch, n_embd, n_head, n_head_kv, block_length;
} case_spec;

static const case_spec cases[] = {
    { "llada mha hd16", DIFFLM_ARCH_LLADA, 64, 4, 4, 0 },
    { "llada gqa hd16", DIFFLM_ARCH_LLADA, 64, 4, 2, 0 },
    { "llada hd64", DIFFLM_ARCH_LLADA, 128, 2, 2, 0 },
    { "dream gqa", DIFFLM_ARCH_DREAM, 64, 4, 1, 0 },
    { "llada block 8", DIFFLM_ARCH_LLADA, 64, 4, 2, 8 },
    { "llada block 40 hd64", DIFFLM_ARCH_LLADA, 128, 2, 1, 40 },
};
#define N_CASES (int)(sizeof cases / sizeof cases[0])

typedef struct fixture {
    void *buf;
    size_t n;
    dl_gguf *g;
    dl_model *m;
    void *scratch, *kv_mem;
    dl_kv_cache kv;
} fixture;

static void fx_open(fixture *f, const case_spec *c) {
    memset(f, 0, sizeof *f);
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, c->arch);
    s.n_embd = c->n_embd;
    s.n_head = c->n_head;
    s.n_head_kv = c->n_head_kv;
    s.block_length = c->block_length;
    s.seed = 17;
    dl_err e = { 0 };
    ck_assert_int_eq(dl_tiny_to_buffer(&s, &f->buf, &f->n, &e), 0);
    ck_assert_msg(dl_gguf_open_mem(&f->g, f->buf, f->n, &e) == 0, "%s", e.msg);
    ck_assert_msg(dl_model_load(&f->m, f->g, NULL, &e) == 0, "%s", e.msg);
    f->m->n_threads = 1;
    f->scratch = dl_aligned_alloc(dl_model_scratch_size(f->m, T_MAX));
    f->kv_mem = dl_aligned_alloc(dl_kv_cache_size(f->m, T_MAX));
    ck_assert(f->scratch && f->kv_mem);
    dl_kv_cache_bind(&f->kv, f->m, f->kv_mem, T_MAX);
}

static void fx_close(fixture *f) {
    dl_aligned_free(f->scratch);
    dl_aligned_free(f->kv_mem);
    dl_model_free(f->m);
    dl_gguf_close(f->g);
    free(f->buf);
}

static double rel_diff(const float *a, const float *b, size_t n) {
    double md = 0.0, mb = 0.0;
    for (size_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)a[i] - (double)b[i]));
        mb = fmax(mb, fabs((double)b[i]));
    }
    return mb > 0.0 ? md / mb : md;
}

/* the kernels to compare against the score-matrix one: every tiled path this CPU runs */
static int tiled_choices(int out[2]) {
    int n = 0;
    out[n++] = DL_FPATH_SCALAR;
    if (dl_attention_tiled_path() == DL_FPATH_AVX512)
        out[n++] = DL_FPATH_AVX512;
    return n;
}

/* hidden states of: the plain forward over T tokens, a batch of two canvases (T and
 * T - 13), and a cached pass of the rows [T - 20, T) after a full pass */
static void passes(fixture *f, const int32_t *tok, int32_t T, float *plain, float *batch,
                   float *cached) {
    dl_err e = { 0 };
    ck_assert_msg(dl_model_forward(f->m, f->scratch, tok, T, plain, NULL, &e) == 0, "%s", e.msg);
    const dl_canvas_seg segs[2] = { { tok, T }, { tok + 13, T - 13 } };
    size_t need = dl_model_batch_scratch_size(f->m, 2 * T - 13, T);
    void *bs = dl_aligned_alloc(need);
    ck_assert(bs);
    ck_assert_msg(dl_model_forward_batch(f->m, bs, segs, 2, batch, NULL, &e) == 0, "%s", e.msg);
    dl_aligned_free(bs);
    float *all = malloc((size_t)T * f->m->hp.n_embd * sizeof(float));
    ck_assert(all);
    dl_pass full = { tok, T, 0, T, &f->kv, 0, T };   /* fills the cache */
    ck_assert_msg(dl_model_pass(f->m, f->scratch, &full, all, NULL, &e) == 0, "%s", e.msg);
    free(all);
    dl_pass part = { tok, T, T - 20, 20, &f->kv, T - 20, 20 };
    ck_assert_msg(dl_model_pass(f->m, f->scratch, &part, cached, NULL, &e) == 0, "%s", e.msg);
}

START_TEST(test_paths_agree) {
    const case_spec *c = &cases[_i];
    fixture f;
    fx_open(&f, c);
    const int32_t T = T_MAX;
    const size_t E = (size_t)f.m->hp.n_embd, nb = (size_t)(2 * T - 13) * E;
    int32_t tok[T_MAX];
    uint64_t x = 99;
    for (int32_t i = 0; i < T; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        tok[i] = 8 + (int32_t)((x >> 33) % (uint64_t)(f.m->hp.n_vocab - 8));
    }
    float *p0 = malloc((size_t)T * E * 4), *b0 = malloc(nb * 4), *c0 = malloc(20 * E * 4);
    float *p1 = malloc((size_t)T * E * 4), *b1 = malloc(nb * 4), *c1 = malloc(20 * E * 4);
    ck_assert(p0 && b0 && c0 && p1 && b1 && c1);
    dl_attention_tiled_set_choice(-1);
    passes(&f, tok, T, p0, b0, c0);
    int ch[2], nch = tiled_choices(ch);
    for (int k = 0; k < nch; k++) {
        dl_attention_tiled_set_choice(ch[k]);
        passes(&f, tok, T, p1, b1, c1);
        double dp = rel_diff(p1, p0, (size_t)T * E), db = rel_diff(b1, b0, nb);
        double dc = rel_diff(c1, c0, 20 * E);
        fprintf(stderr, "%s, tiled %s against scores: forward %.2g, batch %.2g, cached %.2g\n",
                c->name, dl_fpath_name(ch[k]), dp, db, dc);
        ck_assert_msg(dp <= TOL && db <= TOL && dc <= TOL,
                      "%s, tiled %s: forward %g, batch %g, cached %g > %g", c->name,
                      dl_fpath_name(ch[k]), dp, db, dc, TOL);
        /* the cached rows are the full pass's rows (bitwise where every product is row
         * independent, as in these F32 models) */
        ck_assert_msg(memcmp(c1, p1 + (size_t)(T - 20) * E, 20 * E * 4) == 0,
                      "%s, tiled %s: the cached pass differs from the forward", c->name,
                      dl_fpath_name(ch[k]));
    }
    dl_attention_tiled_set_choice(dl_attention_tiled_path());
    free(p0); free(b0); free(c0); free(p1); free(b1); free(c1);
    fx_close(&f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("attention_paths");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_paths_agree, 0, N_CASES);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}

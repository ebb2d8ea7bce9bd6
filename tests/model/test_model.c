/* test_model.c - loading, error paths and the forward pass of tiny in-memory models
 * written by tests/fixtures/model_tiny.c through the project's GGUF writer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check_compat.h"
#include "fmt/ggml_types.h"
#include "fmt/gguf.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "model_tiny.h"
#include "tiny_fixture.h"

static char g_log[4096];
static void log_cb(int32_t level, const char *msg, void *user) {
    (void)user;
    if (level <= DIFFLM_LOG_WARN)
        snprintf(g_log + strlen(g_log), sizeof g_log - strlen(g_log), "%s\n", msg);
}

/* tiny_open with the log above, which starts empty. */
static int fx_open(tiny_fixture *f, const dl_tiny_spec *s, dl_err *err) {
    dl_log lg = { log_cb, NULL, DIFFLM_LOG_DEBUG };
    g_log[0] = '\0';
    return tiny_open(f, s, &lg, err);
}

static void fx_load(tiny_fixture *f, const dl_tiny_spec *s) {
    dl_log lg = { log_cb, NULL, DIFFLM_LOG_DEBUG };
    g_log[0] = '\0';
    tiny_load(f, s, &lg);
}

static void expect_load_error(const dl_tiny_spec *s, int status, const char *s1, const char *s2) {
    tiny_fixture f;
    dl_err e = { 0 };
    int rc = fx_open(&f, s, &e);
    ck_assert_msg(rc == status, "status %d (%s), want %d", rc, e.msg, status);
    ck_assert_ptr_null(f.m);
    ck_assert_msg(strstr(e.msg, s1) != NULL, "'%s' does not mention '%s'", e.msg, s1);
    if (s2)
        ck_assert_msg(strstr(e.msg, s2) != NULL, "'%s' does not mention '%s'", e.msg, s2);
    tiny_close(&f);
}

/* hidden [T][E] and logits [T][V] for all positions. */
static void run(const dl_model *m, const int32_t *tok, int T, float **hidden, float **logits) {
    int E = m->hp.n_embd, V = m->hp.n_vocab;
    size_t ns = dl_model_scratch_size(m, T), nl = dl_model_logits_scratch_size(m, T);
    void *s = scratch_new(ns), *sl = scratch_new(nl);
    *hidden = malloc((size_t)T * E * 4);
    *logits = malloc((size_t)T * V * 4);
    dl_err e = { 0 };
    int rc = dl_model_forward(m, s, tok, T, *hidden, NULL, &e);
    ck_assert_msg(rc == 0, "forward: %s", e.msg);
    int32_t *rows = malloc((size_t)T * 4);
    for (int i = 0; i < T; i++)
        rows[i] = i;
    dl_model_logits(m, sl, *hidden, rows, T, *logits);
    free(rows);
    scratch_check_free(s, ns);
    scratch_check_free(sl, nl);
}

static int32_t *tokens(int T, int V, uint32_t seed) {
    int32_t *t = malloc((size_t)T * 4);
    for (int i = 0; i < T; i++) {
        seed = seed * 1103515245u + 12345u;
        t[i] = (int32_t)((seed >> 8) % (uint32_t)V);
    }
    return t;
}

/* --- the naive forward: the reference kernels wired straight from doc/formats.md, "The forward pass", over an
 * all-F32 model, to check the layer loop (order, residuals, GQA, RoPE layout, biases). */
static void ref_forward(const dl_model *m, const int32_t *tok, int T, float *hidden, float *logits) {
    const dl_hparams *hp = &m->hp;
    int E = hp->n_embd, hd = hp->head_dim, F = hp->n_ff, V = hp->n_vocab;
    int Dq = hp->n_head * hd, Dkv = hp->n_head_kv * hd;
    int pairing = hp->rope_layout == DL_ROPE_HALF            ? DL_ROPE_PAIR_HALF
                : hp->rope_layout == DL_ROPE_HALF_TO_PAIRS   ? DL_ROPE_PAIR_HALF_IN
                                                             : DL_ROPE_PAIR_ADJACENT;
    float *x = malloc((size_t)T * E * 4), *xn = malloc((size_t)T * E * 4);
    float *q = malloc((size_t)T * Dq * 4), *k = malloc((size_t)T * Dkv * 4);
    float *v = malloc((size_t)T * Dkv * 4), *att = malloc((size_t)T * Dq * 4);
    float *gt = malloc((size_t)T * F * 4), *up = malloc((size_t)T * F * 4);
    int32_t *pos = malloc((size_t)T * 4);
#define W(w) ((const float *)(w).data)
    for (int t = 0; t < T; t++) {
        memcpy(x + (size_t)t * E, W(m->tok_embd) + (size_t)tok[t] * E, (size_t)E * 4);
        pos[t] = t;
    }
    for (int il = 0; il < hp->n_layer; il++) {
        const dl_layer *L = &m->layers[il];
        dl_rmsnorm_ref(xn, x, W(L->attn_norm), hp->rms_eps, T, E);
        dl_matmul_ref(q, xn, W(L->wq), W(L->bq), 0, T, E, Dq, Dq);
        dl_matmul_ref(k, xn, W(L->wk), W(L->bk), 0, T, E, Dkv, Dkv);
        dl_matmul_ref(v, xn, W(L->wv), W(L->bv), 0, T, E, Dkv, Dkv);
        dl_rope_ref(q, pos, hp->rope_theta, pairing, T, hp->n_head, hd);
        dl_rope_ref(k, pos, hp->rope_theta, pairing, T, hp->n_head_kv, hd);
        dl_attention_ref(att, q, k, v, T, T, hp->n_head, hp->n_head_kv, hd);
        dl_matmul_ref(x, att, W(L->wo), NULL, 1, T, Dq, E, E);
        dl_rmsnorm_ref(xn, x, W(L->ffn_norm), hp->rms_eps, T, E);
        dl_matmul_ref(gt, xn, W(L->w_gate), NULL, 0, T, E, F, F);
        dl_matmul_ref(up, xn, W(L->w_up), NULL, 0, T, E, F, F);
        dl_silu_mul_ref(gt, gt, up, (size_t)T * F);
        dl_matmul_ref(x, gt, W(L->w_down), NULL, 1, T, F, E, E);
    }
    dl_rmsnorm_ref(hidden, x, W(m->output_norm), hp->rms_eps, T, E);
    const dl_weight *head = m->output.data ? &m->output : &m->tok_embd;
    dl_matmul_ref(logits, hidden, W(*head), W(m->output_bias), 0, T, E, V, V);
#undef W
    free(x), free(xn), free(q), free(k), free(v), free(att), free(gt), free(up), free(pos);
}

static void assert_close(const float *a, const float *b, size_t n, float rtol, float atol,
                         const char *what) {
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= atol + rtol * fabsf(b[i])))
            ck_abort_msg("%s: element %zu: %.9g vs %.9g", what, i, (double)a[i], (double)b[i]);
    }
}

/* --- loading */

START_TEST(test_load_llada_mha) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, DIFFLM_ARCH_LLADA);
    tiny_fixture f;
    fx_load(&f, &s);
    const dl_hparams *hp = &f.m->hp;
    ck_assert_int_eq(hp->arch, DIFFLM_ARCH_LLADA);
    ck_assert_int_eq(hp->n_vocab, 512);
    ck_assert_int_eq(hp->n_embd, 64);
    ck_assert_int_eq(hp->n_layer, 2);
    ck_assert_int_eq(hp->n_head, 4);
    ck_assert_int_eq(hp->n_head_kv, 4);
    ck_assert_int_eq(hp->head_dim, 16);
    ck_assert_int_eq(hp->n_ff, 128);
    ck_assert_int_eq(hp->n_ctx_train, 256);
    ck_assert_float_eq(hp->rms_eps, 1e-5f);
    ck_assert_float_eq(hp->rope_theta, 500000.0f);
    ck_assert_int_eq(hp->rope_layout, DL_ROPE_PAIRS);
    ck_assert_int_eq(hp->shift_logits, 0);
    ck_assert_int_eq(hp->tied_output, 0);
    /* embd + head + final norm + 2 x (2 norms + 4 attn 64x64 + 3 ffn 64x128) */
    uint64_t want = 2ull * 512 * 64 + 64 + 2 * (2 * 64 + 4 * 64 * 64 + 3 * 64 * 128);
    ck_assert_uint_eq(hp->n_params, want);
    ck_assert_ptr_nonnull(f.m->output.data);
    ck_assert_ptr_null(f.m->layers[0].bq.data);
    ck_assert_int_eq(f.m->layers[1].w_down.ne0, 128);
    ck_assert_int_eq(f.m->layers[1].w_down.ne1, 64);
    ck_assert_str_eq(g_log, "");   /* the llada shift key is present: no warning */
    tiny_close(&f);
}
END_TEST

START_TEST(test_load_gqa_tied) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, DIFFLM_ARCH_LLADA);
    s.n_head = 8;
    s.n_head_kv = 2;
    s.tied = 1;
    s.wtype = DL_TYPE_F16;
    tiny_fixture f;
    fx_load(&f, &s);
    const dl_hparams *hp = &f.m->hp;
    ck_assert_int_eq(hp->head_dim, 8);
    ck_assert_int_eq(hp->n_head_kv, 2);
    ck_assert_int_eq(hp->tied_output, 1);
    ck_assert_ptr_null(f.m->output.data);
    ck_assert_int_eq(f.m->layers[0].wk.ne1, 16);
    ck_assert_uint_eq(f.m->layers[0].wq.type, DL_TYPE_F16);
    ck_assert_uint_eq(f.m->layers[0].attn_norm.type, DL_TYPE_F32);
    uint64_t want = 512ull * 64 + 64 + 2 * (2 * 64 + 2 * 64 * 64 + 2 * 64 * 16 + 3 * 64 * 128);
    ck_assert_uint_eq(hp->n_params, want);
    tiny_close(&f);
}
END_TEST

START_TEST(test_load_dream) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, DIFFLM_ARCH_DREAM);
    s.n_embd = 56;
    s.n_head = 7;
    s.n_head_kv = 1;
    s.shift_key = 0;   /* as the Dream converter writes it: absent means shift */
    tiny_fixture f;
    fx_load(&f, &s);
    const dl_hparams *hp = &f.m->hp;
    ck_assert_int_eq(hp->arch, DIFFLM_ARCH_DREAM);
    ck_assert_int_eq(hp->rope_layout, DL_ROPE_HALF);
    ck_assert_int_eq(hp->shift_logits, 1);
    ck_assert_float_eq(hp->rms_eps, 1e-6f);
    ck_assert_float_eq(hp->rope_theta, 1000000.0f);
    ck_assert_ptr_nonnull(f.m->layers[1].bq.data);
    ck_assert_int_eq(f.m->layers[1].bk.ne0, 8);
    ck_assert_str_eq(g_log, "");
    tiny_close(&f);

    s.shift_key = 1;   /* written true */
    fx_load(&f, &s);
    ck_assert_int_eq(f.m->hp.shift_logits, 1);
    tiny_close(&f);
}
END_TEST

START_TEST(test_llada_without_shift_key_warns) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, DIFFLM_ARCH_LLADA);
    s.shift_key = 0;
    tiny_fixture f;
    fx_load(&f, &s);
    ck_assert_int_eq(f.m->hp.shift_logits, 1);
    ck_assert_msg(strstr(g_log, "shift_logits") != NULL, "no warning: '%s'", g_log);
    tiny_close(&f);
}
END_TEST

START_TEST(test_load_errors) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, DIFFLM_ARCH_LLADA);
    s.omit_tensor = "blk.1.ffn_up.weight";
    expect_load_error(&s, DIFFLM_E_FORMAT, "blk.1.ffn_up.weight", "missing");
    s.omit_tensor = "output_norm.weight";
    expect_load_error(&s, DIFFLM_E_FORMAT, "output_norm.weight", NULL);
    s.omit_tensor = "token_embd.weight";
    expect_load_error(&s, DIFFLM_E_FORMAT, "token_embd.weight", NULL);
    s.omit_tensor = NULL;

    s.bad_shape_tensor = "blk.0.attn_k.weight";
    expect_load_error(&s, DIFFLM_E_FORMAT, "blk.0.attn_k.weight", "{64, 65, 1, 1}, expected {64, 64}");
    s.bad_shape_tensor = "blk.1.ffn_norm.weight";
    expect_load_error(&s, DIFFLM_E_FORMAT, "blk.1.ffn_norm.weight", "expected {64, 1}");
    s.bad_shape_tensor = NULL;

    /* quantized matrices load since issue 4 (tests/quant covers their products) */
    s.q8_tensor = "blk.0.ffn_gate.weight";
    tiny_fixture fq;
    fx_load(&fq, &s);
    ck_assert_uint_eq(fq.m->layers[0].w_gate.type, DL_TYPE_Q8_0);
    tiny_close(&fq);
    s.q8_tensor = NULL;

    s.arch_name = "gpt2";
    expect_load_error(&s, DIFFLM_E_UNSUPPORTED, "gpt2", NULL);
    s.arch_name = NULL;

    dl_tiny_spec_init(&s, DIFFLM_ARCH_DREAM);
    s.bad_shape_tensor = "blk.0.attn_v.bias";
    expect_load_error(&s, DIFFLM_E_FORMAT, "blk.0.attn_v.bias", NULL);
}
END_TEST

/* A file whose keys are not all there: hand-built with the writer. */
START_TEST(test_missing_key) {
    dl_gguf_writer *w = dl_gguf_writer_new();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(dl_gguf_w_str(w, "general.architecture", "llada"), 0);
    ck_assert_int_eq(dl_gguf_w_u32(w, "llada.embedding_length", 64), 0);
    void *buf;
    size_t n;
    dl_err e = { 0 };
    ck_assert_int_eq(dl_gguf_writer_to_buffer(w, &buf, &n, &e), 0);
    dl_gguf_writer_free(w);
    dl_gguf *g;
    ck_assert_int_eq(dl_gguf_open_mem(&g, buf, n, &e), 0);
    dl_model *m = NULL;
    int rc = dl_model_load(&m, g, NULL, &e);
    ck_assert_int_eq(rc, DIFFLM_E_FORMAT);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(e.msg, "llada.block_count") != NULL, "%s", e.msg);
    dl_gguf_close(g);
    free(buf);
}
END_TEST

START_TEST(test_vocab_layout) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, DIFFLM_ARCH_LLADA);
    s.mask_id = 511;
    tiny_fixture f;
    fx_load(&f, &s);
    dl_err e = { 0 };
    uint32_t et;
    uint64_t n;
    ck_assert_int_eq(dl_gguf_get_arr(f.g, "tokenizer.ggml.tokens", &et, &n, &e), 0);
    ck_assert_uint_eq(n, 512);
    dl_str t;
    ck_assert_int_eq(dl_gguf_arr_str(f.g, "tokenizer.ggml.tokens", 5, &t, &e), 0);
    ck_assert(t.n == 12 && memcmp(t.p, "<|mdm_mask|>", 12) == 0);
    ck_assert_int_eq(dl_gguf_arr_str(f.g, "tokenizer.ggml.tokens", 8 + 'a', &t, &e), 0);
    ck_assert(t.n == 1 && t.p[0] == 'a');
    ck_assert_int_eq(dl_gguf_arr_str(f.g, "tokenizer.ggml.tokens", 8 + ' ', &t, &e), 0);
    ck_assert(t.n == 2 && memcmp(t.p, "\xc4\xa0", 2) == 0);   /* U+0120 */
    ck_assert_int_eq(dl_gguf_arr_str(f.g, "tokenizer.ggml.tokens", 8 + 256, &t, &e), 0);
    ck_assert(t.n == 3 && memcmp(t.p, "\xc4\xa0t", 3) == 0);  /* first merge "Ġ t" */
    ck_assert_int_eq(dl_gguf_arr_str(f.g, "tokenizer.ggml.tokens", 511, &t, &e), 0);
    ck_assert(t.n == 8 && memcmp(t.p, "[PAD511]", 8) == 0);
    int64_t ty;
    ck_assert_int_eq(dl_gguf_arr_i64(f.g, "tokenizer.ggml.token_type", 0, &ty, &e), 0);
    ck_assert_int_eq(ty, 3);
    ck_assert_int_eq(dl_gguf_arr_i64(f.g, "tokenizer.ggml.token_type", 100, &ty, &e), 0);
    ck_assert_int_eq(ty, 1);
    ck_assert_int_eq(dl_gguf_arr_i64(f.g, "tokenizer.ggml.token_type", 500, &ty, &e), 0);
    ck_assert_int_eq(ty, 5);
    ck_assert_int_eq(dl_gguf_get_arr(f.g, "tokenizer.ggml.merges", &et, &n, &e), 0);
    ck_assert_uint_eq(n, (uint64_t)(dl_tiny_min_vocab() - 264));
    uint32_t u;
    ck_assert_int_eq(dl_gguf_get_u32(f.g, "tokenizer.ggml.mask_token_id", &u, &e), 0);
    ck_assert_uint_eq(u, 511);
    int b;
    ck_assert_int_eq(dl_gguf_get_bool_opt(f.g, "tokenizer.ggml.add_bos_token", -1, &b, &e), 0);
    ck_assert_int_eq(b, 1);
    dl_str pre;
    ck_assert_int_eq(dl_gguf_get_str(f.g, "tokenizer.ggml.pre", &pre, &e), 0);
    ck_assert(pre.n == 9 && memcmp(pre.p, "llama-bpe", 9) == 0);
    tiny_close(&f);
}
END_TEST

START_TEST(test_write_file) {
    char path[] = "/tmp/difflm_test_model_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, DIFFLM_ARCH_DREAM);
    s.wtype = DL_TYPE_BF16;
    dl_err e = { 0 };
    ck_assert_int_eq(dl_tiny_write(&s, path, &e), 0);
    dl_gguf *g;
    ck_assert_msg(dl_gguf_open(&g, path, &e) == 0, "%s", e.msg);
    dl_model *m;
    ck_assert_msg(dl_model_load(&m, g, NULL, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(m->layers[0].w_up.type, DL_TYPE_BF16);
    dl_model_free(m);
    dl_gguf_close(g);
    unlink(path);
}
END_TEST

/* --- forward */

static void check_against_ref(dl_tiny_spec *s, int T) {
    tiny_fixture f;
    fx_load(&f, s);
    int E = f.m->hp.n_embd, V = f.m->hp.n_vocab;
    int32_t *tok = tokens(T, V, 7);
    float *h, *lg;
    run(f.m, tok, T, &h, &lg);
    float *h2 = malloc((size_t)T * E * 4), *lg2 = malloc((size_t)T * V * 4);
    ref_forward(f.m, tok, T, h2, lg2);
    assert_close(h, h2, (size_t)T * E, 1e-4f, 1e-4f, "hidden vs naive forward");
    assert_close(lg, lg2, (size_t)T * V, 1e-4f, 1e-4f, "logits vs naive forward");
    /* a healthy spread: neither vanishing nor exploding logits */
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < (size_t)T * V; i++)
        s1 += lg[i], s2 += (double)lg[i] * lg[i];
    double mean = s1 / ((double)T * V), sd = sqrt(s2 / ((double)T * V) - mean * mean);
    ck_assert_msg(sd > 0.5 && sd < 10.0, "logit std %g", sd);
    free(tok), free(h), free(lg), free(h2), free(lg2);
    tiny_close(&f);
}

START_TEST(test_forward_vs_naive) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, DIFFLM_ARCH_LLADA);
    check_against_ref(&s, 13);
    s.n_head = 8, s.n_head_kv = 2, s.tied = 1, s.n_layer = 3;   /* GQA, tied */
    check_against_ref(&s, 1);
    check_against_ref(&s, 40);
    dl_tiny_spec_init(&s, DIFFLM_ARCH_DREAM);
    s.n_embd = 56, s.n_head = 7, s.n_head_kv = 1, s.output_bias = 1;
    check_against_ref(&s, 21);
}
END_TEST

START_TEST(test_forward_threads_bitwise) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, DIFFLM_ARCH_LLADA);
    s.n_embd = 128, s.n_head = 8, s.n_head_kv = 4, s.n_ff = 320, s.wtype = DL_TYPE_F16;
    tiny_fixture f;
    fx_load(&f, &s);
    int T = 67, E = 128, V = 512;
    int32_t *tok = tokens(T, V, 3);
    float *h1, *l1, *h2, *l2;
    f.m->n_threads = 1;
    run(f.m, tok, T, &h1, &l1);
    for (int nt = 2; nt <= 5; nt += 3) {
        f.m->n_threads = nt;
        run(f.m, tok, T, &h2, &l2);
        ck_assert_mem_eq(h1, h2, (size_t)T * E * 4);
        ck_assert_mem_eq(l1, l2, (size_t)T * V * 4);
        free(h2), free(l2);
    }
    run(f.m, tok, T, &h2, &l2);   /* and run to run */
    ck_assert_mem_eq(h1, h2, (size_t)T * E * 4);
    ck_assert_mem_eq(l1, l2, (size_t)T * V * 4);
    free(tok), free(h1), free(l1), free(h2), free(l2);
    tiny_close(&f);
}
END_TEST

START_TEST(test_f16_matches_f32) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, DIFFLM_ARCH_DREAM);
    s.round_f16 = 1;   /* the F32 file holds exactly the F16 file's values */
    tiny_fixture a, b;
    fx_load(&a, &s);
    s.wtype = DL_TYPE_F16;
    fx_load(&b, &s);
    int T = 19, E = 64, V = 512;
    int32_t *tok = tokens(T, V, 11);
    float *ha, *la, *hb, *lb;
    run(a.m, tok, T, &ha, &la);
    run(b.m, tok, T, &hb, &lb);
    assert_close(hb, ha, (size_t)T * E, 1e-5f, 1e-5f, "f16 hidden");
    assert_close(lb, la, (size_t)T * V, 1e-5f, 1e-5f, "f16 logits");
    free(tok), free(ha), free(la), free(hb), free(lb);
    tiny_close(&a);
    tiny_close(&b);
}
END_TEST

START_TEST(test_bf16_close_to_f32) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, DIFFLM_ARCH_LLADA);
    tiny_fixture a, b;
    fx_load(&a, &s);
    s.wtype = DL_TYPE_BF16;
    fx_load(&b, &s);
    int T = 9, V = 512;
    int32_t *tok = tokens(T, V, 5);
    float *ha, *la, *hb, *lb;
    run(a.m, tok, T, &ha, &la);
    run(b.m, tok, T, &hb, &lb);
    /* bf16 keeps 8 bits: the logits move by a few percent of their spread, not more */
    double num = 0, den = 0;
    for (size_t i = 0; i < (size_t)T * V; i++)
        num += (double)(lb[i] - la[i]) * (lb[i] - la[i]), den += (double)la[i] * la[i];
    ck_assert_msg(sqrt(num / den) < 0.05, "bf16 relative logit error %g", sqrt(num / den));
    ck_assert_msg(sqrt(num / den) > 0.0, "bf16 and f32 identical: rounding did not happen");
    free(tok), free(ha), free(la), free(hb), free(lb);
    tiny_close(&a);
    tiny_close(&b);
}
END_TEST

START_TEST(test_logits_subset_bitwise) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, DIFFLM_ARCH_DREAM);
    s.output_bias = 1;
    s.wtype = DL_TYPE_BF16;
    tiny_fixture f;
    fx_load(&f, &s);
    int T = 37, V = 512;
    int32_t *tok = tokens(T, V, 9);
    float *h, *lg;
    run(f.m, tok, T, &h, &lg);
    const int32_t rows[] = { 36, 0, 5, 5, 17, 1 };
    const int nr = (int)(sizeof rows / sizeof rows[0]);
    for (int k = 1; k <= nr; k++) {
        size_t nl = dl_model_logits_scratch_size(f.m, k);
        void *sl = scratch_new(nl);
        float *out = malloc((size_t)k * V * 4);
        dl_model_logits(f.m, sl, h, rows, k, out);
        for (int i = 0; i < k; i++)
            ck_assert_msg(memcmp(out + (size_t)i * V, lg + (size_t)rows[i] * V, (size_t)V * 4) == 0,
                          "row %d of %d (hidden row %d) differs from the all-rows logits", i, k,
                          rows[i]);
        free(out);
        scratch_check_free(sl, nl);
    }
    free(tok), free(h), free(lg);
    tiny_close(&f);
}
END_TEST

START_TEST(test_forward_bad_input_and_cancel) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, DIFFLM_ARCH_LLADA);
    tiny_fixture f;
    fx_load(&f, &s);
    size_t ns = dl_model_scratch_size(f.m, 4);
    ck_assert_uint_gt(ns, 0);
    ck_assert_uint_lt(dl_model_scratch_size(f.m, 4), dl_model_scratch_size(f.m, 5));
    void *sc = scratch_new(ns);
    float hidden[4 * 64];
    dl_err e = { 0 };
    int32_t bad[4] = { 1, 2, 512, 3 };
    ck_assert_int_eq(dl_model_forward(f.m, sc, bad, 4, hidden, NULL, &e), DIFFLM_E_INVALID_ARG);
    ck_assert_msg(strstr(e.msg, "512") && strstr(e.msg, "position 2"), "%s", e.msg);
    bad[2] = -1;
    ck_assert_int_eq(dl_model_forward(f.m, sc, bad, 4, hidden, NULL, &e), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_model_forward(f.m, sc, bad, 0, hidden, NULL, &e), DIFFLM_E_INVALID_ARG);
    int32_t ok[4] = { 1, 2, 3, 4 };
    int cancel = 1;
    ck_assert_int_eq(dl_model_forward(f.m, sc, ok, 4, hidden, &cancel, &e), DIFFLM_E_CANCELLED);
    cancel = 0;
    ck_assert_int_eq(dl_model_forward(f.m, sc, ok, 4, hidden, &cancel, &e), 0);
    for (int i = 0; i < 4 * 64; i++)
        ck_assert(isfinite(hidden[i]));
    /* a shorter canvas in the same scratch gives the same rows as its own pass would */
    float h3[3 * 64];
    ck_assert_int_eq(dl_model_forward(f.m, sc, ok, 3, h3, NULL, &e), 0);
    scratch_check_free(sc, ns);
    dl_model_free(NULL);
    tiny_close(&f);
}
END_TEST

static Suite *model_suite(void) {
    Suite *s = suite_create("model");
    TCase *tl = tcase_create("load");
    tcase_add_test(tl, test_load_llada_mha);
    tcase_add_test(tl, test_load_gqa_tied);
    tcase_add_test(tl, test_load_dream);
    tcase_add_test(tl, test_llada_without_shift_key_warns);
    tcase_add_test(tl, test_load_errors);
    tcase_add_test(tl, test_missing_key);
    tcase_add_test(tl, test_vocab_layout);
    tcase_add_test(tl, test_write_file);
    suite_add_tcase(s, tl);
    TCase *tf = tcase_create("forward");
    tcase_set_timeout(tf, 300);
    tcase_add_test(tf, test_forward_vs_naive);
    tcase_add_test(tf, test_forward_threads_bitwise);
    tcase_add_test(tf, test_f16_matches_f32);
    tcase_add_test(tf, test_bf16_close_to_f32);
    tcase_add_test(tf, test_logits_subset_bitwise);
    tcase_add_test(tf, test_forward_bad_input_and_cancel);
    suite_add_tcase(s, tf);
    return s;
}

int main(void) {
    return dl_run_suite(model_suite());
}

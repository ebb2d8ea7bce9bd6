/* test_moe.c - the mixture-of-experts path: the routers on hand-made logits (ties, NaN,
 * groups, a selection bias that changes the choice but not the weights), and whole
 * llada-moe models: bitwise equal for any thread count and whatever rows share a pass,
 * the worst-case routing inside the scratch, and every weight type the kernels run for
 * the expert matrices. Logits against the numpy reference are tests/model/golden_logits.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check_compat.h"
#include "core/pool.h"
#include "fmt/ggml_types.h"
#include "fmt/gguf.h"
#include "kernels/router.h"
#include "kernels/types.h"
#include "model/model.h"
#include "model/model_weights.h"
#include "model_tiny.h"

/* --- routers */

START_TEST(test_softmax_ties_lowest_index) {
    const float lg[6] = { 0.5f, 2.0f, 2.0f, -1.0f, 2.0f, 0.5f };
    int32_t ids[4];
    float w[4];
    dl_route_softmax_topk(ids, w, lg, 6, 4);
    ck_assert_int_eq(ids[0], 1);
    ck_assert_int_eq(ids[1], 2);
    ck_assert_int_eq(ids[2], 4);
    ck_assert_int_eq(ids[3], 0);   /* 0.5 at 0 and 5: the lower index */
    double sum = 0;
    for (int i = 0; i < 6; i++)
        sum += exp(lg[i] - 2.0);
    ck_assert_float_eq_tol(w[0], (float)(1.0 / sum), 1e-7f);   /* not renormalised */
    ck_assert(w[0] == w[1] && w[1] == w[2]);
    ck_assert_float_eq_tol(w[3], (float)(exp(-1.5) / sum), 1e-7f);
    /* all equal: experts 0 .. k-1 */
    const float flat[5] = { 0, 0, 0, 0, 0 };
    dl_route_softmax_topk(ids, w, flat, 5, 3);
    ck_assert(ids[0] == 0 && ids[1] == 1 && ids[2] == 2);
    ck_assert_float_eq_tol(w[2], 0.2f, 1e-7f);
    /* NaN is never chosen over a number */
    const float nan_lg[4] = { NAN, -3.0f, NAN, -4.0f };
    dl_route_softmax_topk(ids, w, nan_lg, 4, 2);
    ck_assert(ids[0] == 1 && ids[1] == 3);
}
END_TEST

static float sig(float x) {
    return (float)(1.0 / (1.0 + exp(-(double)x)));
}

START_TEST(test_sigmoid_groups_and_bias) {
    /* 8 experts in 4 groups of 2. Group sums of the two biased scores decide; the best
     * single expert (7) sits in a weak group and is excluded with topk_group 2. */
    float lg[8] = { 1.0f, 1.0f, 0.9f, 0.9f, -3.0f, -3.0f, -4.0f, 3.0f };
    int32_t ids[3];
    float w[3];
    double scratch[8 + 4];
    dl_route_sigmoid_group(ids, w, scratch, lg, NULL, 8, 3, 4, 2, 2.5f);
    ck_assert_int_eq(ids[0], 0);
    ck_assert_int_eq(ids[1], 1);
    ck_assert_int_eq(ids[2], 2);   /* 2 and 3 tie: the lower index */
    double s = sig(1.0f) * 2 + sig(0.9f);
    ck_assert_float_eq_tol(w[0], (float)(sig(1.0f) / s * 2.5), 1e-6f);
    ck_assert_float_eq_tol(w[2], (float)(sig(0.9f) / s * 2.5), 1e-6f);
    /* one group kept of three: only its experts can be chosen, whatever their scores */
    dl_route_sigmoid_group(ids, w, scratch, lg, NULL, 8, 2, 4, 1, 1.0f);
    ck_assert(ids[0] == 0 && ids[1] == 1);
    ck_assert_float_eq_tol(w[0] + w[1], 1.0f, 1e-6f);
    /* the bias changes the selection only: expert 5 (a low score) is chosen through its
     * bias, and its weight is its unbiased score renormalised */
    const float bias[8] = { 0, 0, 0, 0, 0, 10.0f, 0, 0 };
    dl_route_sigmoid_group(ids, w, scratch, lg, bias, 8, 2, 1, 1, 1.0f);
    ck_assert_int_eq(ids[0], 5);
    ck_assert_int_eq(ids[1], 7);
    double s2 = sig(-3.0f) + sig(3.0f);
    ck_assert_float_eq_tol(w[0], (float)(sig(-3.0f) / s2), 1e-6f);
    ck_assert_float_eq_tol(w[1], (float)(sig(3.0f) / s2), 1e-6f);
    /* and a group's score counts its biased scores: group 2 (experts 4, 5) now wins */
    dl_route_sigmoid_group(ids, w, scratch, lg, bias, 8, 1, 4, 1, 1.0f);
    ck_assert_int_eq(ids[0], 5);
    ck_assert_float_eq_tol(w[0], sig(-3.0f), 1e-6f);   /* k == 1: not renormalised */
}
END_TEST

/* --- models */

typedef struct fixture {
    void *buf;
    size_t n;
    dl_gguf *g;
    dl_model *m;
} fixture;

static void fx_load(fixture *f, const dl_tiny_spec *s) {
    dl_err e = { 0 };
    memset(f, 0, sizeof *f);
    ck_assert_int_eq(dl_tiny_to_buffer(s, &f->buf, &f->n, &e), 0);
    ck_assert_msg(dl_gguf_open_mem(&f->g, f->buf, f->n, &e) == 0, "%s", e.msg);
    ck_assert_msg(dl_model_load(&f->m, f->g, NULL, &e) == 0, "%s", e.msg);
}

static void fx_close(fixture *f) {
    dl_model_free(f->m);
    dl_gguf_close(f->g);
    free(f->buf);
}

static void moe_spec(dl_tiny_spec *s) {
    dl_tiny_spec_init(s, DIFFLM_ARCH_LLADA_MOE);
    s->n_embd = 64, s->n_head = 4, s->n_head_kv = 2, s->n_layer = 2;
    s->n_expert = 16, s->n_expert_used = 4, s->n_ff_exp = 64;
}

#define CANARY 4096
/* hidden [T][E] of a pass, scratch checked for overruns */
static float *forward(const dl_model *m, const int32_t *tok, int T) {
    size_t ns = dl_model_scratch_size(m, T);
    uint8_t *s = dl_aligned_alloc(ns + CANARY);
    ck_assert_ptr_nonnull(s);
    memset(s + ns, 0xA5, CANARY);
    float *h = malloc((size_t)T * m->hp.n_embd * 4);
    dl_err e = { 0 };
    ck_assert_msg(dl_model_forward(m, s, tok, T, h, NULL, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < CANARY; i++)
        ck_assert_msg(s[ns + i] == 0xA5, "scratch overrun at %zu", i);
    dl_aligned_free(s);
    for (size_t i = 0; i < (size_t)T * m->hp.n_embd; i++)
        ck_assert_msg(isfinite(h[i]), "non-finite hidden state at %zu", i);
    return h;
}

static int32_t *tokens(int T, int V, uint32_t seed) {
    int32_t *t = malloc((size_t)T * 4);
    for (int i = 0; i < T; i++) {
        seed = seed * 1103515245u + 12345u;
        t[i] = (int32_t)((seed >> 8) % (uint32_t)V);
    }
    return t;
}

/* The same bits for 1 .. 5 threads, pooled or not, and run to run. */
static void check_threads(dl_model *m, const int32_t *tok, int T) {
    size_t bytes = (size_t)T * m->hp.n_embd * 4;
    m->n_threads = 1;
    m->pool = NULL;
    float *h1 = forward(m, tok, T);
    for (int nt = 2; nt <= 5; nt++) {
        dl_pool *pool = NULL;
        dl_err e = { 0 };
        ck_assert_int_eq(dl_pool_create(&pool, nt, &e), 0);
        for (int pooled = 0; pooled < 2; pooled++) {
            m->n_threads = nt;
            m->pool = pooled ? pool : NULL;
            float *h2 = forward(m, tok, T);
            ck_assert_msg(memcmp(h1, h2, bytes) == 0, "%d threads (pool %d) differ", nt, pooled);
            free(h2);
        }
        m->pool = NULL;
        dl_pool_free(pool);
    }
    m->n_threads = 1;
    float *h3 = forward(m, tok, T);
    ck_assert(memcmp(h1, h3, bytes) == 0);
    free(h1), free(h3);
}

START_TEST(test_threads_bitwise) {
    dl_tiny_spec s;
    moe_spec(&s);
    s.wtype = DL_TYPE_F16;
    fixture f;
    fx_load(&f, &s);
    int32_t *tok = tokens(45, s.n_vocab, 7);
    check_threads(f.m, tok, 45);
    free(tok);
    fx_close(&f);
}
END_TEST

/* A row's result does not depend on which rows share the pass (and so which other rows
 * share its experts): a batch of canvases gives each canvas's own bits. */
START_TEST(test_rows_independent) {
    dl_tiny_spec s;
    moe_spec(&s);
    fixture f;
    fx_load(&f, &s);
    const int TA = 19, TB = 33, E = s.n_embd;
    int32_t *a = tokens(TA, s.n_vocab, 1), *b = tokens(TB, s.n_vocab, 2);
    float *ha = forward(f.m, a, TA), *hb = forward(f.m, b, TB);
    size_t ns = dl_model_batch_scratch_size(f.m, TA + TB, TB);
    void *sc = dl_aligned_alloc(ns);
    float *h = malloc((size_t)(TA + TB) * E * 4);
    dl_canvas_seg segs[2] = { { a, TA }, { b, TB } };
    dl_err e = { 0 };
    ck_assert_msg(dl_model_forward_batch(f.m, sc, segs, 2, h, NULL, &e) == 0, "%s", e.msg);
    ck_assert(memcmp(h, ha, (size_t)TA * E * 4) == 0);
    ck_assert(memcmp(h + (size_t)TA * E, hb, (size_t)TB * E * 4) == 0);
    dl_aligned_free(sc);
    free(a), free(b), free(ha), free(hb), free(h);
    fx_close(&f);
}
END_TEST

/* A zero router sends every row to experts 0 .. k-1 (ties to the lowest index): one
 * expert holds every row of the pass, the most the scratch must take. */
START_TEST(test_worst_case_routing) {
    dl_tiny_spec s;
    moe_spec(&s);
    fixture f;
    fx_load(&f, &s);
    for (int il = 0; il < s.n_layer; il++) {
        dl_weight *r = &f.m->layers[il].router;
        ck_assert_int_eq(r->type, DL_TYPE_F32);
        memset((void *)r->data, 0, (size_t)r->ne0 * (size_t)r->ne1 * 4);   /* our own buffer */
    }
    int32_t *tok = tokens(70, s.n_vocab, 5);
    check_threads(f.m, tok, 70);
    free(tok);
    fx_close(&f);
}
END_TEST

/* Every type the kernels compute with, for the expert matrices: the quantized experts
 * against the same model whose experts are the dequantized values of those bytes (the
 * integer products quantize their activations to int8 blocks, the only difference),
 * and bitwise equal across thread counts. */
START_TEST(test_every_expert_type) {
    dl_tiny_spec s;
    moe_spec(&s);
    s.n_embd = 256, s.n_head = 4, s.n_head_kv = 4, s.n_ff_exp = 256;   /* K-quant blocks */
    /* one layer: the router's input is the f32 attention's output in both runs, so the
     * same experts are chosen (a second layer's near-ties could flip with the first
     * layer's rounding and differ by a whole expert) */
    s.n_layer = 1;
    fixture f;
    fx_load(&f, &s);
    const int T = 21, X = s.n_expert;
    int32_t *tok = tokens(T, s.n_vocab, 9);
    int tested = 0;
    for (uint32_t type = 0; type < 64; type++) {
        const dl_type_info *ti = dl_type_get(type);
        if (!ti || !ti->from_f32 || !dl_weight_type_supported(type) || type == DL_TYPE_F32)
            continue;
        /* per layer, per expert tensor: the original views, then quantized and widened copies */
        dl_weight saved[1][3][16];
        void *qbuf[1][3], *fbuf[1][3];
        for (int il = 0; il < s.n_layer; il++)
            for (int k = 0; k < 3; k++) {
                dl_layer *L = &f.m->layers[il];
                dl_weight *v = k == 0 ? L->exp_gate : k == 1 ? L->exp_up : L->exp_down;
                size_t rb = dl_row_bytes(type, v[0].ne0), per = rb * (size_t)v[0].ne1;
                size_t nf = (size_t)v[0].ne0 * (size_t)v[0].ne1;
                qbuf[il][k] = malloc(per * (size_t)X);
                fbuf[il][k] = malloc(nf * 4 * (size_t)X);
                float *tmp = malloc(nf * 4);
                for (int e = 0; e < X; e++) {
                    saved[il][k][e] = v[e];
                    dl_weight_rows_f32(tmp, &v[e], 0, v[e].ne1);
                    uint8_t *q = (uint8_t *)qbuf[il][k] + (size_t)e * per;
                    for (int64_t r = 0; r < v[e].ne1; r++)
                        ti->from_f32(q + (size_t)r * rb, tmp + (size_t)r * v[e].ne0, v[e].ne0);
                    float *wf = (float *)fbuf[il][k] + (size_t)e * nf;
                    for (int64_t r = 0; r < v[e].ne1; r++)
                        ti->to_f32(wf + (size_t)r * v[e].ne0, q + (size_t)r * rb, v[e].ne0);
                }
                free(tmp);
            }
        /* the reference run: f32 experts holding the quantized values */
        for (int il = 0; il < s.n_layer; il++)
            for (int k = 0; k < 3; k++)
                for (int e = 0; e < X; e++) {
                    dl_layer *L = &f.m->layers[il];
                    dl_weight *v = k == 0 ? L->exp_gate : k == 1 ? L->exp_up : L->exp_down;
                    size_t nf = (size_t)v[e].ne0 * (size_t)v[e].ne1;
                    v[e].type = DL_TYPE_F32;
                    v[e].data = (float *)fbuf[il][k] + (size_t)e * nf;
                }
        float *href = forward(f.m, tok, T);
        for (int il = 0; il < s.n_layer; il++)
            for (int k = 0; k < 3; k++)
                for (int e = 0; e < X; e++) {
                    dl_layer *L = &f.m->layers[il];
                    dl_weight *v = k == 0 ? L->exp_gate : k == 1 ? L->exp_up : L->exp_down;
                    size_t per = dl_row_bytes(type, v[e].ne0) * (size_t)v[e].ne1;
                    v[e].type = type;
                    v[e].data = (uint8_t *)qbuf[il][k] + (size_t)e * per;
                }
        float *hq = forward(f.m, tok, T);
        double worst = 0, scale = 1;
        for (size_t i = 0; i < (size_t)T * s.n_embd; i++) {
            worst = fmax(worst, fabs((double)hq[i] - href[i]));
            scale = fmax(scale, fabs((double)href[i]));
        }
        /* int8 activations cost up to amax/254 per value; a wrong layout costs O(1) */
        double tol = ti->product == DL_PRODUCT_INT8 ? 0.02 : 1e-5;
        ck_assert_msg(worst / scale <= tol, "%s experts: max |err| %.3e of %.3f", ti->name,
                      worst, scale);
        check_threads(f.m, tok, T);
        free(href), free(hq);
        for (int il = 0; il < s.n_layer; il++)
            for (int k = 0; k < 3; k++) {
                dl_layer *L = &f.m->layers[il];
                dl_weight *v = k == 0 ? L->exp_gate : k == 1 ? L->exp_up : L->exp_down;
                for (int e = 0; e < X; e++)
                    v[e] = saved[il][k][e];
                free(qbuf[il][k]);
                free(fbuf[il][k]);
            }
        tested++;
    }
    ck_assert_int_ge(tested, 10);   /* F16, BF16 and the quantized families */
    free(tok);
    fx_close(&f);
}
END_TEST

/* A file whose experts are not 3-D, or with too few of them, is refused by name. */
START_TEST(test_bad_expert_tensor) {
    dl_tiny_spec s;
    moe_spec(&s);
    s.bad_shape_tensor = "blk.1.ffn_up_exps.weight";
    void *buf;
    size_t n;
    dl_err e = { 0 };
    ck_assert_int_eq(dl_tiny_to_buffer(&s, &buf, &n, &e), 0);
    dl_gguf *g;
    ck_assert_int_eq(dl_gguf_open_mem(&g, buf, n, &e), 0);
    dl_model *m = NULL;
    ck_assert_int_eq(dl_model_load(&m, g, NULL, &e), DIFFLM_E_FORMAT);
    ck_assert_msg(strstr(e.msg, "blk.1.ffn_up_exps.weight"), "%s", e.msg);
    dl_gguf_close(g);
    free(buf);
    moe_spec(&s);
    s.omit_tensor = "blk.0.ffn_gate_inp.weight";
    ck_assert_int_eq(dl_tiny_to_buffer(&s, &buf, &n, &e), 0);
    ck_assert_int_eq(dl_gguf_open_mem(&g, buf, n, &e), 0);
    ck_assert_int_eq(dl_model_load(&m, g, NULL, &e), DIFFLM_E_FORMAT);
    ck_assert_msg(strstr(e.msg, "ffn_gate_inp"), "%s", e.msg);
    dl_gguf_close(g);
    free(buf);
}
END_TEST

int main(void) {
    Suite *s = suite_create("moe");
    TCase *tr = tcase_create("router");
    tcase_add_test(tr, test_softmax_ties_lowest_index);
    tcase_add_test(tr, test_sigmoid_groups_and_bias);
    suite_add_tcase(s, tr);
    TCase *tm = tcase_create("model");
    tcase_set_timeout(tm, 600);
    tcase_add_test(tm, test_threads_bitwise);
    tcase_add_test(tm, test_rows_independent);
    tcase_add_test(tm, test_worst_case_routing);
    tcase_add_test(tm, test_every_expert_type);
    tcase_add_test(tm, test_bad_expert_tensor);
    suite_add_tcase(s, tm);
    return dl_run_suite(s);
}

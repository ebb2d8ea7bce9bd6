/* test_train.c - the trainer end to end on tiny shapes:
 *  - the whole model's gradient (tr_forward_backward) against central differences of a
 *    double-precision re-implementation of the model and objective (grad_ref.h);
 *  - the tiled products against their double twins, bitwise equal for any thread count;
 *  - LLaDA masking and its weights; the schedule; document splitting and the cache;
 *  - determinism: N steps straight == N/2, stop, resume, N/2 (bitwise: parameters, Adam
 *    moments, RNG states), and the same weights with 1 and 2 threads;
 *  - export: the GGUF loads with lib/model and its logits match the trainer's forward
 *    (F32 exactly up to summation order, F16 against f16-rounded parameters);
 *  - init from a model: exported F32 / F16 files give back the shape and the parameters
 *    (bitwise / f16-rounded), a run from them starts with zero Adam moments and evaluates
 *    as the source did, a disagreeing shape option and files that are not the trainer's
 *    model (missing, mis-shaped, Q8_0 or extra tensors) are refused by name. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_compat.h"
#include "fmt/ggml_types.h"
#include "fmt/gguf.h"
#include "gemm_par.h"
#include "grad_ref.h"
#include "kernels/kernels.h"
#include "kernels/kernels_backward.h"
#include "model/layers.h"
#include "model/model.h"
#include "model_tiny.h"
#include "tok/tok.h"
#include "train.h"

static void tiny_config(tr_config *c) {
    tr_config_default(c);
    *c = (tr_config){ .n_vocab = 37, .n_embd = 16, .n_layer = 2, .n_head = 4, .n_head_kv = 2,
                      .head_dim = 4, .n_ff = 24, .n_ctx = 7, .rope_theta = 10000.0f,
                      .rms_eps = 1e-5f };
}

/* --- the double model */

/* Loss of batch b under parameters p (double, tr_tensor_table layout). */
static double model_loss_d(const tr_config *c, const double *p, const tr_batch *b) {
    tr_tensor t[TR_N_TENSORS(TR_MAX_LAYERS)];
    tr_tensor_table(c, t);
    const int E = c->n_embd, F = c->n_ff, hd = c->head_dim, nh = c->n_head, nkv = c->n_head_kv;
    const int Dq = nh * hd, Dkv = nkv * hd, V = c->n_vocab;
    const double *emb = p + t[0].offset;
    double loss = 0;
    for (int s = 0; s < b->n_seq; s++) {
        int T = b->seq_len[s], r0 = b->seq_start[s];
        double *x = malloc((size_t)T * E * sizeof *x), *xn = malloc((size_t)T * E * sizeof *x);
        double *q = malloc((size_t)T * Dq * sizeof *x), *k = malloc((size_t)T * Dkv * sizeof *x);
        double *v = malloc((size_t)T * Dkv * sizeof *x), *att = malloc((size_t)T * Dq * sizeof *x);
        double *o = malloc((size_t)T * E * sizeof *x), *g = malloc((size_t)T * F * sizeof *x);
        double *u = malloc((size_t)T * F * sizeof *x);
        for (int i = 0; i < T; i++)
            memcpy(x + i * E, emb + (size_t)b->input[r0 + i] * E, (size_t)E * sizeof *x);
        for (int l = 0; l < c->n_layer; l++) {
            const tr_tensor *L = &t[2 + 9 * l];
            gd_rmsnorm(xn, x, p + L[0].offset, c->rms_eps, T, E);
            gd_matmul(q, xn, p + L[1].offset, T, E, Dq);
            gd_matmul(k, xn, p + L[2].offset, T, E, Dkv);
            gd_matmul(v, xn, p + L[3].offset, T, E, Dkv);
            gd_rope(q, b->pos + r0, c->rope_theta, 0, T, nh, hd);
            gd_rope(k, b->pos + r0, c->rope_theta, 0, T, nkv, hd);
            gd_attention(att, q, k, v, T, nh, nkv, hd);
            gd_matmul(o, att, p + L[4].offset, T, Dq, E);
            for (int i = 0; i < T * E; i++)
                x[i] += o[i];
            gd_rmsnorm(xn, x, p + L[5].offset, c->rms_eps, T, E);
            gd_matmul(g, xn, p + L[6].offset, T, E, F);
            gd_matmul(u, xn, p + L[7].offset, T, E, F);
            gd_silu_mul(g, g, u, T * F);
            gd_matmul(o, g, p + L[8].offset, T, F, E);
            for (int i = 0; i < T * E; i++)
                x[i] += o[i];
        }
        gd_rmsnorm(xn, x, p + t[1].offset, c->rms_eps, T, E);
        double *logits = malloc((size_t)V * sizeof *logits);
        for (int i = 0; i < b->n_masked; i++) {
            int r = b->mask_rows[i];
            if (r < r0 || r >= r0 + T)
                continue;
            gd_matmul(logits, xn + (size_t)(r - r0) * E, emb, 1, E, V);
            loss += b->weights[i] * gd_xent(logits, b->targets[i], V);
        }
        free(logits); free(x); free(xn); free(q); free(k); free(v); free(att); free(o);
        free(g); free(u);
    }
    return loss;
}

/* A batch of two sequences (lengths 7 and 5) over a made-up token stream. */
static void make_batch(tr_batch *b, const tr_config *c, uint64_t seed) {
    dl_err err;
    ck_assert_int_eq(tr_batch_init(b, 2, c->n_ctx, &err), 0);
    uint16_t stream[64];
    uint64_t s = seed;
    for (int i = 0; i < 64; i++)
        stream[i] = (uint16_t)(6 + dl_splitmix64_below(&s, (uint64_t)c->n_vocab - 6));
    tr_data d = { stream, 64 };
    tr_sample_batch(b, &d, 2, 0.0f, 0, &s);
    b->seq_len[1] = 5;      /* a cut sequence: shorter rows stacked after a full one */
    b->n_rows = b->seq_len[0] + 5;
    /* mask with a high level so most rows are scored */
    do {
        tr_apply_mask(b, 5, 2, &s);
    } while (b->n_masked < 6);
}

START_TEST(model_gradient) {
    tr_config c;
    tiny_config(&c);
    for (int threads = 1; threads <= 2; threads++) {
        tr_model *m;
        dl_err err;
        ck_assert_int_eq(tr_model_new(&m, &c, 2, threads, &err), 0);
        size_t n = tr_model_n_params(m);
        float *p = tr_model_params(m);
        tr_init_params(p, &c, 7);
        /* larger weights than the init so that every path carries gradient */
        uint64_t s = 99;
        tr_tensor t[TR_N_TENSORS(TR_MAX_LAYERS)];
        int nt = tr_tensor_table(&c, t);
        for (int i = 0; i < nt; i++)
            for (int64_t j = 0; j < t[i].ne0 * t[i].ne1; j++)
                p[t[i].offset + j] = t[i].is_matrix ? gd_rand(&s) * 0.5f : 1.0f + gd_rand(&s) * 0.3f;
        tr_batch b;
        make_batch(&b, &c, 5);
        double loss = tr_forward_backward(m, &b, 1);
        double *pd = malloc(n * sizeof *pd), *num = malloc(n * sizeof *num);
        for (size_t i = 0; i < n; i++)
            pd[i] = p[i];
        ck_assert_double_eq_tol(loss, model_loss_d(&c, pd, &b), 1e-4 * fabs(loss));
        const double h = 1e-5;
        for (size_t i = 0; i < n; i++) {
            double keep = pd[i];
            pd[i] = keep + h;
            double lp = model_loss_d(&c, pd, &b);
            pd[i] = keep - h;
            double lm = model_loss_d(&c, pd, &b);
            pd[i] = keep;
            num[i] = (lp - lm) / (2 * h);
        }
        /* per tensor, so a failure names the layer */
        for (int i = 0; i < nt; i++) {
            size_t o = t[i].offset, cnt = (size_t)(t[i].ne0 * t[i].ne1);
            double worst;
            long bad = gd_compare(tr_model_grads(m) + o, num + o, cnt, 1e-3, 1e-4, &worst);
            ck_assert_msg(bad < 0, "%s[%ld]: analytic %.8g numeric %.8g (worst %.3g, threads %d)",
                          t[i].name, bad, bad >= 0 ? (double)tr_model_grads(m)[o + bad] : 0.0,
                          bad >= 0 ? num[o + bad] : 0.0, worst, threads);
        }
        free(pd);
        free(num);
        tr_batch_free(&b);
        tr_model_free(m);
    }
}
END_TEST

/* The trainer's tiled products (gemm_par.c) against the double-precision twins, on shapes
 * that span several tiles and dw's row chunks; any thread count gives the same bits. */
static void fill(float *a, size_t n, uint64_t *s) {
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(dl_splitmix64_uniform(s) * 2.0 - 1.0);
}

static double worst_rel(const float *a, const float *ref, size_t n) {
    double w = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - ref[i]) / (1.0 + fabs((double)ref[i]));
        w = e > w ? e : w;
    }
    return w;
}

/* bf16 rounding written independently of kernels/gemm_bf16.c: 8 significant bits, ties to even */
static double bf16_round(double v) {
    int e;
    double m = frexp(v, &e);              /* v = m 2^e, 0.5 <= |m| < 1 */
    return ldexp(nearbyint(m * 256.0), e - 8);
}

static float *rounded_copy(const float *a, size_t n, int bf16) {
    float *r = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        r[i] = bf16 ? (float)bf16_round(a[i]) : a[i];
    return r;
}

/* f32 (bf16 = 0) and mixed precision (bf16 = 1), each on 1 and 3 threads */
static void check_products(int bf16) {
    enum { N = 600, K = 300, M = 200 };
    uint64_t s = 11;
    float *x = malloc(sizeof(float) * N * K), *w = malloc(sizeof(float) * M * K);
    float *dout = malloc(sizeof(float) * N * M);
    float *out[2], *dx[2], *dw[2];
    float *ref_out = malloc(sizeof(float) * N * M), *ref_dx = malloc(sizeof(float) * N * K);
    float *ref_dw = malloc(sizeof(float) * M * K);
    fill(x, (size_t)N * K, &s);
    fill(w, (size_t)M * K, &s);
    fill(dout, (size_t)N * M, &s);
    fill(ref_out, (size_t)N * M, &s);   /* accumulated into */
    fill(ref_dx, (size_t)N * K, &s);
    fill(ref_dw, (size_t)M * K, &s);
    const int threads[2] = { 1, 3 };
    for (int t = 0; t < 2; t++) {
        dl_err err;
        tr_gemm g = { .bf16 = bf16, .bf16_path = dl_bf16_best() };
        ck_assert_int_eq(dl_pool_create(&g.pool, threads[t], &err), 0);
        g.scratch = dl_aligned_alloc(sizeof(float) * TR_GEMM_SCRATCH * (size_t)threads[t]);
        g.pack_a = dl_aligned_alloc(sizeof(uint32_t) * tr_gemm_pack_words(N));
        g.pack_b = dl_aligned_alloc(sizeof(uint32_t) * tr_gemm_pack_words(N));
        out[t] = malloc(sizeof(float) * N * M);
        dx[t] = malloc(sizeof(float) * N * K);
        dw[t] = malloc(sizeof(float) * M * K);
        memcpy(out[t], ref_out, sizeof(float) * N * M);
        memcpy(dx[t], ref_dx, sizeof(float) * N * K);
        memcpy(dw[t], ref_dw, sizeof(float) * M * K);
        tr_matmul_par(&g, out[t], x, w, 1, N, K, M);
        tr_matmul_dx_par(&g, dx[t], dout, w, 1, N, K, M);
        tr_matmul_dw_par(&g, dw[t], dout, x, N, K, M);
        dl_aligned_free(g.scratch);
        dl_aligned_free(g.pack_a);
        dl_aligned_free(g.pack_b);
        dl_pool_free(g.pool);
    }
    /* the reference multiplies the operands as the products see them */
    float *xr = rounded_copy(x, (size_t)N * K, bf16), *wr = rounded_copy(w, (size_t)M * K, bf16);
    float *dr = rounded_copy(dout, (size_t)N * M, bf16);
    dl_matmul_ref(ref_out, xr, wr, NULL, 1, N, K, M, M);
    dl_matmul_backward_ref(ref_dx, ref_dw, dr, xr, wr, N, K, M);
    /* float sums of up to 600 terms against double ones; a wrong index errs by O(1), an
     * operand not rounded (or truncated) to bf16 by ~1e-2 */
    double e_out = worst_rel(out[0], ref_out, (size_t)N * M);
    double e_dx = worst_rel(dx[0], ref_dx, (size_t)N * K);
    double e_dw = worst_rel(dw[0], ref_dw, (size_t)M * K);
    ck_assert_msg(e_out < 1e-4 && e_dx < 1e-4 && e_dw < 1e-4, "bf16 %d: forward %g, dx %g, dw %g",
                  bf16, e_out, e_dx, e_dw);
    ck_assert_int_eq(memcmp(out[0], out[1], sizeof(float) * N * M), 0);
    ck_assert_int_eq(memcmp(dx[0], dx[1], sizeof(float) * N * K), 0);
    ck_assert_int_eq(memcmp(dw[0], dw[1], sizeof(float) * M * K), 0);
    for (int t = 0; t < 2; t++) {
        free(out[t]);
        free(dx[t]);
        free(dw[t]);
    }
    free(xr);
    free(wr);
    free(dr);
    free(x);
    free(w);
    free(dout);
    free(ref_out);
    free(ref_dx);
    free(ref_dw);
}

START_TEST(products) { check_products(0); }
END_TEST

START_TEST(products_bf16) { check_products(1); }
END_TEST

/* A product over packed operands on every bf16 kernel this CPU runs (portable,
 * AVX512_BF16, AMX), for each operand layout, odd K (a half-empty last pair) and more
 * than one block of k, partial row and column blocks, with and without accumulation;
 * two inputs are rounding ties (to even: one down, one up). The padding AMX reads is
 * zero, and a tiling of the product (row and panel slices) gives the same bits. */
START_TEST(bf16_packed) {
    enum { R = 37, C = 75, K = 301 };
    uint64_t s = 5;
    float *a = malloc(sizeof(float) * R * K), *b = malloc(sizeof(float) * C * K);
    float *init = malloc(sizeof(float) * R * C), *out = malloc(sizeof(float) * R * C);
    float *tiled = malloc(sizeof(float) * R * C), *ref = malloc(sizeof(float) * R * C);
    const int lda = dl_bf16_act_ld(K), n_panels = (C + DL_BF16_COLS - 1) / DL_BF16_COLS;
    ck_assert_int_eq(lda, 160);
    uint32_t *ap = dl_aligned_alloc(sizeof(uint32_t) * (size_t)dl_bf16_act_rows(R) * lda);
    uint32_t *bp = dl_aligned_alloc(sizeof(uint32_t) * (size_t)n_panels * lda * DL_BF16_COLS);
    fill(a, (size_t)R * K, &s);
    fill(b, (size_t)C * K, &s);
    fill(init, (size_t)R * C, &s);
    a[3] = 1.0f + 0x1p-8f;              /* a tie: rounds down to 1 */
    b[3] = 1.0f + 0x3p-8f;              /* a tie: rounds up to 1 + 2^-6 */
    const int best = dl_bf16_best();
    for (int layout = 0; layout < 4; layout++) {
        /* bit 0: A stored transposed ([K][R]); bit 1: B stored transposed ([K][C]) */
        float *at = malloc(sizeof(float) * R * K), *bt = malloc(sizeof(float) * C * K);
        for (int i = 0; i < R; i++)
            for (int k = 0; k < K; k++)
                at[(size_t)k * R + i] = a[(size_t)i * K + k];
        for (int j = 0; j < C; j++)
            for (int k = 0; k < K; k++)
                bt[(size_t)k * C + j] = b[(size_t)j * K + k];
        dl_bview av = layout & 1 ? (dl_bview){ at, 1, R } : (dl_bview){ a, K, 1 };
        dl_bview bv = layout & 2 ? (dl_bview){ bt, 1, C } : (dl_bview){ b, K, 1 };
        for (int acc = 0; acc < 2; acc++) {
            for (int i = 0; i < R; i++)
                for (int j = 0; j < C; j++) {
                    double sum = acc ? init[i * C + j] : 0.0;
                    for (int k = 0; k < K; k++)
                        sum += bf16_round(a[(size_t)i * K + k]) * bf16_round(b[(size_t)j * K + k]);
                    ref[i * C + j] = (float)sum;
                }
            for (int path = 0; path <= best; path++) {
                memset(ap, 0xff, sizeof(uint32_t) * (size_t)dl_bf16_act_rows(R) * lda);
                memset(bp, 0xff, sizeof(uint32_t) * (size_t)n_panels * lda * DL_BF16_COLS);
                dl_bf16_pack_a(path, ap, lda, av, R, K);
                for (int pn = 0; pn < n_panels; pn++) {
                    int j0 = pn * DL_BF16_COLS, nc = C - j0 < DL_BF16_COLS ? C - j0 : DL_BF16_COLS;
                    dl_bview bj = { bv.p + j0 * bv.is, bv.is, bv.ks };
                    dl_bf16_pack_b(path, bp + (size_t)pn * lda * DL_BF16_COLS, lda, bj, nc, K);
                }
                /* K = 301: pairs 0 .. 150, the last with a zero high half; words 151 .. 159
                 * of each row, rows 37 .. 63, and columns 75 .. 127 are padding */
                for (int i = 0; i < dl_bf16_act_rows(R); i++)
                    for (int w = i < R ? (K - 1) / 2 : 0; w < lda; w++)
                        ck_assert_uint_eq(ap[(size_t)i * lda + w] >> (w == (K - 1) / 2 ? 16 : 0), 0);
                for (int p = 0; p < lda; p++)
                    for (int j = 0; j < n_panels * DL_BF16_COLS; j++) {
                        uint32_t v = bp[(size_t)(j / DL_BF16_COLS) * lda * DL_BF16_COLS +
                                        (size_t)p * DL_BF16_COLS + j % DL_BF16_COLS];
                        if (j >= C || p > (K - 1) / 2)
                            ck_assert_uint_eq(v, 0);
                        else if (p == (K - 1) / 2)
                            ck_assert_uint_eq(v >> 16, 0);
                    }
                memcpy(out, init, sizeof(float) * R * C);
                dl_bgemm_packed(path, out, C, ap, lda, bp, R, C, K, acc);
                double e = worst_rel(out, ref, (size_t)R * C);
                ck_assert_msg(e < 1e-5, "layout %d acc %d %s: %g", layout, acc,
                              dl_bf16_path_name(path), e);
                /* rows 0 .. 31 and 32 .. 36, each panel on its own */
                memcpy(tiled, init, sizeof(float) * R * C);
                for (int r0 = 0; r0 < R; r0 += 32)
                    for (int pn = 0; pn < n_panels; pn++) {
                        int j0 = pn * DL_BF16_COLS;
                        dl_bgemm_packed(path, tiled + r0 * C + j0, C, ap + (size_t)r0 * lda, lda,
                                        bp + (size_t)pn * lda * DL_BF16_COLS, R - r0 < 32 ? R - r0 : 32,
                                        C - j0 < DL_BF16_COLS ? C - j0 : DL_BF16_COLS, K, acc);
                    }
                ck_assert_msg(memcmp(tiled, out, sizeof(float) * R * C) == 0, "layout %d %s tiled",
                              layout, dl_bf16_path_name(path));
            }
        }
        free(at);
        free(bt);
    }
    ck_assert(bf16_round(1.0 + 0x1p-8) == 1.0 && bf16_round(1.0 + 0x3p-8) == 1.0 + 0x1p-6);
    free(a);
    free(b);
    free(init);
    free(out);
    free(tiled);
    free(ref);
    dl_aligned_free(ap);
    dl_aligned_free(bp);
}
END_TEST

/* The shared layers (lib/model/layers.c) as the two callers use them: the trainer's
 * batch of sequences with kept probabilities against each sequence run alone the way
 * inference runs it (blocks of queries, per-worker score slots), sequences isolated from
 * each other, and in-place residual / SwiGLU updates equal to separate buffers. */
static void naive_linear(void *ctx, float *out, const float *x, const dl_weight *w,
                         const float *bias, int accumulate, int row_groups, int n) {
    (void)ctx;
    (void)row_groups;
    const float *wf = w->data;
    for (int r = 0; r < n; r++)
        for (int64_t o = 0; o < w->ne1; o++) {
            double sum = bias ? bias[o] : 0.0;
            for (int64_t k = 0; k < w->ne0; k++)
                sum += (double)x[r * w->ne0 + k] * wf[o * w->ne0 + k];
            float *y = out + (size_t)r * (size_t)w->ne1 + (size_t)o;
            *y = accumulate ? *y + (float)sum : (float)sum;
        }
}

START_TEST(shared_layers) {
    tr_config c;
    tiny_config(&c);
    const int E = c.n_embd, F = c.n_ff, T = c.n_ctx, nh = c.n_head, hd = c.head_dim;
    const int Dq = nh * hd, R = 12, len[2] = { 7, 5 };
    size_t n = tr_n_params(&c);
    float *p = malloc(n * sizeof *p);
    tr_init_params(p, &c, 3);
    uint64_t s = 21;
    for (size_t i = 0; i < n; i++)
        p[i] += gd_rand(&s) * 0.2f;
    dl_model w;
    dl_layer layers[TR_MAX_LAYERS];
    tr_bind(&w, layers, p, &c);
    float *x = malloc(sizeof(float) * R * E), *cs = malloc(sizeof(float) * R * hd);
    int32_t pos[12];
    for (int i = 0; i < R; i++)
        pos[i] = i < len[0] ? i : i - len[0];
    for (int i = 0; i < R * E; i++)
        x[i] = gd_rand(&s);
    dl_rope_table(cs, pos, c.rope_theta, R, hd);
    dl_exec ex = { NULL, 1, naive_linear, NULL, NULL, 4, NULL, 0 };
    float *buf[12];
    for (int i = 0; i < 12; i++)
        buf[i] = calloc((size_t)R * (F > Dq ? F : Dq) + (size_t)R * E, sizeof(float));
    float *probs = calloc((size_t)2 * nh * T * T, sizeof(float));
    float *slot = calloc((size_t)3 * T, sizeof(float));

    /* the batch, as the trainer runs it: both sequences, one task per (sequence, head) */
    dl_attn_seq seqs[2] = { { 0, 7, 0, 7 }, { 7, 5, 7, 5 } };
    dl_attn_acts aa = { buf[0], buf[1], buf[2], buf[3], buf[4] };
    dl_attn_plan keep = { seqs, 2, T, NULL, probs, (size_t)T * T, 1, 0, 0, 0 };
    float *xo = buf[5];
    dl_layer_attention(&ex, xo, &aa, x, &layers[0], &w.hp, cs, &keep, R);
    for (int q = 0; q < 2; q++)
        for (int h = 0; h < nh; h++)
            for (int i = 0; i < len[q]; i++) {
                double sum = 0;
                for (int j = 0; j < len[q]; j++)
                    sum += probs[((size_t)q * nh + h) * T * T + (size_t)i * len[q] + j];
                ck_assert_double_eq_tol(sum, 1.0, 1e-6);
            }
    /* each sequence alone, in place, as inference runs a canvas: the same rows */
    for (int q = 0; q < 2; q++) {
        int r0 = q ? len[0] : 0;
        float *xi = buf[6];
        memcpy(xi, x + (size_t)r0 * E, sizeof(float) * len[q] * E);
        dl_attn_seq one = { 0, len[q], 0, len[q] };
        dl_attn_acts ai = { buf[7], buf[8], buf[9], buf[10], buf[11] };
        dl_attn_plan blocks = { &one, 1, 3, NULL, slot, (size_t)3 * len[q], 0, 1, 0, 0 };
        dl_layer_attention(&ex, xi, &ai, xi, &layers[0], &w.hp, cs + (size_t)r0 * hd, &blocks,
                           len[q]);
        double e = 0.0;
        for (int i = 0; i < len[q] * E; i++) {
            double d = fabs((double)xi[i] - xo[(size_t)r0 * E + i]);
            e = d > e ? d : e;
        }
        ck_assert_msg(e < 1e-5, "sequence %d alone differs by %g", q, e);
    }
    /* nothing crosses sequences: changing the first leaves the second's rows as they were */
    float *xo2 = buf[6];
    x[3] += 1.0f;
    dl_layer_attention(&ex, xo2, &aa, x, &layers[0], &w.hp, cs, &keep, R);
    ck_assert_int_ne(memcmp(xo2, xo, sizeof(float) * len[0] * E), 0);
    ck_assert_int_eq(memcmp(xo2 + (size_t)len[0] * E, xo + (size_t)len[0] * E,
                            sizeof(float) * len[1] * E), 0);
    /* the FFN: separate output and activation buffers against in place */
    dl_ffn_acts fa = { buf[0], buf[1], buf[2], buf[3], NULL };
    dl_layer_ffn(&ex, xo, &fa, x, &layers[1], &w.hp, R);
    memcpy(xo2, x, sizeof(float) * R * E);
    dl_ffn_acts fi = { buf[7], buf[8], buf[9], buf[8], NULL };
    dl_layer_ffn(&ex, xo2, &fi, xo2, &layers[1], &w.hp, R);
    ck_assert_int_eq(memcmp(xo, xo2, sizeof(float) * R * E), 0);
    ck_assert_int_eq(memcmp(buf[3], buf[8], sizeof(float) * R * F), 0);
    for (int i = 0; i < 12; i++)
        free(buf[i]);
    free(probs);
    free(slot);
    free(x);
    free(cs);
    free(p);
}
END_TEST

START_TEST(masking) {
    dl_err err;
    tr_batch b;
    ck_assert_int_eq(tr_batch_init(&b, 64, 32, &err), 0);
    uint16_t stream[1000];
    for (int i = 0; i < 1000; i++)
        stream[i] = (uint16_t)(10 + i % 50);
    tr_data d = { stream, 1000 };
    uint64_t s = 3;
    int cut = 0;
    size_t masked_total = 0;
    for (int rep = 0; rep < 50; rep++) {
        tr_sample_batch(&b, &d, 64, 0.05f, 0, &s);
        tr_apply_mask(&b, 5, 64, &s);
        masked_total += (size_t)b.n_masked;
        for (int q = 0; q < b.n_seq; q++) {
            int len = b.seq_len[q];
            ck_assert(len >= 2 && len <= 32);
            cut += len < 32;
            ck_assert_int_eq(b.input[b.seq_start[q]], 0);   /* BOS, never masked */
        }
        for (int i = 0; i < b.n_masked; i++) {
            int r = b.mask_rows[i];
            ck_assert_int_eq(b.input[r], 5);
            ck_assert_int_eq(b.targets[i], b.clean[r]);
            ck_assert_int_gt(b.pos[r], 0);
            /* weight = 1 / (p * (len - 1) * 64) with p in [1e-3, 1] */
            int q = 0;
            while (q + 1 < b.n_seq && b.seq_start[q + 1] <= r)
                q++;
            double p = 1.0 / (b.weights[i] * (b.seq_len[q] - 1) * 64.0);
            ck_assert(p >= TR_MASK_EPS * 0.999 && p <= 1.0 + 1e-6);
        }
    }
    /* E[p] = 0.5: about half the maskable positions are masked; ~5% of sequences cut */
    double frac = (double)masked_total / (50.0 * 64 * 31);
    ck_assert_msg(frac > 0.4 && frac < 0.6, "mask fraction %g", frac);
    ck_assert_msg(cut > 60 && cut < 260, "cut sequences %d of 3200", cut);
    tr_batch_free(&b);
}
END_TEST

START_TEST(schedule) {
    tr_hyper h;
    tr_hyper_default(&h);
    h.steps = 1000;
    h.warmup = 100;
    h.lr = 1e-3f;
    h.min_lr_frac = 0.1f;
    ck_assert_float_eq_tol(tr_lr_at(&h, 0), 1e-5f, 1e-9f);
    ck_assert_float_eq_tol(tr_lr_at(&h, 49), 5e-4f, 1e-8f);
    ck_assert_float_eq_tol(tr_lr_at(&h, 100), 1e-3f, 1e-8f);
    ck_assert_float_eq_tol(tr_lr_at(&h, 550), 5.5e-4f, 1e-8f);   /* half way: (1 + 0.1) / 2 */
    ck_assert_float_eq_tol(tr_lr_at(&h, 1000), 1e-4f, 1e-9f);
    for (int64_t s = 101; s < 1000; s++)
        ck_assert(tr_lr_at(&h, s) <= tr_lr_at(&h, s - 1));
    float g[3] = { 3, 4, 12 };
    ck_assert_double_eq_tol(tr_grad_norm(g, 3), 13.0, 1e-12);
}
END_TEST

/* --- files for the runs: a tiny tokenizer (lib/model's test vocabulary) and text */

static char g_dir[128];

static void path_in(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", g_dir, name);
}

static void write_text(const char *path, int n_docs, uint64_t seed) {
    static const char *const words[] = { "the", "lord", "said", "unto", "him", "and", "they",
                                         "went", "into", "house", "of", "david", "praise", "ye" };
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    uint64_t s = seed;
    for (int d = 0; d < n_docs; d++) {
        int nw = 5 + (int)dl_splitmix64_below(&s, 40);
        for (int w = 0; w < nw; w++)
            fprintf(f, "%s%s", w ? (dl_splitmix64_below(&s, 9) ? " " : "\n") : "",
                    words[dl_splitmix64_below(&s, 14)]);
        fputs(".\n\n", f);
    }
    fclose(f);
}

/* n instruction pairs "w1 w2\nw3:<TAB> w4 w5 w6" of the test words (fit a canvas of 24) */
static void write_pairs(const char *path, int n, uint64_t seed) {
    static const char *const words[] = { "the", "lord", "said", "unto", "him", "and", "ye" };
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    uint64_t s = seed;
#define W words[dl_splitmix64_below(&s, 7)]
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s %s\\n%s:\t", W, W, W);
        fprintf(f, " %s %s %s\n", W, W, W);
    }
#undef W
    fclose(f);
}

static void setup_files(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/difflm_test_train_%d", (int)getpid());
    char cmd[512], p[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", g_dir, g_dir);
    ck_assert_int_eq(system(cmd), 0);
    dl_tiny_spec spec;
    dl_tiny_spec_init(&spec, DIFFLM_ARCH_LLADA);
    spec.n_vocab = 400;
    dl_err err;
    path_in(p, sizeof p, "tok.gguf");
    ck_assert_int_eq(dl_tiny_write(&spec, p, &err), 0);
    path_in(p, sizeof p, "train.txt");
    write_text(p, 300, 1);
    path_in(p, sizeof p, "val.txt");
    write_text(p, 40, 2);
    path_in(p, sizeof p, "pairs-train.tsv");
    write_pairs(p, 50, 3);
    path_in(p, sizeof p, "pairs-val.tsv");
    write_pairs(p, 7, 4);
}

static void teardown_files(void) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
}

static void run_opts(tr_opts *o, const char *sub, char *bufs) {
    /* bufs: 4 x 512 bytes owned by the caller */
    memset(o, 0, sizeof *o);
    tr_config_default(&o->cfg);
    o->cfg = (tr_config){ .n_vocab = 400, .n_embd = 32, .n_layer = 2, .n_head = 4,
                          .n_head_kv = 2, .head_dim = 8, .n_ff = 48, .n_ctx = 24,
                          .rope_theta = 10000.0f, .rms_eps = 1e-5f };
    tr_hyper_default(&o->hp);
    o->hp.batch = 4;
    o->hp.steps = 12;
    o->hp.warmup = 3;
    o->hp.lr = 3e-3f;
    o->hp.cut_frac = 0.2f;
    o->hp.ckpt_every = 5;
    o->hp.eval_every = 4;
    o->hp.log_every = 2;
    o->hp.eval_windows = 6;
    o->hp.threads = 2;
    path_in(bufs, 512, "tok.gguf");
    path_in(bufs + 512, 512, "train.txt");
    path_in(bufs + 1024, 512, "val.txt");
    path_in(bufs + 1536, 512, sub);
    o->tokenizer = bufs;
    o->train = bufs + 512;
    o->val = bufs + 1024;
    o->ckpt_dir = bufs + 1536;
}

typedef struct ck {
    tr_state st;
    float *p, *m, *v;
    size_t n;
} ck;

static void load_ck(ck *c, const char *sub) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s/ckpt.bin", g_dir, sub);
    dl_err err;
    ck_assert_msg(tr_ckpt_load(p, &c->st, &c->p, &c->m, &c->v, &c->n, &err) == 0, "%s", err.msg);
}

static void free_ck(ck *c) {
    free(c->p);
    free(c->m);
    free(c->v);
}

static void train_ok(const tr_opts *o) {
    dl_err err = { 0 };
    int rc = tr_train(o, &err);
    ck_assert_msg(rc == 0, "tr_train: %s", err.msg);
}

/* Resumes the run in sub with nothing but its directory: shape, files and settings must
 * all come from the checkpoint (hp, including its precision, stays at the defaults,
 * which a resume ignores). */
static void resume_ok(const char *sub, char *bufs) {
    tr_opts o;
    run_opts(&o, sub, bufs);
    memset(&o.cfg, 0, sizeof o.cfg);
    o.tokenizer = o.train = o.val = NULL;
    o.hp.bf16 = 0;
    o.resume = 1;
    train_ok(&o);
}

START_TEST(data_documents) {
    char text[512], tokp[512];
    path_in(text, sizeof text, "docs.txt");
    path_in(tokp, sizeof tokp, "tok.gguf");
    FILE *f = fopen(text, "w");
    fputs("\n\nthe lord\nsaid\n\n\n\nunto him\r\n\r\nand they", f);
    fclose(f);
    tr_data d;
    dl_err err;
    ck_assert_int_eq(tr_data_load(&d, text, tokp, 0, &err), 0);
    /* decode: three documents, each followed by EOS (1) */
    dl_gguf *g;
    dl_tok *t;
    ck_assert_int_eq(dl_gguf_open(&g, tokp, &err), 0);
    ck_assert_int_eq(dl_tok_load(&t, g, &err), 0);
    int32_t ids[256];
    ck_assert_uint_lt(d.n, 256);
    int eos = 0;
    for (size_t i = 0; i < d.n; i++) {
        ids[i] = d.tok[i];
        eos += ids[i] == 1;
    }
    ck_assert_int_eq(eos, 3);
    ck_assert_int_eq(ids[d.n - 1], 1);
    char out[256];
    size_t n_out;
    ck_assert_int_eq(dl_tok_decode(t, ids, d.n, DIFFLM_DETOKENIZE_SPECIAL, out, sizeof out, &n_out,
                                   &err), 0);
    out[n_out] = 0;
    ck_assert_str_eq(out, "the lord\nsaid<|endoftext|>unto him<|endoftext|>and they<|endoftext|>");
    /* the cache is used when it matches and rebuilt when the text changes */
    tr_data d2;
    ck_assert_int_eq(tr_data_load(&d2, text, tokp, 0, &err), 0);
    ck_assert_uint_eq(d2.n, d.n);
    ck_assert_int_eq(memcmp(d2.tok, d.tok, d.n * sizeof *d.tok), 0);
    tr_data_free(&d2);
    f = fopen(text, "w");
    fputs("praise ye", f);
    fclose(f);
    ck_assert_int_eq(tr_data_load(&d2, text, tokp, 0, &err), 0);
    ck_assert_int_eq(d2.tok[d2.n - 1], 1);
    ck_assert_uint_lt(d2.n, d.n);
    tr_data_free(&d2);
    tr_data_free(&d);
    dl_tok_free(t);
    dl_gguf_close(g);
}
END_TEST

/* Instruction pairs: the file's escapes, the sequence [BOS] prompt response EOS...
 * (padded to the canvas for validation, to a random length for training), the prompt
 * never masked and the weights normalised by the positions after it, and malformed
 * files refused with a status and the line. */
START_TEST(sft_pairs) {
    char path[512], tokp[512];
    path_in(path, sizeof path, "pairs-unit.tsv");
    path_in(tokp, sizeof tokp, "tok.gguf");
    FILE *f = fopen(path, "w");
    /* the second is too long for a canvas of 20; the third has an escaped backslash */
    fputs("the lord\\nsaid:\t unto him\n"
          "the lord said unto him and the lord said unto him\t and ye\r\n"
          "\n"
          "him \\\\ ye\t said\n", f);
    fclose(f);
    tr_sft sf;
    dl_err err;
    ck_assert_msg(tr_sft_load(&sf, path, tokp, 20, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(sf.n, 2);
    ck_assert_uint_eq(sf.n_dropped, 1);
    dl_gguf *g;
    dl_tok *t;
    ck_assert_int_eq(dl_gguf_open(&g, tokp, &err), 0);
    ck_assert_int_eq(dl_tok_load(&t, g, &err), 0);
    const char *want[2][2] = { { "the lord\nsaid:", " unto him" }, { "him \\ ye", " said" } };
    for (size_t i = 0; i < 2; i++) {
        const tr_sft_example *e = &sf.ex[i];
        for (int part = 0; part < 2; part++) {
            int32_t ids[64];
            int32_t n = part ? e->n_resp : e->n_prompt;
            size_t off = e->off + (part ? (size_t)e->n_prompt : 0);
            for (int32_t k = 0; k < n; k++)
                ids[k] = sf.tok[off + (size_t)k];
            char out[128];
            size_t n_out;
            ck_assert_int_eq(dl_tok_decode(t, ids, (size_t)n, 0, out, sizeof out, &n_out, &err), 0);
            out[n_out] = 0;
            ck_assert_str_eq(out, want[i][part]);
        }
    }
    /* the sequences: BOS 0, prompt, response, EOS (1) to the canvas's end */
    tr_batch b;
    ck_assert_int_eq(tr_batch_init(&b, 4, 20, &err), 0);
    tr_sft_val_batch(&b, &sf, 0, 2, 2, 0, 1);
    ck_assert_int_eq(b.n_seq, 2);
    ck_assert_int_eq(b.n_rows, 40);
    for (int q = 0; q < 2; q++) {
        const tr_sft_example *e = &sf.ex[q];
        int r0 = b.seq_start[q], n_tok = e->n_prompt + e->n_resp;
        ck_assert_int_eq(b.seq_len[q], 20);
        ck_assert_int_eq(b.seq_fixed[q], 1 + e->n_prompt);
        ck_assert_int_eq(b.clean[r0], 0);
        for (int k = 0; k < n_tok; k++)
            ck_assert_int_eq(b.clean[r0 + 1 + k], sf.tok[e->off + (size_t)k]);
        for (int k = 1 + n_tok; k < 20; k++)
            ck_assert_int_eq(b.clean[r0 + k], 1);
        for (int k = 0; k < 20; k++)
            ck_assert_int_eq(b.pos[r0 + k], k);
    }
    /* appended after windows: the windows keep their rows and their one fixed BOS */
    uint16_t stream[100];
    for (int i = 0; i < 100; i++)
        stream[i] = (uint16_t)(10 + i % 50);
    tr_data d = { stream, 100 };
    uint64_t rng = 5;
    size_t masked = 0, maskable = 0;
    int lens[21] = { 0 };
    for (int rep = 0; rep < 200; rep++) {
        tr_sample_batch(&b, &d, 2, 0.0f, 0, &rng);
        tr_sft_sample(&b, &sf, 2, 0, 1, &rng);
        ck_assert_int_eq(b.n_seq, 4);
        ck_assert_int_eq(b.seq_fixed[0], 1);
        ck_assert_int_eq(b.seq_fixed[1], 1);
        for (int q = 2; q < 4; q++) {   /* BOS, one of the two examples, EOS padding */
            int r0 = b.seq_start[q], k = b.seq_fixed[q] == 1 + sf.ex[0].n_prompt ? 0 : 1;
            const tr_sft_example *e = &sf.ex[k];
            int n_tok = e->n_prompt + e->n_resp;
            ck_assert_int_eq(b.seq_fixed[q], 1 + e->n_prompt);
            ck_assert_int_ge(b.seq_len[q], n_tok + 2);
            ck_assert_int_le(b.seq_len[q], 20);
            lens[b.seq_len[q]]++;
            ck_assert_int_eq(b.clean[r0], 0);
            for (int j = 0; j < n_tok; j++)
                ck_assert_int_eq(b.clean[r0 + 1 + j], sf.tok[e->off + (size_t)j]);
            for (int j = 1 + n_tok; j < b.seq_len[q]; j++)
                ck_assert_int_eq(b.clean[r0 + j], 1);
        }
        tr_apply_mask(&b, 5, 4, &rng);
        for (int q = 0; q < 4; q++)
            for (int k = 0; k < b.seq_fixed[q]; k++)
                ck_assert_int_eq(b.input[b.seq_start[q] + k], b.clean[b.seq_start[q] + k]);
        for (int i = 0; i < b.n_masked; i++) {
            int r = b.mask_rows[i], q = 0;
            while (q + 1 < b.n_seq && b.seq_start[q + 1] <= r)
                q++;
            ck_assert_int_ge(r - b.seq_start[q], b.seq_fixed[q]);
            ck_assert_int_eq(b.input[r], 5);
            ck_assert_int_eq(b.targets[i], b.clean[r]);
            double p = 1.0 / (b.weights[i] * (b.seq_len[q] - b.seq_fixed[q]) * 4.0);
            ck_assert(p >= TR_MASK_EPS * 0.999 && p <= 1.0 + 1e-6);
            masked += q >= 2;
        }
        for (int q = 2; q < 4; q++)
            maskable += (size_t)(b.seq_len[q] - b.seq_fixed[q]);
    }
    /* the padded lengths: the shortest example (11 tokens with BOS and EOS) and the
     * canvas both drawn */
    ck_assert_int_gt(lens[11], 0);
    ck_assert_int_gt(lens[20], 0);
    /* E[p] = 0.5 over the response positions */
    double frac = (double)masked / (double)maskable;
    ck_assert_msg(frac > 0.4 && frac < 0.6, "mask fraction %g", frac);
    tr_batch_free(&b);
    tr_sft_free(&sf);

    /* refused: no tab, a stray backslash, an empty response, nothing that fits, no file */
    static const char *const bad[] = { "the lord said\n", "the \\x lord\t him\n",
                                       "the lord\t\n", "the lord said unto him\t and ye\n" };
    static const int bad_rc[] = { DIFFLM_E_FORMAT, DIFFLM_E_FORMAT, DIFFLM_E_FORMAT,
                                  DIFFLM_E_INVALID_ARG };
    for (int i = 0; i < 4; i++) {
        f = fopen(path, "w");
        fputs("the\t lord\n", f);
        fputs(bad[i], f);
        fclose(f);
        int32_t max_len = i == 3 ? 3 : 20;
        int rc = tr_sft_load(&sf, path, tokp, max_len, &err);
        ck_assert_int_eq(rc, bad_rc[i]);
        if (i < 3)
            ck_assert_msg(strstr(err.msg, "line 2") != NULL, "%s", err.msg);
        ck_assert_ptr_null(sf.tok);
    }
    path_in(path, sizeof path, "no-such-pairs.tsv");
    ck_assert_int_eq(tr_sft_load(&sf, path, tokp, 20, &err), DIFFLM_E_IO);
    dl_tok_free(t);
    dl_gguf_close(g);
}
END_TEST

/* A run with instruction pairs resumes bit for bit, logs their validation loss, and its
 * options are checked: pairs need both files and a share in (0, 1]. */
START_TEST(sft_runs) {
    char bufs[2][2048], pt[512], pv[512];
    path_in(pt, sizeof pt, "pairs-train.tsv");
    path_in(pv, sizeof pv, "pairs-val.tsv");
    tr_opts a, b1;
    run_opts(&a, "sft_straight", bufs[0]);
    a.sft = pt;
    a.sft_val = pv;
    a.hp.sft_frac = 0.5f;
    train_ok(&a);
    run_opts(&b1, "sft_split", bufs[1]);
    b1.sft = pt;
    b1.sft_val = pv;
    b1.hp.sft_frac = 0.5f;
    b1.stop_after = 6;
    train_ok(&b1);
    resume_ok("sft_split", bufs[1]);
    ck A, B;
    load_ck(&A, "sft_straight");
    load_ck(&B, "sft_split");
    ck_assert_float_eq(B.st.hp.sft_frac, 0.5f);
    ck_assert_str_eq(B.st.sft, pt);
    ck_assert_str_eq(B.st.sft_val, pv);
    ck_assert_int_eq(memcmp(A.p, B.p, A.n * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(A.v, B.v, A.n * sizeof(float)), 0);
    ck_assert_uint_eq(A.st.data_rng, B.st.data_rng);
    /* per step 2 windows (24 rows, or cut to 2 or more) and 2 pairs (BOS, at least one
     * token of prompt and of response, an EOS: 4 rows or more, up to 24) */
    ck_assert_int_le(A.st.tokens_seen, 12 * 4 * 24);
    ck_assert_int_ge(A.st.tokens_seen, 12 * (2 * 2 + 2 * 4));
    char lp[600], line[256];
    snprintf(lp, sizeof lp, "%s/sft_split/log.csv", g_dir);
    FILE *f = fopen(lp, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "step,lr,train_loss,val_loss,tokens_seen,elapsed,sft_val_loss\n");
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));   /* step 0: both losses */
    double sl = 0.0;
    ck_assert_int_eq(sscanf(strrchr(line, ',') + 1, "%lf", &sl), 1);
    ck_assert(sl > 0.0 && isfinite(sl));
    fclose(f);
    free_ck(&A);
    free_ck(&B);

    tr_opts e;
    char ebuf[2048];
    dl_err err;
    run_opts(&e, "sft_bad", ebuf);
    e.sft = pt;                        /* no --sft-val */
    e.hp.sft_frac = 0.5f;
    ck_assert_int_eq(tr_train(&e, &err), DIFFLM_E_INVALID_ARG);
    e.sft_val = pv;
    e.hp.sft_frac = 0.0f;              /* no share */
    ck_assert_int_eq(tr_train(&e, &err), DIFFLM_E_INVALID_ARG);
    e.hp.sft_frac = 1.5f;
    ck_assert_int_eq(tr_train(&e, &err), DIFFLM_E_INVALID_ARG);
    e.sft = e.sft_val = NULL;          /* a share without pairs */
    e.hp.sft_frac = 0.5f;
    ck_assert_int_eq(tr_train(&e, &err), DIFFLM_E_INVALID_ARG);
}
END_TEST

START_TEST(resume_is_exact) {
    char bufs[3][2048];
    tr_opts a, b1, c;
    run_opts(&a, "straight", bufs[0]);
    a.verbose = 0;
    train_ok(&a);
    run_opts(&b1, "split", bufs[1]);
    b1.stop_after = 6;
    train_ok(&b1);
    ck mid;
    load_ck(&mid, "split");
    ck_assert_int_eq(mid.st.step, 6);
    free_ck(&mid);
    resume_ok("split", bufs[1]);
    /* one thread instead of two: the same numbers */
    run_opts(&c, "one_thread", bufs[2]);
    c.hp.threads = 1;
    train_ok(&c);

    ck A, B, C;
    load_ck(&A, "straight");
    load_ck(&B, "split");
    load_ck(&C, "one_thread");
    ck_assert_int_eq(A.st.step, 12);
    ck_assert_int_eq(B.st.step, 12);
    ck_assert_uint_eq(A.n, B.n);
    ck_assert_int_eq(memcmp(A.p, B.p, A.n * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(A.m, B.m, A.n * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(A.v, B.v, A.n * sizeof(float)), 0);
    ck_assert_uint_eq(A.st.data_rng, B.st.data_rng);
    ck_assert_uint_eq(A.st.mask_rng, B.st.mask_rng);
    ck_assert_int_eq(A.st.tokens_seen, B.st.tokens_seen);
    ck_assert_int_eq(memcmp(A.p, C.p, A.n * sizeof(float)), 0);
    /* training moved the weights away from the init */
    float *init = malloc(A.n * sizeof *init);
    tr_init_params(init, &A.st.cfg, A.st.hp.seed);
    ck_assert_int_ne(memcmp(A.p, init, A.n * sizeof(float)), 0);
    free(init);

    /* the logs agree row for row (the elapsed column aside) and include val rows */
    char pa[600], pb[600], la[256], lb[256];
    snprintf(pa, sizeof pa, "%s/straight/log.csv", g_dir);
    snprintf(pb, sizeof pb, "%s/split/log.csv", g_dir);
    FILE *fa = fopen(pa, "r"), *fb = fopen(pb, "r");
    ck_assert_ptr_nonnull(fa);
    ck_assert_ptr_nonnull(fb);
    int rows = 0, val_rows = 0;
    while (fgets(la, sizeof la, fa)) {
        ck_assert_ptr_nonnull(fgets(lb, sizeof lb, fb));
        *strrchr(la, ',') = 0;
        *strrchr(lb, ',') = 0;
        ck_assert_str_eq(la, lb);
        long long st;
        char lr[32], tl[32], vl[32];
        if (sscanf(la, "%lld,%31[^,],%31[^,],%31[^,]", &st, lr, tl, vl) == 4)
            val_rows++;
        rows++;
    }
    ck_assert_ptr_null(fgets(lb, sizeof lb, fb));
    fclose(fa);
    fclose(fb);
    ck_assert_int_ge(rows, 8);
    ck_assert_int_ge(val_rows, 3);
    free_ck(&A);
    free_ck(&B);
    free_ck(&C);
}
END_TEST

/* Rewrites a version-04 checkpoint of a run without instruction pairs as version 03
 * (no hp.sft_frac, the 34th field; no sft paths, two empty ones) or 02 (no hp.bf16
 * either, the 33rd field). */
static void downgrade_ckpt(const char *in, const char *out, int version) {
    FILE *fi = fopen(in, "rb"), *fo = fopen(out, "wb");
    ck_assert_ptr_nonnull(fi);
    ck_assert_ptr_nonnull(fo);
    char head[8 + 34 * 8];
    ck_assert_uint_eq(fread(head, 1, sizeof head, fi), sizeof head);
    ck_assert_int_eq(memcmp(head, "DLTRCK04", 8), 0);
    head[7] = (char)('0' + version);
    fwrite(head, 1, 8 + (size_t)(version == 3 ? 33 : 32) * 8, fo);
    for (int i = 0; i < 5; i++) {
        uint32_t len;
        char path[1024];
        ck_assert_uint_eq(fread(&len, 4, 1, fi), 1);
        ck_assert_uint_lt(len, sizeof path);
        ck_assert_uint_eq(fread(path, 1, len, fi), len);
        if (i < 3) {
            fwrite(&len, 4, 1, fo);
            fwrite(path, 1, len, fo);
        } else {
            ck_assert_uint_eq(len, 0);
        }
    }
    int ch;
    while ((ch = fgetc(fi)) != EOF)
        fputc(ch, fo);
    fclose(fi);
    fclose(fo);
}

/* Mixed precision: a bf16 run is as exact to resume and as thread-independent as an f32
 * one; the checkpoint records the precision (resume keeps it, --precision switches it),
 * and version-03 and -02 checkpoints, which lack later fields, still load. */
START_TEST(bf16_runs) {
    char bufs[4][2048];
    tr_opts a, b, c, d;
    run_opts(&a, "bf16_straight", bufs[0]);
    a.hp.bf16 = 1;
    train_ok(&a);
    run_opts(&b, "bf16_split", bufs[1]);
    b.hp.bf16 = 1;
    b.stop_after = 6;
    train_ok(&b);
    resume_ok("bf16_split", bufs[1]);   /* hp.bf16 0 there: ignored, not given as a switch */
    run_opts(&c, "bf16_one_thread", bufs[2]);
    c.hp.bf16 = 1;
    c.hp.threads = 1;
    train_ok(&c);
    /* f32 for 6 steps, then switched to bf16 */
    run_opts(&d, "switched", bufs[3]);
    d.stop_after = 6;
    train_ok(&d);
    run_opts(&d, "switched", bufs[3]);
    memset(&d.cfg, 0, sizeof d.cfg);
    d.tokenizer = d.train = d.val = NULL;
    d.resume = 1;
    d.hp.bf16 = 1;
    d.precision_given = 1;
    train_ok(&d);

    ck A, B, C, D, F;
    load_ck(&A, "bf16_straight");
    load_ck(&B, "bf16_split");
    load_ck(&C, "bf16_one_thread");
    load_ck(&D, "switched");
    ck_assert_int_eq(A.st.hp.bf16, 1);
    ck_assert_int_eq(B.st.hp.bf16, 1);
    ck_assert_int_eq(D.st.hp.bf16, 1);
    ck_assert_int_eq(B.st.step, 12);
    ck_assert_int_eq(memcmp(A.p, B.p, A.n * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(A.m, B.m, A.n * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(A.v, B.v, A.n * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(A.p, C.p, A.n * sizeof(float)), 0);
    /* an f32 run of the same settings ends elsewhere, but close: the same training */
    tr_opts f;
    char fbuf[2048];
    run_opts(&f, "f32_ref", fbuf);
    train_ok(&f);
    load_ck(&F, "f32_ref");
    ck_assert_int_eq(F.st.hp.bf16, 0);
    ck_assert_int_ne(memcmp(A.p, F.p, A.n * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(D.p, F.p, A.n * sizeof(float)), 0);
    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < A.n; i++) {
        diff += ((double)A.p[i] - F.p[i]) * ((double)A.p[i] - F.p[i]);
        norm += (double)F.p[i] * F.p[i];
    }
    ck_assert_msg(sqrt(diff / norm) < 0.05, "bf16 run is %g away from the f32 one",
                  sqrt(diff / norm));

    /* the same state as version-03 and version-02 files: 03 lacks hp.sft_frac (the 34th
     * field) and the two instruction-pair paths, 02 also hp.bf16 (the 33rd) */
    char p4[600];
    snprintf(p4, sizeof p4, "%s/bf16_straight/ckpt.bin", g_dir);
    for (int version = 3; version >= 2; version--) {
        char po[600];
        snprintf(po, sizeof po, "%s/v0%d.bin", g_dir, version);
        downgrade_ckpt(p4, po, version);
        tr_state st;
        float *p = NULL;
        size_t n = 0;
        dl_err err;
        ck_assert_msg(tr_ckpt_load(po, &st, &p, NULL, NULL, &n, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(st.hp.bf16, version == 3);
        ck_assert_float_eq(st.hp.sft_frac, 0.0f);
        ck_assert_str_eq(st.sft, "");
        ck_assert_int_eq(st.step, 12);
        ck_assert_int_eq(memcmp(p, A.p, n * sizeof(float)), 0);
        free(p);
    }
    free_ck(&A);
    free_ck(&B);
    free_ck(&C);
    free_ck(&D);
    free_ck(&F);
}
END_TEST

/* The exported file's logits (lib/model) against the trainer's own forward. */
static void check_export(const ck *A, uint32_t wtype, const char *name, float tol) {
    char out[600], tokp[512];
    snprintf(out, sizeof out, "%s/%s", g_dir, name);
    path_in(tokp, sizeof tokp, "tok.gguf");
    dl_err err;
    ck_assert_msg(tr_export_gguf(out, &A->st.cfg, A->p, tokp, wtype, &err) == 0, "%s", err.msg);
    const tr_config *c = &A->st.cfg;

    tr_model *tm;
    ck_assert_int_eq(tr_model_new(&tm, c, 1, 2, &err), 0);
    memcpy(tr_model_params(tm), A->p, A->n * sizeof(float));
    if (wtype == DL_TYPE_F16) {
        tr_tensor t[TR_N_TENSORS(TR_MAX_LAYERS)];
        int nt = tr_tensor_table(c, t);
        for (int i = 0; i < nt; i++)
            if (t[i].is_matrix)
                for (int64_t j = 0; j < t[i].ne0 * t[i].ne1; j++) {
                    float *v = tr_model_params(tm) + t[i].offset + j;
                    *v = dl_f16_to_f32(dl_f32_to_f16(*v));
                }
    }
    const int T = 20, V = c->n_vocab;
    int32_t toks[20];
    uint64_t s = 4;
    for (int i = 0; i < T; i++)
        toks[i] = i == 0 ? 0 : (int32_t)dl_splitmix64_below(&s, (uint64_t)V);
    toks[5] = toks[9] = 5;   /* masks */
    float *mine = malloc((size_t)T * V * sizeof *mine), *lib = malloc((size_t)T * V * sizeof *lib);
    tr_forward_logits(tm, toks, T, mine);

    dl_gguf *g;
    dl_model *m;
    ck_assert_int_eq(dl_gguf_open(&g, out, &err), 0);
    ck_assert_msg(dl_model_load(&m, g, NULL, &err) == 0, "%s", err.msg);
    m->n_threads = 1;
    ck_assert_int_eq(m->hp.tied_output, 1);
    ck_assert_int_eq(m->hp.shift_logits, 0);
    ck_assert_int_eq(m->hp.n_head_kv, c->n_head_kv);
    void *scr = dl_aligned_alloc(dl_model_scratch_size(m, T));
    void *hscr = dl_aligned_alloc(dl_model_logits_scratch_size(m, T));
    float *hidden = malloc((size_t)T * c->n_embd * sizeof *hidden);
    int32_t rows[20];
    for (int i = 0; i < T; i++)
        rows[i] = i;
    ck_assert_int_eq(dl_model_forward(m, scr, toks, T, hidden, NULL, &err), 0);
    dl_model_logits(m, hscr, hidden, rows, T, lib);
    double worst = 0;
    for (int i = 0; i < T * V; i++) {
        double e = fabs((double)mine[i] - lib[i]) / (1.0 + fabs((double)lib[i]));
        worst = e > worst ? e : worst;
    }
    ck_assert_msg(worst < tol, "%s: logits differ by %g", name, worst);
    /* the tokenizer came along: it loads and knows the mask */
    dl_tok *tk;
    ck_assert_int_eq(dl_tok_load(&tk, g, &err), 0);
    ck_assert_int_eq(dl_tok_specials(tk)->mask, 5);
    ck_assert_int_eq(dl_tok_n_vocab(tk), V);
    uint32_t ft;
    ck_assert_int_eq(dl_gguf_get_u32(g, "general.file_type", &ft, &err), 0);
    ck_assert_uint_eq(ft, wtype == DL_TYPE_F16 ? 1u : 0u);
    dl_tok_free(tk);
    dl_aligned_free(scr);
    dl_aligned_free(hscr);
    free(hidden);
    free(mine);
    free(lib);
    dl_model_free(m);
    dl_gguf_close(g);
    tr_model_free(tm);
}

START_TEST(export_matches) {
    char bufs[2048];
    tr_opts a;
    run_opts(&a, "exp", bufs);
    a.hp.steps = 4;
    train_ok(&a);
    ck A;
    load_ck(&A, "exp");
    check_export(&A, DL_TYPE_F32, "model_f32.gguf", 2e-5f);
    check_export(&A, DL_TYPE_F16, "model_f16.gguf", 2e-5f);
    free_ck(&A);
}
END_TEST

/* --- init from a model */

static void cfg_eq(const tr_config *a, const tr_config *b) {
    ck_assert_int_eq(a->n_vocab, b->n_vocab);
    ck_assert_int_eq(a->n_embd, b->n_embd);
    ck_assert_int_eq(a->n_layer, b->n_layer);
    ck_assert_int_eq(a->n_head, b->n_head);
    ck_assert_int_eq(a->n_head_kv, b->n_head_kv);
    ck_assert_int_eq(a->head_dim, b->head_dim);
    ck_assert_int_eq(a->n_ff, b->n_ff);
    ck_assert_int_eq(a->n_ctx, b->n_ctx);
    ck_assert(a->rope_theta == b->rope_theta);
    ck_assert(a->rms_eps == b->rms_eps);
}

/* p (loaded) against the original parameters: F32 bitwise; from F16, the norms bitwise
 * and each matrix element the f16 rounding of the original, within half an f16 ulp. */
static void check_loaded(const ck *A, const float *p, int f16) {
    tr_tensor t[TR_N_TENSORS(TR_MAX_LAYERS)];
    int nt = tr_tensor_table(&A->st.cfg, t);
    for (int i = 0; i < nt; i++) {
        const float *a = A->p + t[i].offset, *b = p + t[i].offset;
        size_t cnt = (size_t)(t[i].ne0 * t[i].ne1);
        if (!f16 || !t[i].is_matrix) {
            ck_assert_msg(memcmp(a, b, cnt * sizeof *a) == 0, "%s differs", t[i].name);
            continue;
        }
        for (size_t j = 0; j < cnt; j++) {
            ck_assert_msg(b[j] == dl_f16_to_f32(dl_f32_to_f16(a[j])), "%s[%zu]", t[i].name, j);
            ck_assert_msg(fabs((double)b[j] - a[j]) <= fabs((double)a[j]) / 2048.0 + 3e-8,
                          "%s[%zu]: %g vs %g", t[i].name, j, (double)b[j], (double)a[j]);
        }
    }
}

/* The val_loss column of a log's row for `step`, as written. */
static void val_at(char *out, size_t n, const char *sub, long long step) {
    char path[600], line[256];
    snprintf(path, sizeof path, "%s/%s/log.csv", g_dir, sub);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    out[0] = 0;
    while (fgets(line, sizeof line, f)) {
        long long s;
        char lr[32], tl[32], vl[32];
        if (sscanf(line, "%lld,%31[^,],%31[^,],%31[^,]", &s, lr, tl, vl) == 4 && s == step)
            snprintf(out, n, "%s", vl);
        else if (sscanf(line, "%lld,%31[^,],,%31[^,]", &s, lr, vl) == 3 && s == step)
            snprintf(out, n, "%s", vl);   /* step 0: no train loss */
    }
    fclose(f);
    ck_assert_msg(out[0], "%s: no val loss at step %lld", sub, step);
}

/* A 4-step run in sub, the source of a model file: its checkpoint into *A. */
static void source_run(ck *A, const char *sub, char *bufs) {
    tr_opts a;
    run_opts(&a, sub, bufs);
    a.hp.steps = 4;
    train_ok(&a);
    load_ck(A, sub);
}

START_TEST(init_from_model) {
    char bufs[4][2048];
    ck A;
    source_run(&A, "init_src", bufs[0]);
    char f32p[512], f16p[512], tokp[512];
    path_in(f32p, sizeof f32p, "init_f32.gguf");
    path_in(f16p, sizeof f16p, "init_f16.gguf");
    path_in(tokp, sizeof tokp, "tok.gguf");
    dl_err err;
    ck_assert_int_eq(tr_export_gguf(f32p, &A.st.cfg, A.p, tokp, DL_TYPE_F32, &err), 0);
    ck_assert_int_eq(tr_export_gguf(f16p, &A.st.cfg, A.p, tokp, DL_TYPE_F16, &err), 0);

    /* the shape and every tensor come back */
    for (int f16 = 0; f16 < 2; f16++) {
        tr_config c;
        memset(&c, 0, sizeof c);
        float *p;
        ck_assert_msg(tr_init_from_gguf(f16 ? f16p : f32p, &c, 0, &p, &err) == 0, "%s", err.msg);
        cfg_eq(&c, &A.st.cfg);
        check_loaded(&A, p, f16);
        free(p);
    }

    /* a run from the F32 file with the model's own tokenizer: its step-0 evaluation (same
     * windows, same masks) is the source run's at step 4, digit for digit */
    tr_opts b;
    run_opts(&b, "init_run_f32", bufs[1]);
    memset(&b.cfg, 0, sizeof b.cfg);
    b.tokenizer = NULL;
    b.init_from = f32p;
    b.hp.steps = 1;
    train_ok(&b);
    ck B;
    load_ck(&B, "init_run_f32");
    ck_assert_int_eq(B.st.step, 1);
    ck_assert_str_eq(B.st.tokenizer, f32p);
    cfg_eq(&B.st.cfg, &A.st.cfg);
    char va[32], vb[32];
    val_at(va, sizeof va, "init_src", 4);
    val_at(vb, sizeof vb, "init_run_f32", 0);
    ck_assert_str_eq(va, vb);
    /* Adam started from zero moments: after one step m = (1 - b1) g, v = (1 - b2) g^2, so
     * m^2 / v = 0.01 / 0.05 wherever there was a gradient; and the first update moves each
     * weight by lr * (m / 0.1 / (sqrt(v / 0.05) + eps) + wd * p), about lr * sign(g) */
    float lr = tr_lr_at(&B.st.hp, 0);
    tr_tensor t[TR_N_TENSORS(TR_MAX_LAYERS)];
    int nt = tr_tensor_table(&B.st.cfg, t);
    size_t n_grad = 0, n_total = 0, n_full = 0;
    for (int i = 0; i < nt; i++) {
        float wd = t[i].is_matrix ? B.st.hp.wd : 0.0f;
        for (int64_t j = 0; j < t[i].ne0 * t[i].ne1; j++) {
            size_t k = t[i].offset + (size_t)j;
            double p0 = A.p[k], step = (double)B.p[k] - p0 + (double)lr * wd * p0;
            n_total++;
            if (B.v[k] < 1e-20f) {
                ck_assert_msg(fabs(step) <= 1e-7, "%s[%lld] moved %g without a gradient",
                              t[i].name, (long long)j, step);
                continue;
            }
            n_grad++;
            double ratio = (double)B.m[k] * B.m[k] / B.v[k];
            ck_assert_msg(fabs(ratio - 0.2) < 1e-3, "%s[%lld]: m^2/v = %g", t[i].name,
                          (long long)j, ratio);
            double c1 = 1.0 - B.st.hp.beta1, c2 = 1.0 - B.st.hp.beta2;
            double want = -(double)lr * (B.m[k] / c1) / (sqrt(B.v[k] / c2) + B.st.hp.adam_eps);
            /* p is float: a couple of its ulps, plus the float arithmetic of the update */
            ck_assert_msg(fabs(step - want) <= 2.5e-7 * fabs(p0) + 1e-5 * lr,
                          "%s[%lld]: step %g, want %g", t[i].name, (long long)j, step, want);
            n_full += fabs(want) > 0.9 * lr;   /* ~ lr * sign(g) unless |g| is near eps */
        }
    }
    ck_assert_uint_gt(n_grad, n_total / 2);
    ck_assert_uint_gt(n_full, n_grad * 9 / 10);

    /* from the F16 file, with every shape option given (and matching) and the tokenizer
     * file: the evaluation differs only by the f16 rounding */
    tr_opts c;
    run_opts(&c, "init_run_f16", bufs[2]);
    c.init_from = f16p;
    c.hp.steps = 1;
    train_ok(&c);
    ck C;
    load_ck(&C, "init_run_f16");
    ck_assert_int_eq(C.st.step, 1);
    ck_assert_str_eq(C.st.tokenizer, tokp);
    char vc[32];
    val_at(vc, sizeof vc, "init_run_f16", 0);
    ck_assert_msg(fabs(atof(vc) - atof(va)) < 5e-3 && strcmp(vc, va) != 0, "f16 %s, f32 %s", vc, va);

    /* a shape option that disagrees with the file names both values */
    tr_opts d;
    run_opts(&d, "init_bad", bufs[3]);
    memset(&d.cfg, 0, sizeof d.cfg);
    d.cfg.n_embd = 48;
    d.init_from = f32p;
    d.tokenizer = NULL;
    ck_assert_int_eq(tr_train(&d, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_msg(strstr(err.msg, "--n-embd 48") && strstr(err.msg, "embedding_length 32"), "%s",
                  err.msg);
    free_ck(&A);
    free_ck(&B);
    free_ck(&C);
}
END_TEST

/* A run in sub growing the model of file to n_layer layers (the rest of the shape from
 * the file). */
static void grow_opts(tr_opts *o, const char *sub, char *bufs, const char *file, int n_layer) {
    run_opts(o, sub, bufs);
    memset(&o->cfg, 0, sizeof o->cfg);
    o->cfg.n_layer = n_layer;
    o->init_from = file;
    o->grow = 1;
}

/* Growing in depth: 2 layers grown to 5 (file layer floor(j * 2 / 5): 0 0 0 1 1). The
 * first copy of a layer is the file's layer, the later ones the same with zero output
 * projections, and a run from the grown model evaluates at step 0 exactly as the source
 * run did at its last step (the added layers add exact zeros to the residual stream);
 * after a step the copies' output projections have moved. */
START_TEST(init_grown) {
    char bufs[3][2048];
    ck A;
    source_run(&A, "grow_src", bufs[0]);
    char f32p[512], tokp[512];
    path_in(f32p, sizeof f32p, "grow_f32.gguf");
    path_in(tokp, sizeof tokp, "tok.gguf");
    dl_err err;
    ck_assert_int_eq(tr_export_gguf(f32p, &A.st.cfg, A.p, tokp, DL_TYPE_F32, &err), 0);

    tr_config c;
    memset(&c, 0, sizeof c);
    c.n_layer = 5;
    float *p;
    ck_assert_msg(tr_init_from_gguf(f32p, &c, 1, &p, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(c.n_layer, 5);
    ck_assert_int_eq(c.n_embd, A.st.cfg.n_embd);
    tr_tensor ts[TR_N_TENSORS(TR_MAX_LAYERS)], tn[TR_N_TENSORS(TR_MAX_LAYERS)];
    int ns = tr_tensor_table(&A.st.cfg, ts), nn = tr_tensor_table(&c, tn);
    static const int src_layer[5] = { 0, 0, 0, 1, 1 }, first[5] = { 1, 0, 0, 1, 0 };
    int n_zero = 0;
    for (int i = 0; i < nn; i++) {
        int want_layer = tn[i].layer < 0 ? -1 : src_layer[tn[i].layer];
        const tr_tensor *s = NULL;
        for (int k = 0; k < ns && !s; k++)
            if (ts[k].id == tn[i].id && ts[k].layer == want_layer)
                s = &ts[k];
        ck_assert_ptr_nonnull(s);
        size_t cnt = (size_t)(tn[i].ne0 * tn[i].ne1);
        int zero = tn[i].layer >= 0 && !first[tn[i].layer] &&
                   (tn[i].id == DL_T_ATTN_OUT || tn[i].id == DL_T_FFN_DOWN);
        for (size_t j = 0; j < cnt; j++)
            ck_assert_msg(p[tn[i].offset + j] == (zero ? 0.0f : A.p[s->offset + j]), "%s[%zu]",
                          tn[i].name, j);
        n_zero += zero;
    }
    ck_assert_int_eq(n_zero, 6);   /* three copies, two projections each */
    free(p);

    tr_opts b;
    grow_opts(&b, "grow_run", bufs[1], f32p, 5);
    b.hp.steps = 1;
    train_ok(&b);
    ck B;
    load_ck(&B, "grow_run");
    ck_assert_int_eq(B.st.cfg.n_layer, 5);
    char va[32], vb[32];
    val_at(va, sizeof va, "grow_src", 4);
    val_at(vb, sizeof vb, "grow_run", 0);
    ck_assert_str_eq(va, vb);
    tr_tensor tb[TR_N_TENSORS(TR_MAX_LAYERS)];
    int nb = tr_tensor_table(&B.st.cfg, tb);
    for (int i = 0; i < nb; i++)
        if (tb[i].layer == 1 && tb[i].id == DL_T_FFN_DOWN) {
            size_t moved = 0, cnt = (size_t)(tb[i].ne0 * tb[i].ne1);
            for (size_t j = 0; j < cnt; j++)
                moved += B.p[tb[i].offset + j] != 0.0f;
            ck_assert_uint_gt(moved, cnt / 2);
        }

    /* fewer layers than the file, no --n-layer, or growing without it: refused */
    tr_opts d;
    grow_opts(&d, "grow_bad", bufs[2], f32p, 1);
    ck_assert_int_eq(tr_train(&d, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_msg(strstr(err.msg, "--n-layer 1") && strstr(err.msg, "2 layers"), "%s", err.msg);
    d.cfg.n_layer = 0;
    ck_assert_int_eq(tr_train(&d, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_msg(strstr(err.msg, "needs --n-layer"), "%s", err.msg);
    d.cfg.n_layer = 5;
    d.grow = 0;
    ck_assert_int_eq(tr_train(&d, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_msg(strstr(err.msg, "--n-layer 5"), "%s", err.msg);
    free_ck(&A);
    free_ck(&B);
}
END_TEST

/* Files that are not the trainer's model: each error names the tensor at fault. */
START_TEST(init_from_errors) {
    struct { const char *omit, *bad_shape, *q8; int tied; uint32_t wtype; int want;
             const char *named; } cases[] = {
        { NULL, NULL, NULL, 1, DL_TYPE_BF16, 0, NULL },
        { "blk.1.ffn_up.weight", NULL, NULL, 1, DL_TYPE_F16, DIFFLM_E_FORMAT, "blk.1.ffn_up.weight" },
        { NULL, "blk.0.attn_k.weight", NULL, 1, DL_TYPE_F32, DIFFLM_E_FORMAT, "blk.0.attn_k.weight" },
        { NULL, NULL, "blk.0.ffn_gate.weight", 1, DL_TYPE_F32, DIFFLM_E_UNSUPPORTED,
          "blk.0.ffn_gate.weight" },
        { NULL, NULL, NULL, 0, DL_TYPE_F32, DIFFLM_E_UNSUPPORTED, "output.weight" },
    };
    char path[512];
    path_in(path, sizeof path, "init_err.gguf");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dl_tiny_spec spec;
        dl_tiny_spec_init(&spec, DIFFLM_ARCH_LLADA);
        spec.n_vocab = 400;
        spec.n_embd = 32;
        spec.n_layer = 2;
        spec.n_head = 4;
        spec.n_head_kv = 2;
        spec.n_ff = 48;
        spec.n_ctx = 24;
        spec.tied = cases[i].tied;
        spec.wtype = cases[i].wtype;
        spec.omit_tensor = cases[i].omit;
        spec.bad_shape_tensor = cases[i].bad_shape;
        spec.q8_tensor = cases[i].q8;
        dl_err err;
        ck_assert_msg(dl_tiny_write(&spec, path, &err) == 0, "%s", err.msg);
        tr_config c;
        memset(&c, 0, sizeof c);
        float *p = NULL;
        int rc = tr_init_from_gguf(path, &c, 0, &p, &err);
        ck_assert_msg(rc == cases[i].want, "case %zu: %d (%s)", i, rc, rc ? err.msg : "");
        if (rc) {
            ck_assert_ptr_null(p);
            ck_assert_msg(strstr(err.msg, cases[i].named), "case %zu: %s", i, err.msg);
            continue;
        }
        /* the BF16 file: its shape, and a weight as the file holds it */
        ck_assert_int_eq(c.n_embd, 32);
        ck_assert_int_eq(c.head_dim, 8);
        ck_assert_int_eq(c.n_vocab, 400);
        ck_assert(c.rms_eps == spec.eps && c.rope_theta == spec.rope_theta);
        dl_gguf *g;
        ck_assert_int_eq(dl_gguf_open(&g, path, &err), 0);
        const dl_gguf_tensor *wq = dl_gguf_find_tensor(g, "blk.1.attn_q.weight");
        tr_tensor t[TR_N_TENSORS(TR_MAX_LAYERS)];
        tr_tensor_table(&c, t);
        ck_assert_str_eq(t[2 + 9 + 1].name, "blk.1.attn_q.weight");
        for (int64_t j = 0; j < 32 * 32; j++) {
            uint16_t h;
            memcpy(&h, (const char *)wq->data + 2 * j, 2);
            ck_assert(p[t[2 + 9 + 1].offset + (size_t)j] == dl_bf16_to_f32(h));
        }
        dl_gguf_close(g);
        free(p);
    }
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("units");
    tcase_add_test(tc, model_gradient);
    tcase_add_test(tc, products);
    tcase_add_test(tc, products_bf16);
    tcase_add_test(tc, bf16_packed);
    tcase_add_test(tc, shared_layers);
    tcase_add_test(tc, masking);
    tcase_add_test(tc, schedule);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("runs");
    tcase_add_unchecked_fixture(tr, setup_files, teardown_files);
    tcase_set_timeout(tr, 600);
    tcase_add_test(tr, data_documents);
    tcase_add_test(tr, sft_pairs);
    tcase_add_test(tr, sft_runs);
    tcase_add_test(tr, resume_is_exact);
    tcase_add_test(tr, bf16_runs);
    tcase_add_test(tr, export_matches);
    tcase_add_test(tr, init_from_model);
    tcase_add_test(tr, init_grown);
    tcase_add_test(tr, init_from_errors);
    suite_add_tcase(s, tr);
    return s;
}

int main(void) {
    return dl_run_suite(suite());
}

/* test_grad.c - every backward kernel (kernels_backward.h) against central finite
 * differences of a double-precision forward (grad_ref.h), on small odd shapes. The
 * scalar checked is L = sum(R * forward(inputs)) for a fixed random R, whose gradient
 * with respect to the output is R: the kernels get R as dout. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "grad_ref.h"
#include "kernels/kernels.h"
#include "kernels/kernels_backward.h"

#define FD_H 1e-5
#define RTOL 1e-3
#define ATOL 1e-4

/* A double objective over a set of input arrays. */
typedef struct fd_obj {
    double (*fn)(struct fd_obj *o);
    double *in[4];
    size_t n_in[4];
    const double *R;            /* weights of the output elements */
    int N, K, M, H, G, D, T;    /* shapes, as each test uses them */
    double eps;
    int mode;
} fd_obj;

/* numeric[i] = dL/d in[which][i] by central differences */
static void numeric_grad(fd_obj *o, int which, double *numeric) {
    for (size_t i = 0; i < o->n_in[which]; i++) {
        double keep = o->in[which][i];
        o->in[which][i] = keep + FD_H;
        double lp = o->fn(o);
        o->in[which][i] = keep - FD_H;
        double lm = o->fn(o);
        o->in[which][i] = keep;
        numeric[i] = (lp - lm) / (2 * FD_H);
    }
}

static double *to_double(const float *f, size_t n) {
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
    return d;
}

static float *rand_f(size_t n, uint64_t *s, float scale) {
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++)
        f[i] = gd_rand(s) * scale;
    return f;
}

static double weighted_sum(const double *out, const double *R, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += out[i] * R[i];
    return s;
}

static void expect_close(const char *what, const float *analytic, fd_obj *o, int which) {
    size_t n = o->n_in[which];
    double *num = malloc(n * sizeof *num);
    numeric_grad(o, which, num);
    double worst;
    long bad = gd_compare(analytic, num, n, RTOL, ATOL, &worst);
    ck_assert_msg(bad < 0, "%s: element %ld analytic %.8g numeric %.8g (worst %.3g)", what, bad,
                  bad >= 0 ? (double)analytic[bad] : 0.0, bad >= 0 ? num[bad] : 0.0, worst);
    free(num);
}

/* --- matmul */

static double matmul_obj(fd_obj *o) {
    double *out = malloc((size_t)o->N * o->M * sizeof *out);
    gd_matmul(out, o->in[0], o->in[1], o->N, o->K, o->M);
    double s = weighted_sum(out, o->R, (size_t)o->N * o->M);
    free(out);
    return s;
}

START_TEST(grad_matmul) {
    const int N = 7, K = 5, M = 6;
    uint64_t s = 11;
    float *x = rand_f((size_t)N * K, &s, 1), *w = rand_f((size_t)M * K, &s, 1);
    float *R = rand_f((size_t)N * M, &s, 1);
    /* accumulation: start from non-zero gradients and subtract them afterwards */
    float *dx = rand_f((size_t)N * K, &s, 1), *dw = rand_f((size_t)M * K, &s, 1);
    float *dx0 = malloc((size_t)N * K * sizeof *dx0), *dw0 = malloc((size_t)M * K * sizeof *dw0);
    memcpy(dx0, dx, (size_t)N * K * sizeof *dx);
    memcpy(dw0, dw, (size_t)M * K * sizeof *dw);
    dl_matmul_backward(dx, dw, R, x, w, N, K, M);
    for (int i = 0; i < N * K; i++)
        dx[i] -= dx0[i];
    for (int i = 0; i < M * K; i++)
        dw[i] -= dw0[i];
    fd_obj o = { .fn = matmul_obj, .in = { to_double(x, (size_t)N * K), to_double(w, (size_t)M * K) },
                 .n_in = { (size_t)N * K, (size_t)M * K }, .N = N, .K = K, .M = M };
    double *Rd = to_double(R, (size_t)N * M);
    o.R = Rd;
    expect_close("matmul dx", dx, &o, 0);
    expect_close("matmul dw", dw, &o, 1);

    /* the twin, and the strided weight half on a tile of a wider problem */
    float *rx = calloc((size_t)N * K, sizeof *rx), *rw = calloc((size_t)M * K, sizeof *rw);
    dl_matmul_backward_ref(rx, rw, R, x, w, N, K, M);
    for (int i = 0; i < N * K; i++)
        ck_assert_float_eq_tol(rx[i], dx[i], 1e-5f);
    float *tw = calloc((size_t)M * K, sizeof *tw);
    /* rows 2..5 of dw, columns 1..4: dout columns 2..5, x columns 1..4 */
    dl_matmul_backward_w(tw + 2 * K + 1, R + 2, x + 1, N, 3, 4, M, K, K);
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) {
            int inside = m >= 2 && m < 6 && k >= 1 && k < 4;
            ck_assert_float_eq_tol(tw[m * K + k], inside ? rw[m * K + k] : 0.0f, 1e-5f);
        }
    free(x); free(w); free(R); free(dx); free(dw); free(dx0); free(dw0); free(rx); free(rw);
    free(tw); free(o.in[0]); free(o.in[1]); free(Rd);
}
END_TEST

/* --- rmsnorm */

static double rmsnorm_obj(fd_obj *o) {
    double *out = malloc((size_t)o->N * o->K * sizeof *out);
    gd_rmsnorm(out, o->in[0], o->in[1], o->eps, o->N, o->K);
    double s = weighted_sum(out, o->R, (size_t)o->N * o->K);
    free(out);
    return s;
}

START_TEST(grad_rmsnorm) {
    const int N = 5, C = 9;
    uint64_t s = 12;
    float *x = rand_f((size_t)N * C, &s, 2), *w = rand_f(C, &s, 1), *R = rand_f((size_t)N * C, &s, 1);
    for (int c = 0; c < C; c++)
        w[c] += 1.0f;
    float *dx = calloc((size_t)N * C, sizeof *dx), *dw = calloc(C, sizeof *dw);
    dl_rmsnorm_backward(dx, dw, R, x, w, 1e-5f, N, C);
    double *Rd = to_double(R, (size_t)N * C);
    fd_obj o = { .fn = rmsnorm_obj, .in = { to_double(x, (size_t)N * C), to_double(w, C) },
                 .n_in = { (size_t)N * C, C }, .R = Rd, .N = N, .K = C, .eps = (double)1e-5f };
    expect_close("rmsnorm dx", dx, &o, 0);
    expect_close("rmsnorm dw", dw, &o, 1);
    free(x); free(w); free(R); free(dx); free(dw); free(Rd); free(o.in[0]); free(o.in[1]);
}
END_TEST

/* --- silu * up */

static double silu_obj(fd_obj *o) {
    double *out = malloc((size_t)o->N * sizeof *out);
    gd_silu_mul(out, o->in[0], o->in[1], o->N);
    double s = weighted_sum(out, o->R, (size_t)o->N);
    free(out);
    return s;
}

START_TEST(grad_silu_mul) {
    const int n = 23;
    uint64_t s = 13;
    float *g = rand_f(n, &s, 4), *u = rand_f(n, &s, 2), *R = rand_f(n, &s, 1);
    float *dg = malloc(n * sizeof *dg), *du = malloc(n * sizeof *du);
    dl_silu_mul_backward(dg, du, R, g, u, n);
    double *Rd = to_double(R, n);
    fd_obj o = { .fn = silu_obj, .in = { to_double(g, n), to_double(u, n) }, .n_in = { n, n },
                 .R = Rd, .N = n };
    expect_close("silu dgate", dg, &o, 0);
    expect_close("silu dup", du, &o, 1);
    /* in place (dgate aliasing gate, dup aliasing up) gives the same numbers */
    dl_silu_mul_backward(g, u, R, g, u, n);
    for (int i = 0; i < n; i++) {
        ck_assert_float_eq(g[i], dg[i]);
        ck_assert_float_eq(u[i], du[i]);
    }
    free(g); free(u); free(R); free(dg); free(du); free(Rd); free(o.in[0]); free(o.in[1]);
}
END_TEST

/* --- rope */

static int32_t g_pos[8] = { 0, 1, 2, 3, 7, 11, 2, 250 };

static double rope_obj(fd_obj *o) {
    size_t n = o->n_in[0];
    double *x = malloc(n * sizeof *x);
    memcpy(x, o->in[0], n * sizeof *x);
    gd_rope(x, g_pos, 10000.0, o->mode, o->T, o->H, o->D);
    double s = weighted_sum(x, o->R, n);
    free(x);
    return s;
}

START_TEST(grad_rope) {
    const int T = 8, H = 3, hd = 6;
    const size_t n = (size_t)T * H * hd;
    for (int mode = 0; mode < 2; mode++) {
        uint64_t s = 14 + mode;
        float *x = rand_f(n, &s, 1), *R = rand_f(n, &s, 1);
        float *cs = malloc((size_t)T * hd * sizeof *cs);
        dl_rope_table(cs, g_pos, 10000.0f, T, hd);
        float *dx = malloc(n * sizeof *dx);
        memcpy(dx, R, n * sizeof *dx);
        dl_rope_backward(dx, cs, mode ? DL_ROPE_PAIR_HALF : DL_ROPE_PAIR_ADJACENT, T, H, hd);
        double *Rd = to_double(R, n);
        fd_obj o = { .fn = rope_obj, .in = { to_double(x, n) }, .n_in = { n }, .R = Rd, .T = T,
                     .H = H, .D = hd, .mode = mode };
        expect_close(mode ? "rope (half) dx" : "rope (pairs) dx", dx, &o, 0);
        free(x); free(R); free(cs); free(dx); free(Rd); free(o.in[0]);
    }
}
END_TEST

/* --- attention: one sequence, GQA, through the per-head kernel on strided views */

static double attn_obj(fd_obj *o) {
    size_t n = (size_t)o->T * o->H * o->D;
    double *out = malloc(n * sizeof *out);
    gd_attention(out, o->in[0], o->in[1], o->in[2], o->T, o->H, o->G, o->D);
    double s = weighted_sum(out, o->R, n);
    free(out);
    return s;
}

START_TEST(grad_attention) {
    const int T = 7, nh = 4, nkv = 2, hd = 6, grp = nh / nkv;
    const size_t nq = (size_t)T * nh * hd, nk = (size_t)T * nkv * hd;
    uint64_t s = 16;
    float *q = rand_f(nq, &s, 1.5f), *k = rand_f(nk, &s, 1.5f), *v = rand_f(nk, &s, 1);
    float *R = rand_f(nq, &s, 1);
    float *att = malloc(nq * sizeof *att), *p = malloc((size_t)nh * T * T * sizeof *p);
    float *dq = malloc(nq * sizeof *dq), *dk = calloc(nk, sizeof *dk), *dv = calloc(nk, sizeof *dv);
    float *rq = malloc(nq * sizeof *rq), *rk = calloc(nk, sizeof *rk), *rv = calloc(nk, sizeof *rv);
    float *dp = malloc(dl_attention_backward_scratch(T, T, hd) * sizeof *dp);
    for (int h = 0; h < nh; h++) {
        size_t qo = (size_t)h * hd, ko = (size_t)(h / grp) * hd;
        float *ph = p + (size_t)h * T * T;
        dl_attention_head(att + qo, ph, q + qo, k + ko, v + ko, T, T, hd, nh * hd, nkv * hd);
        dl_attention_head_backward(dq + qo, dk + ko, dv + ko, dp, R + qo, ph, q + qo, k + ko,
                                   v + ko, T, T, hd, nh * hd, nkv * hd);
        dl_attention_head_backward_ref(rq + qo, rk + ko, rv + ko, R + qo, ph, q + qo, k + ko,
                                       v + ko, T, T, hd, nh * hd, nkv * hd);
    }
    double *Rd = to_double(R, nq);
    fd_obj o = { .fn = attn_obj, .in = { to_double(q, nq), to_double(k, nk), to_double(v, nk) },
                 .n_in = { nq, nk, nk }, .R = Rd, .T = T, .H = nh, .G = nkv, .D = hd };
    expect_close("attention dq", dq, &o, 0);
    expect_close("attention dk", dk, &o, 1);
    expect_close("attention dv", dv, &o, 2);
    double worst;
    double *rd = to_double(rq, nq);
    ck_assert_msg(gd_compare(dq, rd, nq, 1e-4, 1e-5, &worst) < 0, "dq vs twin %g", worst);
    free(rd);
    rd = to_double(rk, nk);
    ck_assert_msg(gd_compare(dk, rd, nk, 1e-4, 1e-5, &worst) < 0, "dk vs twin %g", worst);
    free(rd);
    rd = to_double(rv, nk);
    ck_assert_msg(gd_compare(dv, rd, nk, 1e-4, 1e-5, &worst) < 0, "dv vs twin %g", worst);
    free(rd);
    free(q); free(k); free(v); free(R); free(att); free(p); free(dq); free(dk); free(dv);
    free(rq); free(rk); free(rv); free(dp); free(Rd);
    for (int i = 0; i < 3; i++)
        free(o.in[i]);
}
END_TEST

/* --- embedding lookup */

static const int32_t g_tokens[6] = { 3, 0, 3, 4, 1, 3 };

static double embed_obj(fd_obj *o) {
    double s = 0;
    for (int n = 0; n < o->N; n++)
        for (int c = 0; c < o->K; c++)
            s += o->in[0][g_tokens[n] * o->K + c] * o->R[n * o->K + c];
    return s;
}

START_TEST(grad_embedding) {
    const int V = 5, C = 4, N = 6;
    uint64_t s = 17;
    float *table = rand_f((size_t)V * C, &s, 1), *R = rand_f((size_t)N * C, &s, 1);
    float *dt = calloc((size_t)V * C, sizeof *dt);
    dl_embedding_backward(dt, R, g_tokens, N, C);
    double *Rd = to_double(R, (size_t)N * C);
    fd_obj o = { .fn = embed_obj, .in = { to_double(table, (size_t)V * C) },
                 .n_in = { (size_t)V * C }, .R = Rd, .N = N, .K = C };
    expect_close("embedding dtable", dt, &o, 0);
    for (int c = 0; c < C; c++)   /* token 2 never occurs */
        ck_assert_float_eq(dt[2 * C + c], 0.0f);
    free(table); free(R); free(dt); free(Rd); free(o.in[0]);
}
END_TEST

/* --- cross-entropy */

static const int32_t g_targets[4] = { 2, 0, 10, 2 };

static double xent_obj(fd_obj *o) {
    double s = 0;
    for (int n = 0; n < o->N; n++)
        s += o->R[n] * gd_xent(o->in[0] + (size_t)n * o->K, g_targets[n], o->K);
    return s;
}

START_TEST(grad_xent) {
    const int N = 4, V = 11;
    uint64_t s = 18;
    float *logits = rand_f((size_t)N * V, &s, 5), *wts = rand_f(N, &s, 1);
    float *dl = malloc((size_t)N * V * sizeof *dl), *loss = malloc(N * sizeof *loss);
    dl_xent_forward_backward(dl, loss, logits, g_targets, wts, N, V);
    double *Rd = to_double(wts, N);
    fd_obj o = { .fn = xent_obj, .in = { to_double(logits, (size_t)N * V) },
                 .n_in = { (size_t)N * V }, .R = Rd, .N = N, .K = V };
    for (int n = 0; n < N; n++)
        ck_assert_double_eq_tol(loss[n], gd_xent(o.in[0] + (size_t)n * V, g_targets[n], V), 1e-5);
    expect_close("xent dlogits", dl, &o, 0);
    /* in place */
    dl_xent_forward_backward(logits, loss, logits, g_targets, wts, N, V);
    for (int i = 0; i < N * V; i++)
        ck_assert_float_eq(logits[i], dl[i]);
    free(logits); free(wts); free(dl); free(loss); free(Rd); free(o.in[0]);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("grad");
    TCase *tc = tcase_create("kernels");
    tcase_add_test(tc, grad_matmul);
    tcase_add_test(tc, grad_rmsnorm);
    tcase_add_test(tc, grad_silu_mul);
    tcase_add_test(tc, grad_rope);
    tcase_add_test(tc, grad_attention);
    tcase_add_test(tc, grad_embedding);
    tcase_add_test(tc, grad_xent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return dl_run_suite(suite());
}

/* layers_backward.c - the backward blocks (layers_backward.h): the forward blocks of
 * layers.c taken in reverse, product by product. The kernels' naive twins are in
 * lib/kernels (kernels_ref.c); the whole model's gradient is checked against central
 * differences of a double-precision model in tests/train. */
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/kernels_backward.h"
#include "model/layer_rows.h"
#include "model/layers_backward.h"

static int n_chunks(const dl_exec_backward *bx, int R) {
    return (R + bx->row_chunk - 1) / bx->row_chunk;
}

static void norm_task(void *ctx, int task, int worker) {
    (void)worker;
    const dl_rows_job *j = ctx;
    size_t o;
    int nr = dl_rows_job_rows(j, task, &o);
    float *part = j->part + (size_t)task * j->C;
    memset(part, 0, (size_t)j->C * sizeof(float));
    dl_rmsnorm_backward(j->out + o, part, j->in + o, j->in2 + o, j->w, j->eps, nr, j->C);
}

void dl_layer_norm_backward(const dl_exec_backward *bx, float *dx, float *dw, const float *dout,
                            const float *x, const dl_weight *w, float eps, int R, int E) {
    int n = n_chunks(bx, R);
    dl_rows_job j = { .out = dx, .part = bx->norm_part, .in = dout, .in2 = x, .w = w->data,
                   .eps = eps, .R = R, .C = E, .chunk = bx->row_chunk };
    dl_pool_run(bx->pool, n, norm_task, &j);
    for (int t = 0; t < n; t++) {   /* in chunk order: the same sums for any thread count */
        const float *part = bx->norm_part + (size_t)t * E;
        for (int c = 0; c < E; c++)
            dw[c] += part[c];
    }
}

/* A gradient view's values: G's weights point into memory the caller writes. */
static float *grad(const dl_weight *w) {
    return (float *)w->data;
}

/* d(in) (+)= dy . W and d(W) += dy^T . in of one product y = in . W^T; the first
 * product into a d(in) sets it (accumulate 0) instead of adding to zeros */
static void linear_backward(const dl_exec_backward *bx, float *din, int accumulate,
                            const dl_weight *gw, const float *dy, const float *in,
                            const dl_weight *w, int R) {
    bx->dx(bx->linear_ctx, din, dy, w, accumulate, R);
    bx->dw(bx->linear_ctx, grad(gw), dy, in, w, R);
}

/* --- feed-forward */

static void swiglu_task(void *ctx, int task, int worker) {
    (void)worker;
    const dl_rows_job *j = ctx;
    size_t o;
    int nr = dl_rows_job_rows(j, task, &o);
    dl_silu_mul_backward(j->out + o, j->out2 + o, j->in + o, j->in2 + o, j->in3 + o,
                         (size_t)nr * (size_t)j->C);
}

void dl_layer_ffn_backward(const dl_exec_backward *bx, float *dres, const dl_layer *G,
                           const dl_ffn_grads *g, const dl_ffn_acts *a, const float *x,
                           const dl_layer *L, const dl_hparams *hp, int R) {
    const int E = hp->n_embd, F = hp->n_ff;
    linear_backward(bx, g->dh, 0, &G->w_down, dres, a->h, &L->w_down, R);
    dl_rows_job j = { .out = g->dgate, .out2 = g->dup, .in = g->dh, .in2 = a->gate, .in3 = a->up,
                   .R = R, .C = F, .chunk = bx->row_chunk };
    dl_pool_run(bx->pool, n_chunks(bx, R), swiglu_task, &j);
    linear_backward(bx, g->dxn, 0, &G->w_gate, g->dgate, a->xn, &L->w_gate, R);
    linear_backward(bx, g->dxn, 1, &G->w_up, g->dup, a->xn, &L->w_up, R);
    dl_layer_norm_backward(bx, dres, grad(&G->ffn_norm), g->dxn, x, &L->ffn_norm, hp->rms_eps,
                           R, E);
}

/* --- attention */

typedef struct attn_job {
    const dl_exec_backward *bx;
    const dl_attn_plan *p;
    const dl_attn_acts *a;
    const dl_attn_grads *g;
    int n_head, n_head_kv, hd;
} attn_job;

/* task = (sequence, K/V head): the query heads sharing a K/V head run in order, so their
 * dk / dv contributions add up in a fixed order without races */
static void attn_task(void *ctx, int task, int worker) {
    const attn_job *j = ctx;
    const dl_attn_plan *p = j->p;
    int s = task / j->n_head_kv, kvh = task % j->n_head_kv, group = j->n_head / j->n_head_kv;
    const dl_attn_seq *sq = &p->seqs[s];
    int ldq = j->n_head * j->hd, ldkv = j->n_head_kv * j->hd;
    size_t ko = (size_t)sq->k0 * ldkv + (size_t)kvh * j->hd;
    float *dp = j->bx->dp + (size_t)worker * j->bx->dp_stride;
    for (int h = kvh * group; h < (kvh + 1) * group; h++) {
        size_t qo = (size_t)sq->q0 * ldq + (size_t)h * j->hd;
        const float *probs = p->probs + ((size_t)s * j->n_head + h) * p->stride;
        dl_attention_head_backward(j->g->dq + qo, j->g->dk + ko, j->g->dv + ko, dp,
                                   j->g->datt + qo, probs, j->a->q + qo, j->a->k + ko,
                                   j->a->v + ko, sq->n_q, sq->n_k, j->hd, ldq, ldkv);
    }
}

void dl_layer_attention_backward(const dl_exec_backward *bx, float *dres, const dl_layer *G,
                                 const dl_attn_grads *g, const dl_attn_acts *a, const float *x,
                                 const dl_layer *L, const dl_hparams *hp, const float *rope_cs,
                                 const dl_attn_plan *p, int R) {
    const int E = hp->n_embd, hd = hp->head_dim, nh = hp->n_head, nkv = hp->n_head_kv;
    const size_t Dkv = (size_t)nkv * hd;
    const int pairing = hp->rope_layout == DL_ROPE_HALF ? DL_ROPE_PAIR_HALF : DL_ROPE_PAIR_ADJACENT;

    linear_backward(bx, g->datt, 0, &G->wo, dres, a->att, &L->wo, R);
    memset(g->dk, 0, (size_t)R * Dkv * sizeof(float));
    memset(g->dv, 0, (size_t)R * Dkv * sizeof(float));
    attn_job j = { bx, p, a, g, nh, nkv, hd };
    dl_pool_run(bx->pool, p->n_seq * nkv, attn_task, &j);
    dl_rope_backward(g->dq, rope_cs, pairing, R, nh, hd);
    dl_rope_backward(g->dk, rope_cs, pairing, R, nkv, hd);
    linear_backward(bx, g->dxn, 0, &G->wq, g->dq, a->xn, &L->wq, R);
    linear_backward(bx, g->dxn, 1, &G->wk, g->dk, a->xn, &L->wk, R);
    linear_backward(bx, g->dxn, 1, &G->wv, g->dv, a->xn, &L->wv, R);
    dl_layer_norm_backward(bx, dres, grad(&G->attn_norm), g->dxn, x, &L->attn_norm, hp->rms_eps,
                           R, E);
}

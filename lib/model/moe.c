/* moe.c - the mixture-of-experts feed-forward block (layers.h, dl_layer_moe).
 *
 * One pass over a layer: the router's product for every row, the router kernel per row
 * (kernels/router.h), then the rows grouped by expert (ascending row order inside an
 * expert). Each active expert runs its three products over just its rows, straight on
 * its weight views (slices of the mapped file, any weight type), and its weighted
 * outputs are added to the rows' sums in ascending expert order. The products run in
 * row-group mode so that a row's result never depends on which other rows share its
 * expert (the OpenBLAS path blocks by the row count otherwise); the own and integer
 * kernels compute rows independently anyway. Everything outside the products is serial
 * and in a fixed order: the bits do not depend on the thread count. */
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/router.h"
#include "model/layers.h"
#include "model/model_weights.h"

/* out = W_down (silu(W_gate x) * (W_up x)) over n rows of x (x and g readable to
 * roundup(n, DL_ROW_GROUP) rows), accumulated into out when accumulate. */
static void swiglu_rows(const dl_exec *ex, float *out, float *g, float *u, const float *x,
                        const dl_weight *wg, const dl_weight *wu, const dl_weight *wd,
                        int accumulate, int n) {
    const size_t F = (size_t)wg->ne1;
    void *lc = ex->linear_ctx;
    ex->linear(lc, g, x, wg, NULL, 0, 1, n);
    ex->linear(lc, u, x, wu, NULL, 0, 1, n);
    /* one row at a time: silu_mul's vector body and scalar tail split per call, so a
     * row rounds the same wherever it sits in the expert's group */
    for (int r = 0; r < n; r++)
        dl_silu_mul(g + (size_t)r * F, g + (size_t)r * F, u + (size_t)r * F, F);
    int padded = (n + DL_ROW_GROUP - 1) / DL_ROW_GROUP * DL_ROW_GROUP;
    memset(g + (size_t)n * F, 0, (size_t)(padded - n) * F * sizeof(float));
    ex->linear(lc, out, g, wd, NULL, accumulate, 1, n);
}

static void route_rows(const dl_moe_acts *m, const dl_hparams *hp, int router,
                       const float *bias, int R) {
    const int X = hp->n_expert, k = hp->n_expert_used;
    for (int r = 0; r < R; r++) {
        const float *lg = m->logits + (size_t)r * X;
        if (router == DL_ROUTER_SOFTMAX)
            dl_route_softmax_topk(m->ids + (size_t)r * k, m->w + (size_t)r * k, lg, X, k);
        else
            dl_route_sigmoid_group(m->ids + (size_t)r * k, m->w + (size_t)r * k, m->route, lg,
                                   bias, X, k, hp->n_group, hp->topk_group, hp->routed_scale);
    }
}

void dl_layer_moe(const dl_exec *ex, float *x_out, const dl_ffn_acts *a, const float *x,
                  const dl_layer *L, const dl_hparams *hp, int R) {
    const dl_moe_acts *m = a->moe;
    const int E = hp->n_embd, X = hp->n_expert, k = hp->n_expert_used;
    const size_t RE = (size_t)R * (size_t)E;
    void *lc = ex->linear_ctx;
    /* the row's arch picks the router; hp carries no pointer to it, so it is looked up
     * once per call from the id */
    const dl_arch *arch = dl_arch_by_id(hp->arch);

    dl_layer_norm(ex, a->xn, x, &L->ffn_norm, hp->rms_eps, R, E);
    ex->linear(lc, m->logits, a->xn, &L->router, NULL, 0, 0, R);
    /* the selection bias is widened into ex->vec (n_expert <= its length: fwd_layout) */
    route_rows(m, hp, arch->router, dl_weight_vec_f32(&L->router_bias, ex->vec), R);

    /* rows grouped by expert: counts, starts, then rows in ascending order */
    memset(m->start, 0, (size_t)(X + 1) * sizeof *m->start);
    for (size_t i = 0; i < (size_t)R * k; i++)
        m->start[m->ids[i] + 1]++;
    for (int e = 0; e < X; e++)
        m->start[e + 1] += m->start[e];
    memcpy(m->cursor, m->start, (size_t)X * sizeof *m->cursor);
    for (int r = 0; r < R; r++)
        for (int j = 0; j < k; j++) {
            int e = m->ids[(size_t)r * k + j];
            int32_t at = m->cursor[e]++;
            m->rows[at] = r;
            m->rw[at] = m->w[(size_t)r * k + j];
        }

    if (x_out != x)
        memcpy(x_out, x, RE * sizeof(float));
    if (L->sh_gate.data) {
        /* the shared expert sees every row; its rows are a's xn in place */
        swiglu_rows(ex, x_out, m->g, m->u, a->xn, &L->sh_gate, &L->sh_up, &L->sh_down, 1, R);
    }
    memset(m->acc, 0, RE * sizeof(float));
    for (int e = 0; e < X; e++) {
        const int n = m->start[e + 1] - m->start[e];
        if (n == 0)
            continue;
        const int32_t *rows = m->rows + m->start[e];
        for (int i = 0; i < n; i++)
            memcpy(m->xg + (size_t)i * E, a->xn + (size_t)rows[i] * E, (size_t)E * sizeof(float));
        int padded = (n + DL_ROW_GROUP - 1) / DL_ROW_GROUP * DL_ROW_GROUP;
        memset(m->xg + (size_t)n * E, 0, (size_t)(padded - n) * E * sizeof(float));
        swiglu_rows(ex, m->y, m->g, m->u, m->xg, &L->exp_gate[e], &L->exp_up[e], &L->exp_down[e],
                    0, n);
        const float *rw = m->rw + m->start[e];
        for (int i = 0; i < n; i++) {
            float *acc = m->acc + (size_t)rows[i] * E;
            const float *y = m->y + (size_t)i * E;
            for (int c = 0; c < E; c++)
                acc[c] += rw[i] * y[c];
        }
    }
    for (size_t i = 0; i < RE; i++)
        x_out[i] += m->acc[i];
}

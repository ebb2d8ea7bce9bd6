/* model_train.c - the trainable model: the forward over a stacked batch is lib/model's
 * own layers (layers.h: the functions the inference pass runs), with every activation
 * the backward needs kept and the products on the trainer's tiles (gemm_par.c); the
 * output head on masked rows only; and the backward pass through every layer, built
 * from the backward twins of lib/kernels' kernels (kernels_backward.h).
 *
 * Threads: the model owns a pool (one per run); the products are cut into fixed tiles
 * (gemm_par.c) and everything else into tasks (attention heads, row chunks), all run on
 * it, with BLAS (attention) at one thread. Every task writes disjoint outputs and
 * fixed-size chunks are reduced in chunk order, so results do not depend on which
 * thread ran what: a run is bitwise reproducible for any thread count, given the CPU. */
#include <stdlib.h>
#include <string.h>

#include "difflm_internal.h"
#include "gemm_par.h"
#include "train.h"

#define ROW_CHUNK 64            /* rows per elementwise task and per norm-gradient partial */

typedef struct tr_acts {
    float *resid;               /* [L+1][N][E] residual stream entering each layer, and the last */
    float *xn1, *xmid, *xn2;    /* [L][N][E] attn-normed input, after attention, ffn-normed */
    float *q, *att;             /* [L][N][Dq] q after RoPE, attention output */
    float *k, *v;               /* [L][N][Dkv] k after RoPE, v */
    float *p;                   /* [L][max_seq][n_head][T][T] attention probabilities */
    float *gate, *up, *h;       /* [L][N][F] pre-activation gate, up, silu(gate)*up */
    float *hidden;              /* [N][E] final-normed */
    float *cs;                  /* [N][hd] RoPE table per row */
    float *hid_m, *dhid_m;      /* [N][E] masked rows gathered, and their gradient */
    float *logits;              /* [N][V] logits of masked rows, then their gradient */
    float *row_loss;            /* [N] */
    float *dres, *dxn, *dhidden;/* [N][E] */
    float *dq, *datt;           /* [N][Dq] */
    float *dk, *dv;             /* [N][Dkv] */
    float *dgate, *dup, *dh;    /* [N][F] */
    float *dp;                  /* [threads][attention backward scratch of T x T] */
    float *dw_part;             /* [ceil(N / ROW_CHUNK)][E] norm-weight gradient partials */
    float *gemm_t;              /* [threads][TR_GEMM_SCRATCH] product scratch (gemm_par.h) */
    uint32_t *pack_a, *pack_b;  /* [tr_gemm_pack_words(largest dimension)] bf16 operands */
    dl_attn_seq *seqs;          /* [max_seq] the batch's sequences, for the attention */
} tr_acts;

struct tr_model {
    tr_config c;
    size_t n_params;
    float *params, *grads;
    dl_model w, g;              /* F32 views of params and grads (g: written through gw) */
    dl_layer wl[TR_MAX_LAYERS], gl[TR_MAX_LAYERS];
    int32_t n_threads, max_seq, max_rows;
    dl_pool *pool;
    tr_gemm gm;                 /* the pool, a->gemm_t, a->pack_* and the products' precision */
    dl_exec ex;                 /* the layers' products on gm, elementwise work on pool */
    void *mem;
    tr_acts a;
};

/* --- layout: one aligned allocation, measured then carved by the same code */

static size_t acts_layout(const tr_config *c, int32_t max_seq, int32_t nt, void *base, tr_acts *a) {
    size_t L = (size_t)c->n_layer, N = (size_t)max_seq * (size_t)c->n_ctx, T = (size_t)c->n_ctx;
    size_t E = (size_t)c->n_embd, F = (size_t)c->n_ff, V = (size_t)c->n_vocab;
    size_t Dq = (size_t)c->head_dim * c->n_head, Dkv = (size_t)c->head_dim * c->n_head_kv;
    dl_arena ar = { base, SIZE_MAX, 0 };
    memset(a, 0, sizeof *a);
    a->resid = dl_arena_alloc(&ar, dl_floats_bytes((L + 1) * N, E));
    a->xn1 = dl_arena_alloc(&ar, dl_floats_bytes(L * N, E));
    a->xmid = dl_arena_alloc(&ar, dl_floats_bytes(L * N, E));
    a->xn2 = dl_arena_alloc(&ar, dl_floats_bytes(L * N, E));
    a->q = dl_arena_alloc(&ar, dl_floats_bytes(L * N, Dq));
    a->att = dl_arena_alloc(&ar, dl_floats_bytes(L * N, Dq));
    a->k = dl_arena_alloc(&ar, dl_floats_bytes(L * N, Dkv));
    a->v = dl_arena_alloc(&ar, dl_floats_bytes(L * N, Dkv));
    a->p = dl_arena_alloc(&ar, dl_floats_bytes(L * (size_t)max_seq * (size_t)c->n_head * T, T));
    a->gate = dl_arena_alloc(&ar, dl_floats_bytes(L * N, F));
    a->up = dl_arena_alloc(&ar, dl_floats_bytes(L * N, F));
    a->h = dl_arena_alloc(&ar, dl_floats_bytes(L * N, F));
    a->hidden = dl_arena_alloc(&ar, dl_floats_bytes(N, E));
    a->cs = dl_arena_alloc(&ar, dl_floats_bytes(N, (size_t)c->head_dim));
    a->hid_m = dl_arena_alloc(&ar, dl_floats_bytes(N, E));
    a->dhid_m = dl_arena_alloc(&ar, dl_floats_bytes(N, E));
    a->logits = dl_arena_alloc(&ar, dl_floats_bytes(N, V));
    a->row_loss = dl_arena_alloc(&ar, dl_floats_bytes(N, 1));
    a->dres = dl_arena_alloc(&ar, dl_floats_bytes(N, E));
    a->dxn = dl_arena_alloc(&ar, dl_floats_bytes(N, E));
    a->dhidden = dl_arena_alloc(&ar, dl_floats_bytes(N, E));
    a->dq = dl_arena_alloc(&ar, dl_floats_bytes(N, Dq));
    a->datt = dl_arena_alloc(&ar, dl_floats_bytes(N, Dq));
    a->dk = dl_arena_alloc(&ar, dl_floats_bytes(N, Dkv));
    a->dv = dl_arena_alloc(&ar, dl_floats_bytes(N, Dkv));
    a->dgate = dl_arena_alloc(&ar, dl_floats_bytes(N, F));
    a->dup = dl_arena_alloc(&ar, dl_floats_bytes(N, F));
    a->dh = dl_arena_alloc(&ar, dl_floats_bytes(N, F));
    a->dp = dl_arena_alloc(&ar, dl_floats_bytes(nt, dl_attention_backward_scratch(T, T, c->head_dim)));
    a->dw_part = dl_arena_alloc(&ar, dl_floats_bytes((N + ROW_CHUNK - 1) / ROW_CHUNK, E));
    a->gemm_t = dl_arena_alloc(&ar, dl_floats_bytes((size_t)nt, TR_GEMM_SCRATCH));
    /* every product's dimensions: rows (N, or a weight's rows in dw), E, Dq, Dkv, F, V */
    size_t d = N > V ? N : V;
    d = d > F ? d : F;
    d = d > E ? d : E;
    d = d > Dq ? d : Dq;
    a->pack_a = dl_arena_alloc(&ar, dl_floats_bytes(tr_gemm_pack_words((int)d), 1));
    a->pack_b = dl_arena_alloc(&ar, dl_floats_bytes(tr_gemm_pack_words((int)d), 1));
    a->seqs = dl_arena_alloc(&ar, dl_floats_bytes((size_t)max_seq, sizeof(dl_attn_seq) / sizeof(float)));
    return ar.used;
}

/* The layers' products (layers.h) on the trainer's fixed tiles: out (+)= x w^T over f32
 * masters, in f32 or bf16 as the run says. The trainer's model has no biases and no
 * row groups (its head scores whole masked rows, not canvases of varying content). */
static void linear_fn(void *ctx, float *out, const float *x, const dl_weight *w,
                      const float *bias, int accumulate, int row_groups, int n) {
    (void)bias;
    (void)row_groups;
    tr_matmul_par(ctx, out, x, w->data, accumulate, n, (int)w->ne0, (int)w->ne1);
}

int tr_model_new(tr_model **out, const tr_config *c, int32_t max_seq, int32_t n_threads,
                 dl_err *err) {
    *out = NULL;
    int rc = tr_config_check(c, err);
    if (rc)
        return rc;
    if (max_seq < 1 || n_threads < 1 || n_threads > 256)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "max_seq %d / threads %d", max_seq, n_threads);
    tr_model *m = calloc(1, sizeof *m);
    if (!m)
        return dl_fail(err, DIFFLM_E_NOMEM, "model");
    m->c = *c;
    m->n_threads = n_threads;
    m->max_seq = max_seq;
    m->max_rows = max_seq * c->n_ctx;
    m->n_params = tr_n_params(c);
    m->params = dl_aligned_alloc(m->n_params * sizeof(float));
    m->grads = dl_aligned_alloc(m->n_params * sizeof(float));
    size_t need = acts_layout(c, max_seq, n_threads, NULL, &m->a);
    m->mem = need == SIZE_MAX ? NULL : dl_aligned_alloc(need);
    if (!m->params || !m->grads || !m->mem) {
        tr_model_free(m);
        return dl_fail(err, DIFFLM_E_NOMEM, "model: %zu parameters, %zu bytes of activations",
                       tr_n_params(c), need);
    }
    if ((rc = dl_pool_create(&m->pool, n_threads, err)) != 0) {
        tr_model_free(m);
        return rc;
    }
    memset(m->grads, 0, m->n_params * sizeof(float));
    acts_layout(c, max_seq, n_threads, m->mem, &m->a);
    m->gm = (tr_gemm){ .pool = m->pool, .scratch = m->a.gemm_t, .pack_a = m->a.pack_a,
                       .pack_b = m->a.pack_b, .bf16 = 0 };
    tr_bind(&m->w, m->wl, m->params, c);
    tr_bind(&m->g, m->gl, m->grads, c);
    m->ex = (dl_exec){ .pool = m->pool, .n_threads = n_threads, .linear = linear_fn,
                       .linear_ctx = &m->gm, .vec = NULL, .row_chunk = ROW_CHUNK };
    *out = m;
    return 0;
}

void tr_model_free(tr_model *m) {
    if (!m)
        return;
    dl_aligned_free(m->params);
    dl_aligned_free(m->grads);
    dl_aligned_free(m->mem);
    dl_pool_free(m->pool);
    free(m);
}

void tr_model_set_bf16(tr_model *m, int on) {
    m->gm.bf16 = on != 0;
    m->gm.bf16_path = dl_bf16_best();
}
float *tr_model_params(tr_model *m) { return m->params; }
float *tr_model_grads(tr_model *m) { return m->grads; }
size_t tr_model_n_params(const tr_model *m) { return m->n_params; }

/* --- parallel pieces */

typedef struct xent_job {
    float *logits, *loss;
    const int32_t *targets;
    const float *weights;
    int N, V;
} xent_job;

static void xent_task(void *ctx, int task, int worker) {
    (void)worker;
    xent_job *j = ctx;
    int r0 = task * ROW_CHUNK, nr = j->N - r0 < ROW_CHUNK ? j->N - r0 : ROW_CHUNK;
    float *lg = j->logits + (size_t)r0 * j->V;
    dl_xent_forward_backward(lg, j->loss + r0, lg, j->targets + r0, j->weights + r0, nr, j->V);
}

/* --- forward */

typedef struct layer_acts {
    float *x, *xo, *xn1, *xmid, *xn2, *q, *att, *k, *v, *p, *gate, *up, *h;
} layer_acts;

static layer_acts layer_view(tr_model *m, int l) {
    const tr_config *c = &m->c;
    size_t N = (size_t)m->max_rows, E = (size_t)c->n_embd, F = (size_t)c->n_ff, T = (size_t)c->n_ctx;
    size_t Dq = (size_t)c->head_dim * c->n_head, Dkv = (size_t)c->head_dim * c->n_head_kv;
    tr_acts *a = &m->a;
    layer_acts v = {
        a->resid + (size_t)l * N * E, a->resid + (size_t)(l + 1) * N * E,
        a->xn1 + (size_t)l * N * E, a->xmid + (size_t)l * N * E, a->xn2 + (size_t)l * N * E,
        a->q + (size_t)l * N * Dq, a->att + (size_t)l * N * Dq,
        a->k + (size_t)l * N * Dkv, a->v + (size_t)l * N * Dkv,
        a->p + (size_t)l * (size_t)m->max_seq * c->n_head * T * T,
        a->gate + (size_t)l * N * F, a->up + (size_t)l * N * F, a->h + (size_t)l * N * F,
    };
    return v;
}


/* The layers over the batch's rows, each sequence attending within itself; leaves
 * hidden = final-normed states. The probabilities of a (sequence, head) are kept whole
 * (one task per head: q_block = n_ctx) for the backward. */
static void forward_layers(tr_model *m, const tr_batch *b) {
    const tr_config *c = &m->c;
    const int N = b->n_rows, E = c->n_embd, T = c->n_ctx;
    tr_acts *a = &m->a;

    dl_blas_set_threads(1);   /* attention tasks call sgemm concurrently: one BLAS thread each */
    dl_layer_embed(a->resid, &m->w.tok_embd, b->input, N);
    dl_rope_table(a->cs, b->pos, c->rope_theta, N, c->head_dim);
    for (int s = 0; s < b->n_seq; s++)
        a->seqs[s] = (dl_attn_seq){ b->seq_start[s], b->seq_len[s], b->seq_start[s], b->seq_len[s] };

    for (int l = 0; l < c->n_layer; l++) {
        layer_acts A = layer_view(m, l);
        const dl_attn_acts aa = { A.xn1, A.q, A.k, A.v, A.att };
        const dl_attn_plan plan = { a->seqs, b->n_seq, T, NULL, A.p, (size_t)T * T, 1, 0, 0, 0 };
        const dl_ffn_acts fa = { A.xn2, A.gate, A.up, A.h, NULL };
        dl_layer_attention(&m->ex, A.xmid, &aa, A.x, &m->wl[l], &m->w.hp, a->cs, &plan, N);
        dl_layer_ffn(&m->ex, A.xo, &fa, A.xmid, &m->wl[l], &m->w.hp, N);
    }
    dl_layer_norm(&m->ex, a->hidden, a->resid + (size_t)c->n_layer * m->max_rows * E,
                  &m->w.output_norm, c->rms_eps, N, E);
}

/* --- backward */

/* A weight's values: every weight of the trainer's model is an F32 view of params. */
static const float *pw(const dl_weight *w) {
    return w->data;
}

/* A gradient's values: g's views point into m->grads, which the model owns and writes. */
static float *gw(const dl_weight *w) {
    return (float *)w->data;
}

/* The backward blocks' products (layers_backward.h) on the trainer's tiles. */
static void linear_dx_fn(void *ctx, float *dx, const float *dy, const dl_weight *w,
                         int accumulate, int n) {
    tr_matmul_dx_par(ctx, dx, dy, pw(w), accumulate, n, (int)w->ne0, (int)w->ne1);
}

static void linear_dw_fn(void *ctx, float *dw, const float *dy, const float *x,
                         const dl_weight *w, int n) {
    tr_matmul_dw_par(ctx, dw, dy, x, n, (int)w->ne0, (int)w->ne1);
}

static void backward_layers(tr_model *m, const tr_batch *b) {
    const tr_config *c = &m->c;
    const int N = b->n_rows, E = c->n_embd, T = c->n_ctx;
    tr_acts *a = &m->a;
    const dl_exec_backward bx = { .pool = m->pool, .dx = linear_dx_fn, .dw = linear_dw_fn,
                                  .linear_ctx = &m->gm, .row_chunk = ROW_CHUNK,
                                  .norm_part = a->dw_part, .dp = a->dp,
                                  .dp_stride = dl_attention_backward_scratch(T, T, c->head_dim) };
    const dl_attn_grads ag = { a->dxn, a->datt, a->dq, a->dk, a->dv };
    const dl_ffn_grads fg = { a->dxn, a->dh, a->dgate, a->dup };

    /* dres = d(last residual) through the final norm */
    memset(a->dres, 0, (size_t)N * E * sizeof(float));
    dl_layer_norm_backward(&bx, a->dres, gw(&m->g.output_norm), a->dhidden,
                           a->resid + (size_t)c->n_layer * m->max_rows * E, &m->w.output_norm,
                           c->rms_eps, N, E);
    for (int l = c->n_layer - 1; l >= 0; l--) {
        layer_acts A = layer_view(m, l);
        const dl_attn_acts aa = { A.xn1, A.q, A.k, A.v, A.att };
        const dl_attn_plan plan = { a->seqs, b->n_seq, T, NULL, A.p, (size_t)T * T, 1, 0, 0, 0 };
        const dl_ffn_acts fa = { A.xn2, A.gate, A.up, A.h, NULL };
        dl_layer_ffn_backward(&bx, a->dres, &m->gl[l], &fg, &fa, A.xmid, &m->wl[l], &m->w.hp, N);
        dl_layer_attention_backward(&bx, a->dres, &m->gl[l], &ag, &aa, A.x, &m->wl[l], &m->w.hp,
                                    a->cs, &plan, N);
    }
    dl_embedding_backward(gw(&m->g.tok_embd), a->dres, b->input, N, E);
}

double tr_forward_backward(tr_model *m, const tr_batch *b, int backward) {
    const tr_config *c = &m->c;
    const int E = c->n_embd, V = c->n_vocab, M = b->n_masked, N = b->n_rows;
    tr_acts *a = &m->a;
    if (backward)
        memset(m->grads, 0, m->n_params * sizeof(float));
    if (N < 1 || N > m->max_rows || b->n_seq > m->max_seq)
        return 0.0;
    forward_layers(m, b);

    /* tied head on the masked rows only (gathered into hid_m): nothing else is scored */
    dl_layer_head(&m->ex, a->logits, a->hid_m, a->hidden, b->mask_rows, M, 1, &m->w.tok_embd,
                  NULL, E);
    xent_job xj = { a->logits, a->row_loss, b->targets, b->weights, M, V };
    dl_pool_run(m->pool, (M + ROW_CHUNK - 1) / ROW_CHUNK, xent_task, &xj);
    double loss = 0.0;
    for (int i = 0; i < M; i++)
        loss += (double)b->weights[i] * a->row_loss[i];
    if (!backward)
        return loss;

    tr_matmul_dx_par(&m->gm, a->dhid_m, a->logits, pw(&m->w.tok_embd), 0, M, E, V);
    tr_matmul_dw_par(&m->gm, gw(&m->g.tok_embd), a->logits, a->hid_m, M, E, V);
    memset(a->dhidden, 0, (size_t)N * E * sizeof(float));
    for (int i = 0; i < M; i++)
        memcpy(a->dhidden + (size_t)b->mask_rows[i] * E, a->dhid_m + (size_t)i * E,
               (size_t)E * sizeof(float));
    backward_layers(m, b);
    return loss;
}

void tr_forward_logits(tr_model *m, const int32_t *tokens, int32_t T, float *logits) {
    const tr_config *c = &m->c;
    if (T < 1 || T > c->n_ctx)
        return;
    /* a one-sequence batch on the model's own buffers: positions 0..T-1 */
    int32_t start = 0, len = T;
    int32_t *pos = malloc((size_t)T * sizeof *pos);
    int32_t *input = malloc((size_t)T * sizeof *input);
    if (!pos || !input) {
        free(pos);
        free(input);
        return;
    }
    for (int32_t i = 0; i < T; i++) {
        pos[i] = i;
        input[i] = tokens[i];
    }
    tr_batch b = { .max_seq = 1, .max_len = c->n_ctx, .n_seq = 1, .n_rows = T,
                   .seq_start = &start, .seq_len = &len, .clean = input, .input = input,
                   .pos = pos };
    forward_layers(m, &b);
    dl_layer_head(&m->ex, logits, NULL, m->a.hidden, NULL, T, 1, &m->w.tok_embd, NULL, c->n_embd);
    free(pos);
    free(input);
}

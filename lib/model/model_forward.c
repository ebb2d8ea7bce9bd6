/* model_forward.c - one pass (doc/design.md), layer by layer, and the output head for
 * selected rows. What differs between architectures comes from the model's row
 * (arch.h): the RoPE layout, the biases (absent weights are NULL), the FFN kind, the
 * block-causal mask (hp.block_length). A pass runs all canvas rows (the plain forward) or, with a KV
 * cache, some of them against the cached keys and values of the rest (model_cache.c).
 * All activations live in the caller's scratch, laid out by one function that also
 * measures it, so size and use cannot drift apart. */
#include <string.h>

#include "fmt/ggml_types.h"
#include "kernels/attention_tiled.h"
#include "kernels/kernels.h"
#include "model/layers.h"
#include "model/model.h"
#include "model/model_weights.h"

/* Attention runs as tasks of (head, block of ATTN_QB queries); each running thread
 * needs one score block: the scratch holds attn_slots(m) of them, one per thread of the
 * model's pool (at least ATTN_SLOTS, so scratch sized before the thread count is set,
 * as tools and tests do, still fits a pool of up to 32). */
#define ATTN_QB 32
#define ATTN_SLOTS 32

typedef struct fwd_bufs {
    float *x;        /* [R][E] residual stream of the rows that pass through the layers */
    float *xn;       /* [R][E] normed input of a sub-layer */
    float *q;        /* [R][n_head][hd] */
    float *k, *v;    /* [R][n_head_kv][hd] the rows' own (fresh) keys and values */
    float *att;      /* [R][n_head][hd] attention output */
    float *scores;   /* [attn_slots][attn_slot_floats] a query block's scores or the tiled
                      * kernel's work area, per thread */
    float *gate;     /* [R][F] (shares memory with q..scores: never live together) */
    float *up;       /* [R][F] */
    float *rope_cs;  /* [R][hd/2][2] */
    float *vec;      /* [max(E, Dq, Dkv)] a norm or bias vector widened to f32 */
    float *conv;     /* [conv_cap] weight rows widened to f32 */
    int32_t *pos;    /* [R] */
    size_t conv_cap;
    dl_moe_acts moe; /* MoE rows: the experts' scratch (beside gate/up) */
} fwd_bufs;

static int attn_slots(const dl_model *m) {
    return DL_MAX(ATTN_SLOTS, m->n_threads);
}

/* Floats per slot: one query block's scores over K keys, or the tiled kernel's work
 * area (attention_tiled.h), whichever is larger. */
static size_t attn_slot_floats(const dl_model *m, int32_t K) {
    return DL_MAX((size_t)ATTN_QB * (size_t)K, dl_attention_tiled_work_floats(m->hp.head_dim));
}

/* A product's scratch over w for R rows under the model's precision. */
static size_t product_floats(const dl_model *m, const dl_weight *w, int32_t R) {
    return dl_weight_bf16(w, m->precision) ? dl_weight_bf16_scratch_floats(w, R)
                                           : dl_weight_scratch_floats(w, R);
}

/* The products' scratch for R rows: widened weights (OpenBLAS path), the quantized
 * activations (quantized weights) or the bf16 ones (bf16 precision), the largest any
 * layer needs. */
static size_t max_conv_floats(const dl_model *m, int32_t R) {
    size_t c = 0;
    for (int il = 0; il < m->hp.n_layer; il++) {
        const dl_layer *L = &m->layers[il];
        const dl_weight *ws[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up,
                                  &L->w_down, &L->router, &L->sh_gate, &L->sh_up, &L->sh_down };
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            c = DL_MAX(c, product_floats(m, ws[i], R));
        /* an expert gets at most every row once; its views share one shape and type */
        const dl_weight *xs[] = { L->exp_gate, L->exp_up, L->exp_down };
        for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++)
            if (xs[i])
                c = DL_MAX(c, product_floats(m, xs[i], R));
    }
    return c;
}

/* Carves (base != NULL) or measures (base == NULL) the scratch of a pass where R rows go
 * through the layers and attend over K keys; returns the bytes used (SIZE_MAX on
 * overflow). Every piece grows with R or K, so the size for (T, T) covers any pass
 * with R <= T and K <= T: one scratch serves full and cached passes alike. */
static size_t fwd_layout(const dl_model *m, int32_t R, int32_t K, void *base, fwd_bufs *b) {
    const dl_hparams *hp = &m->hp;
    size_t E = (size_t)hp->n_embd, hd = (size_t)hp->head_dim, r = (size_t)R;
    size_t Dq = hd * (size_t)hp->n_head, Dkv = hd * (size_t)hp->n_head_kv;
    dl_arena a = { base, SIZE_MAX, 0 };
    memset(b, 0, sizeof *b);
    b->conv_cap = max_conv_floats(m, R);
    b->x = dl_arena_alloc(&a, dl_floats_bytes(r, E));
    b->xn = dl_arena_alloc(&a, dl_floats_bytes(r, E));
    b->rope_cs = dl_arena_alloc(&a, dl_floats_bytes(r, hd));
    b->vec = dl_arena_alloc(&a, dl_floats_bytes(DL_MAX(DL_MAX(E, (size_t)hp->n_expert),
                                                       DL_MAX(Dq, Dkv)), 1));
    b->conv = dl_arena_alloc(&a, dl_floats_bytes(b->conv_cap, 1));
    b->pos = dl_arena_alloc(&a, dl_floats_bytes(r, 1));   /* int32_t is float-sized */
    size_t phase = a.used;
    b->q = dl_arena_alloc(&a, dl_floats_bytes(r, Dq));
    b->k = dl_arena_alloc(&a, dl_floats_bytes(r, Dkv));
    b->v = dl_arena_alloc(&a, dl_floats_bytes(r, Dkv));
    b->att = dl_arena_alloc(&a, dl_floats_bytes(r, Dq));
    b->scores = dl_arena_alloc(&a, dl_floats_bytes((size_t)attn_slots(m), attn_slot_floats(m, K)));
    size_t attn_end = a.used;
    a.used = attn_end == SIZE_MAX ? SIZE_MAX : phase;
    b->gate = dl_arena_alloc(&a, dl_floats_bytes(r, (size_t)hp->n_ff));
    b->up = dl_arena_alloc(&a, dl_floats_bytes(r, (size_t)hp->n_ff));
    if (m->arch->ffn == DL_FFN_MOE) {
        /* the worst-case routing: every row to k experts, one expert holding every row */
        dl_moe_acts *mo = &b->moe;
        size_t X = (size_t)hp->n_expert, k = (size_t)hp->n_expert_used;
        size_t P = r + DL_ROW_GROUP, F = (size_t)DL_MAX(hp->n_ff_exp, hp->n_ff_shexp);
        mo->logits = dl_arena_alloc(&a, dl_floats_bytes(r, X));
        mo->ids = dl_arena_alloc(&a, dl_floats_bytes(r, k));     /* int32_t is float-sized */
        mo->w = dl_arena_alloc(&a, dl_floats_bytes(r, k));
        mo->start = dl_arena_alloc(&a, dl_floats_bytes(X + 1, 1));
        mo->cursor = dl_arena_alloc(&a, dl_floats_bytes(X, 1));
        mo->rows = dl_arena_alloc(&a, dl_floats_bytes(r, k));
        mo->rw = dl_arena_alloc(&a, dl_floats_bytes(r, k));
        mo->route = dl_arena_alloc(&a, dl_floats_bytes(X + (size_t)hp->n_group, 2));  /* doubles */
        mo->xg = dl_arena_alloc(&a, dl_floats_bytes(P, E));
        mo->g = dl_arena_alloc(&a, dl_floats_bytes(P, F));
        mo->u = dl_arena_alloc(&a, dl_floats_bytes(P, F));
        mo->y = dl_arena_alloc(&a, dl_floats_bytes(P, E));
        mo->acc = dl_arena_alloc(&a, dl_floats_bytes(r, E));
    }
    return DL_MAX(a.used, attn_end);
}

size_t dl_model_scratch_size(const dl_model *m, int32_t max_tokens) {
    fwd_bufs b;
    if (max_tokens < 1)
        max_tokens = 1;
    return fwd_layout(m, max_tokens, max_tokens, NULL, &b);
}

/* --- the layers (layers.c), with their products on dl_weight_matmul */

typedef struct fwd_linear {
    float *conv;
    size_t cap;
    dl_pool *pool;
    int nt;
    const int32_t *seg_start;   /* a batch's canvases (NULL: one), as dl_exec's */
    int n_seg;
    int precision;              /* the model's (enum dl_precision) */
} fwd_linear;

static void fwd_linear_fn(void *ctx, float *out, const float *x, const dl_weight *w,
                          const float *bias, int accumulate, int row_groups, int n) {
    const fwd_linear *l = ctx;
    if (dl_weight_bf16(w, l->precision)) {
        /* rows computed on their own: batches and row groups need nothing more */
        dl_weight_matmul_bf16(out, x, w, bias, accumulate, n, (int)w->ne1, l->conv, l->cap,
                              l->pool, l->nt);
        return;
    }
    if (l->seg_start && !row_groups && !dl_weight_rows_independent(w)) {
        /* a product whose rows depend on each other runs per canvas of the batch, so each
         * canvas gets the bits of its own pass (and loses the shared weight reads) */
        for (int s = 0; s < l->n_seg; s++) {
            size_t r0 = (size_t)l->seg_start[s];
            dl_weight_matmul(out + r0 * (size_t)w->ne1, x + r0 * (size_t)w->ne0, w, bias,
                             accumulate, l->seg_start[s + 1] - l->seg_start[s], (int)w->ne1,
                             0, l->conv, l->cap, l->pool, l->nt);
        }
        return;
    }
    dl_weight_matmul(out, x, w, bias, accumulate, n, (int)w->ne1, row_groups, l->conv, l->cap,
                     l->pool, l->nt);
}

/* Rows per elementwise task: the SwiGLU's tasks, whose shape decides its rounding. */
#define SILU_ROWS 8

/* The feed-forward sub-layer of each kind (enum dl_ffn_kind), as layers.c has them.
 * dl_arch_check refuses a row whose kind has no entry here, so a loaded model never
 * reaches a NULL. */
typedef void (*ffn_fn)(const dl_exec *ex, float *x_out, const dl_ffn_acts *a, const float *x,
                       const dl_layer *L, const dl_hparams *hp, int R);
static const ffn_fn k_ffn[DL_FFN_KINDS] = {
    [DL_FFN_DENSE] = dl_layer_ffn,
    [DL_FFN_MOE] = dl_layer_moe,
};

/* Layer il's kind: an MoE row's dense lead layers are dense. */
static ffn_fn layer_ffn(const dl_model *m, int il) {
    return k_ffn[il < m->hp.n_dense_lead ? DL_FFN_DENSE : m->arch->ffn];
}

/* --- a pass */

/* The dimensions RoPE turns per head: n_rot (0 in hand-made hparams: the whole head). */
static int rope_width(const dl_hparams *hp) {
    return hp->n_rot > 0 && hp->n_rot < hp->head_dim ? hp->n_rot : hp->head_dim;
}

/* The cancel flag is written with __atomic_store_n from any thread (difflm_cancel,
 * lib/ctx/ctx_calls.c); a plain or volatile read of it would be a data race. */
static int cancelled(const int *cancel) {
    return cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED);
}

int dl_model_pass(const dl_model *m, void *scratch, const dl_pass *p, float *hidden,
                  const int *cancel, dl_err *err) {
    const dl_hparams *hp = &m->hp;
    if (p->n_tokens < 1 || p->n_rows < 1 || p->row0 < 0 || p->row0 > p->n_tokens - p->n_rows)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "forward: rows [%d, %d) of a canvas of %d",
                       p->row0, p->row0 + p->n_rows, p->n_tokens);
    if (!p->kv && (p->row0 != 0 || p->n_rows != p->n_tokens))
        return dl_fail(err, DIFFLM_E_INVALID_ARG,
                       "forward: a pass without a KV cache must run every row");
    if (p->kv && (p->n_tokens > p->kv->max_tokens || p->n_fresh < 0 || p->fresh0 < p->row0 ||
                  p->fresh0 + p->n_fresh > p->row0 + p->n_rows))
        return dl_fail(err, DIFFLM_E_INVALID_ARG,
                       "forward: fresh K/V rows [%d, %d) outside the computed rows [%d, %d) "
                       "or a canvas of %d past the cache's %d", p->fresh0,
                       p->fresh0 + p->n_fresh, p->row0, p->row0 + p->n_rows, p->n_tokens,
                       p->kv->max_tokens);
    for (int32_t t = p->row0; t < p->row0 + p->n_rows; t++)
        if (p->tokens[t] < 0 || p->tokens[t] >= hp->n_vocab)
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "token %d at position %d is outside the "
                           "vocabulary [0, %d)", p->tokens[t], t, hp->n_vocab);
    const int nt = m->n_threads < 1 ? 1 : m->n_threads;

    fwd_bufs b;
    const int R = p->n_rows, E = hp->n_embd;
    fwd_layout(m, R, p->kv ? p->n_tokens : R, scratch, &b);
    fwd_linear lin = { b.conv, b.conv_cap, m->pool, nt, NULL, 0, m->precision };
    const dl_exec ex = { m->pool, nt, fwd_linear_fn, &lin, b.vec, SILU_ROWS, NULL, 0 };
    dl_layer_embed(b.x, &m->tok_embd, p->tokens + p->row0, R);
    for (int t = 0; t < R; t++)
        b.pos[t] = p->row0 + t;   // absolute positions: a cached pass rotates as a full one
    dl_rope_table(b.rope_cs, b.pos, hp->rope_theta, R, rope_width(hp));

    /* one sequence: the rows, attending over themselves or over the cache's n_tokens */
    const int n_kv = p->kv ? p->n_tokens : R;
    const dl_attn_seq seq = { 0, R, 0, n_kv };
    const dl_attn_acts aa = { b.xn, b.q, b.k, b.v, b.att };
    const dl_ffn_acts fa = { b.xn, b.gate, b.up, b.gate, &b.moe };
    const size_t layer_kv = p->kv ? (size_t)p->kv->max_tokens * (size_t)p->kv->dkv : 0;
    for (int il = 0; il < hp->n_layer; il++) {
        if (cancelled(cancel))
            return dl_fail(err, DIFFLM_E_CANCELLED, "forward cancelled before layer %d", il);
        const dl_layer *L = &m->layers[il];
        dl_attn_cache cache;
        if (p->kv)
            cache = (dl_attn_cache){ p->kv->k + (size_t)il * layer_kv,
                                     p->kv->v + (size_t)il * layer_kv, p->fresh0 - p->row0,
                                     p->fresh0, p->n_fresh };
        /* every row attends to every key, or under a block-causal model (a block length
         * in the file) to the keys of its own and earlier blocks; rows sit at their
         * absolute positions, so a cached pass tiles a block as the full pass does */
        const dl_attn_plan plan = { &seq, 1, ATTN_QB, p->kv ? &cache : NULL, b.scores,
                                    attn_slot_floats(m, n_kv), 0, attn_slots(m),
                                    hp->block_length, p->row0 };
        dl_layer_attention(&ex, b.x, &aa, b.x, L, hp, b.rope_cs, &plan, R);
        layer_ffn(m, il)(&ex, b.x, &fa, b.x, L, hp, R);
    }
    if (cancelled(cancel))
        return dl_fail(err, DIFFLM_E_CANCELLED, "forward cancelled before the final norm");
    dl_layer_norm(&ex, hidden, b.x, &m->output_norm, hp->rms_eps, R, E);
    return 0;
}

int dl_model_forward(const dl_model *m, void *scratch, const int32_t *tokens, int32_t n_tokens,
                     float *hidden, const int *cancel, dl_err *err) {
    dl_pass p = { tokens, n_tokens, 0, n_tokens, NULL, 0, 0 };
    return dl_model_pass(m, scratch, &p, hidden, cancel, err);
}

/* --- a batch of canvases */

size_t dl_model_batch_scratch_size(const dl_model *m, int32_t max_rows, int32_t max_tokens) {
    fwd_bufs b;
    return fwd_layout(m, DL_MAX(max_rows, 1), DL_MAX(max_tokens, 1), NULL, &b);
}

int dl_model_forward_batch(const dl_model *m, void *scratch, const dl_canvas_seg *segs,
                           int32_t n_seg, float *hidden, const int *cancel, dl_err *err) {
    const dl_hparams *hp = &m->hp;
    if (n_seg < 1 || n_seg > DL_MAX_BATCH)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "forward: %d canvases (1 .. %d)", n_seg,
                       DL_MAX_BATCH);
    int32_t start[DL_MAX_BATCH + 1];
    dl_attn_seq seqs[DL_MAX_BATCH];
    int32_t R = 0, longest = 0;
    for (int32_t s = 0; s < n_seg; s++) {
        int32_t n = segs[s].n_tokens;
        if (n < 1 || n > INT32_MAX - R)
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "forward: canvas %d has %d tokens", s, n);
        for (int32_t t = 0; t < n; t++)
            if (segs[s].tokens[t] < 0 || segs[s].tokens[t] >= hp->n_vocab)
                return dl_fail(err, DIFFLM_E_INVALID_ARG, "token %d at position %d of canvas %d "
                               "is outside the vocabulary [0, %d)", segs[s].tokens[t], t, s,
                               hp->n_vocab);
        start[s] = R;
        seqs[s] = (dl_attn_seq){ R, n, R, n };   /* its own rows as queries and keys */
        R += n;
        longest = DL_MAX(longest, n);
    }
    start[n_seg] = R;
    const int nt = m->n_threads < 1 ? 1 : m->n_threads;
    const int E = hp->n_embd;

    fwd_bufs b;
    fwd_layout(m, R, longest, scratch, &b);
    fwd_linear lin = { b.conv, b.conv_cap, m->pool, nt, start, n_seg, m->precision };
    const dl_exec ex = { m->pool, nt, fwd_linear_fn, &lin, b.vec, SILU_ROWS, start, n_seg };
    for (int32_t s = 0; s < n_seg; s++) {
        dl_layer_embed(b.x + (size_t)start[s] * E, &m->tok_embd, segs[s].tokens, segs[s].n_tokens);
        for (int32_t t = 0; t < segs[s].n_tokens; t++)
            b.pos[start[s] + t] = t;   // every canvas starts at position 0
    }
    dl_rope_table(b.rope_cs, b.pos, hp->rope_theta, R, rope_width(hp));

    const dl_attn_acts aa = { b.xn, b.q, b.k, b.v, b.att };
    const dl_ffn_acts fa = { b.xn, b.gate, b.up, b.gate, &b.moe };
    /* the score slots are sized for the longest canvas, each task's block of one canvas */
    const dl_attn_plan plan = { seqs, n_seg, ATTN_QB, NULL, b.scores,
                                attn_slot_floats(m, longest), 0, attn_slots(m),
                                hp->block_length, 0 };
    for (int il = 0; il < hp->n_layer; il++) {
        if (cancelled(cancel))
            return dl_fail(err, DIFFLM_E_CANCELLED, "forward cancelled before layer %d", il);
        const dl_layer *L = &m->layers[il];
        dl_layer_attention(&ex, b.x, &aa, b.x, L, hp, b.rope_cs, &plan, R);
        layer_ffn(m, il)(&ex, b.x, &fa, b.x, L, hp, R);
    }
    if (cancelled(cancel))
        return dl_fail(err, DIFFLM_E_CANCELLED, "forward cancelled before the final norm");
    dl_layer_norm(&ex, hidden, b.x, &m->output_norm, hp->rms_eps, R, E);
    return 0;
}

/* --- output head */

typedef struct head_bufs {
    float *rows;     /* [roundup(n_rows, DL_ROW_GROUP)][E] gathered hidden rows, zero padded */
    float *conv;     /* [conv_cap] head rows widened to f32 */
    float *bias;     /* [n_vocab] output.bias widened, when it is not F32 */
    size_t conv_cap;
} head_bufs;

static const dl_weight *head_weight(const dl_model *m) {
    return m->output.data ? &m->output : &m->tok_embd;
}

static size_t head_layout(const dl_model *m, int32_t n_rows, void *base, head_bufs *b) {
    dl_arena a = { base, SIZE_MAX, 0 };
    size_t padded = ((size_t)n_rows + DL_ROW_GROUP - 1) / DL_ROW_GROUP * DL_ROW_GROUP;
    b->conv_cap = product_floats(m, head_weight(m), (int32_t)padded);
    b->rows = dl_arena_alloc(&a, dl_floats_bytes(padded, (size_t)m->hp.n_embd));
    b->conv = dl_arena_alloc(&a, dl_floats_bytes(b->conv_cap, 1));
    int wide_bias = m->output_bias.data && m->output_bias.type != DL_TYPE_F32;
    b->bias = dl_arena_alloc(&a, wide_bias ? dl_floats_bytes((size_t)m->hp.n_vocab, 1) : 0);
    return a.used;
}

size_t dl_model_logits_scratch_size(const dl_model *m, int32_t max_rows) {
    head_bufs b;
    if (max_rows < 1)
        max_rows = 1;
    return head_layout(m, max_rows, NULL, &b);
}

void dl_model_logits(const dl_model *m, void *scratch, const float *hidden, const int32_t *rows,
                     int32_t n_rows, float *logits) {
    if (n_rows < 1)
        return;
    head_bufs b;
    head_layout(m, n_rows, scratch, &b);
    const int nt = m->n_threads < 1 ? 1 : m->n_threads;
    fwd_linear lin = { b.conv, b.conv_cap, m->pool, nt, NULL, 0, m->precision };
    const dl_exec ex = { m->pool, nt, fwd_linear_fn, &lin, NULL, SILU_ROWS, NULL, 0 };
    /* fixed groups of rows: a row's logits do not depend on which rows come with it */
    dl_layer_head(&ex, logits, b.rows, hidden, rows, n_rows, DL_ROW_GROUP, head_weight(m),
                  dl_weight_vec_f32(&m->output_bias, b.bias), m->hp.n_embd);
}

/* model_forward.c - one pass (doc/design.md), layer by layer, and the output head for
 * selected rows. What differs between architectures comes from the model's row
 * (arch.h): the RoPE layout, the biases (absent weights are NULL), the FFN kind. A pass runs all canvas rows (the plain forward) or, with a KV
 * cache, some of them against the cached keys and values of the rest (model_cache.c).
 * All activations live in the caller's scratch, laid out by one function that also
 * measures it, so size and use cannot drift apart. */
#include <string.h>

#include "fmt/ggml_types.h"
#include "kernels/kernels.h"
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
    float *scores;   /* [attn_slots][ATTN_QB][K] one query block's scores per thread */
    float *gate;     /* [R][F] (shares memory with q..scores: never live together) */
    float *up;       /* [R][F] */
    float *rope_cs;  /* [R][hd/2][2] */
    float *vec;      /* [max(E, Dq, Dkv)] a norm or bias vector widened to f32 */
    float *conv;     /* [conv_cap] weight rows widened to f32 */
    int32_t *pos;    /* [R] */
    size_t conv_cap;
} fwd_bufs;

static int attn_slots(const dl_model *m) {
    return DL_MAX(ATTN_SLOTS, m->n_threads);
}

/* n floats as bytes; SIZE_MAX (which no arena fits) on overflow. */
static size_t floats(size_t a, size_t b) {
    size_t n;
    if (dl_mul_size(a, b, &n) || dl_mul_size(n, sizeof(float), &n))
        return SIZE_MAX;
    return n;
}

/* The products' scratch for R rows: widened weights (OpenBLAS path) or the quantized
 * activations (quantized weights), the largest any layer needs. */
static size_t max_conv_floats(const dl_model *m, int32_t R) {
    size_t c = 0;
    for (int il = 0; il < m->hp.n_layer; il++) {
        const dl_layer *L = &m->layers[il];
        const dl_weight *ws[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down };
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            c = DL_MAX(c, dl_weight_scratch_floats(ws[i], R));
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
    b->x = dl_arena_alloc(&a, floats(r, E));
    b->xn = dl_arena_alloc(&a, floats(r, E));
    b->rope_cs = dl_arena_alloc(&a, floats(r, hd));
    b->vec = dl_arena_alloc(&a, floats(DL_MAX(E, DL_MAX(Dq, Dkv)), 1));
    b->conv = dl_arena_alloc(&a, floats(b->conv_cap, 1));
    b->pos = dl_arena_alloc(&a, floats(r, 1));   /* int32_t is float-sized */
    size_t phase = a.used;
    b->q = dl_arena_alloc(&a, floats(r, Dq));
    b->k = dl_arena_alloc(&a, floats(r, Dkv));
    b->v = dl_arena_alloc(&a, floats(r, Dkv));
    b->att = dl_arena_alloc(&a, floats(r, Dq));
    b->scores = dl_arena_alloc(&a, floats((size_t)attn_slots(m) * ATTN_QB, (size_t)K));
    size_t attn_end = a.used;
    a.used = attn_end == SIZE_MAX ? SIZE_MAX : phase;
    b->gate = dl_arena_alloc(&a, floats(r, (size_t)hp->n_ff));
    b->up = dl_arena_alloc(&a, floats(r, (size_t)hp->n_ff));
    return DL_MAX(a.used, attn_end);
}

size_t dl_model_scratch_size(const dl_model *m, int32_t max_tokens) {
    fwd_bufs b;
    if (max_tokens < 1)
        max_tokens = 1;
    return fwd_layout(m, max_tokens, max_tokens, NULL, &b);
}

/* --- parallel pieces of a layer */

typedef struct attn_job {
    float *out, *scores;
    const float *q, *k, *v;
    int n_q, n_kv, n_head, group, hd, n_blocks;
} attn_job;

static void attn_task(void *ctx, int task, int worker) {
    attn_job *j = ctx;
    int h = task / j->n_blocks, q0 = (task % j->n_blocks) * ATTN_QB;
    int nq = j->n_q - q0 < ATTN_QB ? j->n_q - q0 : ATTN_QB;
    int ldq = j->n_head * j->hd, ldkv = j->n_head / j->group * j->hd;
    size_t qoff = (size_t)q0 * ldq + (size_t)h * j->hd;
    size_t kvoff = (size_t)(h / j->group) * j->hd;
    dl_attention_head(j->out + qoff, j->scores + (size_t)worker * ATTN_QB * j->n_kv, j->q + qoff,
                      j->k + kvoff, j->v + kvoff, nq, j->n_kv, j->hd, ldq, ldkv);
}

typedef struct silu_job {
    float *gate;
    const float *up;
    int T, F;
} silu_job;

#define SILU_ROWS 8
static void silu_task(void *ctx, int task, int worker) {
    (void)worker;
    silu_job *j = ctx;
    int r0 = task * SILU_ROWS, nr = j->T - r0 < SILU_ROWS ? j->T - r0 : SILU_ROWS;
    size_t off = (size_t)r0 * j->F;
    dl_silu_mul(j->gate + off, j->gate + off, j->up + off, (size_t)nr * j->F);
}

/* --- one layer */

/* Attention sub-layer for the pass's R rows: x += attention(norm(x)) . Wo. The keys and
 * values attended over are the rows' own (kv_k == NULL: a plain pass) or a layer of a
 * cache ([K][Dkv], into which the fresh rows were just written).
 * Every row attends to every key (DL_MASK_BIDIRECTIONAL, the only mask kind with a
 * kernel so far; dl_arch_check refuses rows that name another). */
static void attention_block(const dl_model *m, const dl_layer *L, fwd_bufs *b, const dl_pass *p,
                            float *kv_k, float *kv_v, int nt) {
    const dl_hparams *hp = &m->hp;
    const int R = p->n_rows, E = hp->n_embd, hd = hp->head_dim;
    const int nh = hp->n_head, nkv = hp->n_head_kv, Dq = nh * hd, Dkv = nkv * hd;
    const int pairing = hp->rope_layout == DL_ROPE_HALF ? DL_ROPE_PAIR_HALF : DL_ROPE_PAIR_ADJACENT;

    dl_rmsnorm(b->xn, b->x, dl_weight_vec_f32(&L->attn_norm, b->vec), hp->rms_eps, R, E);
    /* each bias is widened into b->vec just before its product uses it */
    dl_weight_matmul(b->q, b->xn, &L->wq, dl_weight_vec_f32(&L->bq, b->vec), 0, R, Dq, 0,
                     b->conv, b->conv_cap, m->pool, nt);
    dl_weight_matmul(b->k, b->xn, &L->wk, dl_weight_vec_f32(&L->bk, b->vec), 0, R, Dkv, 0,
                     b->conv, b->conv_cap, m->pool, nt);
    dl_weight_matmul(b->v, b->xn, &L->wv, dl_weight_vec_f32(&L->bv, b->vec), 0, R, Dkv, 0,
                     b->conv, b->conv_cap, m->pool, nt);
    dl_rope(b->q, b->rope_cs, pairing, R, nh, hd);
    dl_rope(b->k, b->rope_cs, pairing, R, nkv, hd);

    const float *keys = b->k, *values = b->v;
    int n_kv = R;
    if (kv_k) {
        size_t off = (size_t)(p->fresh0 - p->row0) * Dkv, at = (size_t)p->fresh0 * Dkv;
        size_t bytes = (size_t)p->n_fresh * Dkv * sizeof(float);
        memcpy(kv_k + at, b->k + off, bytes);
        memcpy(kv_v + at, b->v + off, bytes);
        keys = kv_k;
        values = kv_v;
        n_kv = p->n_tokens;
    }
    attn_job aj = { b->att, b->scores, b->q, keys, values, R, n_kv, nh, nh / nkv, hd,
                    (R + ATTN_QB - 1) / ATTN_QB };
    /* score slots are per worker; a context sizes them for its pool, so the fallback (a
     * pool wider than the slots: threads started for the call) is for tools that change
     * n_threads after sizing the scratch */
    const int slots = attn_slots(m);
    dl_pool_for(dl_pool_threads(m->pool) <= slots ? m->pool : NULL, DL_MIN(nt, slots),
                nh * aj.n_blocks, attn_task, &aj);
    dl_weight_matmul(b->x, b->att, &L->wo, NULL, 1, R, E, 0, b->conv, b->conv_cap, m->pool, nt);
}

/* Dense feed-forward sub-layer: x += down(silu(gate . norm(x)) * (up . norm(x))). */
static void ffn_dense(const dl_model *m, const dl_layer *L, fwd_bufs *b, int R, int nt) {
    const dl_hparams *hp = &m->hp;
    const int E = hp->n_embd, F = hp->n_ff;
    silu_job sj = { b->gate, b->up, R, F };
    dl_rmsnorm(b->xn, b->x, dl_weight_vec_f32(&L->ffn_norm, b->vec), hp->rms_eps, R, E);
    dl_weight_matmul(b->gate, b->xn, &L->w_gate, NULL, 0, R, F, 0, b->conv, b->conv_cap,
                     m->pool, nt);
    dl_weight_matmul(b->up, b->xn, &L->w_up, NULL, 0, R, F, 0, b->conv, b->conv_cap,
                     m->pool, nt);
    dl_pool_for(m->pool, nt, (R + SILU_ROWS - 1) / SILU_ROWS, silu_task, &sj);
    dl_weight_matmul(b->x, b->gate, &L->w_down, NULL, 1, R, E, 0, b->conv, b->conv_cap,
                     m->pool, nt);
}

/* The feed-forward sub-layer of each kind (enum dl_ffn_kind). dl_arch_check refuses a
 * row whose kind has no entry here, so a loaded model never reaches a NULL. */
typedef void (*ffn_fn)(const dl_model *m, const dl_layer *L, fwd_bufs *b, int R, int nt);
static const ffn_fn k_ffn[DL_FFN_KINDS] = {
    [DL_FFN_DENSE] = ffn_dense,
};

/* --- a pass */

int dl_model_pass(const dl_model *m, void *scratch, const dl_pass *p, float *hidden,
                  const volatile int *cancel, dl_err *err) {
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
    for (int t = 0; t < R; t++) {
        dl_weight_rows_f32(b.x + (size_t)t * E, &m->tok_embd, p->tokens[p->row0 + t], 1);
        b.pos[t] = p->row0 + t;   // absolute positions: a cached pass rotates as a full one
    }
    dl_rope_table(b.rope_cs, b.pos, hp->rope_theta, R, hp->head_dim);

    const size_t layer_kv = p->kv ? (size_t)p->kv->max_tokens * (size_t)p->kv->dkv : 0;
    for (int il = 0; il < hp->n_layer; il++) {
        if (cancel && *cancel)
            return dl_fail(err, DIFFLM_E_CANCELLED, "forward cancelled before layer %d", il);
        const dl_layer *L = &m->layers[il];
        float *kv_k = p->kv ? p->kv->k + (size_t)il * layer_kv : NULL;
        float *kv_v = p->kv ? p->kv->v + (size_t)il * layer_kv : NULL;
        attention_block(m, L, &b, p, kv_k, kv_v, nt);
        k_ffn[m->arch->ffn](m, L, &b, R, nt);
    }
    if (cancel && *cancel)
        return dl_fail(err, DIFFLM_E_CANCELLED, "forward cancelled before the final norm");
    dl_rmsnorm(hidden, b.x, dl_weight_vec_f32(&m->output_norm, b.vec), hp->rms_eps, R, E);
    return 0;
}

int dl_model_forward(const dl_model *m, void *scratch, const int32_t *tokens, int32_t n_tokens,
                     float *hidden, const volatile int *cancel, dl_err *err) {
    dl_pass p = { tokens, n_tokens, 0, n_tokens, NULL, 0, 0 };
    return dl_model_pass(m, scratch, &p, hidden, cancel, err);
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
    b->conv_cap = dl_weight_scratch_floats(head_weight(m), (int32_t)padded);
    b->rows = dl_arena_alloc(&a, floats(padded, (size_t)m->hp.n_embd));
    b->conv = dl_arena_alloc(&a, floats(b->conv_cap, 1));
    int wide_bias = m->output_bias.data && m->output_bias.type != DL_TYPE_F32;
    b->bias = dl_arena_alloc(&a, wide_bias ? floats((size_t)m->hp.n_vocab, 1) : 0);
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
    const int E = m->hp.n_embd, V = m->hp.n_vocab;
    head_bufs b;
    head_layout(m, n_rows, scratch, &b);
    int padded = (n_rows + DL_ROW_GROUP - 1) / DL_ROW_GROUP * DL_ROW_GROUP;
    for (int32_t i = 0; i < n_rows; i++)
        memcpy(b.rows + (size_t)i * E, hidden + (size_t)rows[i] * E, (size_t)E * sizeof(float));
    memset(b.rows + (size_t)n_rows * E, 0, (size_t)(padded - n_rows) * E * sizeof(float));
    /* fixed groups of rows: a row's logits do not depend on which rows come with it */
    dl_weight_matmul(logits, b.rows, head_weight(m), dl_weight_vec_f32(&m->output_bias, b.bias),
                     0, n_rows, V, 1, b.conv, b.conv_cap, m->pool,
                     m->n_threads < 1 ? 1 : m->n_threads);
}

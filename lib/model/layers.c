/* layers.c - the forward layers that the inference pass and the trainer share
 * (layers.h). The naive twins of every kernel used here are in lib/kernels
 * (kernels_ref.c); the layers themselves are compositions, checked end to end against
 * tests/ref (inference) and against a double-precision model with finite differences
 * (tests/train). */
#include <string.h>

#include "kernels/attention_tiled.h"
#include "kernels/kernels.h"
#include "model/layer_rows.h"
#include "model/layers.h"
#include "model/model_weights.h"

void dl_layer_embed(float *x, const dl_weight *tok_embd, const int32_t *tokens, int R) {
    const size_t E = (size_t)tok_embd->ne0;
    for (int t = 0; t < R; t++)
        dl_weight_rows_f32(x + (size_t)t * E, tok_embd, tokens[t], 1);
}

/* --- elementwise tasks: fixed chunks of rows */

static void norm_task(void *ctx, int task, int worker) {
    (void)worker;
    const dl_rows_job *j = ctx;
    size_t o;
    int nr = dl_rows_job_rows(j, task, &o);
    dl_rmsnorm(j->out + o, j->in + o, j->w, j->eps, nr, j->C);
}

static void swiglu_task(void *ctx, int task, int worker) {
    (void)worker;
    const dl_rows_job *j = ctx;
    size_t o;
    int nr = dl_rows_job_rows(j, task, &o);
    /* silu_mul's vector body and scalar tail round differently, so the chunk (not the
     * thread count, nor the other canvases of a batch) decides which elements take
     * which: the caller fixes it */
    dl_silu_mul(j->out + o, j->in + o, j->in2 + o, (size_t)nr * (size_t)j->C);
}

static int n_chunks(const dl_exec *ex, int R) {
    if (!ex->seg_start)
        return (R + ex->row_chunk - 1) / ex->row_chunk;
    int n = 0;
    for (int s = 0; s < ex->n_seg; s++)
        n += (ex->seg_start[s + 1] - ex->seg_start[s] + ex->row_chunk - 1) / ex->row_chunk;
    return n;
}

void dl_layer_norm(const dl_exec *ex, float *out, const float *x, const dl_weight *w, float eps,
                   int R, int E) {
    /* rmsnorm is per row: any chunking gives the same bits, so it never starts threads */
    dl_rows_job j = { .out = out, .in = x, .w = dl_weight_vec_f32(w, ex->vec), .eps = eps, .R = R,
                   .C = E, .chunk = ex->row_chunk, .seg_start = ex->seg_start,
                   .n_seg = ex->n_seg };
    dl_pool_run(ex->pool, n_chunks(ex, R), norm_task, &j);
}

/* --- attention */

typedef struct attn_job {
    const dl_attn_plan *p;
    float *out;
    const float *q, *k, *v;
    int n_head, group, hd, n_blocks;
    int tiled;                  /* >= 0: the tiled kernel on this path; -1: scores */
} attn_job;

/* The block-causal mask's tile t of a sequence: tiles_per_block tiles per mask block
 * from the block holding q_pos0, each at most q_block queries from the block's start.
 * Sets *q0 (relative to the sequence), *nq and *n_k (the keys the tile may see);
 * returns 0 when the tile holds none of the sequence's queries. */
static int masked_tile(const dl_attn_plan *p, const dl_attn_seq *sq, int t, int *q0, int *nq,
                       int *n_k) {
    const int B = p->mask_block, per = (B + p->q_block - 1) / p->q_block;
    int64_t block = p->q_pos0 / B + t / per;
    int64_t lo = block * B + (int64_t)(t % per) * p->q_block;
    int64_t hi = DL_MIN(lo + p->q_block, (block + 1) * B);
    lo = DL_MAX(lo, (int64_t)p->q_pos0);
    hi = DL_MIN(hi, (int64_t)p->q_pos0 + sq->n_q);
    if (lo >= hi)
        return 0;
    *q0 = (int)(lo - p->q_pos0);
    *nq = (int)(hi - lo);
    *n_k = (int)DL_MIN((block + 1) * B, (int64_t)sq->n_k);
    return 1;
}

/* Tiles per sequence under the mask: enough for n_q queries from q_pos0. */
static int masked_tiles(const dl_attn_plan *p, int n_q) {
    const int B = p->mask_block, per = (B + p->q_block - 1) / p->q_block;
    int64_t first = p->q_pos0 / B, last = ((int64_t)p->q_pos0 + n_q - 1) / B;
    return (int)((last - first + 1) * per);
}

/* task = (sequence, query head, block of q_block queries) */
static void attn_task(void *ctx, int task, int worker) {
    const attn_job *j = ctx;
    const dl_attn_plan *p = j->p;
    int blk = task % j->n_blocks, h = task / j->n_blocks % j->n_head;
    int s = task / j->n_blocks / j->n_head;
    const dl_attn_seq *sq = &p->seqs[s];
    int q0 = blk * p->q_block, nq, n_k = sq->n_k;
    if (p->mask_block > 0) {
        if (!masked_tile(p, sq, blk, &q0, &nq, &n_k))
            return;
    } else {
        if (q0 >= sq->n_q)
            return;
        nq = sq->n_q - q0 < p->q_block ? sq->n_q - q0 : p->q_block;
    }
    int ldq = j->n_head * j->hd, ldkv = j->n_head / j->group * j->hd;
    size_t qo = (size_t)(sq->q0 + q0) * ldq + (size_t)h * j->hd;
    size_t ko = (size_t)sq->k0 * ldkv + (size_t)(h / j->group) * j->hd;
    if (j->tiled >= 0) {
        /* no scores kept: one pass over tiles of keys, the worker's score slot as its
         * work area. The kernel applies the same block-causal mask per query (absolute
         * position q_pos0 + q0 + i, keys from position 0); the tile lies in one mask
         * block, so its n_k keys are exactly what each of its queries sees */
        dl_attention_tiled_head(j->tiled, j->out + qo, p->probs + (size_t)worker * p->stride,
                                j->q + qo, j->k + ko, j->v + ko, nq, n_k, j->hd, ldq, ldkv,
                                p->mask_block > 0 ? p->mask_block : 0, p->q_pos0 + q0);
        return;
    }
    float *scores = p->keep ? p->probs + ((size_t)s * j->n_head + h) * p->stride + (size_t)q0 * sq->n_k
                            : p->probs + (size_t)worker * p->stride;
    dl_attention_head(j->out + qo, scores, j->q + qo, j->k + ko, j->v + ko, nq, n_k, j->hd,
                      ldq, ldkv);
}

void dl_layer_attention(const dl_exec *ex, float *x_out, const dl_attn_acts *a, const float *x,
                        const dl_layer *L, const dl_hparams *hp, const float *rope_cs,
                        const dl_attn_plan *p, int R) {
    const int E = hp->n_embd, hd = hp->head_dim, nh = hp->n_head, nkv = hp->n_head_kv;
    const int Dkv = nkv * hd;
    const int pairing = hp->rope_layout == DL_ROPE_HALF            ? DL_ROPE_PAIR_HALF
                      : hp->rope_layout == DL_ROPE_HALF_TO_PAIRS   ? DL_ROPE_PAIR_HALF_IN
                                                                   : DL_ROPE_PAIR_ADJACENT;
    void *lc = ex->linear_ctx;

    dl_layer_norm(ex, a->xn, x, &L->attn_norm, hp->rms_eps, R, E);
    /* each bias is widened into ex->vec just before its product uses it */
    ex->linear(lc, a->q, a->xn, &L->wq, dl_weight_vec_f32(&L->bq, ex->vec), 0, 0, R);
    ex->linear(lc, a->k, a->xn, &L->wk, dl_weight_vec_f32(&L->bk, ex->vec), 0, 0, R);
    ex->linear(lc, a->v, a->xn, &L->wv, dl_weight_vec_f32(&L->bv, ex->vec), 0, 0, R);
    /* QK norm (LLaDA-MoE, LLaDA2): RMSNorm over each head's dimensions, before RoPE;
     * per row, so serial costs nothing in bits */
    if (L->q_norm.data)
        dl_rmsnorm(a->q, a->q, dl_weight_vec_f32(&L->q_norm, ex->vec), hp->rms_eps, R * nh, hd);
    if (L->k_norm.data)
        dl_rmsnorm(a->k, a->k, dl_weight_vec_f32(&L->k_norm, ex->vec), hp->rms_eps, R * nkv, hd);
    dl_rope(a->q, rope_cs, pairing, R, nh, hd);
    dl_rope(a->k, rope_cs, pairing, R, nkv, hd);

    const float *keys = a->k, *values = a->v;
    if (p->cache) {
        const dl_attn_cache *c = p->cache;
        size_t bytes = (size_t)c->n * Dkv * sizeof(float);
        memcpy(c->k + (size_t)c->dst * Dkv, a->k + (size_t)c->src * Dkv, bytes);
        memcpy(c->v + (size_t)c->dst * Dkv, a->v + (size_t)c->src * Dkv, bytes);
        keys = c->k;
        values = c->v;
    }
    int max_q = 0;
    for (int s = 0; s < p->n_seq; s++)
        max_q = p->seqs[s].n_q > max_q ? p->seqs[s].n_q : max_q;
    /* inference (nothing kept) runs the tiled kernel; training needs the probabilities */
    int tiled = !p->keep && hd <= DL_ATTN_TILED_MAX_HD &&
                        p->stride >= dl_attention_tiled_work_floats(hd)
                    ? dl_attention_tiled_choice() : -1;
    attn_job j = { p, a->att, a->q, keys, values, nh, nh / nkv, hd,
                   p->mask_block > 0 && max_q > 0 ? masked_tiles(p, max_q)
                                                  : (max_q + p->q_block - 1) / p->q_block,
                   tiled };
    int n_tasks = p->n_seq * nh * j.n_blocks;
    if (p->keep)
        dl_pool_for(ex->pool, ex->n_threads, n_tasks, attn_task, &j);
    else   /* score slots are per worker; a pool wider than the slots (a tool that changed
            * n_threads after sizing the scratch) runs on threads started for the call */
        dl_pool_for(dl_pool_threads(ex->pool) <= p->max_workers ? ex->pool : NULL,
                    ex->n_threads < p->max_workers ? ex->n_threads : p->max_workers, n_tasks,
                    attn_task, &j);
    if (x_out != x)
        memcpy(x_out, x, (size_t)R * E * sizeof(float));
    ex->linear(lc, x_out, a->att, &L->wo, NULL, 1, 0, R);
}

/* --- feed-forward */

void dl_layer_ffn(const dl_exec *ex, float *x_out, const dl_ffn_acts *a, const float *x,
                  const dl_layer *L, const dl_hparams *hp, int R) {
    const int E = hp->n_embd, F = hp->n_ff;
    void *lc = ex->linear_ctx;
    dl_layer_norm(ex, a->xn, x, &L->ffn_norm, hp->rms_eps, R, E);
    ex->linear(lc, a->gate, a->xn, &L->w_gate, NULL, 0, 0, R);
    ex->linear(lc, a->up, a->xn, &L->w_up, NULL, 0, 0, R);
    dl_rows_job j = { .out = a->h, .in = a->gate, .in2 = a->up, .R = R, .C = F, .chunk = ex->row_chunk,
                   .seg_start = ex->seg_start, .n_seg = ex->n_seg };
    dl_pool_for(ex->pool, ex->n_threads, n_chunks(ex, R), swiglu_task, &j);
    if (x_out != x)
        memcpy(x_out, x, (size_t)R * E * sizeof(float));
    ex->linear(lc, x_out, a->h, &L->w_down, NULL, 1, 0, R);
}

/* --- output head */

void dl_layer_head(const dl_exec *ex, float *logits, float *gathered, const float *hidden,
                   const int32_t *rows, int n_rows, int group, const dl_weight *w,
                   const float *bias, int E) {
    if (n_rows < 1)
        return;
    const float *x = hidden;
    if (rows) {
        int padded = group > 1 ? (n_rows + group - 1) / group * group : n_rows;
        for (int i = 0; i < n_rows; i++)
            memcpy(gathered + (size_t)i * E, hidden + (size_t)rows[i] * E, (size_t)E * sizeof(float));
        memset(gathered + (size_t)n_rows * E, 0, (size_t)(padded - n_rows) * E * sizeof(float));
        x = gathered;
    }
    ex->linear(ex->linear_ctx, logits, x, w, bias, 0, group > 1, n_rows);
}

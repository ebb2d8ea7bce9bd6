/* ctx_score.c - difflm_score: LLaDA's Monte Carlo estimate of -log p(answer | prompt), an
 * upper bound on the model's negative log-likelihood (the negative ELBO), in the
 * context's arena.
 *
 * The sequence is prompt then answer (L tokens); the prompt is never masked. One
 * iteration draws k uniform in 1..L (dl_rng_below), gives row i of a batch of b the
 * stratified count m_i (dl_elbo_count), masks m_i answer positions chosen uniformly
 * (dl_elbo_choose), runs the model once per row and takes loss_i = (sum of cross-entropy
 * over the masked positions) * L / m_i, the 1/p_mask weighting with p_mask = m_i / L. The
 * estimate is the mean of loss_i over all rows of all iterations: in expectation
 *     sum_{m=1..L} (1/L) * (L/m) * E_{|S|=m}[ sum_{p in S} -log p_model(x_p | x with S masked) ].
 * Its variance is estimated from the iterations' means (the rows of one iteration are
 * not independent), or from the rows when there is one iteration.
 *
 * Shifted logits (Dream): position p is predicted from output row p-1, so the answer
 * needs at least one prompt token before it.
 *
 * The pieces it uses (the forward scratch, the hidden states, the head's scratch and
 * logits chunk, and the per-step canvas_un and pos buffers) are free between steps, so a
 * generation in progress is not disturbed (as with difflm_logits). */
#include <math.h>
#include <string.h>

#include "ctx/ctx.h"
#include "sample/elbo_draw.h"

static int cancelled(struct difflm_ctx *c) {
    return __atomic_load_n(&c->cancel, __ATOMIC_SEQ_CST) != 0;
}

/* One forward pass over noisy (the sequence with the answer positions idx[0..m) set to
 * the mask), the cross-entropy of the true tokens at those positions summed into *nll.
 * noisy: [n_prompt + L], restored to the clean sequence before returning. */
static int masked_nll(struct difflm_ctx *c, int32_t *noisy, int32_t n_prompt, int32_t L,
                      const int32_t *answer, const int32_t *idx, int32_t m, double *nll) {
    const int32_t n_vocab = c->model->hp.n_vocab, shift = c->model->hp.shift_logits ? 1 : 0;
    for (int32_t j = 0; j < m; j++)
        noisy[n_prompt + idx[j]] = c->mask_id;
    int rc = dl_model_forward(c->model, c->fwd_scratch, noisy, n_prompt + L, c->hidden,
                              &c->cancel, &c->err);
    for (int32_t j = 0; j < m; j++)
        noisy[n_prompt + idx[j]] = answer[idx[j]];
    if (rc != 0)
        return rc;
    double sum = 0.0;
    for (int32_t j0 = 0; j0 < m; j0 += c->logit_rows) {
        const int32_t nr = DL_MIN(c->logit_rows, m - j0);
        for (int32_t r = 0; r < nr; r++)
            c->rows[r] = n_prompt + idx[j0 + r] - shift;
        dl_model_logits(c->model, c->head_scratch, c->hidden, c->rows, nr, c->logits);
        for (int32_t r = 0; r < nr; r++)
            sum += dl_row_nll(c->logits + (size_t)r * (size_t)n_vocab, answer[idx[j0 + r]],
                              n_vocab);
    }
    *nll = sum;
    return 0;
}

/* Welford's running mean and sum of squared deviations. */
typedef struct running {
    int64_t n;
    double mean, m2;
} running;

static void running_add(running *r, double x) {
    r->n++;
    double d = x - r->mean;
    r->mean += d / (double)r->n;
    r->m2 += d * (x - r->mean);
}

static double running_var(const running *r) {   /* sample variance (n - 1) */
    return r->n >= 2 ? r->m2 / (double)(r->n - 1) : NAN;
}

/* The estimate, arguments checked. */
static int estimate(struct difflm_ctx *c, const int32_t *prompt, int32_t n_prompt,
                    const int32_t *answer, int32_t L, int32_t mc, int32_t batch, uint64_t seed,
                    double *nll, double *var) {
    int32_t *noisy = c->canvas_un, *idx = c->pos;   /* [max_canvas] each */
    memcpy(noisy, prompt, (size_t)n_prompt * sizeof *noisy);
    memcpy(noisy + n_prompt, answer, (size_t)L * sizeof *noisy);
    dl_rng rng;
    dl_rng_seed(&rng, seed);
    const int32_t n_iter = mc / batch;
    running rows = {0}, iters = {0};
    for (int32_t it = 0; it < n_iter; it++) {
        const int32_t k = 1 + (int32_t)dl_rng_below(&rng, (uint64_t)L);
        double iter_sum = 0.0;
        for (int32_t i = 0; i < batch; i++) {
            if (cancelled(c))
                return dl_fail(&c->err, DIFFLM_E_CANCELLED, "difflm_score cancelled after %d "
                               "of %d forward passes", (int)(it * batch + i), (int)mc);
            const int32_t m = dl_elbo_count(k, L, batch, i);
            dl_elbo_choose(idx, &rng, m, L);
            double ce;
            int rc = masked_nll(c, noisy, n_prompt, L, answer, idx, m, &ce);
            if (rc != 0)
                return rc;
            const double loss = ce * (double)L / (double)m;
            running_add(&rows, loss);
            iter_sum += loss;
        }
        running_add(&iters, iter_sum / (double)batch);
    }
    *nll = rows.mean;
    *var = n_iter >= 2 ? running_var(&iters) / (double)n_iter : running_var(&rows) / (double)batch;
    return 0;
}

/* A generation has begun and not completed: a cancel request is then its too. */
static int generation_unfinished(const struct difflm_ctx *c) {
    return c->have_canvas && !dl_sched_done(c->sched);
}

static int check_ids(struct difflm_ctx *c, const int32_t *ids, size_t n, const char *what) {
    const int32_t V = c->model->hp.n_vocab;
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return dl_fail(&c->err, DIFFLM_E_INVALID_ARG, "difflm_score: %s id %d at index %zu "
                           "is outside the vocabulary [0, %d)", what, ids[i], i, V);
    return 0;
}

int dl_ctx_score(struct difflm_ctx *c, const int32_t *prompt, size_t n_prompt,
                 const int32_t *ids, size_t n, const difflm_score_params *p,
                 difflm_score_result *out) {
    if (p->mc < 1 || p->batch < 1 || p->mc % p->batch != 0)
        return dl_fail(&c->err, DIFFLM_E_INVALID_ARG, "difflm_score: mc %d must be a positive "
                       "multiple of the batch %d (both >= 1)", (int)p->mc, (int)p->batch);
    if (n_prompt > (size_t)c->max_canvas || n > (size_t)c->max_canvas - n_prompt)
        return dl_fail(&c->err, DIFFLM_E_TOO_LONG, "difflm_score: prompt %zu + %zu tokens exceed "
                       "max_canvas %d", n_prompt, n, c->max_canvas);
    if (c->model->hp.shift_logits && n_prompt == 0 && n > 0)
        return dl_fail(&c->err, DIFFLM_E_INVALID_ARG, "difflm_score: a shifted-logits model "
                       "predicts position p from row p-1, so the text needs a prompt token "
                       "before it (BOS, or its own first token)");
    int rc = check_ids(c, prompt, n_prompt, "prompt");
    if (rc == 0)
        rc = check_ids(c, ids, n, "text");
    if (rc != 0)
        return rc;
    if (c->mask_id < 0 || c->mask_id >= c->model->hp.n_vocab)
        return dl_fail(&c->err, DIFFLM_E_UNSUPPORTED, "difflm_score: the model has no mask "
                       "token in its vocabulary");
    out->n_tokens = (int32_t)n;
    out->n_iter = p->mc / p->batch;
    if (n == 0) {   /* nothing to score: the empty answer is certain */
        out->nll = 0.0;
        out->var = 0.0;
        out->se = 0.0;
        return 0;
    }
    const int unfinished = generation_unfinished(c);
    double nll = 0.0, var = 0.0;
    rc = estimate(c, prompt, (int32_t)n_prompt, ids, (int32_t)n, p->mc, p->batch, p->seed, &nll,
                  &var);
    if (rc == DIFFLM_E_CANCELLED && !unfinished)
        __atomic_store_n(&c->cancel, 0, __ATOMIC_SEQ_CST);   /* the request is spent */
    if (rc != 0)
        return rc;
    out->nll = nll;
    out->var = var;
    out->se = sqrt(var);
    return 0;
}

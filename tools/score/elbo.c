/* elbo.c - LLaDA's Monte Carlo likelihood estimator over lib/model (see elbo.h). */
#include "elbo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "masks.h"
#include "strat.h"

/* Rows of logits per dl_model_logits call: bounds the buffer at large vocabularies. */
#define LOGITS_CHUNK 32

struct score_elbo {
    const dl_model *model;
    int32_t mask_id, max_tokens, max_batch;
    void *scratch;          /* dl_model_scratch_size(max_tokens) */
    void *lscratch;         /* dl_model_logits_scratch_size(LOGITS_CHUNK) */
    float *hidden;          /* [max_tokens][n_embd] */
    float *logits;          /* [LOGITS_CHUNK][n_vocab] */
    int32_t *rows;          /* [LOGITS_CHUNK] */
    int32_t *noisy;         /* [max_tokens] */
    int32_t *idx;           /* [max_tokens] */
    int32_t *counts;        /* [max_batch] */
};

void score_elbo_free(score_elbo *e) {
    if (!e)
        return;
    dl_aligned_free(e->scratch);
    dl_aligned_free(e->lscratch);
    dl_aligned_free(e->hidden);
    dl_aligned_free(e->logits);
    free(e->rows);
    free(e->noisy);
    free(e->idx);
    free(e->counts);
    free(e);
}

int score_elbo_create(score_elbo **out, const dl_model *m, int32_t mask_id, int32_t max_tokens,
                      int32_t max_batch, dl_err *err) {
    *out = NULL;
    if (!m || max_tokens < 1 || max_batch < 1)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "scorer: need a model, max_tokens >= 1 and "
                       "max_batch >= 1 (got %d, %d)", (int)max_tokens, (int)max_batch);
    if (mask_id < 0 || mask_id >= m->hp.n_vocab)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "scorer: mask id %d is outside the vocabulary "
                       "of %d", (int)mask_id, (int)m->hp.n_vocab);
    size_t n_hidden, n_logits;
    if (dl_mul_size((size_t)max_tokens, (size_t)m->hp.n_embd * sizeof(float), &n_hidden) ||
        dl_mul_size((size_t)LOGITS_CHUNK, (size_t)m->hp.n_vocab * sizeof(float), &n_logits))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "scorer: buffer sizes overflow for %d tokens",
                       (int)max_tokens);
    score_elbo *e = calloc(1, sizeof *e);
    if (!e)
        return dl_fail(err, DIFFLM_E_NOMEM, "scorer: out of memory");
    e->model = m;
    e->mask_id = mask_id;
    e->max_tokens = max_tokens;
    e->max_batch = max_batch;
    /* At least one line each: a zero-byte request may legitimately come back NULL. */
    e->scratch = dl_aligned_alloc(DL_MAX(dl_model_scratch_size(m, max_tokens), (size_t)DL_ALIGN));
    e->lscratch = dl_aligned_alloc(
        DL_MAX(dl_model_logits_scratch_size(m, LOGITS_CHUNK), (size_t)DL_ALIGN));
    e->hidden = dl_aligned_alloc(n_hidden);
    e->logits = dl_aligned_alloc(n_logits);
    e->rows = malloc(LOGITS_CHUNK * sizeof *e->rows);
    e->noisy = malloc((size_t)max_tokens * sizeof *e->noisy);
    e->idx = malloc((size_t)max_tokens * sizeof *e->idx);
    e->counts = malloc((size_t)max_batch * sizeof *e->counts);
    if (!e->scratch || !e->lscratch || !e->hidden || !e->logits || !e->rows || !e->noisy ||
        !e->idx || !e->counts) {
        score_elbo_free(e);
        return dl_fail(err, DIFFLM_E_NOMEM, "scorer: out of memory for %d tokens",
                       (int)max_tokens);
    }
    *out = e;
    return 0;
}

double score_row_nll(const float *logits, int32_t target, int32_t n_vocab) {
    double mx = -INFINITY;
    for (int32_t v = 0; v < n_vocab; v++) {
        if (isnan(logits[v]))
            return NAN;
        if (logits[v] > mx)
            mx = logits[v];
    }
    if (mx == -INFINITY)
        return INFINITY;
    double sum = 0.0;
    for (int32_t v = 0; v < n_vocab; v++)
        sum += exp((double)logits[v] - mx);
    return mx + log(sum) - (double)logits[target];
}

/* Checks a (prompt, answer) pair against the scorer's size and the model. */
static int check_sequence(const score_elbo *e, const int32_t *seq, int32_t n_prompt,
                          int32_t n_answer, dl_err *err) {
    const dl_hparams *hp = &e->model->hp;
    if (n_prompt < 0 || n_answer < 0 || (int64_t)n_prompt + n_answer > e->max_tokens)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "scorer: prompt %d + answer %d tokens do not "
                       "fit the scorer's %d", (int)n_prompt, (int)n_answer, (int)e->max_tokens);
    if (hp->shift_logits && n_prompt < 1 && n_answer > 0)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "scorer: a shifted-logits model predicts "
                       "position p from row p-1, so the answer needs a token before it");
    for (int32_t i = 0; i < n_prompt + n_answer; i++)
        if (seq[i] < 0 || seq[i] >= hp->n_vocab)
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "scorer: token %d at position %d is "
                           "outside the vocabulary of %d", (int)seq[i], (int)i, (int)hp->n_vocab);
    return 0;
}

/* The forward pass and cross-entropy sum, sequence already checked. */
static int masked_nll(score_elbo *e, const int32_t *seq, int32_t n_prompt, int32_t n_answer,
                      const int32_t *masked, int32_t m, double *nll, dl_err *err) {
    const dl_model *model = e->model;
    const int32_t n = n_prompt + n_answer, n_vocab = model->hp.n_vocab;
    const int32_t shift = model->hp.shift_logits ? 1 : 0;
    memcpy(e->noisy, seq, (size_t)n * sizeof *seq);
    for (int32_t j = 0; j < m; j++) {
        if (masked[j] < 0 || masked[j] >= n_answer)
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "scorer: masked index %d is outside the "
                           "answer of %d tokens", (int)masked[j], (int)n_answer);
        e->noisy[n_prompt + masked[j]] = e->mask_id;
    }
    int rc = dl_model_forward(model, e->scratch, e->noisy, n, e->hidden, NULL, err);
    if (rc != 0)
        return rc;
    double sum = 0.0;
    for (int32_t j0 = 0; j0 < m; j0 += LOGITS_CHUNK) {
        const int32_t nr = DL_MIN(LOGITS_CHUNK, m - j0);
        for (int32_t r = 0; r < nr; r++)
            e->rows[r] = n_prompt + masked[j0 + r] - shift;
        dl_model_logits(model, e->lscratch, e->hidden, e->rows, nr, e->logits);
        for (int32_t r = 0; r < nr; r++)
            sum += score_row_nll(e->logits + (size_t)r * (size_t)n_vocab,
                                 seq[n_prompt + masked[j0 + r]], n_vocab);
    }
    *nll = sum;
    return 0;
}

int score_masked_nll(score_elbo *e, const int32_t *seq, int32_t n_prompt, int32_t n_answer,
                     const int32_t *masked, int32_t m, double *nll, dl_err *err) {
    int rc = check_sequence(e, seq, n_prompt, n_answer, err);
    if (rc != 0)
        return rc;
    if (m < 0 || m > n_answer)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "scorer: %d masked positions in an answer of "
                       "%d", (int)m, (int)n_answer);
    return masked_nll(e, seq, n_prompt, n_answer, masked, m, nll, err);
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

int score_elbo_estimate(score_elbo *e, const int32_t *seq, int32_t n_prompt, int32_t n_answer,
                        int32_t mc, int32_t batch, dl_rng *rng, score_estimate *out, dl_err *err) {
    if (batch < 1 || batch > e->max_batch || mc < batch || mc % batch != 0)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "scorer: mc %d must be a positive multiple "
                       "of the batch %d (at most %d)", (int)mc, (int)batch, (int)e->max_batch);
    int rc = check_sequence(e, seq, n_prompt, n_answer, err);
    if (rc != 0)
        return rc;
    const int32_t L = n_answer, n_iter = mc / batch;
    out->n_iter = n_iter;
    if (L == 0) {
        out->nll = 0.0;
        out->var = 0.0;
        return 0;
    }
    running rows = {0}, iters = {0};
    for (int32_t it = 0; it < n_iter; it++) {
        const int32_t k = 1 + (int32_t)score_rng_below(rng, (uint64_t)L);
        score_strat_counts(e->counts, k, L, batch);
        double iter_sum = 0.0;
        for (int32_t i = 0; i < batch; i++) {
            const int32_t m = e->counts[i];
            score_choose_positions(e->idx, rng, m, L);
            double ce;
            rc = masked_nll(e, seq, n_prompt, n_answer, e->idx, m, &ce, err);
            if (rc != 0)
                return rc;
            const double loss = ce * (double)L / (double)m;
            running_add(&rows, loss);
            iter_sum += loss;
        }
        running_add(&iters, iter_sum / (double)batch);
    }
    out->nll = rows.mean;
    out->var = n_iter >= 2 ? running_var(&iters) / (double)n_iter
                           : running_var(&rows) / (double)batch;
    return 0;
}

/* elbo.h - LLaDA's Monte Carlo estimate of -log p(answer | prompt) (an ELBO bound).
 *
 * The sequence is prompt followed by answer (L tokens); the prompt is never masked. One
 * iteration draws k uniform in 1..L, gives row i of a batch of b the stratified count
 * m_i (strat.h), masks m_i answer positions chosen uniformly (masks.h), runs the model
 * once per row and takes loss_i = (sum of cross-entropy over the masked positions) *
 * L / m_i, the 1/p_mask weighting with p_mask = m_i / L. The estimate is the mean of
 * loss_i over all rows of all iterations: in expectation it equals
 *     sum_{m=1..L} (1/L) * (L/m) * E_{|S|=m}[ sum_{p in S} -log p_model(x_p | x with S masked) ],
 * the negative ELBO, an upper bound on the model's true NLL of the answer.
 *
 * Models with shifted logits (Dream) predict position p from output row p-1; the same
 * estimator then weights Dream's shifted predictions (Dream's own evaluation samples
 * p_mask per row instead, see doc/sampling.md, "Dream's estimator"). Such a sequence needs at
 * least one unmasked token (prompt) before the answer.
 *
 * Buffers are sized once at create time; estimating allocates nothing. */
#ifndef SCORE_ELBO_H
#define SCORE_ELBO_H

#include <stdint.h>

#include "difflm_internal.h"

typedef struct score_elbo score_elbo;

/* Sizes every buffer for sequences of up to max_tokens tokens and batches of up to
 * max_batch rows. mask_id must be a token of the model. m must outlive the scorer; its
 * n_threads is used as set by the caller. */
int score_elbo_create(score_elbo **out, const dl_model *m, int32_t mask_id, int32_t max_tokens,
                      int32_t max_batch, dl_err *err);
void score_elbo_free(score_elbo *e);   /* NULL is fine */

/* -log softmax(logits)[target] in double. logits: [n_vocab]. +inf when the row is all
 * -inf; NaN in, NaN out. */
double score_row_nll(const float *logits, int32_t target, int32_t n_vocab);

/* One forward pass over seq with the answer positions in `masked` replaced by the mask
 * token; *nll = sum over those positions of -log p(true token).
 *   seq: [n_prompt + n_answer] token ids;  masked: [m] indices into the answer (0-based),
 *   distinct. */
int score_masked_nll(score_elbo *e, const int32_t *seq, int32_t n_prompt, int32_t n_answer,
                     const int32_t *masked, int32_t m, double *nll, dl_err *err);

typedef struct score_estimate {
    double nll;         /* the estimate of -ELBO in nats (>= 0) */
    double var;         /* estimated variance of nll; NaN when one row is all there is */
    int32_t n_iter;     /* mc / batch */
} score_estimate;

/* mc forward passes in mc / batch iterations (mc a positive multiple of batch). Random
 * draws, in order, per iteration: k, then for each row its m_i positions. var: the
 * sample variance of the iteration means over n_iter when n_iter >= 2 (iterations are
 * independent); with one iteration, the sample variance of the rows / batch, which
 * treats the stratified rows as independent. L = 0 gives nll = var = 0. */
int score_elbo_estimate(score_elbo *e, const int32_t *seq, int32_t n_prompt, int32_t n_answer,
                        int32_t mc, int32_t batch, dl_rng *rng, score_estimate *out, dl_err *err);

#endif

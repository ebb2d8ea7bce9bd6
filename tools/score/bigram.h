/* bigram.h - the autoregressive baseline: a token bigram model with Witten-Bell
 * interpolation, counted and evaluated over the same windows the diffusion scorer uses.
 *
 *   p_uni(y)     = (c(y) + 1) / (N + V)                    add-one unigram over all V tokens
 *   p(y | x)     = (c(x,y) + T(x) * p_uni(y)) / (c(x) + T(x))     when c(x) > 0
 *                = p_uni(y)                                        otherwise
 * c(y): times y was predicted in training (N of them in all), c(x,y): times y followed
 * x, c(x) = sum_y c(x,y), T(x): distinct followers of x. Witten-Bell trusts a context in
 * proportion to how much it has been seen against how many different tokens follow it;
 * nothing is tuned. The first token of a window is predicted from the window's context
 * token (BOS), or, with none, from the unigram alone, as the diffusion model sees it. */
#ifndef SCORE_BIGRAM_H
#define SCORE_BIGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "score_err.h"
#include "corpus.h"

typedef struct score_bigram {
    int32_t n_vocab;
    size_t n_keys;
    uint64_t *keys;         /* [n_keys] sorted, (x << 32) | y */
    uint64_t *pair_count;   /* [n_keys] c(x,y) */
    uint64_t *ctx_count;    /* [n_vocab] c(x) */
    uint64_t *ctx_types;    /* [n_vocab] T(x) */
    uint64_t *uni;          /* [n_vocab] c(y) */
    uint64_t n_uni;         /* N */
} score_bigram;

/* Counts over the windows w of ids (every id in 0..n_vocab-1). ctx_id: the token before
 * each window (-1: none); a window that borrows its context (w->first) uses the stream
 * token before it instead. */
int score_bigram_train(score_bigram *b, const int32_t *ids, const score_windows *w,
                       int32_t ctx_id, int32_t n_vocab, score_err *err);
void score_bigram_free(score_bigram *b);   /* leaves *b empty; an empty one is fine */

/* p(y | x); x = -1 for no context. */
double score_bigram_prob(const score_bigram *b, int32_t x, int32_t y);

/* Sum over the windows' tokens of -ln p(token | previous), contexts as in training.
 * take: score only `take` windows spread evenly (score_window_pick, the scorer's choice
 * for --max-windows); 0 or >= w->count: all. *n_tokens: tokens scored. ids outside
 * 0..n_vocab-1 make it fail. */
int score_bigram_nll(const score_bigram *b, const int32_t *ids, const score_windows *w,
                     int32_t ctx_id, size_t take, double *nll, size_t *n_tokens, score_err *err);

#endif

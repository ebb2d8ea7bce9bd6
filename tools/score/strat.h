/* strat.h - the stratified mask counts of LLaDA's likelihood estimator.
 *
 * One Monte Carlo iteration scores a batch of b noisy copies of the same sequence. Rather
 * than drawing b independent mask counts, LLaDA draws one k uniform in 1..L and spreads
 * the batch evenly over the count range from there (systematic sampling): row i gets
 * round(k + i*L/b), wrapped into 1..L. Every row's count is still uniform on 1..L, so
 * the estimator stays unbiased, but a batch covers light and heavy masking alike. */
#ifndef SCORE_STRAT_H
#define SCORE_STRAT_H

#include <stdint.h>

/* counts: [b] out, each in 1..L.  k in 1..L, L >= 1, b >= 1.
 * counts[i] = ((round(k + i*L/b) - 1) mod L) + 1, the value k + i*L/b computed exactly
 * (integer arithmetic over the common denominator b) and ties rounded to even, as
 * torch.round does; LLaDA's code builds the same values with torch.linspace. */
void score_strat_counts(int32_t *counts, int32_t k, int32_t L, int32_t b);

#endif

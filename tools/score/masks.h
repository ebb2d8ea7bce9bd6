/* masks.h - uniform random choices for the estimator: a count and a set of positions. */
#ifndef SCORE_MASKS_H
#define SCORE_MASKS_H

#include <stdint.h>

#include "difflm_internal.h"

/* A uniform integer in [0, n), n >= 1, without modulo bias (rejection on 64 bits). */
uint64_t score_rng_below(dl_rng *rng, uint64_t n);

/* Chooses m of the L positions 0..L-1 uniformly (every m-subset equally likely) by the
 * first m steps of a Fisher-Yates shuffle, the prefix of a random permutation.
 *   idx: [L] scratch and out: idx[0..m) holds the chosen positions (in draw order).
 * 1 <= m <= L. Draws exactly m numbers from rng. */
void score_choose_positions(int32_t *idx, dl_rng *rng, int32_t m, int32_t L);

#endif

/* select.c - which candidates win a step: top-k by key (ties to the lower position), and
 * Gumbel keys for drawing positions without replacement (Dream's alg_temp). */
#include <stdlib.h>

#include "sched/plan.h"

static int keyed_cmp(const void *pa, const void *pb) {
    const dl_keyed *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key > b->key ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

void dl_rank_candidates(dl_keyed *ranked, const double *key, int32_t c) {
    for (int32_t i = 0; i < c; i++)
        ranked[i] = (dl_keyed){key[i], i};
    qsort(ranked, (size_t)c, sizeof *ranked, keyed_cmp);
}

void dl_gumbel_keys(double *key, const double *conf, float alg_temp, dl_rng *rng, int32_t c) {
    // The k largest of log-weight + Gumbel are a draw of k without replacement.
    for (int32_t i = 0; i < c; i++)
        key[i] = conf[i] / (double)alg_temp + dl_gumbel(dl_rng_uniform(rng));
}

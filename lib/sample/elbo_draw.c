/* elbo_draw.c - the estimator's draws and per-row loss (see elbo_draw.h). */
#include "sample/elbo_draw.h"

#include <math.h>

uint64_t dl_rng_below(dl_rng *rng, uint64_t n) {
    /* 2^64 mod n: draws below it would make the low residues more likely. */
    const uint64_t reject_below = (0 - n) % n;
    for (;;) {
        uint64_t x = dl_rng_next(rng);
        if (x >= reject_below)
            return x % n;
    }
}

void dl_elbo_choose(int32_t *idx, dl_rng *rng, int32_t m, int32_t L) {
    for (int32_t i = 0; i < L; i++)
        idx[i] = i;
    for (int32_t i = 0; i < m; i++) {
        int32_t j = i + (int32_t)dl_rng_below(rng, (uint64_t)(L - i));
        int32_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

/* round(num / den) with ties to even, for num >= 0 and den >= 1. */
static int64_t div_round_half_even(int64_t num, int64_t den) {
    int64_t q = num / den, r = num % den;
    if (2 * r > den || (2 * r == den && (q & 1)))
        q++;
    return q;
}

int32_t dl_elbo_count(int32_t k, int32_t L, int32_t b, int32_t i) {
    /* k + i*L/b = (k*b + i*L) / b; 64-bit because i*L reaches b*L. */
    int64_t v = div_round_half_even((int64_t)k * b + (int64_t)i * L, b);
    return (int32_t)((v - 1) % L + 1);
}

double dl_row_nll(const float *logits, int32_t target, int32_t n_vocab) {
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

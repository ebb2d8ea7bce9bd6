/* strat.c - stratified mask counts (see strat.h). */
#include "strat.h"

/* round(num / den) with ties to even, for num >= 0 and den >= 1. */
static int64_t div_round_half_even(int64_t num, int64_t den) {
    int64_t q = num / den, r = num % den;
    if (2 * r > den || (2 * r == den && (q & 1)))
        q++;
    return q;
}

void score_strat_counts(int32_t *counts, int32_t k, int32_t L, int32_t b) {
    for (int32_t i = 0; i < b; i++) {
        /* k + i*L/b = (k*b + i*L) / b; 64-bit because i*L reaches b*L. */
        int64_t v = div_round_half_even((int64_t)k * b + (int64_t)i * L, b);
        counts[i] = (int32_t)((v - 1) % L + 1);
    }
}

/* choose.c - picking a token from a row: argmax, or a Gumbel-max sample. */
#include <math.h>

#include "sample/sample.h"

int32_t dl_row_argmax(const float *x, int32_t n) {
    int32_t best = 0;
    for (int32_t v = 1; v < n; v++)
        if (x[v] > x[best])   // strict: the lowest index wins ties
            best = v;
    return best;
}

int32_t dl_row_sample_gumbel(const float *z, dl_rng *rng, int32_t n) {
    int32_t best = 0;
    double best_key = -INFINITY;
    for (int32_t v = 0; v < n; v++) {
        // Draw for every entry, dropped ones included, so the stream is filter-independent.
        double key = (double)z[v] + dl_gumbel(dl_rng_uniform(rng));
        if (key > best_key) {
            best_key = key;
            best = v;
        }
    }
    return best;
}

/* masks.c - unbiased bounded draws and random subsets (see masks.h). */
#include "masks.h"

uint64_t score_rng_below(dl_rng *rng, uint64_t n) {
    /* 2^64 mod n: draws below it would make the low residues more likely. */
    const uint64_t reject_below = (0 - n) % n;
    for (;;) {
        uint64_t x = dl_rng_next(rng);
        if (x >= reject_below)
            return x % n;
    }
}

void score_choose_positions(int32_t *idx, dl_rng *rng, int32_t m, int32_t L) {
    for (int32_t i = 0; i < L; i++)
        idx[i] = i;
    for (int32_t i = 0; i < m; i++) {
        int32_t j = i + (int32_t)score_rng_below(rng, (uint64_t)(L - i));
        int32_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

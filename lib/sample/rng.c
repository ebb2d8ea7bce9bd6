/* rng.c - the library's one pseudo-random generator family: splitmix64 (a single u64 of
 * state: the trainer's data and mask streams, the test-model writer's weights, and the
 * seeding of the next one) and the generation's stream, xoshiro256** seeded through
 * splitmix64. */
#include <math.h>

#include "sample/sample.h"

uint64_t dl_splitmix64_next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double dl_splitmix64_uniform(uint64_t *state) {
    return (double)(dl_splitmix64_next(state) >> 11) * 0x1p-53;
}

uint64_t dl_splitmix64_below(uint64_t *state, uint64_t n) {
    /* rejection keeps it exactly uniform; the loop almost never repeats */
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t r = dl_splitmix64_next(state);
        if (r < lim)
            return r % n;
    }
}

static inline uint64_t rotl64(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

void dl_rng_seed(dl_rng *rng, uint64_t seed) {
    // splitmix64 never yields four zero words in a row, so the state is never all zero.
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = dl_splitmix64_next(&sm);
}

uint64_t dl_rng_next(dl_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

double dl_uniform_from_bits(uint64_t bits) {
    // The half-step offset keeps u away from 0. At the top, 2^53 - 0.5 is not a double and
    // rounds up to 2^53, which would give u = 1 (Gumbel noise +inf): that one value is
    // replaced by the largest double below 1.
    double u = ((double)(bits >> 11) + 0.5) * 0x1p-53;
    return u < 1.0 ? u : 1.0 - 0x1p-53;
}

double dl_rng_uniform(dl_rng *rng) {
    return dl_uniform_from_bits(dl_rng_next(rng));
}

double dl_gumbel(double u) {
    return -log(-log(u));
}

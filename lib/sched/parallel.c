/* parallel.c - how many candidates a confidence-aware step commits (Fast-dLLM's
 * threshold and factor rules, doc/sampling.md, "Parallel decoding"), and where an early stop
 * may cut the canvas. Pure functions over ranked keys and token ids. */
#include "sched/plan.h"

int32_t dl_threshold_count(const dl_keyed *ranked, int32_t c, double threshold) {
    if (c <= 0)
        return 0;
    int32_t n = 1;   // the most confident candidate commits whatever its confidence
    while (n < c && ranked[n].key >= threshold)
        n++;
    return n;
}

int32_t dl_factor_count(const dl_keyed *ranked, int32_t c, double factor) {
    if (c <= 0)
        return 0;
    for (int32_t r = 2; r <= c; r++) {
        double need = 1.0 - factor / (double)(r + 1);
        if (ranked[r - 1].key < need)
            // Failing at the last rank still commits all c: the published code bumps
            // the count when its scan stops on the final index.
            return r == c ? c : r - 1;
    }
    return c;
}

int32_t dl_text_end(const int32_t *canvas, int32_t lo, int32_t hi, int32_t mask, int32_t eos,
                    int32_t eot) {
    for (int32_t i = lo; i < hi; i++) {
        int32_t t = canvas[i];
        if (t == mask)
            return -1;
        if ((eos >= 0 && t == eos) || (eot >= 0 && t == eot))
            return i;
    }
    return -1;
}

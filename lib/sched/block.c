/* block.c - the rules of the block diffusion schedule (LLaDA2.0 / 2.1, doc/sampling.md
 * "Block diffusion"): the per-block step counts, the threshold commit with its scheduled
 * minimum, and token editing. Pure functions; sched.c runs the state machine. */
#include "sched/plan.h"

int32_t dl_bd_block_steps(int32_t steps, int32_t n_blocks) {
    int32_t s = n_blocks > 0 ? steps / n_blocks : steps;
    return s > 0 ? s : 1;
}

int32_t dl_bd_scheduled(int32_t block_length, int32_t block_steps, int32_t j) {
    if (j >= block_steps)
        return block_length;
    return block_length / block_steps + (j < block_length % block_steps ? 1 : 0);
}

int32_t dl_bd_commit_count(const dl_keyed *ranked, int32_t c, int32_t scheduled,
                           double threshold) {
    int32_t high = 0;   // ranked is sorted: the candidates above the threshold come first
    while (high < c && ranked[high].key > threshold)
        high++;
    if (high >= scheduled)
        return high;
    return scheduled < c ? scheduled : c;
}

int dl_bd_edits(int32_t cur, int32_t x0, double conf, double threshold) {
    return threshold > 0.0 && x0 != cur && conf > threshold;
}

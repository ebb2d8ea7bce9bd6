/* embedding_backward.c - scatter-add of the gradient of looked-up rows. Rows are added
 * in token order, so repeated tokens always sum in the same order. */
#include "kernels/kernels_backward.h"

void dl_embedding_backward(float *dtable, const float *dout, const int32_t *tokens, int N, int C) {
    for (int n = 0; n < N; n++) {
        float *dr = dtable + (size_t)tokens[n] * C;
        const float *g = dout + (size_t)n * C;
        for (int c = 0; c < C; c++)
            dr[c] += g[c];
    }
}

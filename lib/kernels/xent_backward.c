/* xent_backward.c - softmax cross-entropy per row with its gradient. The normaliser is
 * summed in double: with a vocabulary of thousands, float sums lose the small terms. */
#include <math.h>

#include "kernels/kernels_backward.h"

void dl_xent_forward_backward(float *dlogits, float *loss, const float *logits,
                              const int32_t *targets, const float *dloss, int N, int V) {
    for (int n = 0; n < N; n++) {
        const float *lr = logits + (size_t)n * V;
        float *dr = dlogits + (size_t)n * V;
        float mx = lr[0];
        for (int v = 1; v < V; v++)
            mx = lr[v] > mx ? lr[v] : mx;
        double sum = 0.0;
        for (int v = 0; v < V; v++)
            sum += exp((double)lr[v] - mx);
        double lse = mx + log(sum);
        float target_logit = lr[targets[n]];
        loss[n] = (float)(lse - target_logit);
        float scale = (float)(dloss[n] / sum);
        for (int v = 0; v < V; v++)
            dr[v] = expf(lr[v] - mx) * scale;   /* lr[v] is read before dr[v] is written */
        dr[targets[n]] -= dloss[n];
    }
}

/* silu_mul_backward.c - backward of out = silu(g) * u. With s = sigmoid(g):
 * d silu(g)/dg = s (1 + g (1 - s)). */
#include <math.h>

#include "kernels/kernels_backward.h"

void dl_silu_mul_backward(float *dgate, float *dup, const float *dout, const float *gate,
                          const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], u = up[i], d = dout[i];
        float s = 1.0f / (1.0f + expf(-g));
        dgate[i] = d * u * s * (1.0f + g * (1.0f - s));
        dup[i] = d * g * s;
    }
}

/* rope_backward.c - backward of dl_rope: each pair (a, b) was rotated by +angle, so its
 * gradient is rotated by -angle (the transpose of a rotation is its inverse). */
#include "kernels/kernels.h"
#include "kernels/kernels_backward.h"

void dl_rope_backward(float *dx, const float *cs, int pairing, int T, int n_heads, int hd) {
    int half = hd / 2;
    int sa = pairing == DL_ROPE_PAIR_HALF ? 1 : 2;       /* as in dl_rope */
    int ob = pairing == DL_ROPE_PAIR_HALF ? half : 1;
    for (int t = 0; t < T; t++) {
        const float *row = cs + (size_t)t * half * 2;
        for (int h = 0; h < n_heads; h++) {
            float *v = dx + ((size_t)t * n_heads + h) * hd;
            for (int i = 0; i < half; i++) {
                float c = row[2 * i], s = row[2 * i + 1];
                float a = v[i * sa], b = v[i * sa + ob];
                v[i * sa] = a * c + b * s;
                v[i * sa + ob] = b * c - a * s;
            }
        }
    }
}

/* silu_mul_backward.c - backward of out = silu(g) * u. With s = sigmoid(g):
 * d silu(g)/dg = s (1 + g (1 - s)). */
#include <math.h>

#include "kernels/kernels_backward.h"
#include "kernels/vexp.h"

#if defined(__x86_64__) && defined(__GNUC__)
/* the same, 16 at a time; returns how many it did */
static DL_VEXP_T512 size_t silu_mul_backward_avx512(float *dgate, float *dup, const float *dout,
                                                    const float *gate, const float *up,
                                                    size_t n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 g = _mm512_loadu_ps(gate + i), u = _mm512_loadu_ps(up + i);
        __m512 d = _mm512_loadu_ps(dout + i);
        __m512 s = dl_sigmoid512(g);
        __m512 ds = _mm512_fmadd_ps(g, _mm512_sub_ps(one, s), one);   /* 1 + g (1 - s) */
        _mm512_storeu_ps(dgate + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(d, u), s), ds));
        _mm512_storeu_ps(dup + i, _mm512_mul_ps(_mm512_mul_ps(d, g), s));
    }
    return i;
}
#endif

void dl_silu_mul_backward(float *dgate, float *dup, const float *dout, const float *gate,
                          const float *up, size_t n) {
    size_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    if (dl_vexp_available())
        i = silu_mul_backward_avx512(dgate, dup, dout, gate, up, n);
#endif
    for (; i < n; i++) {
        float g = gate[i], u = up[i], d = dout[i];
        float s = 1.0f / (1.0f + expf(-g));
        dgate[i] = d * u * s * (1.0f + g * (1.0f - s));
        dup[i] = d * g * s;
    }
}

/* vexp.h - e^x on 16 float lanes (AVX-512), for the kernels that exponentiate many
 * values: the softmax of attention and SwiGLU's sigmoid, forward and backward. */
#ifndef DL_VEXP_H
#define DL_VEXP_H

#include "kernels/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* whether the CPU (and the own kernels' choice) allows the 16-lane path */
static inline int dl_vexp_available(void) {
    return (dl_cpu_features() & DL_CPU_AVX512DQ) && dl_fpath_available(DL_FPATH_AVX512);
}

#define DL_VEXP_T512 __attribute__((target("avx512f,avx512dq,fma")))

/* e^x for x <= 0 (a max-subtracted score, or -|g|), 16 lanes: x = n ln2 + r with |r| <= ln2/2
 * (ln2 split in two constants so r is exact to a float), e^r by its degree-7 Taylor
 * polynomial (error below 2e-8 relative on that interval), times 2^n by vscalefps,
 * which flushes to 0 below the float range. Within 2 ulp of expf. */
static inline DL_VEXP_T512 __m512 dl_exp512(__m512 x) {
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 ln2_hi = _mm512_set1_ps(0.693359375f), ln2_lo = _mm512_set1_ps(-2.12194440e-4f);
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, ln2_hi, x);
    r = _mm512_fnmadd_ps(n, ln2_lo, r);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* sigmoid(g) = 1 / (1 + e^-g) from e^-|g| (never overflows): 1 / (1 + e) for g >= 0,
 * e / (1 + e) below. */
static inline DL_VEXP_T512 __m512 dl_sigmoid512(__m512 g) {
    __m512 e = dl_exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(g)));
    __m512 d = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    __mmask16 neg = _mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_mul_ps(d, neg, e, d);
}
#endif

#endif

/* quant_fit.h - the scale searches several quantizers share (quant_fit.c): extremes of a
 * block, and the affine fit with packed 6-bit scales of Q4_K and Q5_K. */
#ifndef DL_QUANT_FIT_H
#define DL_QUANT_FIT_H

#include <stdint.h>

static inline int dl_qf_clampi(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* The value of largest magnitude, with its sign (the first one on ties).  x: [n] */
float dl_qf_signed_extreme(const float *x, int n);

/* Smallest and largest of x: [n]. */
void dl_qf_min_max(const float *x, int n, float *mn, float *mx);

/* One K super-block of 256 values as Q4_K (nmax 15) or Q5_K (nmax 31): writes the
 * block's head (d, dmin, the 12 bytes of packed scales and mins) and returns the
 * quants, re-rounded against the scales as stored.
 *   head: [16] out;  q: [256] out, each 0..nmax;  x: [256] */
void dl_qf_k_affine(uint8_t *head, int q[256], const float *x, int nmax);

#endif

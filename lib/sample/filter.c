/* filter.c - what the filtered distribution keeps: temperature, top-p, top-k. */
#include <math.h>
#include <stdlib.h>

#include "sample/sample.h"

void dl_row_clean(float *l, int32_t n) {
    for (int32_t v = 0; v < n; v++)
        if (isnan(l[v]))
            l[v] = -INFINITY;
}

void dl_row_temperature(float *z, const float *l, float temperature, int32_t n) {
    // Divide (not multiply by 1/T) so z is exactly the float32 quotient the spec names.
    if (temperature > 0.0f)
        for (int32_t v = 0; v < n; v++)
            z[v] = l[v] / temperature;
    else
        for (int32_t v = 0; v < n; v++)
            z[v] = l[v];
}

/* ---------------------------------------------------------------- top-p */

static int ranked_cmp(const void *pa, const void *pb) {
    const dl_ranked *a = pa, *b = pb;
    if (a->value != b->value)
        return a->value > b->value ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

static float row_max(const float *x, int32_t n) {
    float m = -INFINITY;
    for (int32_t v = 0; v < n; v++)
        if (x[v] > m)
            m = x[v];
    return m;
}

static double row_exp_sum(const float *x, double m, int32_t n) {
    double s = 0.0;
    for (int32_t v = 0; v < n; v++)
        s += exp((double)x[v] - m);
    return s;
}

/* Walks the sorted head r[0..c) summing softmax mass in order. Returns how many entries
 * of the head survive, or -1 when the head's whole mass stays <= top_p (the head is then
 * too short to tell where the cut falls). */
static int32_t nucleus_keep(const dl_ranked *r, int32_t c, double m, double sum, double top_p) {
    double cum = 0.0;
    for (int32_t j = 0; j < c; j++) {
        if (cum > top_p)
            return j;
        cum += exp((double)r[j].value - m) / sum;
    }
    return cum > top_p ? c : -1;
}

/* Drops every entry ranked after `last` in (value desc, id asc) order. */
static void drop_after(float *z, dl_ranked last, int32_t n) {
    for (int32_t v = 0; v < n; v++)
        if (z[v] < last.value || (z[v] == last.value && v > last.id))
            z[v] = -INFINITY;
}

void dl_row_top_p_naive(float *z, dl_ranked *scratch, float top_p, int32_t n) {
    float m = row_max(z, n);
    if (m == -INFINITY)
        return;
    double sum = row_exp_sum(z, m, n);
    for (int32_t v = 0; v < n; v++)
        scratch[v] = (dl_ranked){z[v], v};
    qsort(scratch, (size_t)n, sizeof *scratch, ranked_cmp);
    int32_t keep = nucleus_keep(scratch, n, m, sum, top_p);
    if (keep > 0)
        drop_after(z, scratch[keep - 1], n);
}

void dl_row_top_p(float *z, dl_ranked *scratch, float top_p, int32_t n) {
    float m = row_max(z, n);
    if (m == -INFINITY)
        return;
    double sum = row_exp_sum(z, m, n);
    // The survivors are a prefix of the sorted row, so sort only the entries whose
    // probability is at least tau; a value cut keeps ties together, which keeps the head a
    // prefix. Shrink tau until the head holds more than top_p of the mass.
    for (double tau = 0x1p-6;; tau *= 0x1p-6) {
        double cut = tau >= 0x1p-42 ? m + log(tau * sum) : -INFINITY;
        int32_t c = 0;
        for (int32_t v = 0; v < n; v++)
            if ((double)z[v] >= cut)
                scratch[c++] = (dl_ranked){z[v], v};
        qsort(scratch, (size_t)c, sizeof *scratch, ranked_cmp);
        int32_t keep = nucleus_keep(scratch, c, m, sum, top_p);
        if (keep > 0) {
            drop_after(z, scratch[keep - 1], n);
            return;
        }
        if (c == n)
            return;   // the whole row fits inside top_p: nothing is dropped
    }
}

/* ---------------------------------------------------------------- top-k */

static inline void swap_f(float *a, int32_t i, int32_t j) {
    float t = a[i];
    a[i] = a[j];
    a[j] = t;
}

static float median3(float a, float b, float c) {
    if (a > b) {
        float t = a;
        a = b;
        b = t;
    }
    // now a <= b
    if (c <= a)
        return a;
    return c < b ? c : b;
}

/* The value of rank k (0 = largest) of a[0..n); reorders a. Quickselect with a three-way
 * partition, so rows full of equal values (-inf columns) stay linear. */
static float kth_largest(float *a, int32_t n, int32_t k) {
    int32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = median3(a[lo], a[lo + (hi - lo) / 2], a[hi]);
        // [lo, lt) > pivot, [lt, i) == pivot, (gt, hi] < pivot
        int32_t lt = lo, i = lo, gt = hi;
        while (i <= gt) {
            if (a[i] > pivot)
                swap_f(a, lt++, i++);
            else if (a[i] < pivot)
                swap_f(a, i, gt--);
            else
                i++;
        }
        if (k < lt)
            hi = lt - 1;
        else if (k > gt)
            lo = gt + 1;
        else
            return pivot;
    }
    return a[lo];
}

static int float_desc_cmp(const void *pa, const void *pb) {
    float a = *(const float *)pa, b = *(const float *)pb;
    return (a < b) - (a > b);
}

static void drop_below(float *z, float kth, int32_t n) {
    for (int32_t v = 0; v < n; v++)
        if (z[v] < kth)
            z[v] = -INFINITY;
}

void dl_row_top_k(float *z, float *scratch, int32_t k, int32_t n) {
    if (k <= 0 || k >= n)
        return;
    for (int32_t v = 0; v < n; v++)
        scratch[v] = z[v];
    drop_below(z, kth_largest(scratch, n, k - 1), n);
}

void dl_row_top_k_naive(float *z, float *scratch, int32_t k, int32_t n) {
    if (k <= 0 || k >= n)
        return;
    for (int32_t v = 0; v < n; v++)
        scratch[v] = z[v];
    qsort(scratch, (size_t)n, sizeof *scratch, float_desc_cmp);
    drop_below(z, scratch[k - 1], n);
}

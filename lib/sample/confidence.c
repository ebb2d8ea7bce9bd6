/* confidence.c - how sure a row is, in double: softmax probability, top-2 margin,
 * negative entropy. A row that is all -inf has softmax 0 everywhere (no NaN). */
#include <math.h>

#include "sample/sample.h"

static double row_max_d(const float *x, int32_t n) {
    float m = -INFINITY;
    for (int32_t v = 0; v < n; v++)
        if (x[v] > m)
            m = x[v];
    return (double)m;
}

static double row_exp_sum_d(const float *x, double m, int32_t n) {
    double s = 0.0;
    for (int32_t v = 0; v < n; v++)
        s += exp((double)x[v] - m);
    return s;
}

double dl_row_softmax_at(const float *x, int32_t id, int32_t n) {
    double m = row_max_d(x, n);
    if (m == -INFINITY)
        return 0.0;
    return exp((double)x[id] - m) / row_exp_sum_d(x, m, n);
}

double dl_row_top2_margin(const float *x, int32_t n) {
    double m = row_max_d(x, n);
    if (m == -INFINITY)
        return 0.0;
    // The two largest entries, counted by position, so a tie for first gives margin 0.
    int32_t first = dl_row_argmax(x, n);
    float second = -INFINITY;
    for (int32_t v = 0; v < n; v++)
        if (v != first && x[v] > second)
            second = x[v];
    double sum = row_exp_sum_d(x, m, n);
    double q1 = exp((double)x[first] - m) / sum;
    double q2 = exp((double)second - m) / sum;
    return q1 - q2;
}

double dl_row_neg_entropy(const float *x, int32_t n) {
    double m = row_max_d(x, n);
    if (m == -INFINITY)
        return 0.0;
    double sum = row_exp_sum_d(x, m, n);
    double h = 0.0;
    for (int32_t v = 0; v < n; v++) {
        double q = exp((double)x[v] - m) / sum;
        h += q * log(q + 1e-10);
    }
    return h;
}

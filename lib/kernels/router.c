/* router.c - the MoE routers (router.h). Selection is k passes of an arg-max over the
 * candidates left (k <= a few dozen, n <= a few hundred): simple, and its tie rule is
 * plain to see. */
#include <math.h>
#include <stddef.h>

#include "kernels/router.h"

/* The index of the largest v[i] among i in [0, n) with taken[i] == 0 (ties: the lowest
 * index; NaN loses to every number), or -1 when none is left. */
static int argmax_free(const double *v, const unsigned char *taken, int n) {
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (taken[i])
            continue;
        if (best < 0 || v[i] > v[best] || (isnan(v[best]) && !isnan(v[i])))
            best = i;
    }
    return best;
}

/* The arg-max passes need a "taken" mark per candidate (the loader caps n_expert). */
#define MAX_MARKS DL_ROUTER_MAX_EXPERTS

static double sigmoid(float x) {
    return 1.0 / (1.0 + exp(-(double)x));
}

void dl_route_softmax_topk(int32_t *ids, float *w, const float *logits, int n, int k) {
    double v[MAX_MARKS];
    unsigned char taken[MAX_MARKS] = { 0 };
    double mx = -INFINITY;
    for (int i = 0; i < n; i++) {
        v[i] = logits[i];
        if (v[i] > mx)
            mx = v[i];
    }
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += isnan(v[i]) ? 0.0 : exp(v[i] - mx);
    for (int j = 0; j < k; j++) {
        int e = argmax_free(v, taken, n);
        taken[e] = 1;
        ids[j] = e;
        w[j] = isnan(v[e]) ? 0.0f : (float)(exp(v[e] - mx) / sum);
    }
}

void dl_route_sigmoid_group(int32_t *ids, float *w, double *scratch, const float *logits,
                            const float *bias, int n, int k, int n_group, int topk_group,
                            float scale) {
    double *b = scratch, *gs = scratch + n;
    unsigned char taken[MAX_MARKS] = { 0 };
    for (int i = 0; i < n; i++)
        b[i] = sigmoid(logits[i]) + (bias ? (double)bias[i] : 0.0);
    if (n_group > 1) {
        const int size = n / n_group;
        for (int g = 0; g < n_group; g++) {
            /* the group's two largest biased scores */
            int i1 = argmax_free(b + g * size, taken, size);
            double top1 = b[g * size + i1], top2 = -INFINITY;
            for (int i = 0; i < size; i++)
                if (i != i1 && (top2 == -INFINITY || b[g * size + i] > top2))
                    top2 = b[g * size + i];
            gs[g] = top1 + top2;
        }
        unsigned char keep[MAX_MARKS] = { 0 };
        for (int j = 0; j < topk_group; j++) {
            int g = argmax_free(gs, keep, n_group);
            keep[g] = 1;   /* marked: kept (and no longer a candidate for this loop) */
        }
        for (int i = 0; i < n; i++)
            taken[i] = !keep[i / size];   /* excluded groups' experts cannot be chosen */
    }
    double sum = 0.0;
    for (int j = 0; j < k; j++) {
        int e = argmax_free(b, taken, n);
        taken[e] = 1;
        ids[j] = e;
        sum += sigmoid(logits[e]);
    }
    for (int j = 0; j < k; j++) {
        /* the unbiased score, recomputed (b - bias would carry the bias's rounding) */
        double s = sigmoid(logits[ids[j]]);
        w[j] = (float)((k > 1 ? s / (sum + 1e-20) : s) * (double)scale);
    }
}

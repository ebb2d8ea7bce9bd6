/* adamw.c - the learning-rate schedule (linear warmup, cosine decay to a floor), the
 * global gradient norm for clipping, and the AdamW update with decoupled weight decay
 * on matrices only. */
#include <math.h>

#include "train.h"

float tr_lr_at(const tr_hyper *h, int64_t step) {
    if (h->warmup > 0 && step < h->warmup)
        return h->lr * (float)(step + 1) / (float)h->warmup;
    double span = (double)(h->steps - h->warmup);
    double prog = span > 0 ? (double)(step - h->warmup) / span : 1.0;
    prog = prog < 0 ? 0 : prog > 1 ? 1 : prog;
    double floor_lr = (double)h->lr * h->min_lr_frac;
    return (float)(floor_lr + ((double)h->lr - floor_lr) * 0.5 * (1.0 + cos(3.141592653589793 * prog)));
}

/* Sequential double sum: the same value whatever the thread count. */
double tr_grad_norm(const float *g, size_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += (double)g[i] * g[i];
        s1 += (double)g[i + 1] * g[i + 1];
        s2 += (double)g[i + 2] * g[i + 2];
        s3 += (double)g[i + 3] * g[i + 3];
    }
    for (; i < n; i++)
        s0 += (double)g[i] * g[i];
    return sqrt(s0 + s1 + s2 + s3);
}

/* p, m, v, g: [n] */
static void adamw_span(float *p, float *m, float *v, const float *g, size_t n, float lr,
                       float wd, float b1, float b2, float eps, float c1, float c2, float scale) {
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * scale;
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        float mh = m[i] / c1, vh = v[i] / c2;
        p[i] -= lr * (mh / (sqrtf(vh) + eps) + wd * p[i]);
    }
}

void tr_adamw_update(float *params, float *m, float *v, const float *grads,
                     const tr_config *c, const tr_hyper *h, float lr, float grad_scale,
                     int64_t t) {
    tr_tensor tab[TR_N_TENSORS(TR_MAX_LAYERS)];
    int n = tr_tensor_table(c, tab);
    float c1 = (float)(1.0 - pow((double)h->beta1, (double)t));
    float c2 = (float)(1.0 - pow((double)h->beta2, (double)t));
    for (int i = 0; i < n; i++) {
        size_t o = tab[i].offset, cnt = (size_t)(tab[i].ne0 * tab[i].ne1);
        adamw_span(params + o, m + o, v + o, grads + o, cnt, lr, tab[i].is_matrix ? h->wd : 0.0f,
                   h->beta1, h->beta2, h->adam_eps, c1, c2, grad_scale);
    }
}

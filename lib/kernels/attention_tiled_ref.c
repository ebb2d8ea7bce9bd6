/* attention_tiled_ref.c - the naive twin of the tiled attention (attention_tiled.h):
 * per query and head, every visible score in double, the maximum, then the exp, the sum
 * and the weighted values in double; no tiles, no online rescaling. */
#include <math.h>
#include <string.h>

#include "kernels/attention_tiled.h"

void dl_attention_tiled_ref(float *out, const float *q, const float *k, const float *v,
                            int n_q, int n_kv, int n_head, int n_head_kv, int hd, int block,
                            int q_pos) {
    if (n_q < 1 || n_kv < 1 || hd < 1 || hd > DL_ATTN_TILED_MAX_HD || n_head_kv < 1 ||
        n_head % n_head_kv != 0)
        return;
    int group = n_head / n_head_kv;
    double scale = 1.0 / sqrt((double)hd);
    double acc[DL_ATTN_TILED_MAX_HD];
    for (int h = 0; h < n_head; h++) {
        int g = h / group;
        for (int i = 0; i < n_q; i++) {
            long long lim = block > 0 ? ((long long)(q_pos + i) / block + 1) * block : n_kv;
            int nk = lim < n_kv ? (int)lim : n_kv;
            const float *qi = q + ((size_t)i * n_head + h) * hd;
            double mx = -INFINITY;
            for (int j = 0; j < nk; j++) {
                const float *kj = k + ((size_t)j * n_head_kv + g) * hd;
                double s = 0.0;
                for (int d = 0; d < hd; d++)
                    s += (double)qi[d] * kj[d];
                mx = s * scale > mx ? s * scale : mx;
            }
            double sum = 0.0;
            memset(acc, 0, sizeof acc);
            for (int j = 0; j < nk; j++) {
                const float *kj = k + ((size_t)j * n_head_kv + g) * hd;
                const float *vj = v + ((size_t)j * n_head_kv + g) * hd;
                double s = 0.0;
                for (int d = 0; d < hd; d++)
                    s += (double)qi[d] * kj[d];
                double p = exp(s * scale - mx);
                sum += p;
                for (int d = 0; d < hd; d++)
                    acc[d] += p * vj[d];
            }
            float *oi = out + ((size_t)i * n_head + h) * hd;
            for (int d = 0; d < hd; d++)
                oi[d] = (float)(acc[d] / sum);
        }
    }
}

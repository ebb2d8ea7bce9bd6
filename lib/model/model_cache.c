/* model_cache.c - the approximate KV caches of Fast-dLLM over dl_model_pass: where the
 * cache lives and which rows a cached step recomputes. The arithmetic is the pass's,
 * so a full pass that fills the cache is bitwise the plain forward. */
#include <string.h>

#include "model/model.h"

size_t dl_kv_cache_size(const dl_model *m, int32_t max_tokens) {
    size_t per_layer, n;
    size_t dkv = (size_t)m->hp.n_head_kv * (size_t)m->hp.head_dim;
    if (max_tokens < 1)
        max_tokens = 1;
    if (dl_mul_size((size_t)max_tokens, dkv, &per_layer) ||
        dl_mul_size(per_layer, (size_t)m->hp.n_layer, &n) ||
        dl_mul_size(n, 2 * sizeof(float), &n))
        return SIZE_MAX;
    return n;
}

void dl_kv_cache_bind(dl_kv_cache *kv, const dl_model *m, void *mem, int32_t max_tokens) {
    size_t dkv = (size_t)m->hp.n_head_kv * (size_t)m->hp.head_dim;
    size_t each = (size_t)max_tokens * dkv * (size_t)m->hp.n_layer;
    kv->k = mem;
    kv->v = kv->k ? kv->k + each : NULL;
    kv->max_tokens = max_tokens;
    kv->dkv = (int32_t)dkv;
}

int dl_model_forward_fill(const dl_model *m, void *scratch, const int32_t *tokens,
                          int32_t n_tokens, float *hidden, dl_kv_cache *kv,
                          const int *cancel, dl_err *err) {
    dl_pass p = { tokens, n_tokens, 0, n_tokens, kv, 0, n_tokens };
    return dl_model_pass(m, scratch, &p, hidden, cancel, err);
}

int dl_model_forward_cached(const dl_model *m, void *scratch, const int32_t *tokens,
                            int32_t n_tokens, int32_t row0, int32_t n_rows, float *hidden,
                            dl_kv_cache *kv, const int *cancel, dl_err *err) {
    if (!kv)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "cached forward without a cache");
    dl_pass p = { tokens, n_tokens, row0, n_rows, kv, row0, n_rows };
    return dl_model_pass(m, scratch, &p, hidden, cancel, err);
}

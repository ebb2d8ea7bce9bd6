/* hparams.c - the hyperparameter schema of a row (arch.h) read from and written to
 * GGUF metadata: the one place that knows which `{arch}.*` keys a model has, which are
 * optional and what they default to (doc/formats.md describes the files). */
#include <stdio.h>
#include <string.h>

#include "kernels/router.h"
#include "model/model.h"

/* Upper bound on every dimension: far above any model here, low enough that products
 * of two dimensions never overflow the int arithmetic of the kernels' strides. */
#define DL_MAX_DIM ((int64_t)1 << 24)

/* A u32 hyperparameter that converters may also write as a per-layer array; only
 * arrays whose entries are all equal (dense models) are accepted. */
static int get_dim(const dl_gguf *g, const char *key, int has_def, uint32_t def, int64_t *out,
                   dl_err *err) {
    int64_t idx = dl_gguf_find_key(g, key);
    if (idx >= 0 && dl_gguf_type_at(g, (size_t)idx) == DL_GGUF_ARRAY) {
        uint32_t et;
        uint64_t n;
        int rc = dl_gguf_get_arr(g, key, &et, &n, err);
        if (rc)
            return rc;
        if (n == 0)
            return dl_fail(err, DIFFLM_E_FORMAT, "key '%s' is an empty array", key);
        int64_t first = 0;
        for (uint64_t i = 0; i < n; i++) {
            int64_t v;
            rc = dl_gguf_arr_i64(g, key, i, &v, err);
            if (rc)
                return rc;
            if (i == 0)
                first = v;
            else if (v != first)
                return dl_fail(err, DIFFLM_E_UNSUPPORTED,
                               "key '%s' varies per layer (%lld at 0, %lld at %llu); only uniform "
                               "layers are supported", key, (long long)first, (long long)v,
                               (unsigned long long)i);
        }
        *out = first;
    } else {
        uint32_t v;
        int rc = has_def ? dl_gguf_get_u32_opt(g, key, def, &v, err) : dl_gguf_get_u32(g, key, &v, err);
        if (rc)
            return rc;
        *out = v;
    }
    if (*out < 1 || *out > DL_MAX_DIM)
        return dl_fail(err, DIFFLM_E_FORMAT, "key '%s' = %lld is out of range [1, %lld]", key,
                       (long long)*out, (long long)DL_MAX_DIM);
    return 0;
}

/* The experts' keys of an MoE row (llama.cpp's LLM_KV_EXPERT_*): counts, widths, the
 * router's groups and scale, the dense lead layers. Keys that name a router other than
 * the row's (gating function, weight normalisation) are refused rather than ignored. */
static int moe_read(dl_hparams *hp, const dl_arch *a, const dl_gguf *g, dl_err *err) {
    char key[128];
    int64_t v;
    uint32_t u;
    int rc;
#define KEY(k) dl_arch_key(a, k, key, sizeof key)
    if ((rc = get_dim(g, KEY(DL_KEY_EXPERT_COUNT), 0, 0, &v, err)))
        return rc;
    hp->n_expert = (int32_t)v;
    if (v > DL_ROUTER_MAX_EXPERTS)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s = %lld is above %d", key, (long long)v,
                       DL_ROUTER_MAX_EXPERTS);
    if ((rc = get_dim(g, KEY(DL_KEY_EXPERT_USED_COUNT), 0, 0, &v, err)))
        return rc;
    if (v > hp->n_expert)
        return dl_fail(err, DIFFLM_E_FORMAT, "%s = %lld is above expert_count %d", key,
                       (long long)v, hp->n_expert);
    hp->n_expert_used = (int32_t)v;
    /* llama.cpp's fallback when the width is absent: feed_forward_length / used experts */
    int has_ffe = dl_gguf_find_key(g, KEY(DL_KEY_EXPERT_FEED_FORWARD_LENGTH)) >= 0;
    if (!has_ffe && hp->n_ff < hp->n_expert_used)
        return dl_fail(err, DIFFLM_E_FORMAT, "%s is missing", key);
    if ((rc = get_dim(g, key, 1, (uint32_t)(hp->n_ff / hp->n_expert_used), &v, err)))
        return rc;
    hp->n_ff_exp = (int32_t)v;
    if ((rc = dl_gguf_get_u32_opt(g, KEY(DL_KEY_EXPERT_SHARED_COUNT), 0, &u, err)))
        return rc;
    if (u > 64)
        return dl_fail(err, DIFFLM_E_FORMAT, "%s = %u", key, u);
    hp->n_ff_shexp = 0;
    if (u > 0) {
        if ((rc = get_dim(g, KEY(DL_KEY_EXPERT_SHARED_FEED_FORWARD_LENGTH), 1,
                          u * (uint32_t)hp->n_ff_exp, &v, err)))
            return rc;
        hp->n_ff_shexp = (int32_t)v;
    }
    float scale;
    if ((rc = dl_gguf_get_f32_opt(g, KEY(DL_KEY_EXPERT_WEIGHTS_SCALE), 0.0f, &scale, err)))
        return rc;
    if (!(scale >= 0.0f && scale < 1e6f))
        return dl_fail(err, DIFFLM_E_FORMAT, "%s = %g", key, (double)scale);
    hp->routed_scale = scale == 0.0f ? 1.0f : scale;   /* llama.cpp: 0 means no scaling */
    const int sigmoid = a->router == DL_ROUTER_SIGMOID_GROUP;
    int norm;
    if ((rc = dl_gguf_get_bool_opt(g, KEY(DL_KEY_EXPERT_WEIGHTS_NORM), sigmoid, &norm, err)))
        return rc;
    if (norm != sigmoid)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s = %s: %s routers %s their weights", key,
                       norm ? "true" : "false", a->name, sigmoid ? "renormalise" : "do not renormalise");
    /* llama.cpp's LLAMA_EXPERT_GATING_FUNC_TYPE: 1 softmax, 2 sigmoid */
    if ((rc = dl_gguf_get_u32_opt(g, KEY(DL_KEY_EXPERT_GATING_FUNC), sigmoid ? 2u : 1u, &u, err)))
        return rc;
    if (u != (sigmoid ? 2u : 1u))
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s = %u: %s routes with %s (%u)", key, u,
                       a->name, sigmoid ? "sigmoid" : "softmax", sigmoid ? 2u : 1u);
    if ((rc = get_dim(g, KEY(DL_KEY_EXPERT_GROUP_COUNT), 1, 1, &v, err)))
        return rc;
    hp->n_group = (int32_t)v;
    if ((rc = get_dim(g, KEY(DL_KEY_EXPERT_GROUP_USED_COUNT), 1, (uint32_t)hp->n_group, &v, err)))
        return rc;
    hp->topk_group = (int32_t)v;
    if (hp->n_group > 1 && !sigmoid)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s routers have no expert groups", a->name);
    if (hp->n_expert % hp->n_group || hp->topk_group > hp->n_group ||
        (hp->n_group > 1 && hp->n_expert / hp->n_group < 2) ||
        (int64_t)hp->topk_group * (hp->n_expert / hp->n_group) < hp->n_expert_used)
        return dl_fail(err, DIFFLM_E_FORMAT, "%d experts in %d groups, %d groups kept, %d "
                       "experts used: inconsistent", hp->n_expert, hp->n_group, hp->topk_group,
                       hp->n_expert_used);
    if ((rc = dl_gguf_get_u32_opt(g, KEY(DL_KEY_LEADING_DENSE_BLOCK_COUNT), 0, &u, err)))
        return rc;
    if (u > (uint32_t)hp->n_layer)
        return dl_fail(err, DIFFLM_E_FORMAT, "%s = %u is above block_count %d", key, u, hp->n_layer);
    hp->n_dense_lead = (int32_t)u;
    if (hp->n_dense_lead > 0 && hp->n_ff < 1)
        return dl_fail(err, DIFFLM_E_FORMAT, "%s is missing (the dense lead layers need it)",
                       KEY(DL_KEY_FEED_FORWARD_LENGTH));
#undef KEY
    return 0;
}

int dl_hparams_read(dl_hparams *hp, const dl_arch *a, const dl_gguf *g, const dl_log *log,
                    dl_err *err) {
    const char *arch = a->name;
    char key[128];
    int64_t v;
    int rc;
    hp->arch = a->id;
#define KEY(k) dl_arch_key(a, k, key, sizeof key)
    if ((rc = get_dim(g, KEY(DL_KEY_EMBEDDING_LENGTH), 0, 0, &v, err)))
        return rc;
    hp->n_embd = (int32_t)v;
    if ((rc = get_dim(g, KEY(DL_KEY_BLOCK_COUNT), 0, 0, &v, err)))
        return rc;
    hp->n_layer = (int32_t)v;
    if (a->ffn == DL_FFN_MOE && dl_gguf_find_key(g, KEY(DL_KEY_FEED_FORWARD_LENGTH)) < 0) {
        hp->n_ff = 0;   /* only dense lead layers need it: moe_read checks */
    } else {
        if ((rc = get_dim(g, KEY(DL_KEY_FEED_FORWARD_LENGTH), 0, 0, &v, err)))
            return rc;
        hp->n_ff = (int32_t)v;
    }
    if ((rc = get_dim(g, KEY(DL_KEY_HEAD_COUNT), 0, 0, &v, err)))
        return rc;
    hp->n_head = (int32_t)v;
    if ((rc = get_dim(g, KEY(DL_KEY_HEAD_COUNT_KV), 1, (uint32_t)hp->n_head, &v, err)))
        return rc;
    hp->n_head_kv = (int32_t)v;
    if (hp->n_head % hp->n_head_kv != 0)
        return dl_fail(err, DIFFLM_E_FORMAT, "%s.attention.head_count %d is not a multiple of "
                       "head_count_kv %d", arch, hp->n_head, hp->n_head_kv);
    if (hp->n_embd % hp->n_head != 0 && dl_gguf_find_key(g, KEY(DL_KEY_KEY_LENGTH)) < 0)
        return dl_fail(err, DIFFLM_E_FORMAT, "%s.embedding_length %d is not a multiple of "
                       "head_count %d and no key_length is given", arch, hp->n_embd, hp->n_head);
    if ((rc = get_dim(g, KEY(DL_KEY_KEY_LENGTH), 1, (uint32_t)(hp->n_embd / hp->n_head), &v, err)))
        return rc;
    hp->head_dim = (int32_t)v;
    if ((rc = get_dim(g, KEY(DL_KEY_VALUE_LENGTH), 1, (uint32_t)hp->head_dim, &v, err)))
        return rc;
    if (v != hp->head_dim)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s = %lld differs from key_length %d", key,
                       (long long)v, hp->head_dim);
    if (hp->head_dim % 2 != 0)
        return dl_fail(err, DIFFLM_E_FORMAT, "head dimension %d is odd; RoPE needs pairs",
                       hp->head_dim);
    if ((int64_t)hp->head_dim * hp->n_head > DL_MAX_DIM)
        return dl_fail(err, DIFFLM_E_FORMAT, "head_dim %d x head_count %d is too large",
                       hp->head_dim, hp->n_head);
    if ((rc = get_dim(g, KEY(DL_KEY_ROPE_DIMENSION_COUNT), 1, (uint32_t)hp->head_dim, &v, err)))
        return rc;
    if (v != hp->head_dim && !a->rope_partial)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s = %lld but the head dimension is %d "
                       "(partial rotary embedding is not supported)", key, (long long)v,
                       hp->head_dim);
    hp->n_rot = (int32_t)v;
    uint32_t u;
    if ((rc = dl_gguf_get_u32(g, KEY(DL_KEY_CONTEXT_LENGTH), &u, err)))
        return rc;
    hp->n_ctx_train = u > INT32_MAX ? INT32_MAX : (int32_t)u;
    if ((rc = dl_gguf_get_f32(g, KEY(DL_KEY_RMS_EPS), &hp->rms_eps, err)))
        return rc;
    if (!(hp->rms_eps >= 0.0f && hp->rms_eps < 1.0f))
        return dl_fail(err, DIFFLM_E_FORMAT, "%s = %g is not a plausible epsilon", key,
                       (double)hp->rms_eps);
    if ((rc = dl_gguf_get_f32_opt(g, KEY(DL_KEY_ROPE_FREQ_BASE), 10000.0f, &hp->rope_theta, err)))
        return rc;
    if (!(hp->rope_theta > 1.0f && hp->rope_theta < 1e30f))
        return dl_fail(err, DIFFLM_E_FORMAT, "%s = %g is not a valid RoPE base", key,
                       (double)hp->rope_theta);
    int shift;
    if ((rc = dl_gguf_get_bool_opt(g, KEY(DL_KEY_SHIFT_LOGITS), -1, &shift, err)))
        return rc;
    /* block diffusion: any row runs block-causal when its file says a block length; a
     * row whose mask is block-causal needs one */
    uint32_t blk;
    if ((rc = dl_gguf_get_u32_opt(g, KEY(DL_KEY_BLOCK_LENGTH), 0, &blk, err)))
        return rc;
    if (blk > (uint32_t)DL_MAX_DIM)
        return dl_fail(err, DIFFLM_E_FORMAT, "%s = %u is out of range [0, %lld]", key, blk,
                       (long long)DL_MAX_DIM);
    if (blk == 0 && a->mask == DL_MASK_BLOCK_CAUSAL)
        return dl_fail(err, DIFFLM_E_FORMAT, "%s model without %s: its attention is "
                       "block-causal and the block length has no default", arch, key);
    hp->block_length = (int32_t)blk;
#undef KEY
    if (shift < 0) {
        shift = 1;   /* llama.cpp's diffusion example: absent means shift (Dream files) */
        if (!a->shift_logits)
            dl_logf(log, DIFFLM_LOG_WARN, "%s file without diffusion.shift_logits: assuming "
                    "shifted logits as llama.cpp does, but %s converters write false", arch, arch);
    }
    hp->shift_logits = shift ? 1 : 0;
    hp->rope_layout = a->rope;
    hp->n_expert = hp->n_expert_used = hp->n_ff_exp = hp->n_ff_shexp = 0;
    hp->n_group = hp->topk_group = 1;
    hp->n_dense_lead = 0;
    hp->routed_scale = 1.0f;
    if (a->ffn == DL_FFN_MOE)
        return moe_read(hp, a, g, err);
    return 0;
}

int dl_hparams_write(dl_gguf_writer *w, const dl_arch *a, const dl_hparams *hp, unsigned flags) {
    char key[128];
    int rc = 0;
    int lengths = (flags & DL_HP_WRITE_HEAD_LENGTHS) || hp->head_dim * hp->n_head != hp->n_embd;
#define KEY(k) dl_arch_key(a, k, key, sizeof key)
    rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_CONTEXT_LENGTH), (uint32_t)hp->n_ctx_train);
    rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_EMBEDDING_LENGTH), (uint32_t)hp->n_embd);
    rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_BLOCK_COUNT), (uint32_t)hp->n_layer);
    if (a->ffn != DL_FFN_MOE || hp->n_ff > 0)
        rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_FEED_FORWARD_LENGTH), (uint32_t)hp->n_ff);
    rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_HEAD_COUNT), (uint32_t)hp->n_head);
    rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_HEAD_COUNT_KV), (uint32_t)hp->n_head_kv);
    rc = rc ? rc : dl_gguf_w_f32(w, KEY(DL_KEY_RMS_EPS), hp->rms_eps);
    rc = rc ? rc : dl_gguf_w_f32(w, KEY(DL_KEY_ROPE_FREQ_BASE), hp->rope_theta);
    rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_ROPE_DIMENSION_COUNT), (uint32_t)hp->n_rot);
    if (lengths) {
        rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_KEY_LENGTH), (uint32_t)hp->head_dim);
        rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_VALUE_LENGTH), (uint32_t)hp->head_dim);
    }
    rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_VOCAB_SIZE), (uint32_t)hp->n_vocab);
    /* llama.cpp reads this to run the model without a causal mask */
    rc = rc ? rc : dl_gguf_w_bool(w, KEY(DL_KEY_CAUSAL), 0);
    if (a->ffn == DL_FFN_MOE) {
        const int sigmoid = a->router == DL_ROUTER_SIGMOID_GROUP;
        if (hp->n_dense_lead > 0)
            rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_LEADING_DENSE_BLOCK_COUNT), (uint32_t)hp->n_dense_lead);
        rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_EXPERT_COUNT), (uint32_t)hp->n_expert);
        rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_EXPERT_USED_COUNT), (uint32_t)hp->n_expert_used);
        rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_EXPERT_FEED_FORWARD_LENGTH), (uint32_t)hp->n_ff_exp);
        if (hp->n_ff_shexp > 0) {
            /* one shared expert of the full shared width */
            rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_EXPERT_SHARED_COUNT), 1);
            rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_EXPERT_SHARED_FEED_FORWARD_LENGTH), (uint32_t)hp->n_ff_shexp);
        }
        if (sigmoid || hp->routed_scale != 1.0f)
            rc = rc ? rc : dl_gguf_w_f32(w, KEY(DL_KEY_EXPERT_WEIGHTS_SCALE), hp->routed_scale);
        if (sigmoid) {
            rc = rc ? rc : dl_gguf_w_bool(w, KEY(DL_KEY_EXPERT_WEIGHTS_NORM), 1);
            rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_EXPERT_GATING_FUNC), 2);
            rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_EXPERT_GROUP_COUNT), (uint32_t)hp->n_group);
            rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_EXPERT_GROUP_USED_COUNT), (uint32_t)hp->topk_group);
        }
    }
    if (!(flags & DL_HP_WRITE_NO_SHIFT_KEY))
        rc = rc ? rc : dl_gguf_w_bool(w, KEY(DL_KEY_SHIFT_LOGITS), hp->shift_logits);
    if (hp->block_length > 0)
        rc = rc ? rc : dl_gguf_w_u32(w, KEY(DL_KEY_BLOCK_LENGTH), (uint32_t)hp->block_length);
#undef KEY
    return rc;
}

int64_t dl_hparams_dim(const dl_hparams *hp, int dim) {
    switch (dim) {
    case DL_DIM_1: return 1;
    case DL_DIM_EMBD: return hp->n_embd;
    case DL_DIM_Q: return (int64_t)hp->head_dim * hp->n_head;
    case DL_DIM_KV: return (int64_t)hp->head_dim * hp->n_head_kv;
    case DL_DIM_FF: return hp->n_ff;
    case DL_DIM_VOCAB: return hp->n_vocab;
    case DL_DIM_HEAD: return hp->head_dim;
    case DL_DIM_EXPERT: return hp->n_expert;
    case DL_DIM_FF_EXP: return hp->n_ff_exp;
    case DL_DIM_FF_SHEXP: return hp->n_ff_shexp;
    default: return 0;
    }
}

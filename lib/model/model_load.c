/* model_load.c - hyperparameters from `{arch}.*` keys and the weight table of the
 * `llada` and `dream` architectures (gguf.md §3, §4, §8), every shape and type checked
 * before the forward pass may touch a byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/model_weights.h"

/* Upper bound on every dimension: far above any model here, low enough that products
 * of two dimensions never overflow the int arithmetic of the kernels' strides. */
#define DL_MAX_DIM ((int64_t)1 << 24)

static int str_is(dl_str s, const char *lit) {
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

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

/* Binds tensor `name` as {ne0, ne1} (ne1 = 1 for vectors). An absent optional tensor
 * leaves *w zeroed. */
static int bind(dl_weight *w, const dl_gguf *g, const char *name, int64_t ne0, int64_t ne1,
                int required, uint64_t *n_params, dl_err *err) {
    memset(w, 0, sizeof *w);
    const dl_gguf_tensor *t = dl_gguf_find_tensor(g, name);
    if (!t) {
        if (required)
            return dl_fail(err, DIFFLM_E_FORMAT, "tensor '%s' is missing", name);
        return 0;
    }
    if (!dl_weight_type_supported(t->type)) {
        char buf[32], list[256];
        return dl_fail(err, DIFFLM_E_UNSUPPORTED,
                       "tensor '%s' has type %s; supported types are %s", name,
                       dl_type_name(t->type, buf, sizeof buf),
                       dl_weight_types_str(list, sizeof list));
    }
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1)
        return dl_fail(err, DIFFLM_E_FORMAT,
                       "tensor '%s' has shape {%lld, %lld, %lld, %lld}, expected {%lld, %lld}",
                       name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                       (long long)t->ne[3], (long long)ne0, (long long)ne1);
    /* quantized blocks are read byte by byte and need no alignment */
    size_t esize = t->type == DL_TYPE_F32 ? 4 : t->type == DL_TYPE_F16 || t->type == DL_TYPE_BF16 ? 2 : 1;
    if ((uintptr_t)t->data % esize != 0)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED,
                       "tensor '%s' data is not aligned to its %zu-byte elements", name, esize);
    const dl_type_info *ti = dl_type_get(t->type);
    if (ne0 % ti->block_size != 0)
        return dl_fail(err, DIFFLM_E_FORMAT, "tensor '%s': row length %lld is not a multiple of "
                       "the %s block size %u", name, (long long)ne0, ti->name, ti->block_size);
    uint64_t need = (uint64_t)(ne0 / ti->block_size) * ti->type_size * (uint64_t)ne1;
    if (t->size < need)
        return dl_fail(err, DIFFLM_E_FORMAT, "tensor '%s' holds %llu bytes, expected %llu", name,
                       (unsigned long long)t->size, (unsigned long long)need);
    w->data = t->data;
    w->type = t->type;
    w->ne0 = ne0;
    w->ne1 = ne1;
    *n_params += (uint64_t)ne0 * (uint64_t)ne1;
    return 0;
}

static int load_hparams(dl_hparams *hp, const char *arch, const dl_gguf *g, const dl_log *log,
                        dl_err *err) {
    char key[128];
    int64_t v;
    int rc;
#define ARCH_KEY(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), key)
    if ((rc = get_dim(g, ARCH_KEY("embedding_length"), 0, 0, &v, err)))
        return rc;
    hp->n_embd = (int32_t)v;
    if ((rc = get_dim(g, ARCH_KEY("block_count"), 0, 0, &v, err)))
        return rc;
    hp->n_layer = (int32_t)v;
    if ((rc = get_dim(g, ARCH_KEY("feed_forward_length"), 0, 0, &v, err)))
        return rc;
    hp->n_ff = (int32_t)v;
    if ((rc = get_dim(g, ARCH_KEY("attention.head_count"), 0, 0, &v, err)))
        return rc;
    hp->n_head = (int32_t)v;
    if ((rc = get_dim(g, ARCH_KEY("attention.head_count_kv"), 1, (uint32_t)hp->n_head, &v, err)))
        return rc;
    hp->n_head_kv = (int32_t)v;
    if (hp->n_head % hp->n_head_kv != 0)
        return dl_fail(err, DIFFLM_E_FORMAT, "%s.attention.head_count %d is not a multiple of "
                       "head_count_kv %d", arch, hp->n_head, hp->n_head_kv);
    if (hp->n_embd % hp->n_head != 0 && dl_gguf_find_key(g, ARCH_KEY("attention.key_length")) < 0)
        return dl_fail(err, DIFFLM_E_FORMAT, "%s.embedding_length %d is not a multiple of "
                       "head_count %d and no key_length is given", arch, hp->n_embd, hp->n_head);
    if ((rc = get_dim(g, ARCH_KEY("attention.key_length"), 1, (uint32_t)(hp->n_embd / hp->n_head),
                      &v, err)))
        return rc;
    hp->head_dim = (int32_t)v;
    if ((rc = get_dim(g, ARCH_KEY("attention.value_length"), 1, (uint32_t)hp->head_dim, &v, err)))
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
    if ((rc = get_dim(g, ARCH_KEY("rope.dimension_count"), 1, (uint32_t)hp->head_dim, &v, err)))
        return rc;
    if (v != hp->head_dim)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s = %lld but the head dimension is %d "
                       "(partial rotary embedding is not supported)", key, (long long)v,
                       hp->head_dim);
    uint32_t u;
    if ((rc = dl_gguf_get_u32(g, ARCH_KEY("context_length"), &u, err)))
        return rc;
    hp->n_ctx_train = u > INT32_MAX ? INT32_MAX : (int32_t)u;
    if ((rc = dl_gguf_get_f32(g, ARCH_KEY("attention.layer_norm_rms_epsilon"), &hp->rms_eps, err)))
        return rc;
    if (!(hp->rms_eps >= 0.0f && hp->rms_eps < 1.0f))
        return dl_fail(err, DIFFLM_E_FORMAT, "%s = %g is not a plausible epsilon", key,
                       (double)hp->rms_eps);
    if ((rc = dl_gguf_get_f32_opt(g, ARCH_KEY("rope.freq_base"), 10000.0f, &hp->rope_theta, err)))
        return rc;
    if (!(hp->rope_theta > 1.0f && hp->rope_theta < 1e30f))
        return dl_fail(err, DIFFLM_E_FORMAT, "%s = %g is not a valid RoPE base", key,
                       (double)hp->rope_theta);
#undef ARCH_KEY
    int shift;
    if ((rc = dl_gguf_get_bool_opt(g, "diffusion.shift_logits", -1, &shift, err)))
        return rc;
    if (shift < 0) {
        shift = 1;   /* llama.cpp's diffusion example: absent means shift (Dream files) */
        if (hp->arch == DIFFLM_ARCH_LLADA)
            dl_logf(log, DIFFLM_LOG_WARN, "llada file without diffusion.shift_logits: assuming "
                    "shifted logits as llama.cpp does, but llada converters write false");
    }
    hp->shift_logits = shift ? 1 : 0;
    hp->rope_layout = hp->arch == DIFFLM_ARCH_LLADA ? DL_ROPE_PAIRS : DL_ROPE_HALF;
    return 0;
}

static int bind_layer(dl_layer *L, int il, const dl_hparams *hp, const dl_gguf *g,
                      uint64_t *np, dl_err *err) {
    int64_t E = hp->n_embd, Dq = (int64_t)hp->head_dim * hp->n_head;
    int64_t Dkv = (int64_t)hp->head_dim * hp->n_head_kv, F = hp->n_ff;
    int dream = hp->arch == DIFFLM_ARCH_DREAM;
    char name[96];
    int rc;
#define T(suffix) (snprintf(name, sizeof name, "blk.%d.%s", il, suffix), name)
    if (dream && !dl_gguf_find_tensor(g, T("attn_q.weight")) &&
        dl_gguf_find_tensor(g, T("attn_qkv.weight")))
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "tensor '%s': fused q/k/v is not supported", name);
    if ((rc = bind(&L->attn_norm, g, T("attn_norm.weight"), E, 1, 1, np, err)) ||
        (rc = bind(&L->wq, g, T("attn_q.weight"), E, Dq, 1, np, err)) ||
        (rc = bind(&L->wk, g, T("attn_k.weight"), E, Dkv, 1, np, err)) ||
        (rc = bind(&L->wv, g, T("attn_v.weight"), E, Dkv, 1, np, err)) ||
        (rc = bind(&L->wo, g, T("attn_output.weight"), Dq, E, 1, np, err)) ||
        (rc = bind(&L->ffn_norm, g, T("ffn_norm.weight"), E, 1, 1, np, err)) ||
        (rc = bind(&L->w_gate, g, T("ffn_gate.weight"), E, F, 1, np, err)) ||
        (rc = bind(&L->w_up, g, T("ffn_up.weight"), E, F, 1, np, err)) ||
        (rc = bind(&L->w_down, g, T("ffn_down.weight"), F, E, 1, np, err)))
        return rc;
    if (dream &&
        ((rc = bind(&L->bq, g, T("attn_q.bias"), Dq, 1, 0, np, err)) ||
         (rc = bind(&L->bk, g, T("attn_k.bias"), Dkv, 1, 0, np, err)) ||
         (rc = bind(&L->bv, g, T("attn_v.bias"), Dkv, 1, 0, np, err))))
        return rc;
#undef T
    return 0;
}

int dl_model_load(dl_model **out, const dl_gguf *g, dl_log *log, dl_err *err) {
    *out = NULL;
    dl_str as;
    int rc = dl_gguf_get_str(g, "general.architecture", &as, err);
    if (rc)
        return rc;
    const char *arch;
    int32_t arch_id;
    if (str_is(as, "llada")) {
        arch = "llada";
        arch_id = DIFFLM_ARCH_LLADA;
    } else if (str_is(as, "dream")) {
        arch = "dream";
        arch_id = DIFFLM_ARCH_DREAM;
    } else {
        int n = as.n > 64 ? 64 : (int)as.n;
        return dl_fail(err, DIFFLM_E_UNSUPPORTED,
                       "general.architecture '%.*s' is not supported (llada, dream)", n, as.p);
    }

    dl_model *m = calloc(1, sizeof *m);
    if (!m)
        return dl_fail(err, DIFFLM_E_NOMEM, "model struct");
    m->n_threads = 1;
    dl_hparams *hp = &m->hp;
    hp->arch = arch_id;
    if ((rc = load_hparams(hp, arch, g, log, err)))
        goto fail;

    const dl_gguf_tensor *te = dl_gguf_find_tensor(g, "token_embd.weight");
    if (!te) {
        rc = dl_fail(err, DIFFLM_E_FORMAT, "tensor 'token_embd.weight' is missing");
        goto fail;
    }
    if (te->ne[1] < 1 || te->ne[1] > INT32_MAX) {
        rc = dl_fail(err, DIFFLM_E_FORMAT, "tensor 'token_embd.weight' has %lld rows",
                     (long long)te->ne[1]);
        goto fail;
    }
    hp->n_vocab = (int32_t)te->ne[1];
    if (dl_gguf_find_key(g, "tokenizer.ggml.tokens") >= 0) {
        uint32_t et;
        uint64_t n;
        if ((rc = dl_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n, err)))
            goto fail;
        if (n != (uint64_t)hp->n_vocab) {
            rc = dl_fail(err, DIFFLM_E_FORMAT, "tokenizer.ggml.tokens has %llu entries but "
                         "token_embd.weight has %d rows", (unsigned long long)n, hp->n_vocab);
            goto fail;
        }
    }

    uint64_t np = 0;
    int64_t E = hp->n_embd, V = hp->n_vocab;
    if ((rc = bind(&m->tok_embd, g, "token_embd.weight", E, V, 1, &np, err)) ||
        (rc = bind(&m->output_norm, g, "output_norm.weight", E, 1, 1, &np, err)) ||
        (rc = bind(&m->output, g, "output.weight", E, V, 0, &np, err)) ||
        (rc = bind(&m->output_bias, g, "output.bias", V, 1, 0, &np, err)))
        goto fail;
    hp->tied_output = m->output.data == NULL;

    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) {
        rc = dl_fail(err, DIFFLM_E_NOMEM, "%d layer records", hp->n_layer);
        goto fail;
    }
    for (int il = 0; il < hp->n_layer; il++)
        if ((rc = bind_layer(&m->layers[il], il, hp, g, &np, err)))
            goto fail;
    hp->n_params = np;
    *out = m;
    return 0;
fail:
    dl_model_free(m);
    return rc;
}

void dl_model_free(dl_model *m) {
    if (!m)
        return;
    free(m->layers);
    free(m);
}

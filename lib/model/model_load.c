/* model_load.c - a model from a GGUF file: the row of its architecture (arch.c), the
 * hyperparameters (hparams.c) and the weight table that row names, every shape and type
 * checked before the forward pass may touch a byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "kernels/kernels.h"
#include "kernels/types.h"
#include "model/model_weights.h"

/* Binds tensor `name` as {ne0, ne1} (ne1 = 1 for vectors). An absent optional tensor
 * leaves *w zeroed. */
static int bind(dl_weight *w, const dl_tensor_src *src, const char *name, int64_t ne0, int64_t ne1,
                int required, uint64_t *n_params, dl_err *err) {
    memset(w, 0, sizeof *w);
    const dl_gguf_tensor *t;
    int frc = src->find(src->ctx, name, &t, err);
    if (frc)
        return frc;
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

/* An expert tensor: n views of {ne0, ne1}. GGUF: one 3-D tensor {ne0, ne1, n}, view e
 * its e-th slice; HF: one 2-D tensor per expert. Required (only MoE layers ask). */
static int bind_experts(dl_weight *views, const dl_tensor_src *src, const dl_arch *a, int t,
                        int il, int64_t ne0, int64_t ne1, int64_t n, uint64_t *n_params,
                        dl_err *err) {
    char name[160];
    if (src->hf_names) {
        for (int64_t e = 0; e < n; e++) {
            dl_tensor_hf_expert_name(a, (dl_tensor_id)t, il, (int)e, name, sizeof name);
            int rc = bind(&views[e], src, name, ne0, ne1, 1, n_params, err);
            if (rc)
                return rc;
        }
        return 0;
    }
    dl_tensor_name((dl_tensor_id)t, il, name, sizeof name);
    const dl_gguf_tensor *g;
    int rc = src->find(src->ctx, name, &g, err);
    if (rc)
        return rc;
    if (!g)
        return dl_fail(err, DIFFLM_E_FORMAT, "tensor '%s' is missing", name);
    if (!dl_weight_type_supported(g->type)) {
        char buf[32], list[256];
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "tensor '%s' has type %s; supported types are %s",
                       name, dl_type_name(g->type, buf, sizeof buf),
                       dl_weight_types_str(list, sizeof list));
    }
    if (g->ne[0] != ne0 || g->ne[1] != ne1 || g->ne[2] != n || g->ne[3] != 1)
        return dl_fail(err, DIFFLM_E_FORMAT, "tensor '%s' has shape {%lld, %lld, %lld, %lld}, "
                       "expected {%lld, %lld, %lld}", name, (long long)g->ne[0],
                       (long long)g->ne[1], (long long)g->ne[2], (long long)g->ne[3],
                       (long long)ne0, (long long)ne1, (long long)n);
    const dl_type_info *ti = dl_type_get(g->type);
    size_t esize = g->type == DL_TYPE_F32 ? 4 : g->type == DL_TYPE_F16 || g->type == DL_TYPE_BF16 ? 2 : 1;
    if ((uintptr_t)g->data % esize != 0)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED,
                       "tensor '%s' data is not aligned to its %zu-byte elements", name, esize);
    if (ne0 % ti->block_size != 0)
        return dl_fail(err, DIFFLM_E_FORMAT, "tensor '%s': row length %lld is not a multiple of "
                       "the %s block size %u", name, (long long)ne0, ti->name, ti->block_size);
    /* each expert's matrix is whole rows, so a slice starts on a block boundary */
    uint64_t slice = (uint64_t)(ne0 / ti->block_size) * ti->type_size * (uint64_t)ne1;
    if (g->size / (uint64_t)n < slice)
        return dl_fail(err, DIFFLM_E_FORMAT, "tensor '%s' holds %llu bytes, expected %llu", name,
                       (unsigned long long)g->size, (unsigned long long)(slice * (uint64_t)n));
    for (int64_t e = 0; e < n; e++)
        views[e] = (dl_weight){ (const uint8_t *)g->data + (size_t)e * slice, g->type, ne0, ne1,
                                NULL };
    *n_params += (uint64_t)ne0 * (uint64_t)ne1 * (uint64_t)n;
    return 0;
}

/* A fused q/k/v bound at L->wq becomes three row views of it: its output rows are q's
 * n_head heads, then k's and v's n_head_kv heads each (the order HF's query_key_value
 * and llama.cpp's attn_qkv share). Whole rows of any type are whole blocks, so each view
 * starts on a row boundary in place. */
static void split_qkv(dl_layer *L, const dl_hparams *hp) {
    const dl_weight f = L->wq;
    if (!f.data)
        return;
    const int64_t nq = (int64_t)hp->n_head * hp->head_dim, nkv = (int64_t)hp->n_head_kv * hp->head_dim;
    const size_t rb = dl_row_bytes(f.type, f.ne0);
    const uint8_t *p = f.data;
    L->wq = (dl_weight){ p, f.type, f.ne0, nq, NULL };
    L->wk = (dl_weight){ p + (size_t)nq * rb, f.type, f.ne0, nkv, NULL };
    L->wv = (dl_weight){ p + (size_t)(nq + nkv) * rb, f.type, f.ne0, nkv, NULL };
}

/* The name of tensor t in the source: GGUF's, or the row's HF name (NULL: none). */
static const char *src_name(const dl_tensor_src *src, const dl_arch *a, int t, int il, char *buf,
                            size_t cap) {
    return src->hf_names ? dl_tensor_hf_name(a, (dl_tensor_id)t, il, buf, cap)
                         : dl_tensor_name((dl_tensor_id)t, il, buf, cap);
}

/* Binds every tensor row a loads for one layer (il >= 0) or the globals (il < 0), in
 * file order; a refused tensor stops the load before a missing one is reported. */
static int bind_tensors(dl_model *m, void *base, int il, const dl_arch *a, const dl_hparams *hp,
                        const dl_tensor_src *src, uint64_t *np, dl_err *err) {
    const int t0 = il < 0 ? 0 : DL_T_FIRST_LAYER, t1 = il < 0 ? DL_T_FIRST_LAYER : DL_T_COUNT;
    char name[160];
    for (int t = t0; t < t1; t++) {
        const dl_gguf_tensor *found = NULL;
        if (!(a->tensors[t] & DL_TU_REFUSE) || !src_name(src, a, t, il, name, sizeof name))
            continue;
        int rc = src->find(src->ctx, name, &found, NULL);
        if (rc == 0 && found == NULL)
            continue;
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "tensor '%s': %s is not supported", name,
                       dl_tensor_desc_get((dl_tensor_id)t)->what);
    }
    for (int t = t0; t < t1; t++) {
        const dl_tensor_desc *d = dl_tensor_desc_get((dl_tensor_id)t);
        unsigned use = a->tensors[t];
        if (!(use & DL_TU_LOAD) || !src_name(src, a, t, il, name, sizeof name))
            continue;
        if (il >= 0 && !dl_arch_layer_has(a, hp->n_dense_lead, (dl_tensor_id)t, il))
            continue;
        if (d->kind == DL_TK_EXPERTS) {
            dl_weight *views = m->experts + ((size_t)il * 3 + (size_t)(t - DL_T_FFN_GATE_EXPS)) *
                                            (size_t)hp->n_expert;
            *(dl_weight **)((char *)base + d->offset) = views;
            int rc = bind_experts(views, src, a, t, il, dl_hparams_dim(hp, d->ne[0]),
                                  dl_hparams_dim(hp, d->ne[1]), hp->n_expert, np, err);
            if (rc)
                return rc;
            continue;
        }
        const int shexp = t == DL_T_FFN_GATE_SHEXP || t == DL_T_FFN_UP_SHEXP ||
                          t == DL_T_FFN_DOWN_SHEXP;
        if (shexp && hp->n_ff_shexp == 0)
            continue;   /* no shared expert: none is read, whatever the file holds */
        int rc = bind((dl_weight *)((char *)base + d->offset), src, name,
                      dl_hparams_dim(hp, d->ne[0]), dl_hparams_dim(hp, d->ne[1]),
                      (use & DL_TU_REQUIRED) != 0, np, err);
        if (rc)
            return rc;
        if (t == DL_T_ATTN_QKV)
            split_qkv((dl_layer *)base, hp);
    }
    return 0;
}

/* n_vocab from the embedding's rows, then every tensor. hp holds the rest. */
static int bind_all(dl_model *m, const dl_tensor_src *src, dl_err *err) {
    dl_hparams *hp = &m->hp;
    const dl_arch *a = m->arch;
    char emb[160];
    src_name(src, a, DL_T_TOKEN_EMBD, 0, emb, sizeof emb);
    const dl_gguf_tensor *te;
    int rc = src->find(src->ctx, emb, &te, err);
    if (rc)
        return rc;
    if (!te)
        return dl_fail(err, DIFFLM_E_FORMAT, "tensor '%s' is missing", emb);
    if (te->ne[1] < 1 || te->ne[1] > INT32_MAX)
        return dl_fail(err, DIFFLM_E_FORMAT, "tensor '%s' has %lld rows", emb, (long long)te->ne[1]);
    if (hp->n_vocab > 0 && hp->n_vocab != te->ne[1])
        return dl_fail(err, DIFFLM_E_FORMAT, "the vocabulary size is %d but tensor '%s' has %lld "
                       "rows", hp->n_vocab, emb, (long long)te->ne[1]);
    hp->n_vocab = (int32_t)te->ne[1];
    uint64_t np = 0;
    if ((rc = bind_tensors(m, m, -1, a, hp, src, &np, err)))
        return rc;
    hp->tied_output = m->output.data == NULL;
    // Every layer has tensors of its own: a layer count beyond the source's tensor count
    // is a bad header, not a reason to allocate gigabytes of layer records (fuzz_gguf).
    if ((uint64_t)hp->n_layer > (uint64_t)src->n_tensors)
        return dl_fail(err, DIFFLM_E_FORMAT, "%d layers but the file has only %zu tensors",
                       hp->n_layer, src->n_tensors);
    m->layers = dl_calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers)
        return dl_fail(err, DIFFLM_E_NOMEM, "%d layer records", hp->n_layer);
    if (a->ffn == DL_FFN_MOE) {
        /* three expert tensors (gate, up, down) of n_expert views per layer */
        if (hp->n_expert < 1 || (uint64_t)hp->n_expert * 3 > (uint64_t)SIZE_MAX / sizeof(dl_weight) / (uint64_t)hp->n_layer)
            return dl_fail(err, DIFFLM_E_FORMAT, "%d experts", hp->n_expert);
        m->experts = dl_calloc((size_t)hp->n_layer * 3 * (size_t)hp->n_expert, sizeof *m->experts);
        if (!m->experts)
            return dl_fail(err, DIFFLM_E_NOMEM, "%d x %d expert views", hp->n_layer, hp->n_expert);
    }
    for (int il = 0; il < hp->n_layer; il++)
        if ((rc = bind_tensors(m, &m->layers[il], il, a, hp, src, &np, err)))
            return rc;
    hp->n_params = np;
    return 0;
}

static int gguf_find(const void *ctx, const char *name, const dl_gguf_tensor **t, dl_err *err) {
    (void)err;
    *t = dl_gguf_find_tensor(ctx, name);
    return 0;
}

int dl_model_load(dl_model **out, const dl_gguf *g, dl_log *log, dl_err *err) {
    *out = NULL;
    dl_str as;
    int rc = dl_gguf_get_str(g, "general.architecture", &as, err);
    if (rc)
        return rc;
    const dl_arch *a = dl_arch_find(as.p, as.n);
    if (!a) {
        char names[128];
        int n = as.n > 64 ? 64 : (int)as.n;
        return dl_fail(err, DIFFLM_E_UNSUPPORTED,
                       "general.architecture '%.*s' is not supported (%s)", n, as.p,
                       dl_arch_list(names, sizeof names));
    }
    if ((rc = dl_arch_check(a, err)))
        return rc;

    dl_model *m = dl_calloc(1, sizeof *m);
    if (!m)
        return dl_fail(err, DIFFLM_E_NOMEM, "model struct");
    m->n_threads = 1;
    m->arch = a;
    dl_hparams *hp = &m->hp;
    if ((rc = dl_hparams_read(hp, a, g, log, err)))
        goto fail;
    hp->n_vocab = 0;
    const dl_tensor_src src = { g, gguf_find, 0, dl_gguf_n_tensors(g) };
    if ((rc = bind_all(m, &src, err)))
        goto fail;
    if (dl_gguf_find_key(g, "tokenizer.ggml.tokens") >= 0) {
        uint32_t et;
        uint64_t n;
        if ((rc = dl_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n, err)))
            goto fail;
        if (n != (uint64_t)hp->n_vocab) {
            rc = dl_fail(err, DIFFLM_E_FORMAT, "tokenizer.ggml.tokens has %llu entries but "
                         "%s has %d rows", (unsigned long long)n,
                         dl_tensor_desc_get(DL_T_TOKEN_EMBD)->name, hp->n_vocab);
            goto fail;
        }
    }
    *out = m;
    return 0;
fail:
    dl_model_free(m);
    return rc;
}

int dl_model_load_src(dl_model **out, const dl_arch *a, const dl_hparams *hp,
                      const dl_tensor_src *src, dl_err *err) {
    *out = NULL;
    int rc = dl_arch_check(a, err);
    if (rc)
        return rc;
    if (hp->rope_layout == DL_ROPE_HALF_TO_PAIRS && hp->head_dim > DL_ROPE_MAX_HD)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "head dimension %d above %d", hp->head_dim,
                       DL_ROPE_MAX_HD);
    dl_model *m = dl_calloc(1, sizeof *m);
    if (!m)
        return dl_fail(err, DIFFLM_E_NOMEM, "model struct");
    m->n_threads = 1;
    m->arch = a;
    m->hp = *hp;
    m->hp.arch = a->id;
    if ((rc = bind_all(m, src, err))) {
        dl_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void dl_model_free(dl_model *m) {
    if (!m)
        return;
    dl_free(m->layers);
    dl_free(m->experts);
    dl_free(m);
}

/* hf_convert.c - Hugging Face folder -> GGUF (hf_convert.h). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/kernels.h"
#include "model/hf_config.h"
#include "fmt/mapped_file.h"
#include "kernels/types.h"
#include "model/hf_convert.h"

typedef struct conv_tensor {
    const dl_gguf_tensor *src; /* in the safetensors mapping */
    dl_gguf_tensor desc;       /* the GGUF tensor: name, output type, dims, size */
    char name[96];             /* GGUF name (desc.name points here) */
    int permute_hd;            /* head dimension of a permuted q/k matrix, or 0 */
} conv_tensor;

static void widen(float *out, const dl_gguf_tensor *t, size_t row, size_t n) {
    const uint8_t *p = (const uint8_t *)t->data;
    if (t->type == DL_TYPE_F32)
        memcpy(out, p + row * n * 4, n * 4);
    else if (t->type == DL_TYPE_F16)
        dl_f16_to_f32_row(out, (const uint16_t *)(p + row * n * 2), n);
    else
        dl_bf16_to_f32_row(out, (const uint16_t *)(p + row * n * 2), n);
}

/* Output row r of a permuted matrix is source row perm(r): llama.cpp's LlamaModel.permute
 * puts the two halves of each head's rows side by side, row 2i + j <- row j*hd/2 + i. */
static size_t src_row(const conv_tensor *c, size_t r) {
    if (!c->permute_hd)
        return r;
    size_t hd = (size_t)c->permute_hd, half = hd / 2, h = r / hd, k = r % hd;
    return h * hd + (k % 2) * half + k / 2;
}

/* --- tokenizer keys from tokenizer.json (byte-level BPE) */

typedef struct tok_keys {
    dl_str *tokens;
    int32_t *types;
    dl_str *merges;
    char **owned;              /* merge strings built from pairs, [PAD] names */
    json_t *json;              /* tokenizer.json: the token strings point into it */
    size_t n_tokens, n_merges, n_owned;
} tok_keys;

static void tok_keys_free(tok_keys *k) {
    for (size_t i = 0; i < k->n_owned; i++)
        dl_free(k->owned[i]);
    dl_free(k->owned);
    dl_free(k->tokens);
    dl_free(k->types);
    dl_free(k->merges);
    json_decref(k->json);
}

static char *pad_name(int64_t id) {
    char *p = dl_malloc(32);
    if (p)
        snprintf(p, 32, "[PAD%lld]", (long long)id);
    return p;
}

/* tokens in id order (gaps up to n_vocab as [PAD{id}], UNUSED, as llama.cpp writes
 * them), types (added special tokens CONTROL, other added ones USER_DEFINED), merges
 * ("a b" strings or ["a", "b"] pairs). */
static int read_tokenizer(tok_keys *k, json_t *tj, const char *path, int32_t n_vocab, dl_err *err) {
    json_t *model = json_object_get(tj, "model");
    json_t *type = json_object_get(model, "type");
    if (!json_is_object(model) || !json_is_string(type) || strcmp(json_string_value(type), "BPE"))
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "'%s': only BPE tokenizers convert (model.type "
                       "is %s)", path, json_is_string(type) ? json_string_value(type) : "missing");
    json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    json_t *added = json_object_get(tj, "added_tokens");
    if (!json_is_object(vocab) || !json_is_array(merges))
        return dl_fail(err, DIFFLM_E_FORMAT, "'%s': model.vocab or model.merges is missing", path);
    k->n_tokens = (size_t)n_vocab;
    k->tokens = dl_calloc(k->n_tokens, sizeof *k->tokens);
    k->types = dl_calloc(k->n_tokens, sizeof *k->types);
    k->n_merges = json_array_size(merges);
    k->merges = dl_calloc(k->n_merges + 1, sizeof *k->merges);
    k->owned = dl_calloc(k->n_tokens + k->n_merges + 1, sizeof *k->owned);
    if (!k->tokens || !k->types || !k->merges || !k->owned)
        return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer arrays");
    const char *key;
    json_t *v;
    json_object_foreach(vocab, key, v) {
        json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
        if (id < 0 || id >= n_vocab)
            return dl_fail(err, DIFFLM_E_FORMAT, "'%s': token '%.40s' has id %lld outside the "
                           "model's %d", path, key, (long long)id, n_vocab);
        k->tokens[id] = (dl_str){ key, strlen(key) };
        k->types[id] = 1;
    }
    for (size_t i = 0; json_is_array(added) && i < json_array_size(added); i++) {
        json_t *a = json_array_get(added, i);
        json_t *jid = json_object_get(a, "id"), *jc = json_object_get(a, "content");
        json_int_t id = json_is_integer(jid) ? json_integer_value(jid) : -1;
        if (id < 0 || id >= n_vocab || !json_is_string(jc))
            return dl_fail(err, DIFFLM_E_FORMAT, "'%s': added_tokens entry %zu has no valid id "
                           "and content", path, i);
        k->tokens[id] = (dl_str){ json_string_value(jc), strlen(json_string_value(jc)) };
        k->types[id] = json_is_true(json_object_get(a, "special")) ? 3 : 4;
    }
    for (size_t id = 0; id < k->n_tokens; id++)
        if (!k->types[id]) {
            char *p = pad_name((int64_t)id);
            if (!p)
                return dl_fail(err, DIFFLM_E_NOMEM, "token names");
            k->owned[k->n_owned++] = p;
            k->tokens[id] = (dl_str){ p, strlen(p) };
            k->types[id] = 5;
        }
    for (size_t i = 0; i < k->n_merges; i++) {
        json_t *m = json_array_get(merges, i);
        if (json_is_string(m)) {
            k->merges[i] = (dl_str){ json_string_value(m), strlen(json_string_value(m)) };
        } else if (json_is_array(m) && json_array_size(m) == 2 &&
                   json_is_string(json_array_get(m, 0)) && json_is_string(json_array_get(m, 1))) {
            const char *a = json_string_value(json_array_get(m, 0)), *b = json_string_value(json_array_get(m, 1));
            size_t na = strlen(a), nb = strlen(b);
            char *p = dl_malloc(na + nb + 2);
            if (!p)
                return dl_fail(err, DIFFLM_E_NOMEM, "merges");
            memcpy(p, a, na);
            p[na] = ' ';
            memcpy(p + na + 1, b, nb + 1);
            k->owned[k->n_owned++] = p;
            k->merges[i] = (dl_str){ p, na + nb + 1 };
        } else
            return dl_fail(err, DIFFLM_E_FORMAT, "'%s': merge %zu is neither \"a b\" nor [a, b]",
                           path, i);
    }
    return 0;
}

static json_t *load_opt(const char *dir, const char *name, char *path, size_t cap, int *rc,
                        dl_err *err) {
    snprintf(path, cap, "%s/%s", dir, name);
    struct stat st;
    *rc = 0;
    if (stat(path, &st) != 0)
        return NULL;
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object(j)) {
        *rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s': %s", path, j ? "not a JSON object" : je.text);
        json_decref(j);
        return NULL;
    }
    return j;
}

/* A special id from tokenizer_config.json's "<name>_token" string looked up in tokens. */
static int64_t special_id(json_t *tc, const char *field, const tok_keys *k) {
    json_t *v = json_object_get(tc, field);
    if (json_is_object(v))
        v = json_object_get(v, "content");
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    for (size_t i = 0; i < k->n_tokens; i++)
        if (k->tokens[i].n == strlen(s) && memcmp(k->tokens[i].p, s, k->tokens[i].n) == 0)
            return (int64_t)i;
    return -1;
}

static int write_tokenizer(dl_gguf_writer *w, const char *dir, const dl_arch *a,
                           const dl_hf_config *c, tok_keys *k, dl_err *err) {
    char path[4096];
    int rc;
    json_t *tj = load_opt(dir, "tokenizer.json", path, sizeof path, &rc, err);
    if (rc)
        return rc;
    if (!tj)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "'%s' is missing: only folders with a "
                       "tokenizer.json convert", path);
    rc = read_tokenizer(k, tj, path, c->hp.n_vocab, err);
    k->json = tj;
    if (rc)
        return rc;
    char tcpath[4096];
    json_t *tc = load_opt(dir, "tokenizer_config.json", tcpath, sizeof tcpath, &rc, err);
    if (rc)
        return rc;
    int r = 0;
    r = r ? r : dl_gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
    r = r ? r : dl_gguf_w_str(w, "tokenizer.ggml.pre", a->tok_pre);
    r = r ? r : dl_gguf_w_arr(w, "tokenizer.ggml.tokens", DL_GGUF_STRING, k->tokens, k->n_tokens);
    r = r ? r : dl_gguf_w_arr(w, "tokenizer.ggml.token_type", DL_GGUF_I32, k->types, k->n_tokens);
    r = r ? r : dl_gguf_w_arr(w, "tokenizer.ggml.merges", DL_GGUF_STRING, k->merges, k->n_merges);
    int64_t bos = c->bos_id >= 0 ? c->bos_id : special_id(tc, "bos_token", k);
    int64_t eos = c->n_eos ? c->eos[0] : special_id(tc, "eos_token", k);
    int64_t pad = special_id(tc, "pad_token", k);
    if (bos >= 0)
        r = r ? r : dl_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
    if (eos >= 0)
        r = r ? r : dl_gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
    if (pad >= 0 || eos >= 0)
        r = r ? r : dl_gguf_w_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)(pad >= 0 ? pad : eos));
    if (c->mask_id >= 0)
        r = r ? r : dl_gguf_w_u32(w, "tokenizer.ggml.mask_token_id", (uint32_t)c->mask_id);
    r = r ? r : dl_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", a->add_bos);
    json_t *tpl = json_object_get(tc, "chat_template");
    if (json_is_string(tpl))
        r = r ? r : dl_gguf_w_str(w, "tokenizer.chat_template", json_string_value(tpl));
    json_decref(tc);
    if (r)
        return dl_fail(err, r, "writing the tokenizer keys");
    return 0;
}

struct dl_hf_src {
    dl_hf_config c;
    dl_st *st;
    dl_model *m;
    dl_gguf_writer *w;         /* the keys, in converter order; no tensors */
    tok_keys k;
    conv_tensor *t;
    size_t n;
};

void dl_hf_src_close(dl_hf_src *s) {
    if (!s)
        return;
    tok_keys_free(&s->k);
    dl_free(s->t);
    dl_gguf_writer_free(s->w);
    dl_model_free(s->m);
    dl_st_close(s->st);
    dl_free(s);
}

int dl_hf_src_open(dl_hf_src **out, const char *dir, uint32_t out_type, dl_err *err) {
    *out = NULL;
    if (out_type != DL_TYPE_F32 && out_type != DL_TYPE_F16 && out_type != DL_TYPE_BF16)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "output type %u: f32, f16 or bf16", out_type);
    dl_hf_src *s = dl_calloc(1, sizeof *s);
    if (!s)
        return dl_fail(err, DIFFLM_E_NOMEM, "converter state");
    int rc = dl_hf_model_load(&s->m, &s->st, &s->c, dir, err);   /* every tensor checked */
    if (rc)
        goto fail;
    dl_hf_config *c = &s->c;
    const dl_arch *a = c->arch;
    s->w = dl_gguf_writer_new();
    s->t = dl_calloc(DL_T_COUNT * ((size_t)c->hp.n_layer + 1), sizeof *s->t);
    if (!s->w || !s->t) {
        rc = dl_fail(err, DIFFLM_E_NOMEM, "converter state");
        goto fail;
    }
    /* metadata as llama.cpp's converter orders it */
    uint32_t ft = out_type == DL_TYPE_F32 ? 0 : out_type == DL_TYPE_F16 ? 1 : 32;
    char name[160];
    rc = dl_gguf_w_str(s->w, "general.architecture", a->name);
    rc = rc ? rc : dl_gguf_w_str(s->w, "general.name", strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir);
    rc = rc ? rc : dl_gguf_w_u32(s->w, "general.file_type", ft);
    c->hp.rope_layout = a->rope;
    rc = rc ? rc : dl_hparams_write(s->w, a, &c->hp, a->shift_logits ? DL_HP_WRITE_NO_SHIFT_KEY : 0);
    if (rc) {
        rc = dl_fail(err, rc, "writing the metadata");
        goto fail;
    }
    if ((rc = write_tokenizer(s->w, dir, a, c, &s->k, err)))
        goto fail;
    /* tensors in the row's order under GGUF names */
    for (int il = -1; il < c->hp.n_layer; il++)
        for (int t = il < 0 ? 0 : DL_T_FIRST_LAYER; t < (il < 0 ? DL_T_FIRST_LAYER : DL_T_COUNT); t++) {
            if (!(a->tensors[t] & DL_TU_LOAD) || !dl_tensor_hf_name(a, (dl_tensor_id)t, il, name, sizeof name))
                continue;
            const dl_gguf_tensor *src;
            if ((rc = dl_st_get(s->st, name, &src, err)))
                goto fail;
            if (!src)
                continue;
            conv_tensor *ct = &s->t[s->n++];
            ct->src = src;
            dl_tensor_name((dl_tensor_id)t, il, ct->name, sizeof ct->name);
            ct->permute_hd = a->qk_permuted && (t == DL_T_ATTN_Q || t == DL_T_ATTN_K) ? c->hp.head_dim : 0;
            dl_gguf_tensor *d = &ct->desc;
            d->name = ct->name;
            d->type = src->n_dims == 1 ? DL_TYPE_F32 : out_type;
            d->n_dims = src->n_dims;
            memcpy(d->ne, src->ne, sizeof d->ne);
            d->size = dl_row_bytes(d->type, d->ne[0]) * (uint64_t)(d->ne[1] * d->ne[2] * d->ne[3]);
        }
    /* a tensor of the folder that has no place in the GGUF is a variant we would drop */
    for (size_t i = 0; i < dl_st_n_tensors(s->st); i++) {
        const dl_st_tensor *x = dl_st_tensor_at(s->st, i);
        int used = 0;
        for (size_t j = 0; j < s->n && !used; j++)
            used = s->t[j].src == &x->t;
        if (!used && !strstr(x->t.name, "rotary_emb.inv_freq")) {
            rc = dl_fail(err, DIFFLM_E_UNSUPPORTED, "tensor '%s' of '%s' has no GGUF name for "
                         "architecture %s", x->t.name, dl_st_file_path(s->st, x->file), a->name);
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    dl_hf_src_close(s);
    return rc;
}

const dl_gguf_writer *dl_hf_src_keys(const dl_hf_src *s) { return s->w; }
size_t dl_hf_src_n_tensors(const dl_hf_src *s) { return s->n; }
const dl_gguf_tensor *dl_hf_src_tensor(const dl_hf_src *s, size_t i) { return &s->t[i].desc; }

void dl_hf_src_row(const dl_hf_src *s, size_t i, int64_t r, float *out) {
    const conv_tensor *c = &s->t[i];
    widen(out, c->src, src_row(c, (size_t)r), (size_t)c->src->ne[0]);
}

void dl_hf_src_bytes(const dl_hf_src *s, size_t i, void *out, float *row) {
    const conv_tensor *c = &s->t[i];
    const dl_gguf_tensor *t = c->src;
    uint32_t type = c->desc.type;
    size_t cols = (size_t)t->ne[0], rows = (size_t)(t->ne[1] * t->ne[2] * t->ne[3]);
    size_t es = type == DL_TYPE_F32 ? 4 : 2;
    for (size_t r = 0; r < rows; r++) {
        uint8_t *o = (uint8_t *)out + r * cols * es;
        size_t sr = src_row(c, r);
        if (t->type == type) {   /* same bytes: no rounding on the way */
            memcpy(o, (const uint8_t *)t->data + sr * cols * es, cols * es);
            continue;
        }
        widen(row, t, sr, cols);
        for (size_t k = 0; k < cols; k++) {
            if (type == DL_TYPE_F32)
                memcpy(o + 4 * k, &row[k], 4);
            else {
                uint16_t h = type == DL_TYPE_F16 ? dl_f32_to_f16(row[k]) : dl_f32_to_bf16(row[k]);
                memcpy(o + 2 * k, &h, 2);
            }
        }
    }
}

void dl_hf_src_release(const dl_hf_src *s, size_t i) {
    dl_map_drop_pages(s->t[i].src->data, (size_t)s->t[i].src->size);
}

int dl_hf_tokenizer_gguf(const char *dir, const dl_hf_config *c, void **buf, size_t *n,
                         dl_err *err) {
    *buf = NULL;
    *n = 0;
    dl_gguf_writer *w = dl_gguf_writer_new();
    if (!w)
        return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer writer");
    tok_keys k = { 0 };
    int rc = dl_gguf_w_str(w, "general.architecture", c->arch->name);
    if (rc)
        rc = dl_fail(err, rc, "tokenizer keys");
    if (!rc)
        rc = write_tokenizer(w, dir, c->arch, c, &k, err);
    if (!rc)
        rc = dl_gguf_writer_to_buffer(w, buf, n, err);
    tok_keys_free(&k);
    dl_gguf_writer_free(w);
    return rc;
}

/* hf_config.c - config.json -> dl_hparams for the rows that HF checkpoints exist for
 * (hf_config.h). The key names are those of the published configs: LLaDA's OLMo-style
 * ModelConfig (d_model, n_layers, ...) and Qwen2's (hidden_size, ...), which Dream uses;
 * defaults are those of llama.cpp's converter, so a folder and its converted GGUF get
 * the same hyperparameters. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/router.h"
#include "model/hf_config.h"

#define MAX_DIM ((int64_t)1 << 24)

/* The config keys of one row; NULL: absent from its configs. */
typedef struct hf_keys {
    int32_t arch;
    const char *embd, *layers, *heads, *kv_heads, *ff, *ctx, *tie, *head_dim;
    int64_t ctx_default;
} hf_keys;

/* The experts' keys of an MoE row: required counts and width (the first key of a pair
 * that the config has), the rest optional. */
typedef struct hf_moe_keys {
    int32_t arch;
    const char *n_expert, *n_used, *ff_exp, *ff_exp_alt, *n_shared, *n_group, *topk_group,
               *scale, *dense_lead, *score_fn;
} hf_moe_keys;

static const hf_moe_keys k_moe_keys[] = {
    /* LLaDA-MoE's LLaDAMoEConfig (every layer MoE, no groups, no shared expert) */
    { DIFFLM_ARCH_LLADA_MOE, "num_experts", "num_experts_per_tok", "expert_intermediate_size",
      "moe_intermediate_size", NULL, NULL, NULL, NULL, NULL, "moe_router_score_function" },
    /* LLaDA2's LLaDA2MoeConfig (BailingMoeV2's keys): groups, a shared expert, dense lead */
    { DIFFLM_ARCH_LLADA2, "num_experts", "num_experts_per_tok", "moe_intermediate_size", NULL,
      "num_shared_experts", "n_group", "topk_group", "routed_scaling_factor",
      "first_k_dense_replace", "score_function" },
};

static const hf_keys k_keys[] = {
    { DIFFLM_ARCH_LLADA, "d_model", "n_layers", "n_heads", "n_kv_heads", "mlp_hidden_size",
      "max_sequence_length", "weight_tying", NULL, 4096 },
    { DIFFLM_ARCH_DREAM, "hidden_size", "num_hidden_layers", "num_attention_heads",
      "num_key_value_heads", "intermediate_size", "max_position_embeddings",
      "tie_word_embeddings", NULL, 0 },
    /* ff: the dense width, which LLaDA-MoE's layers do not use (optional for MoE rows) */
    { DIFFLM_ARCH_LLADA_MOE, "hidden_size", "num_hidden_layers", "num_attention_heads",
      "num_key_value_heads", "dense_intermediate_size", "max_position_embeddings",
      "tie_word_embeddings", NULL, 0 },
    /* ff: the dense lead layers' width */
    { DIFFLM_ARCH_LLADA2, "hidden_size", "num_hidden_layers", "num_attention_heads",
      "num_key_value_heads", "intermediate_size", "max_position_embeddings",
      "tie_word_embeddings", NULL, 0 },
};

static const hf_moe_keys *moe_keys_of(int32_t arch) {
    for (size_t i = 0; i < sizeof k_moe_keys / sizeof k_moe_keys[0]; i++)
        if (k_moe_keys[i].arch == arch)
            return &k_moe_keys[i];
    return NULL;
}

static const hf_keys *keys_of(int32_t arch) {
    for (size_t i = 0; i < sizeof k_keys / sizeof k_keys[0]; i++)
        if (k_keys[i].arch == arch)
            return &k_keys[i];
    return NULL;
}

int dl_hf_is_folder(const char *path, char *dir, size_t cap) {
    struct stat st;
    if (!path || stat(path, &st) != 0)
        return 0;
    size_t n = strlen(path);
    if (S_ISDIR(st.st_mode)) {
        snprintf(dir, cap, "%s", path);
        return 1;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strcmp(base, "config.json") != 0)
        return 0;
    size_t dn = (size_t)(base - path);
    if (dn == 0)
        snprintf(dir, cap, ".");
    else
        snprintf(dir, cap, "%.*s", (int)(dn - 1 ? dn - 1 : 1), path);
    (void)n;
    return 1;
}

/* An integer key in [lo, MAX_DIM]; absent: def (or E_FORMAT when def < 0). null counts
 * as absent (LLaDA's n_kv_heads may be null). */
static int get_int(json_t *o, const char *file, const char *key, int64_t def, int64_t lo,
                   int64_t *out, dl_err *err) {
    json_t *v = key ? json_object_get(o, key) : NULL;
    if (!v || json_is_null(v)) {
        if (def < 0)
            return dl_fail(err, DIFFLM_E_FORMAT, "'%s': key '%s' is missing", file, key);
        *out = def;
        return 0;
    }
    if (!json_is_integer(v))
        return dl_fail(err, DIFFLM_E_FORMAT, "'%s': key '%s' is not an integer", file, key);
    *out = json_integer_value(v);
    if (*out < lo || *out > MAX_DIM)
        return dl_fail(err, DIFFLM_E_FORMAT, "'%s': key '%s' = %lld is out of range [%lld, %lld]",
                       file, key, (long long)*out, (long long)lo, (long long)MAX_DIM);
    return 0;
}

static int get_real(json_t *o, const char *file, const char *key, double def, double *out,
                    dl_err *err) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v))
        return dl_fail(err, DIFFLM_E_FORMAT, "'%s': key '%s' is not a number", file, key);
    *out = json_number_value(v);
    return 0;
}

/* eos_token_id: an id or a list of ids. */
static int get_ids(json_t *o, const char *file, const char *key, int32_t *ids, int32_t *n,
                   dl_err *err) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    json_t *one[1] = { v };
    size_t cnt = json_is_array(v) ? json_array_size(v) : 1;
    *n = 0;
    for (size_t i = 0; i < cnt; i++) {
        json_t *e = json_is_array(v) ? json_array_get(v, i) : one[0];
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > INT32_MAX)
            return dl_fail(err, DIFFLM_E_FORMAT, "'%s': key '%s' holds something other than "
                           "token ids", file, key);
        if (*n < DL_HF_MAX_EOS)
            ids[(*n)++] = (int32_t)json_integer_value(e);
    }
    return 0;
}

/* Where the two files come from: a folder, or texts in memory (dl_hf_config_parse). */
typedef struct cfg_src {
    const char *dir;            /* NULL: text[] */
    const char *text[2];        /* config.json, generation_config.json; NULL: absent */
    size_t n[2];
} cfg_src;

/* File `which` of s (0 config.json, 1 generation_config.json) parsed; path receives the
 * name messages use. */
static json_t *load_json(const cfg_src *s, int which, int required, char *path, size_t cap,
                         int *rc, dl_err *err) {
    static const char *const names[2] = { "config.json", "generation_config.json" };
    if (s->dir)
        snprintf(path, cap, "%s/%s", s->dir, names[which]);
    else
        snprintf(path, cap, "%s", names[which]);
    *rc = 0;
    struct stat st;
    if (s->dir ? stat(path, &st) != 0 : s->text[which] == NULL) {
        if (required)
            *rc = dl_fail(err, DIFFLM_E_IO, "'%s' is missing", path);
        return NULL;
    }
    json_error_t je;
    json_t *j = s->dir ? json_load_file(path, JSON_REJECT_DUPLICATES, &je)
                       : json_loadb(s->text[which], s->n[which], JSON_REJECT_DUPLICATES, &je);
    if (!j)
        *rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s', line %d column %d: %s", path, je.line,
                      je.column, je.text);
    else if (!json_is_object(j)) {
        *rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s' is not a JSON object", path);
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* The experts of an MoE row's config, with the checks of the GGUF reader (hparams.c). */
static int moe_read(json_t *cfg, const char *f, const dl_arch *a, const hf_moe_keys *k,
                    dl_hparams *hp, dl_err *err) {
    int64_t v;
    int rc;
    if ((rc = get_int(cfg, f, k->n_expert, -1, 1, &v, err)))
        return rc;
    if (v > DL_ROUTER_MAX_EXPERTS)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "'%s': %s = %lld is above %d", f, k->n_expert,
                       (long long)v, DL_ROUTER_MAX_EXPERTS);
    hp->n_expert = (int32_t)v;
    if ((rc = get_int(cfg, f, k->n_used, -1, 1, &v, err)))
        return rc;
    if (v > hp->n_expert)
        return dl_fail(err, DIFFLM_E_FORMAT, "'%s': %s = %lld is above %s", f, k->n_used,
                       (long long)v, k->n_expert);
    hp->n_expert_used = (int32_t)v;
    const char *ffk = k->ff_exp_alt && !json_object_get(cfg, k->ff_exp) ? k->ff_exp_alt : k->ff_exp;
    if ((rc = get_int(cfg, f, ffk, -1, 1, &v, err)))
        return rc;
    hp->n_ff_exp = (int32_t)v;
    if ((rc = get_int(cfg, f, k->n_shared, 0, 0, &v, err)))
        return rc;
    hp->n_ff_shexp = (int32_t)(v * hp->n_ff_exp);
    if ((rc = get_int(cfg, f, k->n_group, 1, 1, &v, err)))
        return rc;
    hp->n_group = (int32_t)v;
    if ((rc = get_int(cfg, f, k->topk_group, hp->n_group, 1, &v, err)))
        return rc;
    hp->topk_group = (int32_t)v;
    if ((rc = get_int(cfg, f, k->dense_lead, 0, 0, &v, err)))
        return rc;
    hp->n_dense_lead = (int32_t)v;
    double d = 1.0;
    if (k->scale && (rc = get_real(cfg, f, k->scale, 1.0, &d, err)))
        return rc;
    hp->routed_scale = (float)d;
    json_t *nt = json_object_get(cfg, "norm_topk_prob");
    if (a->router == DL_ROUTER_SIGMOID_GROUP && json_is_false(nt))
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "'%s': norm_topk_prob false: %s routers "
                       "renormalise their weights", f, a->name);
    json_t *sf = k->score_fn ? json_object_get(cfg, k->score_fn) : NULL;
    const char *want = a->router == DL_ROUTER_SOFTMAX ? "softmax" : "sigmoid";
    if (sf && !json_is_null(sf) && (!json_is_string(sf) || strcmp(json_string_value(sf), want)))
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "'%s': %s is not \"%s\"", f, k->score_fn, want);
    if (hp->n_expert % hp->n_group || hp->topk_group > hp->n_group ||
        (hp->n_group > 1 && (a->router != DL_ROUTER_SIGMOID_GROUP || hp->n_expert / hp->n_group < 2)) ||
        (int64_t)hp->topk_group * (hp->n_expert / hp->n_group) < hp->n_expert_used ||
        hp->n_dense_lead > hp->n_layer || (hp->n_dense_lead > 0 && hp->n_ff < 1) ||
        !(hp->routed_scale > 0.0f && hp->routed_scale < 1e6f))
        return dl_fail(err, DIFFLM_E_FORMAT, "'%s': %d experts in %d groups (%d kept), %d used, "
                       "%d dense lead layers of width %d, scale %g: inconsistent", f,
                       hp->n_expert, hp->n_group, hp->topk_group, hp->n_expert_used,
                       hp->n_dense_lead, hp->n_ff, d);
    return 0;
}

/* The one reader of both sources. */
static int read_config(dl_hf_config *c, const cfg_src *s, dl_err *err) {
    memset(c, 0, sizeof *c);
    c->mask_id = c->bos_id = -1;
    char path[4096];
    int rc;
    json_t *cfg = load_json(s, 0, 1, path, sizeof path, &rc, err);
    if (!cfg)
        return rc;
    const char *f = path;
    json_t *mt = json_object_get(cfg, "model_type");
    /* "architectures" first: LLaDA-MoE checkpoints may carry llada's model_type */
    json_t *archs = json_object_get(cfg, "architectures");
    json_t *a0 = json_is_array(archs) ? json_array_get(archs, 0) : NULL;
    const dl_arch *a = json_is_string(a0) ? dl_arch_find_hf_architecture(json_string_value(a0)) : NULL;
    if (!a && json_is_string(mt))
        a = dl_arch_find_hf(json_string_value(mt));
    const hf_keys *k = a ? keys_of(a->id) : NULL;
    if (!json_is_string(mt) && !a) {
        rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s': key 'model_type' is %s", f,
                     mt ? "not a string" : "missing");
        goto done;
    }
    if (!k) {
        rc = dl_fail(err, DIFFLM_E_UNSUPPORTED, "'%s': model_type '%.64s' is not supported "
                     "(llada, Dream, llada2_moe, LLaDA-MoE by its architectures)", f, json_string_value(mt));
        goto done;
    }
    c->arch = a;
    dl_hparams *hp = &c->hp;
    hp->arch = a->id;
    int64_t v;
#define INT(key, def, lo, field) \
    do { if ((rc = get_int(cfg, f, key, def, lo, &v, err))) goto done; hp->field = (int32_t)v; } while (0)
    INT(k->embd, -1, 1, n_embd);
    INT(k->layers, -1, 1, n_layer);
    INT(k->heads, -1, 1, n_head);
    INT(k->kv_heads, hp->n_head, 1, n_head_kv);
    const int moe = a->ffn == DL_FFN_MOE;
    INT(k->ff, moe ? 0 : -1, moe ? 0 : 1, n_ff);
    INT("vocab_size", 0, 0, n_vocab);
    if ((rc = get_int(cfg, f, k->ctx, k->ctx_default ? k->ctx_default : -1, 1, &v, err)))
        goto done;
    hp->n_ctx_train = (int32_t)v;
#undef INT
    if (hp->n_head % hp->n_head_kv || hp->n_embd % hp->n_head) {
        rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s': %d heads over %d key/value heads and %d "
                     "dimensions do not divide", f, hp->n_head, hp->n_head_kv, hp->n_embd);
        goto done;
    }
    if ((rc = get_int(cfg, f, "head_dim", hp->n_embd / hp->n_head, 2, &v, err)))
        goto done;
    hp->head_dim = (int32_t)v;
    if (hp->head_dim % 2 || (int64_t)hp->head_dim * hp->n_head > MAX_DIM) {
        rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s': head dimension %d", f, hp->head_dim);
        goto done;
    }
    hp->n_rot = hp->head_dim;
    double d;
    /* HF's partial rotary: the first int(head_dim * factor) dimensions turn. Absent, it is
     * the config class's default: 0.5 for the Ling 2.0 (BailingMoeV2) family that LLaDA2
     * belongs to (llama.cpp's converter assumes the same), a whole head elsewhere. */
    if ((rc = get_real(cfg, f, "partial_rotary_factor", a->rope_partial ? 0.5 : 1.0, &d, err)))
        goto done;
    if (d != 1.0) {
        double rot = (double)hp->head_dim * d;
        if (!a->rope_partial) {
            rc = dl_fail(err, DIFFLM_E_UNSUPPORTED, "'%s': partial_rotary_factor %g: %s turns "
                         "whole heads", f, d, a->name);
            goto done;
        }
        if (!(rot >= 2.0 && rot <= (double)hp->head_dim) || (int32_t)rot % 2) {
            rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s': partial_rotary_factor %g of head "
                         "dimension %d is not an even count of dimensions", f, d, hp->head_dim);
            goto done;
        }
        hp->n_rot = (int32_t)rot;
    }
    if ((rc = get_real(cfg, f, "rms_norm_eps", 1e-6, &d, err)))
        goto done;
    hp->rms_eps = (float)d;
    if (!(hp->rms_eps >= 0.0f && hp->rms_eps < 1.0f)) {
        rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s': rms_norm_eps %g", f, d);
        goto done;
    }
    if ((rc = get_real(cfg, f, "rope_theta", 10000.0, &d, err)))
        goto done;
    hp->rope_theta = (float)d;
    if (!(hp->rope_theta > 1.0f && hp->rope_theta < 1e30f)) {
        rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s': rope_theta %g", f, d);
        goto done;
    }
    hp->n_group = hp->topk_group = 1;
    hp->routed_scale = 1.0f;
    if (moe && (rc = moe_read(cfg, f, a, moe_keys_of(a->id), hp, err)))
        goto done;
    json_t *rs = json_object_get(cfg, "rope_scaling");
    if (rs && !json_is_null(rs)) {
        rc = dl_fail(err, DIFFLM_E_UNSUPPORTED, "'%s': rope_scaling is not supported", f);
        goto done;
    }
    json_t *tie = json_object_get(cfg, k->tie);
    c->tied = json_is_true(tie);
    hp->shift_logits = a->shift_logits;
    /* configs carry no block length: a block-causal row's published one */
    hp->block_length = a->mask == DL_MASK_BLOCK_CAUSAL ? a->block_length : 0;
    /* HF q/k rows are in the checkpoint's order: rows whose GGUF files hold them
     * permuted for adjacent pairs read them as the same pairs from the halves */
    hp->rope_layout = a->qk_permuted ? DL_ROPE_HALF_TO_PAIRS : a->rope;
    if ((rc = get_int(cfg, f, "mask_token_id", 0, 0, &v, err)))
        goto done;
    c->mask_id = json_object_get(cfg, "mask_token_id") ? (int32_t)v : -1;
    json_t *b = json_object_get(cfg, "bos_token_id");
    if (json_is_integer(b))
        c->bos_id = (int32_t)json_integer_value(b);
    if ((rc = get_ids(cfg, f, "eos_token_id", c->eos, &c->n_eos, err)))
        goto done;
    json_decref(cfg);
    cfg = NULL;

    /* generation_config.json overrides the EOS (and BOS) ids */
    json_t *gen = load_json(s, 1, 0, path, sizeof path, &rc, err);
    if (rc)
        goto done;
    if (gen) {
        json_t *gb = json_object_get(gen, "bos_token_id");
        if (json_is_integer(gb))
            c->bos_id = (int32_t)json_integer_value(gb);
        rc = get_ids(gen, path, "eos_token_id", c->eos, &c->n_eos, err);
        json_decref(gen);
    }
done:
    json_decref(cfg);
    return rc;
}

int dl_hf_config_read(dl_hf_config *c, const char *dir, dl_err *err) {
    const cfg_src s = { .dir = dir };
    return read_config(c, &s, err);
}

int dl_hf_config_parse(dl_hf_config *c, const char *config, size_t n, const char *gen,
                       size_t gen_n, dl_err *err) {
    const cfg_src s = { .text = { config, gen }, .n = { n, gen_n } };
    return read_config(c, &s, err);
}

static int st_find(const void *ctx, const char *name, const dl_gguf_tensor **t, dl_err *err) {
    return dl_st_get(ctx, name, t, err);
}

int dl_hf_model_load(dl_model **out, dl_st **st, dl_hf_config *c, const char *dir, dl_err *err) {
    *out = NULL;
    *st = NULL;
    int rc = dl_hf_config_read(c, dir, err);
    if (rc)
        return rc;
    if ((rc = dl_st_open_dir(st, dir, err)))
        return rc;
    const dl_tensor_src src = { *st, st_find, 1, dl_st_n_tensors(*st) };
    dl_hparams hp = c->hp;
    hp.n_vocab = 0;   /* the embedding's rows (vocab_size may count padding differently) */
    rc = dl_model_load_src(out, c->arch, &hp, &src, err);
    if (rc == 0 && c->tied != (*out)->hp.tied_output)
        rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s/config.json' says the head is %stied, but the "
                     "weights %s a separate head", dir, c->tied ? "" : "not ",
                     c->tied ? "have" : "lack");
    if (rc) {
        dl_model_free(*out);
        *out = NULL;
        dl_st_close(*st);
        *st = NULL;
        return rc;
    }
    c->hp = (*out)->hp;
    return 0;
}

/* init_from.c - a fresh run's parameters from a llada GGUF instead of random init, so a
 * later run can continue training an exported model (with new optimizer state). The
 * file's shape fills the options left unset and must equal the ones that were set; every
 * tensor of the trainer's table is read by name (F32, F16 or BF16), and a tensor the
 * table does not have (an untied output.weight, a bias) is refused rather than dropped,
 * because training without it would silently change the model. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt/ggml_types.h"
#include "fmt/gguf.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "train.h"

/* The file's shape, read by the library's own schema (lib/model/hparams.c), so that a
 * file the trainer starts from is one the library would load. */
static int read_shape(const dl_gguf *g, const char *path, tr_config *f, dl_err *err) {
    const dl_arch *a = dl_arch_by_id(DIFFLM_ARCH_LLADA);   /* the trainer's model (train.h) */
    dl_str arch;
    int rc = dl_gguf_get_str(g, "general.architecture", &arch, err);
    if (rc)
        return rc;
    if (dl_arch_find(arch.p, arch.n) != a)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "'%s' is a '%.*s' model; the trainer needs %s",
                       path, (int)(arch.n > 64 ? 64 : arch.n), arch.p, a->name);
    dl_hparams hp;
    memset(&hp, 0, sizeof hp);
    if ((rc = dl_hparams_read(&hp, a, g, NULL, err)))
        return rc;
    f->n_embd = hp.n_embd;
    f->n_layer = hp.n_layer;
    f->n_head = hp.n_head;
    f->n_head_kv = hp.n_head_kv;
    f->head_dim = hp.head_dim;
    f->n_ff = hp.n_ff;
    f->n_ctx = hp.n_ctx_train;
    f->rope_theta = hp.rope_theta;
    f->rms_eps = hp.rms_eps;
    const char *emb = dl_tensor_desc_get(DL_T_TOKEN_EMBD)->name;
    const dl_gguf_tensor *t = dl_gguf_find_tensor(g, emb);
    if (!t)
        return dl_fail(err, DIFFLM_E_FORMAT, "'%s' lacks tensor '%s'", path, emb);
    if (t->ne[1] < 1 || t->ne[1] > 65536)
        return dl_fail(err, DIFFLM_E_FORMAT, "'%s': %s has %lld rows", path, emb,
                       (long long)t->ne[1]);
    f->n_vocab = (int32_t)t->ne[1];
    return 0;
}

/* Fields of *cfg that are 0 take the file's value; the others must equal it. */
static int merge_shape(tr_config *cfg, const tr_config *f, const char *path, dl_err *err) {
    const dl_arch *a = dl_arch_by_id(DIFFLM_ARCH_LLADA);
    char k[6][64], vocab[64];
    snprintf(vocab, sizeof vocab, "%s rows", dl_tensor_desc_get(DL_T_TOKEN_EMBD)->name);
    struct { const char *opt, *key; int32_t *mine; int32_t file; } d[] = {
        { "--n-embd", dl_arch_key(a, DL_KEY_EMBEDDING_LENGTH, k[0], sizeof k[0]), &cfg->n_embd, f->n_embd },
        { "--n-layer", dl_arch_key(a, DL_KEY_BLOCK_COUNT, k[1], sizeof k[1]), &cfg->n_layer, f->n_layer },
        { "--n-head", dl_arch_key(a, DL_KEY_HEAD_COUNT, k[2], sizeof k[2]), &cfg->n_head, f->n_head },
        { "--n-head-kv", dl_arch_key(a, DL_KEY_HEAD_COUNT_KV, k[3], sizeof k[3]), &cfg->n_head_kv,
          f->n_head_kv },
        { "--n-ff", dl_arch_key(a, DL_KEY_FEED_FORWARD_LENGTH, k[4], sizeof k[4]), &cfg->n_ff, f->n_ff },
        { "--ctx", dl_arch_key(a, DL_KEY_CONTEXT_LENGTH, k[5], sizeof k[5]), &cfg->n_ctx, f->n_ctx },
        { "the tokenizer's vocabulary", vocab, &cfg->n_vocab, f->n_vocab },
    };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        if (*d[i].mine && *d[i].mine != d[i].file)
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "%s %d does not match '%s' (%s %d)",
                           d[i].opt, *d[i].mine, path, d[i].key, d[i].file);
        *d[i].mine = d[i].file;
    }
    char kr[2][64];
    struct { const char *opt, *key; float *mine; float file; } r[] = {
        { "--rope-theta", dl_arch_key(a, DL_KEY_ROPE_FREQ_BASE, kr[0], sizeof kr[0]), &cfg->rope_theta,
          f->rope_theta },
        { "--rms-eps", dl_arch_key(a, DL_KEY_RMS_EPS, kr[1], sizeof kr[1]), &cfg->rms_eps, f->rms_eps },
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        if (*r[i].mine != 0.0f && *r[i].mine != r[i].file)
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "%s %g does not match '%s' (%s %g)",
                           r[i].opt, (double)*r[i].mine, path, r[i].key, (double)r[i].file);
        *r[i].mine = r[i].file;
    }
    cfg->head_dim = f->head_dim;
    return 0;
}

/* out: [ne0 * ne1] floats from the file tensor t, after its type and shape are checked. */
static int load_tensor(float *out, const tr_tensor *want, const dl_gguf_tensor *t, const char *path,
                       dl_err *err) {
    if (t->ne[0] != want->ne0 || t->ne[1] != want->ne1 || t->ne[2] != 1 || t->ne[3] != 1)
        return dl_fail(err, DIFFLM_E_FORMAT,
                       "'%s': tensor '%s' is [%lld, %lld, %lld, %lld], the trainer needs [%lld, %lld]",
                       path, want->name, (long long)t->ne[0], (long long)t->ne[1],
                       (long long)t->ne[2], (long long)t->ne[3], (long long)want->ne0,
                       (long long)want->ne1);
    size_t n = (size_t)(want->ne0 * want->ne1);
    size_t es = t->type == DL_TYPE_F32 ? 4 : (t->type == DL_TYPE_F16 || t->type == DL_TYPE_BF16) ? 2 : 0;
    if (!es) {
        char buf[32];
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "'%s': tensor '%s' is %s; only F32, F16 and "
                       "BF16 can be trained from", path, want->name, dl_type_name(t->type, buf, sizeof buf));
    }
    if (t->size != n * es)
        return dl_fail(err, DIFFLM_E_FORMAT, "'%s': tensor '%s' holds %llu bytes, expected %zu",
                       path, want->name, (unsigned long long)t->size, n * es);
    if (t->type == DL_TYPE_F32) {
        memcpy(out, t->data, n * sizeof(float));
        return 0;
    }
    /* the row converters read uint16_t; a file with an odd alignment goes through a copy */
    const uint16_t *src = t->data;
    uint16_t *copy = NULL;
    if ((uintptr_t)t->data % sizeof(uint16_t)) {
        if (!(copy = malloc(n * sizeof(uint16_t))))
            return dl_fail(err, DIFFLM_E_NOMEM, "converting '%s'", want->name);
        memcpy(copy, t->data, n * sizeof(uint16_t));
        src = copy;
    }
    if (t->type == DL_TYPE_F16)
        dl_f16_to_f32_row(out, src, n);
    else
        dl_bf16_to_f32_row(out, src, n);
    free(copy);
    return 0;
}

static int load_params(float *p, const tr_config *c, const dl_gguf *g, const char *path, dl_err *err) {
    tr_tensor tab[TR_N_TENSORS(TR_MAX_LAYERS)];
    int nt = tr_tensor_table(c, tab);
    for (size_t i = 0; i < dl_gguf_n_tensors(g); i++) {
        const char *name = dl_gguf_tensor_at(g, i)->name;
        int known = 0;
        for (int k = 0; k < nt && !known; k++)
            known = !strcmp(tab[k].name, name);
        if (!known)
            return dl_fail(err, DIFFLM_E_UNSUPPORTED, "'%s' has tensor '%s', which the trainer's "
                           "model (tied head, no biases) does not", path, name);
    }
    memset(p, 0, tr_n_params(c) * sizeof(float));   /* the padding between tensors */
    for (int k = 0; k < nt; k++) {
        const dl_gguf_tensor *t = dl_gguf_find_tensor(g, tab[k].name);
        if (!t)
            return dl_fail(err, DIFFLM_E_FORMAT, "'%s' lacks tensor '%s'", path, tab[k].name);
        int rc = load_tensor(p + tab[k].offset, &tab[k], t, path, err);
        if (rc)
            return rc;
    }
    return 0;
}

int tr_init_from_gguf(const char *path, tr_config *cfg, float **params, dl_err *err) {
    *params = NULL;
    dl_gguf *g = NULL;
    tr_config f;
    memset(&f, 0, sizeof f);
    int rc = dl_gguf_open(&g, path, err);
    if (!rc)
        rc = read_shape(g, path, &f, err);
    if (!rc)
        rc = merge_shape(cfg, &f, path, err);
    if (!rc)
        rc = tr_config_check(cfg, err);
    if (!rc) {
        *params = malloc(tr_n_params(cfg) * sizeof(float));
        if (!*params)
            rc = dl_fail(err, DIFFLM_E_NOMEM, "%zu parameters", tr_n_params(cfg));
    }
    if (!rc)
        rc = load_params(*params, cfg, g, path, err);
    if (rc) {
        free(*params);
        *params = NULL;
    }
    dl_gguf_close(g);
    return rc;
}

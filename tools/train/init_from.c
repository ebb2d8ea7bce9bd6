/* init_from.c - a fresh run's parameters from a llada GGUF instead of random init, so a
 * later run can continue training an exported model (with new optimizer state). The file
 * is read by lib/model's loader (dl_model_load: the same keys, names, shapes and checks
 * as inference); its shape fills the options left unset and must equal the ones that
 * were set; every tensor of the trainer's table is widened to f32 by lib/model
 * (dl_weight_rows_f32; F32, F16 or BF16), and a tensor the table does not have (an
 * untied output.weight, a bias) is refused rather than dropped, because training
 * without it would silently change the model.
 *
 * Growing in depth (grow, cfg->n_layer above the file's L): layer j of the new model
 * starts as the file's layer floor(j L / n_layer); the first copy of each keeps its
 * weights, the later copies have zero output projections (attn_output, ffn_down), so
 * they add nothing to the residual stream and the grown model computes exactly what the
 * file's does. Their other weights, copies of a trained layer, start learning once
 * their output projections move off zero (the gradient reaches those first). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "difflm_internal.h"
#include "train.h"

/* The file's shape, from lib/model's loader: the hyperparameters (the schema of
 * lib/model/hparams.c) and the bound weights are read, checked and named there exactly
 * as for inference. Only the trainer's architecture qualifies (train.h). */
static int read_shape(const dl_model *m, const char *path, tr_config *f, dl_err *err) {
    const dl_arch *a = dl_arch_by_id(DIFFLM_ARCH_LLADA);
    const dl_hparams *hp = &m->hp;
    if (m->arch != a)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "'%s' is a '%s' model; the trainer needs %s",
                       path, m->arch->name, a->name);
    *f = (tr_config){ .n_vocab = hp->n_vocab, .n_embd = hp->n_embd, .n_layer = hp->n_layer,
                      .n_head = hp->n_head, .n_head_kv = hp->n_head_kv, .head_dim = hp->head_dim,
                      .n_ff = hp->n_ff, .n_ctx = hp->n_ctx_train, .rope_theta = hp->rope_theta,
                      .rms_eps = hp->rms_eps };
    return 0;
}

/* Fields of *cfg that are 0 take the file's value; the others must equal it. */
static int merge_shape(tr_config *cfg, const tr_config *f, int grow, const char *path,
                       dl_err *err) {
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
    if (grow) {
        if (!cfg->n_layer)
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "growing needs --n-layer");
        if (cfg->n_layer < f->n_layer)
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "growing: --n-layer %d is below the %d "
                           "layers of '%s'", cfg->n_layer, f->n_layer, path);
        d[1].file = cfg->n_layer;   /* the one dimension that may differ */
    }
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

static int load_params(float *p, const tr_config *c, const dl_gguf *g, const dl_model *m,
                       const char *path, dl_err *err) {
    const int32_t L = m->hp.n_layer, N = c->n_layer;
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
        /* the loader checked names, shapes and sizes; the trainer keeps f32 masters, so
         * only the types that widen exactly qualify */
        tr_tensor src = tab[k];
        int zero = 0;
        if (src.layer >= 0) {   /* N == L: the same layer */
            src.layer = (int)((int64_t)tab[k].layer * L / N);
            int first = tab[k].layer == 0 || (int64_t)(tab[k].layer - 1) * L / N != src.layer;
            zero = !first && (src.id == DL_T_ATTN_OUT || src.id == DL_T_FFN_DOWN);
        }
        const dl_weight *w = tr_tensor_weight(m, &src);
        if (w->type != DL_TYPE_F32 && w->type != DL_TYPE_F16 && w->type != DL_TYPE_BF16) {
            char buf[32];
            return dl_fail(err, DIFFLM_E_UNSUPPORTED, "'%s': tensor '%s' is %s; only F32, F16 "
                           "and BF16 can be trained from", path, tab[k].name,
                           dl_type_name(w->type, buf, sizeof buf));
        }
        if (!zero)   /* else it stays as the memset left it */
            dl_weight_rows_f32(p + tab[k].offset, w, 0, w->ne1);
    }
    return 0;
}

int tr_init_from_gguf(const char *path, tr_config *cfg, int grow, float **params, dl_err *err) {
    *params = NULL;
    dl_gguf *g = NULL;
    dl_model *m = NULL;
    tr_config f;
    memset(&f, 0, sizeof f);
    int rc = dl_gguf_open(&g, path, err);
    if (!rc && (rc = dl_model_load(&m, g, NULL, err))) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        dl_fail(err, rc, "'%s': %s", path, msg);
    }
    if (!rc)
        rc = read_shape(m, path, &f, err);
    if (!rc)
        rc = merge_shape(cfg, &f, grow, path, err);
    if (!rc)
        rc = tr_config_check(cfg, err);
    if (!rc) {
        *params = malloc(tr_n_params(cfg) * sizeof(float));
        if (!*params)
            rc = dl_fail(err, DIFFLM_E_NOMEM, "%zu parameters", tr_n_params(cfg));
    }
    if (!rc)
        rc = load_params(*params, cfg, g, m, path, err);
    if (rc) {
        free(*params);
        *params = NULL;
    }
    dl_model_free(m);
    dl_gguf_close(g);
    return rc;
}

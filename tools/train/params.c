/* params.c - the model's shape, its tensor table in GGUF order, and initialisation (from
 * the library's splitmix64, sample/sample.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "train.h"

void tr_config_default(tr_config *c) {
    *c = (tr_config){ .n_vocab = 4096, .n_embd = 256, .n_layer = 8, .n_head = 8,
                      .n_head_kv = 2, .head_dim = 32, .n_ff = 768, .n_ctx = 256,
                      .rope_theta = 10000.0f, .rms_eps = 1e-5f };
}

void tr_hyper_default(tr_hyper *h) {
    *h = (tr_hyper){ .batch = 16, .steps = 2000, .warmup = 100, .lr = 1.5e-3f,
                     .min_lr_frac = 0.1f, .wd = 0.1f, .beta1 = 0.9f, .beta2 = 0.95f,
                     .adam_eps = 1e-8f, .clip = 1.0f, .cut_frac = 0.01f, .seed = 1,
                     .ckpt_every = 100, .eval_every = 100, .log_every = 10,
                     .eval_windows = 64, .threads = 2 };
}

int tr_config_check(const tr_config *c, dl_err *err) {
    const int32_t d[] = { c->n_vocab, c->n_embd, c->n_layer, c->n_head, c->n_head_kv,
                          c->head_dim, c->n_ff, c->n_ctx };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (d[i] < 1 || d[i] > 65536)
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "model dimension %d out of [1, 65536]", d[i]);
    if (c->n_layer > TR_MAX_LAYERS)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "n_layer %d > %d", c->n_layer, TR_MAX_LAYERS);
    if (c->head_dim % 2)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "head_dim %d is odd", c->head_dim);
    if (c->n_head % c->n_head_kv)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "n_head %d is not a multiple of n_head_kv %d",
                       c->n_head, c->n_head_kv);
    if (c->n_ctx < 2)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "n_ctx %d < 2", c->n_ctx);
    if (c->n_vocab > 65535)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "vocab %d does not fit the uint16 token cache",
                       c->n_vocab);
    if (!(c->rope_theta > 1.0f) || !(c->rms_eps > 0.0f))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "rope theta %g / rms eps %g",
                       (double)c->rope_theta, (double)c->rms_eps);
    return 0;
}

/* --- tensor table */

/* The trainer's tensors in the order of its parameter buffer (and of the files it
 * writes): the library's descriptors (lib/model/arch.c) give their names, shapes and
 * places in dl_model / dl_layer. */
static const dl_tensor_id k_global[] = { DL_T_TOKEN_EMBD, DL_T_OUTPUT_NORM };
static const dl_tensor_id k_layer[] = { DL_T_ATTN_NORM, DL_T_ATTN_Q, DL_T_ATTN_K, DL_T_ATTN_V,
                                        DL_T_ATTN_OUT, DL_T_FFN_NORM, DL_T_FFN_GATE,
                                        DL_T_FFN_UP, DL_T_FFN_DOWN };

/* The shape part of tr_hparams (n_params aside, which the table itself gives). */
static void shape(dl_hparams *hp, const tr_config *c) {
    const dl_arch *a = dl_arch_by_id(DIFFLM_ARCH_LLADA);   /* the trainer's model (train.h) */
    *hp = (dl_hparams){ .arch = a->id, .n_vocab = c->n_vocab, .n_embd = c->n_embd,
                        .n_layer = c->n_layer, .n_head = c->n_head, .n_head_kv = c->n_head_kv,
                        .head_dim = c->head_dim, .n_ff = c->n_ff, .n_ctx_train = c->n_ctx,
                        .rms_eps = c->rms_eps, .rope_theta = c->rope_theta,
                        .n_rot = c->head_dim, .rope_layout = a->rope,
                        .shift_logits = a->shift_logits, .tied_output = 1 };
}

static void put(tr_tensor *e, const dl_hparams *hp, dl_tensor_id id, int layer, size_t *off) {
    const dl_tensor_desc *d = dl_tensor_desc_get(id);
    if (d->per_layer)
        snprintf(e->name, sizeof e->name, d->name, layer);
    else
        snprintf(e->name, sizeof e->name, "%s", d->name);
    e->id = id;
    e->layer = layer;
    e->offset = *off;
    e->ne0 = dl_hparams_dim(hp, d->ne[0]);
    e->ne1 = dl_hparams_dim(hp, d->ne[1]);
    e->is_matrix = d->kind == DL_TK_MATRIX;
    /* every tensor starts on a 16-float boundary so rows of any kernel stay aligned */
    *off += ((size_t)(e->ne0 * e->ne1) + 15) / 16 * 16;
}

static int table(const tr_config *c, tr_tensor *t, size_t *total) {
    dl_hparams hp;
    shape(&hp, c);
    int i = 0;
    size_t off = 0;
    for (size_t k = 0; k < sizeof k_global / sizeof k_global[0]; k++)
        put(&t[i++], &hp, k_global[k], -1, &off);
    for (int l = 0; l < c->n_layer; l++)
        for (size_t k = 0; k < sizeof k_layer / sizeof k_layer[0]; k++)
            put(&t[i++], &hp, k_layer[k], l, &off);
    *total = off;
    return i;
}

int tr_tensor_table(const tr_config *c, tr_tensor *out) {
    size_t total;
    return table(c, out, &total);
}

size_t tr_n_params(const tr_config *c) {
    tr_tensor t[TR_N_TENSORS(TR_MAX_LAYERS)];
    size_t total;
    table(c, t, &total);
    return total;
}

void tr_hparams(dl_hparams *hp, const tr_config *c) {
    shape(hp, c);
    hp->n_params = tr_n_params(c);
}

const dl_weight *tr_tensor_weight(const dl_model *m, const tr_tensor *t) {
    const dl_tensor_desc *d = dl_tensor_desc_get(t->id);
    const char *base = d->per_layer ? (const char *)&m->layers[t->layer] : (const char *)m;
    return (const dl_weight *)(base + d->offset);
}

void tr_bind(dl_model *w, dl_layer *layers, const float *base, const tr_config *c) {
    tr_tensor t[TR_N_TENSORS(TR_MAX_LAYERS)];
    int n = tr_tensor_table(c, t);
    memset(w, 0, sizeof *w);
    memset(layers, 0, (size_t)c->n_layer * sizeof *layers);   /* no biases: they stay absent */
    w->arch = dl_arch_by_id(DIFFLM_ARCH_LLADA);
    tr_hparams(&w->hp, c);
    w->layers = layers;
    for (int i = 0; i < n; i++)
        *(dl_weight *)tr_tensor_weight(w, &t[i]) =
            (dl_weight){ base + t[i].offset, DL_TYPE_F32, t[i].ne0, t[i].ne1, NULL };
}

static double normal(uint64_t *s) {
    double u1 = dl_splitmix64_uniform(s), u2 = dl_splitmix64_uniform(s);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

void tr_init_params(float *params, const tr_config *c, uint64_t seed) {
    tr_tensor t[TR_N_TENSORS(TR_MAX_LAYERS)];
    size_t total;
    int n = table(c, t, &total);
    memset(params, 0, total * sizeof(float));
    uint64_t s = seed ^ 0x5eed5eed5eedull;
    /* residual branches end in attn_output / ffn_down: scaling them by 1/sqrt(2L) keeps
     * the residual stream's size independent of depth at init (GPT-2's rule) */
    double resid_scale = 1.0 / sqrt(2.0 * c->n_layer);
    for (int i = 0; i < n; i++) {
        float *p = params + t[i].offset;
        size_t cnt = (size_t)(t[i].ne0 * t[i].ne1);
        if (!t[i].is_matrix) {
            for (size_t j = 0; j < cnt; j++)
                p[j] = 1.0f;
            continue;
        }
        int is_out = t[i].id == DL_T_ATTN_OUT || t[i].id == DL_T_FFN_DOWN;
        double std = 0.02 * (is_out ? resid_scale : 1.0);
        for (size_t j = 0; j < cnt; j++)
            p[j] = (float)(std * normal(&s));
    }
}

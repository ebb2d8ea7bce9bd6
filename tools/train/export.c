/* export.c - the trained parameters as a llada GGUF (doc/formats.md, "Model metadata" to "Diffusion keys"): the
 * architecture keys llama.cpp requires, diffusion.shift_logits = false, every
 * tokenizer.* key of the tokenizer file copied with its type, and the tensors as the
 * trainer holds them (it trains in the GGUF layout: adjacent-pair RoPE on the stored
 * q/k rows, tied head), matrices F16 or F32, vectors F32. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "difflm_internal.h"
#include "train.h"

/* Every tokenizer.* key of g, in file order, with its own type. */
static int copy_tokenizer(dl_gguf_writer *w, const dl_gguf *g, dl_err *err) {
    for (size_t i = 0; i < dl_gguf_n_kv(g); i++) {
        const char *key = dl_gguf_key_at(g, i);
        if (strncmp(key, "tokenizer.", 10) != 0)
            continue;
        int rc = dl_gguf_w_copy_kv(w, g, i);
        if (rc)
            return dl_fail(err, rc, "copying '%s'", key);
    }
    return 0;
}

/* general.* and the architecture's keys, spelled and ordered by the library's schema
 * (lib/model/hparams.c) so that the loader reads exactly what is written here. */
static int write_meta(dl_gguf_writer *w, const tr_config *c, uint32_t wtype) {
    const dl_arch *a = dl_arch_by_id(DIFFLM_ARCH_LLADA);   /* the trainer's model (train.h) */
    dl_hparams hp = {
        .n_vocab = c->n_vocab, .n_embd = c->n_embd, .n_layer = c->n_layer,
        .n_head = c->n_head, .n_head_kv = c->n_head_kv, .head_dim = c->head_dim,
        .n_ff = c->n_ff, .n_ctx_train = c->n_ctx, .rms_eps = c->rms_eps,
        .rope_theta = c->rope_theta, .n_rot = c->head_dim, .shift_logits = a->shift_logits,
    };
    int rc = 0;
    rc |= dl_gguf_w_str(w, "general.architecture", a->name);
    rc |= dl_gguf_w_str(w, "general.name", "difflm-default");
    rc |= dl_gguf_w_u32(w, "general.file_type", wtype == DL_TYPE_F16 ? 1u : 0u);
    rc |= dl_hparams_write(w, a, &hp, DL_HP_WRITE_HEAD_LENGTHS);
    return rc;
}

int tr_export_gguf(const char *path, const tr_config *c, const float *params,
                   const char *tokenizer_path, uint32_t wtype, dl_err *err) {
    if (wtype != DL_TYPE_F16 && wtype != DL_TYPE_F32)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "export type %u is not F16 or F32", wtype);
    dl_gguf *g = NULL;
    int rc = dl_gguf_open(&g, tokenizer_path, err);
    if (rc)
        return rc;
    uint64_t n_tok = 0;
    uint32_t et;
    if ((rc = dl_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n_tok, err)))
        goto out_g;
    if (n_tok != (uint64_t)c->n_vocab) {
        rc = dl_fail(err, DIFFLM_E_INVALID_ARG, "tokenizer '%s' has %llu tokens, the model %d",
                     tokenizer_path, (unsigned long long)n_tok, c->n_vocab);
        goto out_g;
    }
    dl_gguf_writer *w = dl_gguf_writer_new();
    tr_tensor tab[TR_N_TENSORS(TR_MAX_LAYERS)];
    int n = tr_tensor_table(c, tab);
    uint16_t *half[TR_N_TENSORS(TR_MAX_LAYERS)] = { NULL };
    if (!w) {
        rc = dl_fail(err, DIFFLM_E_NOMEM, "gguf writer");
        goto out_g;
    }
    if (write_meta(w, c, wtype)) {
        rc = dl_fail(err, DIFFLM_E_NOMEM, "writing metadata");
        goto out_w;
    }
    if ((rc = copy_tokenizer(w, g, err)))
        goto out_w;
    for (int i = 0; i < n; i++) {
        const float *src = params + tab[i].offset;
        size_t cnt = (size_t)(tab[i].ne0 * tab[i].ne1);
        int64_t ne[2] = { tab[i].ne0, tab[i].ne1 };
        uint32_t nd = tab[i].is_matrix ? 2 : 1;
        const void *data = src;
        uint32_t t = DL_TYPE_F32;
        if (tab[i].is_matrix && wtype == DL_TYPE_F16) {
            half[i] = malloc(cnt * sizeof(uint16_t));
            if (!half[i]) {
                rc = dl_fail(err, DIFFLM_E_NOMEM, "converting '%s'", tab[i].name);
                goto out_w;
            }
            for (size_t j = 0; j < cnt; j++)
                half[i][j] = dl_f32_to_f16(src[j]);
            data = half[i];
            t = DL_TYPE_F16;
        }
        if (dl_gguf_w_tensor(w, tab[i].name, t, nd, ne, data)) {
            rc = dl_fail(err, DIFFLM_E_INTERNAL, "adding tensor '%s'", tab[i].name);
            goto out_w;
        }
    }
    rc = dl_gguf_writer_write(w, path, err);
out_w:
    for (int i = 0; i < n; i++)
        free(half[i]);
    dl_gguf_writer_free(w);
out_g:
    dl_gguf_close(g);
    return rc;
}

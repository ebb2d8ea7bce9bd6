/* model_obj.c - loading, sharing and freeing the public model object. */
#include "ctx/model_obj.h"
#include "fmt/safetensors.h"
#include "model/hf_config.h"
#include "model/model_weights.h"

#include <string.h>

int dl_model_obj_load(struct difflm_model **out, const difflm_model_params *p, dl_err *err) {
    *out = NULL;
    struct difflm_model *m = dl_calloc(1, sizeof *m);
    if (!m)
        return dl_fail(err, DIFFLM_E_NOMEM, "cannot allocate the model");
    m->mem = (dl_mem){p->alloc_fn, p->free_fn, p->alloc_user};
    m->log = (dl_log){p->log_fn, p->log_user, p->log_level};
    m->refs = 1;
    if (pthread_mutex_init(&m->pack_lock, NULL) != 0) {
        dl_free(m);
        return dl_fail(err, DIFFLM_E_NOMEM, "cannot create the model's lock");
    }
    m->pack_lock_made = 1;
    char dir[4096];
    int32_t hf_mask = -1;
    int rc;
    if (p->path && dl_hf_is_folder(p->path, dir, sizeof dir)) {
        /* a Hugging Face folder: the weights from its safetensors, its own tokenizer */
        rc = dl_model_obj_load_hf(m, dir, &hf_mask, err);
    } else {
        if (p->path) {
            rc = dl_gguf_open(&m->gguf, p->path, err);
        } else {
            dl_mapped_file mf;
            rc = p->data ? dl_map_buffer(&mf, p->data, p->size, err)
                         : dl_map_reader(&mf, p->read_fn, p->read_user, p->size, err);
            if (rc == 0)
                rc = dl_gguf_open_mapped(&m->gguf, &mf,
                                         p->data ? "model buffer" : "read_fn image", err);
        }
        if (rc == 0)
            rc = dl_model_load(&m->model, m->gguf, &m->log, err);
        if (rc == 0)
            rc = dl_tok_load(&m->tok, m->gguf, err);
    }
    if (rc != 0) {
        dl_model_obj_release(m);
        return rc;
    }
    const dl_hparams *hp = &m->model->hp;
    m->n_tok_vocab = DL_MIN(dl_tok_n_ids(m->tok), hp->n_vocab);
    // the host's id, else the file's, else the architecture's (arch.c; -1 for rows
    // whose files always carry one)
    int32_t file_mask = hf_mask >= 0 ? hf_mask : dl_tok_specials(m->tok)->mask;
    m->mask_id = p->mask_token_id >= 0 ? p->mask_token_id
               : file_mask >= 0        ? file_mask
                                       : m->model->arch->mask_id;
    if (m->mask_id < 0 || m->mask_id >= hp->n_vocab) {
        rc = dl_fail(err, m->mask_id < 0 ? DIFFLM_E_FORMAT : DIFFLM_E_INVALID_ARG,
                     m->mask_id < 0 ? "the file has no tokenizer.ggml.mask_token_id; set "
                                      "the mask_token_id parameter"
                                    : "mask token id %d is outside the vocabulary of %d",
                     m->mask_id, hp->n_vocab);
        dl_model_obj_release(m);
        return rc;
    }
    *out = m;
    return 0;
}

void dl_model_obj_retain(struct difflm_model *m) {
    __atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
}

void dl_model_obj_release(struct difflm_model *m) {
    if (!m || __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    const dl_mem *prev = dl_mem_enter(&m->mem);
    for (int i = 0; i < 2; i++)
        if (m->packed[i]) {
            dl_aligned_free(m->packed[i]->weights);
            dl_free(m->packed[i]->layers);
            dl_free(m->packed[i]);
        }
    if (m->pack_lock_made)
        pthread_mutex_destroy(&m->pack_lock);
    dl_tok_free(m->tok);
    dl_model_free(m->model);
    dl_gguf_close(m->gguf);
    dl_st_close(m->st);
    dl_free(m);
    dl_mem_leave(prev);
}

/* Packs lm's float matrices for precision into a new copy; NULL when out of memory. */
static dl_packed_copy *make_packed(struct difflm_model *lm, int precision, size_t bytes,
                                   dl_pool *pool, int n_threads) {
    size_t table = (size_t)lm->model->hp.n_layer * sizeof(dl_layer);
    dl_packed_copy *pk = dl_calloc(1, sizeof *pk);
    if (!pk)
        return NULL;
    pk->layers = dl_malloc(table ? table : 1);
    pk->weights = dl_aligned_alloc(bytes);
    if (!pk->layers || !pk->weights) {
        dl_free(pk->layers);
        dl_aligned_free(pk->weights);
        dl_free(pk);
        return NULL;
    }
    dl_advise_huge_pages(pk->weights, bytes);
    memcpy(pk->layers, lm->model->layers, table);
    dl_model m = *lm->model;   /* the packing writes the panels fields of this copy */
    m.layers = pk->layers;
    dl_model_pack(&m, precision, pk->weights, pool, n_threads);
    pk->output = m.output;
    pk->tok_embd = m.tok_embd;
    return pk;
}

int dl_model_obj_packed(struct difflm_model *lm, int precision, size_t bytes, dl_pool *pool,
                        int n_threads, const dl_packed_copy **out, dl_err *err) {
    pthread_mutex_lock(&lm->pack_lock);
    dl_packed_copy *pk = lm->packed[precision];
    if (!pk) {
        const dl_mem *prev = dl_mem_enter(&lm->mem);   /* the model's, freed with it */
        pk = lm->packed[precision] = make_packed(lm, precision, bytes, pool, n_threads);
        dl_mem_leave(prev);
    }
    pthread_mutex_unlock(&lm->pack_lock);
    *out = pk;
    return pk ? 0 : dl_fail(err, DIFFLM_E_NOMEM, "cannot allocate the %zu-byte packed copy "
                            "of the weights", bytes);
}

int dl_model_obj_has_packed(struct difflm_model *lm, int precision) {
    pthread_mutex_lock(&lm->pack_lock);
    int has = lm->packed[precision] != NULL;
    pthread_mutex_unlock(&lm->pack_lock);
    return has;
}

void dl_model_obj_info(const struct difflm_model *m, difflm_model_info *info) {
    const dl_hparams *hp = &m->model->hp;
    const dl_tok_special *sp = dl_tok_specials(m->tok);
    *info = (difflm_model_info){
        .struct_size = sizeof *info,
        .arch = hp->arch,
        .n_vocab = hp->n_vocab,
        .n_ctx_train = hp->n_ctx_train,
        .n_layer = hp->n_layer,
        .n_embd = hp->n_embd,
        .n_head = hp->n_head,
        .n_head_kv = hp->n_head_kv,
        .n_ff = hp->n_ff,
        .shift_logits = hp->shift_logits,
        .mask_id = m->mask_id,
        .bos_id = sp->bos,
        .eos_id = sp->eos,
        .eot_id = sp->eot,
        .add_bos = sp->add_bos,
        .n_params = hp->n_params,
        .block_length = hp->block_length,
    };
}

const dl_mem *dl_model_obj_mem(const struct difflm_model *m) {
    return &m->mem;
}

/* model_obj.c - loading, sharing and freeing the public model object. */
#include "ctx/model_obj.h"
#include "fmt/safetensors.h"
#include "model/hf_config.h"

int dl_model_obj_load(struct difflm_model **out, const difflm_model_params *p, dl_err *err) {
    *out = NULL;
    struct difflm_model *m = dl_calloc(1, sizeof *m);
    if (!m)
        return dl_fail(err, DIFFLM_E_NOMEM, "cannot allocate the model");
    m->mem = (dl_mem){p->alloc_fn, p->free_fn, p->alloc_user};
    m->log = (dl_log){p->log_fn, p->log_user, p->log_level};
    m->refs = 1;
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
    dl_tok_free(m->tok);
    dl_model_free(m->model);
    dl_gguf_close(m->gguf);
    dl_st_close(m->st);
    dl_free(m);
    dl_mem_leave(prev);
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

/* model_obj.h - the public difflm_model: a loaded model file (mapping, weight table,
 * tokenizer, chat format) shared read-only by every context made from it.
 *
 * Nothing in it is written after dl_model_obj_load returns except the reference count,
 * an atomic kept apart from the data, which decides when the last holder (the host or
 * a context) frees it. */
#ifndef DL_MODEL_OBJ_H
#define DL_MODEL_OBJ_H

#include "core/core.h"
#include "ctx/ctx_api.h"
#include "fmt/gguf.h"
#include "model/model.h"
#include "tok/tok.h"

struct difflm_model {
    dl_mem mem;                 /* the allocator everything below came from */
    dl_log log;
    dl_gguf *gguf;              /* the model file; NULL for a Hugging Face folder */
    struct dl_st *st;           /* a folder's safetensors (the weights); NULL for GGUF */
    dl_model *model;            /* its pool and n_threads stay unset: each context runs
                                   a private copy of this struct with its own */
    dl_tok *tok;
    int32_t mask_id;
    int32_t n_tok_vocab;        /* ids >= this are never predicted: a GGUF whose vocabulary
                                   is shorter than its head (a folder's head is predicted
                                   whole, dl_tok_n_ids) */
    int refs;                   /* atomic; the host's reference and one per context */
};

/* Loads the Hugging Face folder dir into m (its model, st and tok; model_hf.c), the mask
 * id of its config.json into *mask_id (-1 when absent). On failure m holds what was
 * loaded, for dl_model_obj_release. */
int dl_model_obj_load_hf(struct difflm_model *m, const char *dir, int32_t *mask_id, dl_err *err);

#endif

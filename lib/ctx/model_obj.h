/* model_obj.h - the public difflm_model: a loaded model file (mapping, weight table,
 * tokenizer, chat format) shared read-only by every context made from it.
 *
 * Nothing in it is written after dl_model_obj_load returns except the reference count,
 * an atomic kept apart from the data, which decides when the last holder (the host or
 * a context) frees it, and the packed copies of the float weights, each made once, under
 * pack_lock, by the first context that asks for it. */
#ifndef DL_MODEL_OBJ_H
#define DL_MODEL_OBJ_H

#include "core/core.h"
#include <pthread.h>

#include "core/pool.h"
#include "ctx/ctx_api.h"
#include "fmt/gguf.h"
#include "model/model.h"
#include "tok/tok.h"

/* The float matrices of a model packed for one precision (model/model_weights.h
 * dl_model_pack), shared by every context of that precision that packs. */
typedef struct dl_packed_copy {
    void *weights;              /* the panels (dl_model_pack_size bytes) */
    dl_layer *layers;           /* a copy of the layer table whose float matrices point
                                   at them (the model's own table is never written) */
    dl_weight output, tok_embd; /* the head and the embedding, likewise */
} dl_packed_copy;

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
    pthread_mutex_t pack_lock;  /* guards packed */
    int pack_lock_made;
    dl_packed_copy *packed[2];  /* per enum dl_precision; NULL until a context packs */
};

/* The copy of lm's float matrices packed for precision (bytes: dl_model_pack_size's),
 * made on the first call with pool and n_threads, the same one afterwards. Returns 0 with
 * *out set, or E_NOMEM (nothing changed). Safe from any number of threads at once. */
int dl_model_obj_packed(struct difflm_model *lm, int precision, size_t bytes, dl_pool *pool,
                        int n_threads, const dl_packed_copy **out, dl_err *err);

/* 1 if lm holds the packed copy for precision already. */
int dl_model_obj_has_packed(struct difflm_model *lm, int precision);

/* Loads the Hugging Face folder dir into m (its model, st and tok; model_hf.c), the mask
 * id of its config.json into *mask_id (-1 when absent). On failure m holds what was
 * loaded, for dl_model_obj_release. */
int dl_model_obj_load_hf(struct difflm_model *m, const char *dir, int32_t *mask_id, dl_err *err);

#endif

/* hf_config.h - a Hugging Face model folder's config.json and generation_config.json
 * read into the architecture row, the hyperparameters and the special ids, and the
 * folder's model (the safetensors weights bound under the row's HF names). */
#ifndef DL_HF_CONFIG_H
#define DL_HF_CONFIG_H

#include "core/core.h"
#include "fmt/safetensors.h"
#include "model/model.h"

#define DL_HF_MAX_EOS 8

typedef struct dl_hf_config {
    const dl_arch *arch;
    dl_hparams hp;              /* n_vocab from vocab_size (checked against the embedding) */
    int32_t mask_id;            /* config.json mask_token_id; -1 when absent */
    int32_t bos_id;             /* generation_config.json, else config.json; -1 when absent */
    int32_t eos[DL_HF_MAX_EOS]; /* generation_config.json eos_token_id (int or list), else
                                   config.json's */
    int32_t n_eos;
    int32_t tied;               /* weight_tying / tie_word_embeddings */
} dl_hf_config;

/* 1 if path names a folder or a file named config.json (a Hugging Face model); the
 * folder's path into dir (cap bytes). 0 otherwise (a GGUF file). */
int dl_hf_is_folder(const char *path, char *dir, size_t cap);

/* Reads dir/config.json (required) and dir/generation_config.json (optional). E_IO,
 * E_FORMAT naming the file and key, E_UNSUPPORTED for a model_type no row reads. */
int dl_hf_config_read(dl_hf_config *c, const char *dir, dl_err *err);

/* The same over texts in memory: config (n bytes, required) and gen (gen_n bytes, or
 * NULL: no generation_config.json); messages name the files "config.json" and
 * "generation_config.json". Not copied. For tests and fuzzing. */
int dl_hf_config_parse(dl_hf_config *c, const char *config, size_t n, const char *gen,
                       size_t gen_n, dl_err *err);

/* The model of a folder: config read, weights opened (*st, which must outlive *out)
 * and bound. */
int dl_hf_model_load(dl_model **out, dl_st **st, dl_hf_config *c, const char *dir, dl_err *err);

#endif

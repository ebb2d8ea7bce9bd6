/* hf_folder.h - writes a Hugging Face model folder (config.json, generation_config.json,
 * safetensors, optionally sharded) holding exactly the weights of a GGUF test model
 * (tests/fixtures/model_tiny.c): the row's HF tensor names, HF shapes, and for LLaDA the
 * q/k rows put back in the checkpoint's order (the inverse of llama.cpp's permutation),
 * so loading the folder must give the GGUF's logits. */
#ifndef DL_HF_FOLDER_H
#define DL_HF_FOLDER_H

#include "fmt/gguf.h"

typedef struct hf_folder_opts {
    int shards;                 /* 0/1: model.safetensors; n > 1: n shards + index */
    int mask_id;                /* config.json mask_token_id (-1: left out) */
    int eos_id;                 /* generation_config.json eos_token_id (-1: no file) */
} hf_folder_opts;

/* Returns 0, or -1 with a message on stderr. dir must exist. */
int hf_write_folder(const dl_gguf *g, const char *dir, const hf_folder_opts *o);

#endif

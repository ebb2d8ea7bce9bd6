/* hf_convert.h - a Hugging Face model folder written as the GGUF llama.cpp's converter
 * makes of it: general.* and `{arch}.*` keys (dl_hparams_write), the tokenizer keys
 * from tokenizer.json / tokenizer_config.json, tensors under GGUF names in the row's
 * order with LLaDA's q/k rows permuted for adjacent RoPE pairs, matrices in the output
 * type and 1-D tensors in F32. Tensors are produced one at a time while the file is
 * written (memory stays flat), into a temporary name renamed at the end: a failure
 * leaves no output file. */
#ifndef DL_HF_CONVERT_H
#define DL_HF_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Called before each tensor: done tensors of total, the next one's GGUF name. */
typedef void (*dl_convert_progress_fn)(size_t done, size_t total, const char *name, void *user);

/* out_type: DL_TYPE_F32, F16 or BF16. Returns 0, E_IO, E_FORMAT, E_UNSUPPORTED (an
 * architecture, dtype or tokenizer difflm does not convert), E_INVALID_ARG, E_NOMEM. */
int dl_hf_convert(const char *dir, const char *out_path, uint32_t out_type,
                  dl_convert_progress_fn progress, void *user, dl_err *err);

/* The folder's tokenizer as the GGUF tokenizer keys the converter writes, in a
 * dl_malloc'd GGUF buffer (*buf, *n; the caller frees it after the dl_gguf opened over it):
 * how a folder is tokenized until a reader of tokenizer.json with Hugging Face's
 * semantics replaces it. c: the folder's config (dl_hf_config_read, n_vocab set from the
 * weights). */
struct dl_hf_config;
int dl_hf_tokenizer_gguf(const char *dir, const struct dl_hf_config *c, void **buf, size_t *n,
                         dl_err *err);

#endif

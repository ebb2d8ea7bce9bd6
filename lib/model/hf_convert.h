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

#endif

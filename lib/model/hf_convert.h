/* hf_convert.h - a Hugging Face model folder seen as the GGUF llama.cpp's converter
 * makes of it: general.* and `{arch}.*` keys (dl_hparams_write), the tokenizer keys
 * from tokenizer.json / tokenizer_config.json, tensors under GGUF names in the row's
 * order with LLaDA's q/k rows permuted for adjacent RoPE pairs, matrices in the output
 * type and 1-D tensors in F32. Nothing is converted at open: the converter (convert.c)
 * asks for one tensor's bytes, or one row widened to F32, while it writes the file, so
 * memory stays flat whatever the model's size. */
#ifndef DL_HF_CONVERT_H
#define DL_HF_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "fmt/gguf.h"

typedef struct dl_hf_src dl_hf_src;

/* Opens the folder dir (config.json, the safetensors, the tokenizer files) and checks
 * everything the conversion needs: every tensor bound with its shape and dtype, no
 * tensor without a GGUF name, a byte-level BPE tokenizer.json. out_type: DL_TYPE_F32,
 * F16 or BF16 for the matrices (general.file_type follows it). Returns 0, E_IO,
 * E_FORMAT, E_UNSUPPORTED (an architecture, dtype or tokenizer difflm does not convert,
 * named with its file or tensor), E_INVALID_ARG, E_NOMEM. */
int dl_hf_src_open(dl_hf_src **out, const char *dir, uint32_t out_type, dl_err *err);
void dl_hf_src_close(dl_hf_src *s);   /* NULL is fine */

/* The metadata keys, in llama.cpp's converter order (a writer holding no tensors). */
const dl_gguf_writer *dl_hf_src_keys(const dl_hf_src *s);
size_t dl_hf_src_n_tensors(const dl_hf_src *s);
/* Tensor i as the GGUF holds it: name, type (out_type, F32 for 1-D), n_dims, ne, size;
 * data is NULL. */
const dl_gguf_tensor *dl_hf_src_tensor(const dl_hf_src *s, size_t i);
/* out: [ne0] row r of tensor i in GGUF order (permuted), widened to F32. Thread-safe. */
void dl_hf_src_row(const dl_hf_src *s, size_t i, int64_t r, float *out);
/* out: the bytes of tensor i in its type (dl_hf_src_tensor(s, i)->size);
 * row: [ne0] scratch. */
void dl_hf_src_bytes(const dl_hf_src *s, size_t i, void *out, float *row);
/* Tensor i has been written: its pages of the mapping may leave the resident set. */
void dl_hf_src_release(const dl_hf_src *s, size_t i);

/* dl_convert (convert.c) of the folder dir into out_path in out_type (DL_TYPE_F32, F16
 * or BF16), for the tests that predate it; progress is called after each tensor. */
typedef void (*dl_convert_progress_fn)(size_t done, size_t total, const char *name, void *user);
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

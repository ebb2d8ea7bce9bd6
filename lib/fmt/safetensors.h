/* safetensors.h - reader of Hugging Face safetensors files and sharded sets (mmap,
 * validated), the weights of a model folder.
 *
 * A file is an 8-byte little-endian header length N, N bytes of JSON (an object:
 * tensor name -> {"dtype", "shape", "data_offsets": [begin, end]}, plus an optional
 * "__metadata__" object), then the data region the offsets point into. Every field is
 * checked before use: the header length against the file, each shape's byte size
 * (overflow-safe) against its offsets, the offsets against the data region and against
 * each other (no two tensors overlap). A malformed header gives DIFFLM_E_FORMAT with a
 * message naming the file, the tensor and the field. Tensor data is never copied: the
 * records point into the mapping, which lives as long as the dl_st.
 *
 * A tensor of a dtype difflm does not compute in (I64, F8_E4M3, ...) or of rank above 4
 * is listed but not usable: dl_st_get reports E_UNSUPPORTED naming it and its dtype, so
 * a checkpoint with an unused odd tensor (a rotary inv_freq buffer, position ids) still
 * loads. */
#ifndef DL_SAFETENSORS_H
#define DL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "fmt/gguf.h"

typedef struct dl_st_tensor {
    dl_gguf_tensor t;           /* name (owned), ggml type id, ne fastest first (GGUF
                                   order: HF [out, in] is ne {in, out}), size, data;
                                   t.offset is from the start of its file's data region */
    const char *dtype;          /* the file's dtype string ("BF16"); static storage */
    int64_t shape[4];           /* HF order, slowest first; [n_dims] used */
    uint32_t rank;              /* the file's rank (may exceed 4: then not usable) */
    uint32_t file;              /* index of its shard (dl_st_file_path) */
    uint8_t usable;             /* 0: dtype or rank difflm does not compute with */
} dl_st_tensor;

typedef struct dl_st dl_st;

/* One safetensors file. E_IO (missing, unreadable), E_FORMAT (malformed), E_NOMEM. */
int dl_st_open_file(dl_st **out, const char *path, dl_err *err);
/* The same over a caller buffer (not copied; it must outlive the dl_st); label names it
 * in messages. For tests and fuzzing. */
int dl_st_open_mem(dl_st **out, const void *data, size_t size, const char *label, dl_err *err);
/* The weights of a model folder: the shards model.safetensors.index.json lists
 * (weight_map: tensor -> file in dir; every listed tensor must be in its file, no
 * tensor in two files), else dir/model.safetensors. */
int dl_st_open_dir(dl_st **out, const char *dir, dl_err *err);
void dl_st_close(dl_st *s);     /* NULL is fine */

size_t dl_st_n_tensors(const dl_st *s);
/* Tensors in file order (shard by shard, each by ascending offset). */
const dl_st_tensor *dl_st_tensor_at(const dl_st *s, size_t i);
const dl_st_tensor *dl_st_find(const dl_st *s, const char *name);   /* or NULL */
const char *dl_st_file_path(const dl_st *s, uint32_t file);
size_t dl_st_n_files(const dl_st *s);

/* Looks name up for a consumer that needs its data: 0 and *t (NULL when absent), or
 * E_UNSUPPORTED naming the tensor, its file and its dtype or rank. */
int dl_st_get(const dl_st *s, const char *name, const dl_gguf_tensor **t, dl_err *err);

#endif

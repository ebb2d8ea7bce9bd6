/* gguf.h - GGUF v2/v3 reader (mmap, validated) and writer.
 *
 * The reader maps the file read-only and checks every count, offset and size against
 * the file before anything is used: a malformed file yields DIFFLM_E_FORMAT with a
 * message naming the key, tensor or offset, never a crash. Tensor data is never
 * copied; pointers returned point into the mapping and live as long as the dl_gguf. */
#ifndef DL_GGUF_H
#define DL_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "fmt/mapped_file.h"
#include "fmt/ggml_types.h"

/* GGUF metadata value types. */
enum dl_gguf_vtype {
    DL_GGUF_U8 = 0, DL_GGUF_I8 = 1, DL_GGUF_U16 = 2, DL_GGUF_I16 = 3,
    DL_GGUF_U32 = 4, DL_GGUF_I32 = 5, DL_GGUF_F32 = 6, DL_GGUF_BOOL = 7,
    DL_GGUF_STRING = 8, DL_GGUF_ARRAY = 9, DL_GGUF_U64 = 10, DL_GGUF_I64 = 11,
    DL_GGUF_F64 = 12,
};

/* A string inside the file: not NUL-terminated. */
typedef struct dl_str {
    const char *p;
    uint64_t n;
} dl_str;

typedef struct dl_gguf_tensor {
    const char *name;           /* NUL-terminated copy owned by the dl_gguf */
    uint32_t type;              /* ggml type id (dl_type_get() knows it) */
    uint32_t n_dims;            /* 1..4 */
    int64_t ne[4];              /* fastest-varying first; unused dims are 1 */
    uint64_t offset;            /* from the start of the data section */
    uint64_t size;              /* bytes */
    const void *data;           /* into the mapping */
} dl_gguf_tensor;

typedef struct dl_gguf dl_gguf;

/* Maps and validates a file. Returns 0 and *out, or DIFFLM_E_IO / E_FORMAT / E_NOMEM, or
 * E_UNSUPPORTED for a tensor whose ggml type id dl_type_get() does not know (IQ*, ...). */
int dl_gguf_open(dl_gguf **out, const char *path, dl_err *err);
/* Same over a caller buffer (not copied; it must outlive the dl_gguf). For tests and fuzzing. */
int dl_gguf_open_mem(dl_gguf **out, const void *data, size_t size, dl_err *err);
/* Parses the image *mf (mapped_file.h) and takes it over: the handle frees it on close,
 * or it is freed here on failure. name (may be NULL) prefixes a parse error. */
int dl_gguf_open_mapped(dl_gguf **out, dl_mapped_file *mf, const char *name, dl_err *err);
void dl_gguf_close(dl_gguf *g);   /* NULL is fine */

uint32_t dl_gguf_version(const dl_gguf *g);
uint32_t dl_gguf_alignment(const dl_gguf *g);

/* --- metadata. Keys are looked up by exact name. */
size_t dl_gguf_n_kv(const dl_gguf *g);
int64_t dl_gguf_find_key(const dl_gguf *g, const char *key);     /* index or -1 */
const char *dl_gguf_key_at(const dl_gguf *g, size_t i);           /* NUL-terminated */
uint32_t dl_gguf_type_at(const dl_gguf *g, size_t i);             /* enum dl_gguf_vtype */

/* Typed getters. A missing key returns DIFFLM_E_FORMAT naming the key ("required");
 * the _opt forms return 0 and leave *out = def instead. A present key of the wrong type
 * (integers of any width convert when the value fits) returns DIFFLM_E_FORMAT. */
int dl_gguf_get_u32(const dl_gguf *g, const char *key, uint32_t *out, dl_err *err);
int dl_gguf_get_u32_opt(const dl_gguf *g, const char *key, uint32_t def, uint32_t *out, dl_err *err);
int dl_gguf_get_i64_opt(const dl_gguf *g, const char *key, int64_t def, int64_t *out, dl_err *err);
int dl_gguf_get_f32(const dl_gguf *g, const char *key, float *out, dl_err *err);
int dl_gguf_get_f32_opt(const dl_gguf *g, const char *key, float def, float *out, dl_err *err);
int dl_gguf_get_bool_opt(const dl_gguf *g, const char *key, int def, int *out, dl_err *err);
int dl_gguf_get_str(const dl_gguf *g, const char *key, dl_str *out, dl_err *err);
int dl_gguf_get_str_opt(const dl_gguf *g, const char *key, dl_str *out, dl_err *err); /* absent: {NULL,0} */

/* Arrays. dl_gguf_get_arr gives the element type and count (E_FORMAT if the key is
 * missing or not an array). Numeric elements are read one at a time with conversion
 * (unaligned-safe); string elements in O(1) through an index built at open time. */
int dl_gguf_get_arr(const dl_gguf *g, const char *key, uint32_t *elem_type, uint64_t *n, dl_err *err);
int dl_gguf_arr_str(const dl_gguf *g, const char *key, uint64_t i, dl_str *out, dl_err *err);
int dl_gguf_arr_i64(const dl_gguf *g, const char *key, uint64_t i, int64_t *out, dl_err *err);
int dl_gguf_arr_f64(const dl_gguf *g, const char *key, uint64_t i, double *out, dl_err *err);

/* --- tensors */
size_t dl_gguf_n_tensors(const dl_gguf *g);
const dl_gguf_tensor *dl_gguf_tensor_at(const dl_gguf *g, size_t i);
const dl_gguf_tensor *dl_gguf_find_tensor(const dl_gguf *g, const char *name); /* or NULL */

/* --- writer. Builds a file in memory order: metadata in the order added, tensors laid
 * out contiguously in the order added, each padded to the alignment (llama.cpp's strict
 * offset rule). Tensor data is borrowed: it must stay valid until write/to_buffer. */
typedef struct dl_gguf_writer dl_gguf_writer;

dl_gguf_writer *dl_gguf_writer_new(void);          /* NULL on OOM */
void dl_gguf_writer_free(dl_gguf_writer *w);       /* NULL is fine */
void dl_gguf_writer_set_version(dl_gguf_writer *w, uint32_t version);  /* 2 or 3 (default) */
int dl_gguf_writer_set_alignment(dl_gguf_writer *w, uint32_t alignment); /* writes general.alignment */

/* Scalars: val points to one value of the C type matching vtype (uint8_t for BOOL,
 * dl_str for STRING). Arrays: elems points to n packed values of elem_type (dl_str
 * for strings). Keys and string values are copied. Returns 0, E_INVALID_ARG (duplicate
 * key, bad type) or E_NOMEM. */
int dl_gguf_w_kv(dl_gguf_writer *w, const char *key, uint32_t vtype, const void *val);
int dl_gguf_w_arr(dl_gguf_writer *w, const char *key, uint32_t elem_type, const void *elems, uint64_t n);
/* Conveniences over dl_gguf_w_kv. */
int dl_gguf_w_u32(dl_gguf_writer *w, const char *key, uint32_t v);
int dl_gguf_w_i32(dl_gguf_writer *w, const char *key, int32_t v);
int dl_gguf_w_f32(dl_gguf_writer *w, const char *key, float v);
int dl_gguf_w_bool(dl_gguf_writer *w, const char *key, int v);
int dl_gguf_w_str(dl_gguf_writer *w, const char *key, const char *v);

/* Copies key i of g (dl_gguf_key_at order) with its type and value, arrays of any
 * element type included. Returns 0, E_INVALID_ARG (i out of range, duplicate key) or
 * E_NOMEM. */
int dl_gguf_w_copy_kv(dl_gguf_writer *w, const dl_gguf *g, size_t i);

/* Adds a tensor of ggml type `type` with n_dims dims ne[] (fastest first); data holds
 * its bytes (size computed from type and ne). */
int dl_gguf_w_tensor(dl_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                     const int64_t *ne, const void *data);

/* A tensor whose bytes are produced while the file is written, one tensor at a time
 * (converters: memory stays flat whatever the model's size). fill(ctx, index, out, n)
 * writes the n bytes of the tensor added index-th and returns 0; non-zero fails the
 * write (E_IO; no output file is left). */
typedef int (*dl_gguf_fill_fn)(void *ctx, size_t index, void *out, size_t n);
int dl_gguf_w_tensor_fill(dl_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                          const int64_t *ne, dl_gguf_fill_fn fill, void *ctx);

int dl_gguf_writer_write(const dl_gguf_writer *w, const char *path, dl_err *err);
/* The whole file in a dl_malloc'd buffer (the caller frees it with dl_free(); outside a
 * host allocator's scope, as in tools and tests, that is the C library's free()). */
int dl_gguf_writer_to_buffer(const dl_gguf_writer *w, void **buf, size_t *n, dl_err *err);

#endif

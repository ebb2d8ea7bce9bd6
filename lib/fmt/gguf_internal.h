/* gguf_internal.h - the parsed form of a GGUF file, shared by the reader and the getters. */
#ifndef DL_GGUF_INTERNAL_H
#define DL_GGUF_INTERNAL_H

#include "fmt/gguf.h"
#include "fmt/mapped_file.h"
#include "fmt/name_index.h"

/* One metadata pair. Values are not copied: val points into the file. */
typedef struct dl_gguf_kv {
    char *key;                  /* NUL-terminated copy */
    uint32_t type;              /* enum dl_gguf_vtype */
    uint32_t elem_type;         /* arrays: element type; otherwise 0 */
    uint64_t n;                 /* strings: byte length; arrays: element count; scalars: 1 */
    const uint8_t *val;         /* scalars: the value; strings: the bytes; arrays: element 0 */
    uint64_t *str_off;          /* string arrays: [n] offset of element i's length prefix
                                   from val (the O(1) index); otherwise NULL */
} dl_gguf_kv;

struct dl_gguf {
    dl_mapped_file map;         /* owned mapping (dl_gguf_open); zero for dl_gguf_open_mem */
    const uint8_t *base;        /* [size] the whole file */
    size_t size;
    uint32_t version;
    uint32_t alignment;
    size_t n_kv;
    dl_gguf_kv *kv;             /* [n_kv] in file order */
    size_t n_tensors;
    dl_gguf_tensor *tensors;    /* [n_tensors] in file order */
    uint64_t data_start;        /* file offset of the data section */
    dl_name_index kv_index;
    dl_name_index tensor_index;
};

/* Fixed byte size of a scalar value type, 0 for STRING/ARRAY, or -1 for an unknown id. */
int dl_gguf_vtype_size(uint32_t vtype);
/* "u32", "string", ... or "unknown". */
const char *dl_gguf_vtype_name(uint32_t vtype);

#endif

/* ggml_types.c - the ggml type table: block geometry of every type id we can size. */
#include <stdio.h>

#include "fmt/ggml_types.h"
#include "fmt/tensor_bytes.h"

/* Indexed by type id; a zero block_size marks an id we do not know (retired ids 4 and 5,
 * and the IQ/TQ/MXFP4 families, whose layouts this library does not implement). */
static const dl_type_info type_table[] = {
    [DL_TYPE_F32] = {"F32", 1, 4},
    [DL_TYPE_F16] = {"F16", 1, 2},
    [DL_TYPE_Q4_0] = {"Q4_0", 32, 18},
    [DL_TYPE_Q4_1] = {"Q4_1", 32, 20},
    [DL_TYPE_Q5_0] = {"Q5_0", 32, 22},
    [DL_TYPE_Q5_1] = {"Q5_1", 32, 24},
    [DL_TYPE_Q8_0] = {"Q8_0", 32, 34},
    [DL_TYPE_Q8_1] = {"Q8_1", 32, 36},
    [DL_TYPE_Q2_K] = {"Q2_K", 256, 84},
    [DL_TYPE_Q3_K] = {"Q3_K", 256, 110},
    [DL_TYPE_Q4_K] = {"Q4_K", 256, 144},
    [DL_TYPE_Q5_K] = {"Q5_K", 256, 176},
    [DL_TYPE_Q6_K] = {"Q6_K", 256, 210},
    [DL_TYPE_Q8_K] = {"Q8_K", 256, 292},
    [DL_TYPE_BF16] = {"BF16", 1, 2},
};

const dl_type_info *dl_type_get(uint32_t type) {
    if (type >= sizeof type_table / sizeof type_table[0] || type_table[type].block_size == 0)
        return NULL;
    return &type_table[type];
}

const char *dl_type_name(uint32_t type, char *buf, size_t cap) {
    const dl_type_info *ti = dl_type_get(type);
    if (ti)
        return ti->name;
    if (!buf || cap == 0)
        return "unknown type";
    snprintf(buf, cap, "type %u", type);
    return buf;
}

int dl_tensor_nbytes(uint64_t *nbytes, uint32_t type, uint32_t n_dims, const int64_t *ne) {
    const dl_type_info *ti = dl_type_get(type);
    if (!ti)
        return DL_SHAPE_BAD_TYPE;
    if (n_dims < 1 || n_dims > 4)
        return DL_SHAPE_BAD_NDIMS;
    for (uint32_t d = 0; d < n_dims; d++)
        if (ne[d] < 0)
            return DL_SHAPE_NEG_DIM;
    /* The element count must fit int64 (ggml's int64_t nelements), even when a later
     * dimension is zero: a shape like {2^62, 4, 0} is rejected, as llama.cpp does. */
    int64_t nelem = 1;
    for (uint32_t d = 0; d < n_dims; d++)
        if (__builtin_mul_overflow(nelem, ne[d], &nelem))
            return DL_SHAPE_OVERFLOW;
    if (ne[0] % ti->block_size != 0)
        return DL_SHAPE_NOT_BLOCK_MULTIPLE;
    uint64_t bytes = (uint64_t)(ne[0] / ti->block_size);
    if (__builtin_mul_overflow(bytes, (uint64_t)ti->type_size, &bytes))
        return DL_SHAPE_OVERFLOW;
    for (uint32_t d = 1; d < n_dims; d++)
        if (__builtin_mul_overflow(bytes, (uint64_t)ne[d], &bytes))
            return DL_SHAPE_OVERFLOW;
    if (bytes > (uint64_t)INT64_MAX)
        return DL_SHAPE_OVERFLOW;
    *nbytes = bytes;
    return DL_SHAPE_OK;
}

const char *dl_shape_problem_str(int code) {
    switch (code) {
    case DL_SHAPE_OK: return "ok";
    case DL_SHAPE_BAD_TYPE: return "unknown tensor type";
    case DL_SHAPE_BAD_NDIMS: return "n_dims must be 1..4";
    case DL_SHAPE_NEG_DIM: return "negative dimension";
    case DL_SHAPE_NOT_BLOCK_MULTIPLE: return "ne[0] is not a multiple of the type's block size";
    case DL_SHAPE_OVERFLOW: return "element count or byte size overflows int64";
    default: return "invalid shape";
    }
}

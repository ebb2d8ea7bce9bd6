/* tensor_bytes.c - GGUF's tensor shape rules: byte sizes from the block geometry of the
 * kernels' type table (fmt/ggml_types.h), and the names of the shape problems. */
#include "fmt/ggml_types.h"
#include "fmt/tensor_bytes.h"

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

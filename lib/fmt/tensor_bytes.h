/* tensor_bytes.h - byte size of a ggml tensor from its type and shape, with the reason
 * when the shape has none (shared by the GGUF reader, the writer and the model loader). */
#ifndef DL_TENSOR_BYTES_H
#define DL_TENSOR_BYTES_H

#include <stdint.h>

enum dl_shape_problem {
    DL_SHAPE_OK = 0,
    DL_SHAPE_BAD_TYPE,              /* dl_type_get() does not know the id */
    DL_SHAPE_BAD_NDIMS,             /* not 1..4 */
    DL_SHAPE_NEG_DIM,
    DL_SHAPE_NOT_BLOCK_MULTIPLE,    /* ne[0] % block_size != 0 */
    DL_SHAPE_OVERFLOW,              /* element count or bytes beyond int64 */
};

/* Sets *nbytes = ne[0]/block_size * type_size * ne[1] * ... for the first n_dims dims
 * (ne: [n_dims], fastest first) and returns DL_SHAPE_OK, or returns the problem. */
int dl_tensor_nbytes(uint64_t *nbytes, uint32_t type, uint32_t n_dims, const int64_t *ne);

/* A static phrase for a dl_shape_problem. */
const char *dl_shape_problem_str(int code);

#endif

/* ggml_types.h - GGUF's tensor type field: ggml's type numbers.
 *
 * The kernels' type ids (kernels/types.h) are defined equal to them, so the reader hands
 * a file's id to the kernels' type table unchanged (geometry for sizing, the row for
 * everything else). The kernels know no file format; this header is where the file
 * format's numbering is pinned: each assertion below is a value GGUF files store. */
#ifndef DL_GGML_TYPES_H
#define DL_GGML_TYPES_H

#include "kernels/types.h"

_Static_assert(DL_TYPE_F32 == 0 && DL_TYPE_F16 == 1, "ggml type ids");
_Static_assert(DL_TYPE_Q4_0 == 2 && DL_TYPE_Q4_1 == 3, "ggml type ids");
_Static_assert(DL_TYPE_Q5_0 == 6 && DL_TYPE_Q5_1 == 7, "ggml type ids");
_Static_assert(DL_TYPE_Q8_0 == 8 && DL_TYPE_Q8_1 == 9, "ggml type ids");
_Static_assert(DL_TYPE_Q2_K == 10 && DL_TYPE_Q3_K == 11 && DL_TYPE_Q4_K == 12, "ggml type ids");
_Static_assert(DL_TYPE_Q5_K == 13 && DL_TYPE_Q6_K == 14 && DL_TYPE_Q8_K == 15, "ggml type ids");
_Static_assert(DL_TYPE_BF16 == 30, "ggml type ids");

#endif

/* ggml_types.h - ggml tensor type ids and their block geometry (GGUF's type table). */
#ifndef DL_GGML_TYPES_H
#define DL_GGML_TYPES_H

#include <stdint.h>

enum dl_ggml_type {
    DL_TYPE_F32 = 0,
    DL_TYPE_F16 = 1,
    DL_TYPE_Q4_0 = 2,
    DL_TYPE_Q4_1 = 3,
    DL_TYPE_Q5_0 = 6,
    DL_TYPE_Q5_1 = 7,
    DL_TYPE_Q8_0 = 8,
    DL_TYPE_Q8_1 = 9,
    DL_TYPE_Q2_K = 10,
    DL_TYPE_Q3_K = 11,
    DL_TYPE_Q4_K = 12,
    DL_TYPE_Q5_K = 13,
    DL_TYPE_Q6_K = 14,
    DL_TYPE_Q8_K = 15,
    DL_TYPE_BF16 = 30,
};

typedef struct dl_type_info {
    const char *name;           /* "F32", "Q4_K", ... */
    uint32_t block_size;        /* elements per block */
    uint32_t type_size;         /* bytes per block */
} dl_type_info;

/* Geometry of a ggml type id, or NULL for an id this library does not know. */
const dl_type_info *dl_type_get(uint32_t type);

/* A printable name for any id ("type 42" style names go to buf for unknown ids). */
const char *dl_type_name(uint32_t type, char *buf, size_t cap);

#endif

/* gguf_bytes.h - a tiny byte builder for hand-made GGUF files in the fmt tests. It writes
 * the layout from the reference facts directly, independently of lib/fmt/gguf_write.c,
 * so the writer can be checked against it and malformed files can be crafted field by field. */
#ifndef DL_TEST_GGUF_BYTES_H
#define DL_TEST_GGUF_BYTES_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static inline void b_raw(bytes *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        ck_assert_ptr_nonnull(q);
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
}

static inline void b_u8(bytes *b, uint8_t v) {
    b_raw(b, &v, 1);
}

static inline void b_uint(bytes *b, uint64_t v, int nbytes) {
    for (int i = 0; i < nbytes; i++)
        b_u8(b, (uint8_t)(v >> (8 * i)));
}

static inline void b_u32(bytes *b, uint32_t v) {
    b_uint(b, v, 4);
}

static inline void b_u64(bytes *b, uint64_t v) {
    b_uint(b, v, 8);
}

static inline void b_str(bytes *b, const char *s) {
    b_u64(b, strlen(s));
    b_raw(b, s, strlen(s));
}

static inline void b_pad(bytes *b, size_t alignment) {
    while (b->n % alignment)
        b_u8(b, 0);
}

static inline void b_patch_u32(bytes *b, size_t at, uint32_t v) {
    ck_assert_uint_le(at + 4, b->n);
    for (int i = 0; i < 4; i++)
        b->p[at + i] = (uint8_t)(v >> (8 * i));
}

static inline void b_patch_u64(bytes *b, size_t at, uint64_t v) {
    ck_assert_uint_le(at + 8, b->n);
    for (int i = 0; i < 8; i++)
        b->p[at + i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t b_get_u64(const bytes *b, size_t at) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)b->p[at + i] << (8 * i);
    return v;
}

static inline void b_free(bytes *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

#endif

/* jinja_util.c - the template's arena and the character helpers of the interpreter. */
#include <string.h>

#include "tok/jinja_internal.h"
#include "tok/tok_internal.h"

#define CHUNK_MIN ((size_t)64 << 10)

void *ja_alloc(jarena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    jarena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > CHUNK_MIN ? n : CHUNK_MIN;
        c = dl_malloc(sizeof *c + size);
        if (!c) return NULL;
        c->next = a->head;
        c->used = 0;
        c->size = size;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

void ja_free(jarena *a) {
    for (jarena_chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        dl_free(c);
    }
    a->head = NULL;
}

int dl_jinja_is_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

size_t dl_jinja_utf8_char(const char *s, size_t n, uint32_t *cp) {
    int len = dl_utf8_next((const uint8_t *)s, n, cp);
    if (len > 0) return (size_t)len;
    *cp = 0xFFFFFFFFu;
    return 1;
}

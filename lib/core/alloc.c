/* alloc.c - the allocation seam (core.h): a per-thread current allocator, set by the
 * API layer from the object a call works on, and blocks that know their size. */
#include <stdlib.h>
#include <string.h>

#include "core.h"

static _Thread_local const dl_mem *current;

const dl_mem *dl_mem_enter(const dl_mem *m) {
    const dl_mem *prev = current;
    current = m && m->alloc ? m : NULL;
    return prev;
}

void dl_mem_leave(const dl_mem *prev) {
    current = prev;
}

/* Outside a host allocator's scope the calls are the C library's, unchanged: what the
 * library allocates there (a GGUF writer's buffer in a tool) may be freed with free().
 * In a host's scope a block is [pad | size | head] user bytes: the 16 bytes before the
 * user pointer hold the user size and the header's length (16, or DL_ALIGN for aligned
 * blocks), so free finds the start and realloc knows how much to copy over an
 * alloc/free pair. A block is freed in the scope it was allocated in (core.h). */
typedef struct block_head {
    size_t size;
    size_t head;
} block_head;

static void *block_alloc(size_t n, size_t align) {
    size_t total;
    if (dl_add_size(n, align, &total))
        return NULL;
    void *base = current->alloc(total, align, current->user);
    if (!base)
        return NULL;
    char *p = (char *)base + align;
    block_head *h = (block_head *)(void *)(p - sizeof *h);
    h->size = n;
    h->head = align;
    return p;
}

void dl_free(void *p) {
    if (!p)
        return;
    if (!current) {
        free(p);
        return;
    }
    const block_head *h = (const block_head *)((char *)p - sizeof *h);
    current->free((char *)p - h->head, current->user);
}

void *dl_malloc(size_t n) {
    return current ? block_alloc(n, 16) : malloc(n);
}

void *dl_calloc(size_t count, size_t n) {
    size_t total;
    if (!current)
        return calloc(count, n);
    if (dl_mul_size(count, n, &total))
        return NULL;
    void *p = block_alloc(total, 16);
    if (p)
        memset(p, 0, total);
    return p;
}

void *dl_realloc(void *p, size_t n) {
    if (!current)
        return realloc(p, n);
    if (!p)
        return dl_malloc(n);
    const block_head *h = (const block_head *)((char *)p - sizeof *h);
    if (n <= h->size)
        return p;
    void *q = block_alloc(n, h->head);
    if (!q)
        return NULL;
    memcpy(q, p, h->size < n ? h->size : n);
    dl_free(p);
    return q;
}

char *dl_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = dl_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

void *dl_aligned_alloc(size_t n) {
    if (n == 0)
        n = DL_ALIGN;
    if (current)
        return block_alloc(n, DL_ALIGN);
    void *p = NULL;
    return posix_memalign(&p, DL_ALIGN, n) == 0 ? p : NULL;
}

void dl_aligned_free(void *p) {
    dl_free(p);
}

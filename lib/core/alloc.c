/* alloc.c - the allocation seam (core.h): a per-thread current allocator, set by the
 * API layer from the object a call works on, and blocks that know their size. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "core.h"

/* The test hook (core.h): armed only by tests; disarmed, one relaxed load. */
static atomic_long hook_fail_at, hook_count, hook_live;
static atomic_int hook_armed, hook_fired;

void dl_alloc_test_fail_at(long fail_at) {
    atomic_store(&hook_count, 0);
    atomic_store(&hook_live, 0);
    atomic_store(&hook_fired, 0);
    atomic_store(&hook_fail_at, fail_at);
    atomic_store(&hook_armed, 1);
}

void dl_alloc_test_stats(long *count, int *fired, long *live) {
    *count = atomic_load(&hook_count);
    *fired = atomic_load(&hook_fired);
    *live = atomic_load(&hook_live);
}

/* 1 when this allocation is the one to fail. */
static int hook_fails(void) {
    if (!atomic_load_explicit(&hook_armed, memory_order_relaxed))
        return 0;
    long n = atomic_fetch_add(&hook_count, 1) + 1;
    if (n != atomic_load(&hook_fail_at))
        return 0;
    atomic_store(&hook_fired, 1);
    return 1;
}

/* Counts a block in (+1) or out (-1) while the hook is armed. */
static void *hook_live_add(void *p, long d) {
    if (p && atomic_load_explicit(&hook_armed, memory_order_relaxed))
        atomic_fetch_add(&hook_live, d);
    return p;
}

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
    hook_live_add(p, -1);
    if (!current) {
        free(p);
        return;
    }
    const block_head *h = (const block_head *)((char *)p - sizeof *h);
    current->free((char *)p - h->head, current->user);
}

void *dl_malloc(size_t n) {
    if (hook_fails())
        return NULL;
    return hook_live_add(current ? block_alloc(n, 16) : malloc(n), 1);
}

void *dl_calloc(size_t count, size_t n) {
    size_t total;
    if (hook_fails())
        return NULL;
    if (!current)
        return hook_live_add(calloc(count, n), 1);
    if (dl_mul_size(count, n, &total))
        return NULL;
    void *p = block_alloc(total, 16);
    if (p)
        memset(p, 0, total);
    return hook_live_add(p, 1);
}

void *dl_realloc(void *p, size_t n) {
    if (!p)
        return dl_malloc(n);
    if (hook_fails())
        return NULL;
    if (!current)
        return realloc(p, n);   /* p's block, moved or not: the live count stays */
    const block_head *h = (const block_head *)((char *)p - sizeof *h);
    if (n <= h->size)
        return p;
    void *q = block_alloc(n, h->head);
    if (!q)
        return NULL;
    memcpy(q, p, h->size < n ? h->size : n);
    current->free((char *)p - h->head, current->user);   /* q replaces p in the count */
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
    if (hook_fails())
        return NULL;
    if (current)
        return hook_live_add(block_alloc(n, DL_ALIGN), 1);
    void *p = NULL;
    return hook_live_add(posix_memalign(&p, DL_ALIGN, n) == 0 ? p : NULL, 1);
}

void dl_aligned_free(void *p) {
    dl_free(p);
}

void dl_advise_huge_pages(void *p, size_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), b = ((uintptr_t)p + n) & ~(huge - 1);
    if (b > a)
        (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

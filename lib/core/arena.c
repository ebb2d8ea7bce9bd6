/* arena.c - one allocation per context, carved into aligned pieces; and CPU count. */
#include <unistd.h>

#include "core.h"

void *dl_arena_alloc(dl_arena *a, size_t n) {
    size_t start = (a->used + (DL_ALIGN - 1)) & ~(size_t)(DL_ALIGN - 1);
    size_t end;
    if (start < a->used || dl_add_size(start, n, &end)) {
        a->used = SIZE_MAX; /* overflow: never fits */
        return NULL;
    }
    a->used = end;
    if (!a->base || end > a->size)
        return NULL;
    return a->base + start;
}

int dl_arena_overflowed(const dl_arena *a) {
    return a->base && a->used > a->size;
}

int dl_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

/* core.h - what every module below the API shares: error detail, logging, memory,
 * arena. It depends on nothing of the library but the status list.
 *
 * Internal functions report failure the same way: they return a difflm status
 * (0 or a negative DIFFLM_E_*) and, on failure, fill a dl_err with a message that
 * names what is wrong. The API layer copies the message into the context. */
#ifndef DL_CORE_H
#define DL_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "difflm_status.h"

#define DL_ERR_MSG_MAX 512

typedef struct dl_err {
    int status;                 /* last status set by dl_fail (0 if none) */
    char msg[DL_ERR_MSG_MAX];   /* NUL-terminated detail text */
} dl_err;

/* Records status and a printf-style message in *e (which may be NULL); returns status,
 * so a failing path reads `return dl_fail(err, DIFFLM_E_FORMAT, "tensor '%s' ...", n);` */
int dl_fail(dl_err *e, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears *e (NULL is fine). */
void dl_err_clear(dl_err *e);

/* A log sink: the host's callback and the most verbose level it wants. */
/* Same signature as the public difflm_log_fn, which the API passes in. */
typedef void (*dl_log_fn)(int32_t level, const char *message, void *user);

typedef struct dl_log {
    dl_log_fn fn;               /* NULL = silent */
    void *user;
    int32_t level;
} dl_log;

/* Formats and delivers one message if lg has a callback that wants this level. */
void dl_logf(const dl_log *lg, int32_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One allocation carved into aligned pieces; nothing is freed piecewise.
 * With base == NULL it only measures: dl_arena_alloc returns NULL but advances `used`,
 * so a layout function run once on a measuring arena gives the size to allocate. */
typedef struct dl_arena {
    uint8_t *base;
    size_t size;                /* capacity in bytes (ignored when measuring) */
    size_t used;
} dl_arena;

#define DL_ALIGN 64             /* cache line, and enough for any AVX-512 load */

/* Returns n bytes aligned to DL_ALIGN, or NULL when measuring or out of room
 * (out of room also sets used past size, which dl_arena_overflowed reports). */
void *dl_arena_alloc(dl_arena *a, size_t n);
int dl_arena_overflowed(const dl_arena *a);

/* ---- memory: the one seam every heap allocation of the library goes through.
 *
 * dl_malloc and friends allocate from the allocator of the object the current API
 * call works on: the API layer enters that object's dl_mem (dl_mem_enter) for the
 * duration of the call, on the calling thread, and leaves it before returning. Code
 * below the API therefore needs no allocator argument, and an object is always freed
 * by the allocator that made it (its own calls and its free run in its scope). Outside
 * any scope (tests and tools calling internals directly) the C library's is used.
 * Every block carries its size, so dl_realloc works over a host's alloc/free pair. */
typedef void *(*dl_alloc_fn)(size_t size, size_t alignment, void *user);
typedef void (*dl_free_fn)(void *ptr, void *user);
typedef struct dl_mem {
    dl_alloc_fn alloc;          /* NULL: the C library's */
    dl_free_fn free;
    void *user;
} dl_mem;

/* Makes m (NULL: the C library's) the calling thread's allocator; returns the one
 * before, for dl_mem_leave. Scopes nest. */
const dl_mem *dl_mem_enter(const dl_mem *m);
void dl_mem_leave(const dl_mem *prev);

void *dl_malloc(size_t n);                 /* 16-byte aligned; NULL on failure */
void *dl_calloc(size_t count, size_t n);   /* zeroed; NULL on failure or overflow */
void *dl_realloc(void *p, size_t n);       /* NULL p: dl_malloc; on failure p stays */
void dl_free(void *p);                     /* NULL is fine */
char *dl_strdup(const char *s);

/* DL_ALIGN-aligned memory for arenas and other large buffers; NULL on failure. */
void *dl_aligned_alloc(size_t n);
void dl_aligned_free(void *p);
/* Asks the kernel to back the whole 2 MiB pages of [p, p + n) with huge pages, for a
 * large buffer about to be written once in full (a packed weight copy): a few hundred
 * faults instead of one per 4 KiB. Advice only: ignored where unsupported. */
void dl_advise_huge_pages(void *p, size_t n);

/* Test hook (tests/api/test_alloc_fail.c), in either scope: from this call on, the
 * fail_at-th allocation (1-based; 0 = none) of the calls above returns NULL. The
 * counters are process-wide, for every thread. dl_alloc_test_stats reports the
 * allocations since the last dl_alloc_test_fail_at, whether the failure fired, and the
 * blocks allocated since then and not yet freed. Not for production use: one atomic
 * load per allocation while disarmed. */
void dl_alloc_test_fail_at(long fail_at);
void dl_alloc_test_stats(long *count, int *fired, long *live);

/* Checked size arithmetic: returns 0 and sets *out, or -1 on overflow. */
static inline int dl_mul_size(size_t a, size_t b, size_t *out) {
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}
static inline int dl_add_size(size_t a, size_t b, size_t *out) {
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

/* Bytes of an a x b float array; SIZE_MAX (which no arena fits) on overflow. */
static inline size_t dl_floats_bytes(size_t a, size_t b) {
    size_t n;
    if (dl_mul_size(a, b, &n) || dl_mul_size(n, sizeof(float), &n))
        return SIZE_MAX;
    return n;
}

/* Number of online CPUs (at least 1). */
int dl_cpu_count(void);

#define DL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DL_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif /* DL_CORE_H */

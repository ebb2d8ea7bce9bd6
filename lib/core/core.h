/* core.h - what every module below the API shares: error detail, logging, arena.
 *
 * Internal functions report failure the same way: they return a difflm status
 * (0 or a negative DIFFLM_E_*) and, on failure, fill a dl_err with a message that
 * names what is wrong. The API layer copies the message into the context. */
#ifndef DL_CORE_H
#define DL_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "difflm.h"

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
typedef struct dl_log {
    difflm_log_fn fn;           /* NULL = silent */
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

/* Aligned heap memory for arenas and other large buffers; NULL on failure. */
void *dl_aligned_alloc(size_t n);
void dl_aligned_free(void *p);

/* Checked size arithmetic: returns 0 and sets *out, or -1 on overflow. */
static inline int dl_mul_size(size_t a, size_t b, size_t *out) {
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}
static inline int dl_add_size(size_t a, size_t b, size_t *out) {
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

/* Number of online CPUs (at least 1). */
int dl_cpu_count(void);

#define DL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DL_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif /* DL_CORE_H */

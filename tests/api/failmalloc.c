/* failmalloc.c - an LD_PRELOAD shim that makes exactly one chosen allocation fail.
 *
 * The program under test arms it with failmalloc_arm(n) (found through
 * dlsym(RTLD_DEFAULT), so the program also runs without the shim): from then on the
 * shim counts allocations and the n-th one returns NULL with errno ENOMEM. Counting
 * only while armed keeps load-time allocations (OpenBLAS, PCRE2, libc) out of reach.
 * While armed, every live block allocated since arming is remembered, so after the
 * library has freed everything the program can ask how many are still outstanding:
 * leak detection on every failure path without valgrind. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef void *(*malloc_fn)(size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void (*free_fn)(void *);
typedef int (*posix_memalign_fn)(void **, size_t, size_t);
typedef void *(*aligned_alloc_fn)(size_t, size_t);

static malloc_fn real_malloc;
static calloc_fn real_calloc;
static realloc_fn real_realloc;
static free_fn real_free;
static posix_memalign_fn real_posix_memalign;
static aligned_alloc_fn real_aligned_alloc;
static aligned_alloc_fn real_memalign;

/* dlsym may itself calloc before the real functions are known: serve those calls
 * from here and never hand these blocks to the real free. */
static _Alignas(64) unsigned char boot_buf[16384];
static size_t boot_used;
static int resolving;

static int in_boot(const void *p) {
    return (const unsigned char *)p >= boot_buf && (const unsigned char *)p < boot_buf + sizeof boot_buf;
}

static void *boot_alloc(size_t size) {
    size_t at = (boot_used + 63) & ~(size_t)63;
    if (size > sizeof boot_buf - at)
        return NULL;
    boot_used = at + size;
    return boot_buf + at; /* static storage: already zero */
}

static void resolve(void) {
    if (real_malloc || resolving)
        return;
    resolving = 1;
    real_calloc = (calloc_fn)dlsym(RTLD_NEXT, "calloc");
    real_realloc = (realloc_fn)dlsym(RTLD_NEXT, "realloc");
    real_free = (free_fn)dlsym(RTLD_NEXT, "free");
    real_posix_memalign = (posix_memalign_fn)dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = (aligned_alloc_fn)dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = (aligned_alloc_fn)dlsym(RTLD_NEXT, "memalign");
    real_malloc = (malloc_fn)dlsym(RTLD_NEXT, "malloc");
    resolving = 0;
}

/* ------------------------------------------------------------------ arming state */

/* The control interface, exported for the program under test. */
void failmalloc_arm(long n);
void failmalloc_disarm(void);
void failmalloc_reset(void);
int failmalloc_fired(void);
long failmalloc_count(void);
long failmalloc_outstanding(void);

static atomic_int armed;
static atomic_long counted, fail_at;
static atomic_int fired;

/* Live blocks allocated while armed: open addressing, tombstones, no allocation. */
#define TRACK_CAP (1u << 16)
#define TOMB ((void *)1)
static void *track[TRACK_CAP];
static long n_live, n_used;
static int track_overflow;
static atomic_int tracking;
static pthread_mutex_t track_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t slot_of(const void *p) {
    uintptr_t h = (uintptr_t)p;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (TRACK_CAP - 1);
}

static void track_add(void *p) {
    if (!p || !atomic_load(&tracking))
        return;
    pthread_mutex_lock(&track_lock);
    if (n_used >= (long)(TRACK_CAP * 3 / 4)) {
        track_overflow = 1;
    } else {
        size_t i = slot_of(p);
        while (track[i] && track[i] != TOMB)
            i = (i + 1) & (TRACK_CAP - 1);
        if (!track[i])
            n_used++;
        track[i] = p;
        n_live++;
    }
    pthread_mutex_unlock(&track_lock);
}

static void track_remove(void *p) {
    if (!p || !atomic_load(&tracking))
        return;
    pthread_mutex_lock(&track_lock);
    for (size_t i = slot_of(p), k = 0; track[i] && k < TRACK_CAP; i = (i + 1) & (TRACK_CAP - 1), k++)
        if (track[i] == p) {
            track[i] = TOMB;
            n_live--;
            break;
        }
    pthread_mutex_unlock(&track_lock);
}

/* True when this allocation is the one chosen to fail. */
static int should_fail(void) {
    if (!atomic_load(&armed))
        return 0;
    long k = atomic_fetch_add(&counted, 1) + 1;
    if (k == atomic_load(&fail_at)) {
        atomic_store(&fired, 1);
        return 1;
    }
    return 0;
}

/* n > 0: fail the n-th allocation from now; n == 0: count and track without failing.
 * Clears the counters and forgets previously tracked blocks. */
void failmalloc_arm(long n) {
    pthread_mutex_lock(&track_lock);
    memset(track, 0, sizeof track);
    n_live = n_used = 0;
    track_overflow = 0;
    pthread_mutex_unlock(&track_lock);
    atomic_store(&counted, 0);
    atomic_store(&fired, 0);
    atomic_store(&fail_at, n);
    atomic_store(&tracking, 1);
    atomic_store(&armed, 1);
}

/* Stops failing and counting; frees are still matched until failmalloc_reset. */
void failmalloc_disarm(void) { atomic_store(&armed, 0); }

/* Stops tracking altogether. */
void failmalloc_reset(void) {
    atomic_store(&armed, 0);
    atomic_store(&tracking, 0);
}

int failmalloc_fired(void) { return atomic_load(&fired); }
long failmalloc_count(void) { return atomic_load(&counted); }

/* Blocks allocated since arming and not yet freed; -1 if the table overflowed. */
long failmalloc_outstanding(void) {
    pthread_mutex_lock(&track_lock);
    long n = track_overflow ? -1 : n_live;
    pthread_mutex_unlock(&track_lock);
    return n;
}

/* ------------------------------------------------------------------ interposers */

void *malloc(size_t size) {
    resolve();
    if (!real_malloc)
        return boot_alloc(size);
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = real_malloc(size);
    track_add(p);
    return p;
}

void *calloc(size_t n, size_t size) {
    resolve();
    if (!real_calloc) {
        if (size && n > SIZE_MAX / size)
            return NULL;
        return boot_alloc(n * size);
    }
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = real_calloc(n, size);
    track_add(p);
    return p;
}

void free(void *p) {
    if (!p || in_boot(p))
        return;
    resolve();
    track_remove(p);
    real_free(p);
}

void *realloc(void *old, size_t size) {
    resolve();
    if (old && in_boot(old)) { /* move a boot block to the real heap */
        void *p = malloc(size);
        if (p)
            memcpy(p, old, size < (size_t)(boot_buf + sizeof boot_buf - (unsigned char *)old)
                               ? size : (size_t)(boot_buf + sizeof boot_buf - (unsigned char *)old));
        return p;
    }
    if (!real_realloc)
        return boot_alloc(size);
    if (should_fail()) {
        errno = ENOMEM;
        return NULL; /* like a real failure: the old block stays valid */
    }
    void *p = real_realloc(old, size);
    if (p || size == 0)
        track_remove(old);
    track_add(p);
    return p;
}

int posix_memalign(void **out, size_t align, size_t size) {
    resolve();
    if (should_fail())
        return ENOMEM;
    int rc = real_posix_memalign(out, align, size);
    if (rc == 0)
        track_add(*out);
    return rc;
}

void *aligned_alloc(size_t align, size_t size) {
    resolve();
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = real_aligned_alloc(align, size);
    track_add(p);
    return p;
}

void *memalign(size_t align, size_t size) {
    resolve();
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = real_memalign(align, size);
    track_add(p);
    return p;
}

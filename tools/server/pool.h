/* pool.h - the server's contexts: one model, N contexts, a bounded queue of waiters.
 * Thread-safe: every call may come from any connection thread. */
#ifndef SERVER_POOL_H
#define SERVER_POOL_H

#include "difflm.h"

typedef struct pool pool;

typedef struct pool_stats {
    int size;        /* contexts */
    int busy;        /* contexts lent out */
    int waiting;     /* requests waiting for one */
    int queue_limit; /* the most that may wait */
} pool_stats;

/* Why pool_acquire gave no context. */
enum { POOL_FULL = 1, POOL_CLOSED = 2, POOL_GONE = 3 };

/* Creates n contexts on model (n_threads, max_canvas, precision and pack_weights as
 * difflm_ctx_params). Returns NULL with the library's status in *status and its message
 * in err. */
pool *pool_create(difflm_model *model, int n, int n_threads, int max_canvas, int precision,
                  int pack_weights, int queue_limit, int *status, char *err, size_t err_cap);

/* Frees the contexts (none may be lent out). NULL is a no-op. */
void pool_free(pool *p);

/* Lends a free context, waiting in the queue while all are busy. alive(user) is asked
 * about every 50 ms while waiting: a 0 leaves the queue (the client went away). Returns the
 * context, or NULL with *why = POOL_FULL (the queue is full: nothing waited),
 * POOL_CLOSED (shutting down) or POOL_GONE. */
difflm_ctx *pool_acquire(pool *p, int (*alive)(void *user), void *user, int *why);

/* Returns a context lent by pool_acquire. */
void pool_release(pool *p, difflm_ctx *ctx);

/* Shutdown: lends nothing more, sends the waiters away, and cancels (difflm_cancel) every
 * generation that is running so that it ends within a step. */
void pool_close(pool *p);

/* After pool_close: waits until every lent context is back, at most `seconds`. Returns
 * the number still out. */
int pool_wait_idle(pool *p, double seconds);

void pool_get_stats(pool *p, pool_stats *out);

/* Any context of the pool, for what needs one but no generation (a model's numbers). */
difflm_ctx *pool_any(pool *p);

#endif

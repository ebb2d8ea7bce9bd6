/* pool.h - a persistent thread pool: n-1 helper threads that sleep between jobs, and
 * the calling thread, which always takes part.
 *
 * A job is a parallel for over independent tasks: fn(ctx, task, worker) for task in
 * 0..n_tasks-1, worker in 0..n_threads-1 naming the running thread (for per-thread
 * scratch). Tasks are claimed from a counter, so which thread runs which task varies;
 * callers keep every task's result independent of that (fixed task shapes, disjoint
 * outputs), which is what keeps results bitwise equal for any thread count.
 * One job at a time: a pool belongs to one context, used by one thread at a time. */
#ifndef DL_POOL_H
#define DL_POOL_H

#include "core/core.h"

typedef void (*dl_pool_task_fn)(void *ctx, int task, int worker);

typedef struct dl_pool dl_pool;

/* n_threads total (the caller included); 0 means dl_cpu_count(). Helpers get a
 * DL_POOL_STACK-byte stack: kernels keep their per-task panels on it. */
#define DL_POOL_STACK ((size_t)2 << 20)
int dl_pool_create(dl_pool **out, int n_threads, dl_err *err);
void dl_pool_free(dl_pool *p);   /* NULL is fine; joins the helpers */
int dl_pool_threads(const dl_pool *p);   /* 1 for NULL */

/* Runs a job to completion on the pool (NULL: on the caller alone). */
void dl_pool_run(dl_pool *p, int n_tasks, dl_pool_task_fn fn, void *ctx);

/* The model's entry point: the pool when there is one, else n_threads threads started
 * for this call only (tools and tests that set a thread count without a context). */
void dl_pool_for(dl_pool *p, int n_threads, int n_tasks, dl_pool_task_fn fn, void *ctx);

#endif

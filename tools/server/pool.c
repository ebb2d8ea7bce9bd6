/* pool.c - N contexts behind one mutex. A request takes a free context or waits on the
 * condition variable; the queue is bounded so that a burst gets a prompt 503 instead of
 * piling up connections that all wait minutes. */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t freed;
    int n;
    difflm_ctx **ctx;
    unsigned char *busy;   /* busy[i]: ctx[i] is lent out */
    int n_busy, waiting, queue_limit, closed;
};

pool *pool_create(difflm_model *model, int n, int n_threads, int max_canvas, int precision,
                  int pack_weights, int queue_limit, int *status, char *err, size_t err_cap) {
    pool *p = calloc(1, sizeof *p);
    if (!p || !(p->ctx = calloc((size_t)n, sizeof *p->ctx)) || !(p->busy = calloc((size_t)n, 1))) {
        if (p)
            free(p->ctx);
        free(p);
        *status = DIFFLM_E_NOMEM;
        snprintf(err, err_cap, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->freed, NULL);
    p->n = n;
    p->queue_limit = queue_limit;
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.n_threads = n_threads;
    cp.max_canvas = max_canvas;
    cp.precision = precision;
    cp.pack_weights = pack_weights;   /* one copy, the model's, for every context */
    for (int i = 0; i < n; i++) {
        p->ctx[i] = difflm_ctx_create(model, &cp, status);
        if (!p->ctx[i]) {
            snprintf(err, err_cap, "context %d of %d: %s", i + 1, n, difflm_status_str(*status));
            pool_free(p);
            return NULL;
        }
    }
    *status = DIFFLM_OK;
    return p;
}

void pool_free(pool *p) {
    if (!p)
        return;
    for (int i = 0; i < p->n; i++)
        difflm_free(p->ctx[i]);
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->mu);
    free(p->ctx);
    free(p->busy);
    free(p);
}

static difflm_ctx *take_free(pool *p) {
    for (int i = 0; i < p->n; i++)
        if (!p->busy[i]) {
            p->busy[i] = 1;
            p->n_busy++;
            return p->ctx[i];
        }
    return NULL;
}

difflm_ctx *pool_acquire(pool *p, int (*alive)(void *user), void *user, int *why) {
    pthread_mutex_lock(&p->mu);
    difflm_ctx *c = NULL;
    *why = 0;
    if (p->closed)
        *why = POOL_CLOSED;
    else if (!(c = take_free(p))) {
        if (p->waiting >= p->queue_limit) {
            *why = POOL_FULL;
        } else {
            p->waiting++;
            while (!(c = take_free(p))) {
                if (p->closed) {
                    *why = POOL_CLOSED;
                    break;
                }
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_nsec += 50 * 1000000L;
                if (until.tv_nsec >= 1000000000L) {
                    until.tv_sec++;
                    until.tv_nsec -= 1000000000L;
                }
                int rc = pthread_cond_timedwait(&p->freed, &p->mu, &until);
                if (rc == ETIMEDOUT && alive && !alive(user)) {
                    *why = POOL_GONE;
                    break;
                }
            }
            p->waiting--;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return c;
}

void pool_release(pool *p, difflm_ctx *ctx) {
    if (!ctx)
        return;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->n; i++)
        if (p->ctx[i] == ctx && p->busy[i]) {
            p->busy[i] = 0;
            p->n_busy--;
        }
    if (p->closed)
        pthread_cond_broadcast(&p->freed);   /* pool_wait_idle waits on it too */
    else
        pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->mu);
}

int pool_wait_idle(pool *p, double seconds) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long long ns = until.tv_nsec + (long long)(seconds * 1e9);
    until.tv_sec += (time_t)(ns / 1000000000LL);
    until.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&p->mu);
    while (p->n_busy > 0 && pthread_cond_timedwait(&p->freed, &p->mu, &until) != ETIMEDOUT)
        ;
    int left = p->n_busy;
    pthread_mutex_unlock(&p->mu);
    return left;
}

void pool_close(pool *p) {
    pthread_mutex_lock(&p->mu);
    p->closed = 1;
    for (int i = 0; i < p->n; i++)
        if (p->busy[i])
            difflm_cancel(p->ctx[i]);   /* safe from any thread while the context lives */
    pthread_cond_broadcast(&p->freed);
    pthread_mutex_unlock(&p->mu);
}

void pool_get_stats(pool *p, pool_stats *out) {
    pthread_mutex_lock(&p->mu);
    out->size = p->n;
    out->busy = p->n_busy;
    out->waiting = p->waiting;
    out->queue_limit = p->queue_limit;
    pthread_mutex_unlock(&p->mu);
}

difflm_ctx *pool_any(pool *p) { return p->ctx[0]; }

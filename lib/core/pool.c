/* pool.c - persistent helpers woken per job.
 *
 * A forward pass runs a few hundred jobs per step, some only tens of microseconds
 * long, so helpers spin briefly on the job counter before sleeping on a condition
 * variable: back-to-back jobs then start without a wake-up, while an idle context
 * costs no CPU. The caller also runs tasks, so a pool of one thread has no helpers. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/pool.h"

#define SPIN_ROUNDS 20000

struct dl_pool {
    int n_threads;
    pthread_t *th;
    int n_started;
    pthread_mutex_t mu;
    pthread_cond_t wake;        /* helpers wait here for a new generation */
    pthread_cond_t done;        /* the caller waits here for the last helper */
    /* the current job */
    dl_pool_task_fn fn;
    void *ctx;
    int n_tasks;
    atomic_int next;            /* next task to claim */
    atomic_int generation;      /* bumped per job; helpers compare with what they saw */
    atomic_int busy;            /* helpers still inside the current job */
    int quit;
};

typedef struct helper_arg {
    dl_pool *p;
    int id;
} helper_arg;

static void run_tasks(dl_pool *p, int worker) {
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->n_tasks)
            return;
        p->fn(p->ctx, t, worker);
    }
}

static void *helper_main(void *arg) {
    helper_arg *a = arg;
    dl_pool *p = a->p;
    int id = a->id;
    free(a);
    int seen = 0;
    for (;;) {
        int gen = atomic_load_explicit(&p->generation, memory_order_acquire);
        for (int i = 0; gen == seen && i < SPIN_ROUNDS; i++) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
            gen = atomic_load_explicit(&p->generation, memory_order_acquire);
        }
        if (gen == seen) {
            pthread_mutex_lock(&p->mu);
            while ((gen = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
                   !p->quit)
                pthread_cond_wait(&p->wake, &p->mu);
            int quit = p->quit;
            pthread_mutex_unlock(&p->mu);
            if (quit)
                return NULL;
        }
        seen = gen;
        run_tasks(p, id);
        if (atomic_fetch_sub_explicit(&p->busy, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

int dl_pool_create(dl_pool **out, int n_threads, dl_err *err) {
    *out = NULL;
    if (n_threads <= 0)
        n_threads = dl_cpu_count();
    if (n_threads > 1024)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "thread count %d is above 1024", n_threads);
    dl_pool *p = calloc(1, sizeof *p);
    if (!p)
        return dl_fail(err, DIFFLM_E_NOMEM, "thread pool");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (n_threads > 1) {
        p->th = calloc((size_t)n_threads - 1, sizeof *p->th);
        if (!p->th) {
            dl_pool_free(p);
            return dl_fail(err, DIFFLM_E_NOMEM, "thread pool of %d", n_threads);
        }
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, DL_POOL_STACK);
        for (int i = 1; i < n_threads; i++) {
            helper_arg *a = malloc(sizeof *a);
            if (a)
                *a = (helper_arg){ p, i };
            if (!a || pthread_create(&p->th[i - 1], &attr, helper_main, a) != 0) {
                free(a);
                pthread_attr_destroy(&attr);
                int started = p->n_started;
                dl_pool_free(p);
                return dl_fail(err, DIFFLM_E_NOMEM, "cannot start helper thread %d of %d "
                               "(%d started)", i, n_threads - 1, started);
            }
            p->n_started++;
        }
        pthread_attr_destroy(&attr);
    }
    *out = p;
    return 0;
}

void dl_pool_free(dl_pool *p) {
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_started; i++)
        pthread_join(p->th[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->th);
    free(p);
}

int dl_pool_threads(const dl_pool *p) {
    return p ? p->n_threads : 1;
}

void dl_pool_run(dl_pool *p, int n_tasks, dl_pool_task_fn fn, void *ctx) {
    if (n_tasks <= 0)
        return;
    if (!p || p->n_started == 0 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->busy, p->n_started, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    /* every helper must leave the job before its fields can be reused */
    for (int i = 0; i < SPIN_ROUNDS && atomic_load_explicit(&p->busy, memory_order_acquire); i++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    if (atomic_load_explicit(&p->busy, memory_order_acquire)) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->busy, memory_order_acquire))
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

/* --- per-call threads, for callers without a pool */

typedef struct call_job {
    dl_pool_task_fn fn;
    void *ctx;
    int n_tasks;
    atomic_int next;
} call_job;

typedef struct call_worker {
    call_job *job;
    int id;
} call_worker;

static void call_run(call_job *j, int worker) {
    for (;;) {
        int t = atomic_fetch_add(&j->next, 1);
        if (t >= j->n_tasks)
            return;
        j->fn(j->ctx, t, worker);
    }
}

static void *call_main(void *arg) {
    call_worker *w = arg;
    call_run(w->job, w->id);
    return NULL;
}

#define CALL_MAX_HELPERS 255

void dl_pool_for(dl_pool *p, int n_threads, int n_tasks, dl_pool_task_fn fn, void *ctx) {
    if (p) {
        dl_pool_run(p, n_tasks, fn, ctx);
        return;
    }
    if (n_tasks <= 0)
        return;
    int nt = n_threads < n_tasks ? n_threads : n_tasks;
    if (nt > CALL_MAX_HELPERS + 1)
        nt = CALL_MAX_HELPERS + 1;
    call_job job = { fn, ctx, n_tasks, 0 };
    if (nt <= 1) {
        call_run(&job, 0);
        return;
    }
    pthread_t th[CALL_MAX_HELPERS];
    call_worker wk[CALL_MAX_HELPERS];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, DL_POOL_STACK);
    int started = 0;
    for (int i = 0; i < nt - 1; i++) {
        wk[i] = (call_worker){ &job, i + 1 };
        if (pthread_create(&th[i], &attr, call_main, &wk[i]) != 0)
            break;   /* fewer helpers: the counter still hands out every task */
        started++;
    }
    pthread_attr_destroy(&attr);
    call_run(&job, 0);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

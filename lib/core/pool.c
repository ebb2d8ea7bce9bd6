/* pool.c - persistent helpers woken per job.
 *
 * A forward pass runs a few hundred jobs per step, some only tens of microseconds
 * long, so helpers spin briefly before sleeping on a condition variable: back-to-back
 * jobs then start without a wake-up, while an idle context costs no CPU.
 *
 * The caller waits only for tasks, never for helpers: a helper that was not scheduled
 * in time (a machine busier than its cores) simply finds no task left. That needs a
 * claim that cannot leak into the next job: the job's generation and its next task
 * index share one 64-bit ticket, and a task is claimed by compare-and-swap only while
 * the generation is the one the helper read the job's description for. Descriptions
 * alternate between two slots; a slot is rewritten only two jobs later, which cannot
 * start while a claimed task of this job is unfinished. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/pool.h"

#define SPIN_ROUNDS 20000

typedef struct job_slot {
    _Atomic(dl_pool_task_fn) fn;
    _Atomic(void *) ctx;
    atomic_int n_tasks;
} job_slot;

typedef struct helper_arg {
    dl_pool *p;
    int id;
} helper_arg;

struct dl_pool {
    int n_threads;
    pthread_t *th;
    helper_arg *args;           /* [n_threads - 1] each helper's own, freed with the pool
                                   (a helper thread is outside the allocator scope) */
    int n_started;
    pthread_mutex_t mu;
    pthread_cond_t wake;        /* helpers wait here for a new generation */
    pthread_cond_t done_cv;     /* the caller waits here for the last task */
    job_slot slot[2];           /* the job of generation g is in slot[g & 1] */
    _Atomic uint64_t ticket;    /* generation << 32 | next task index */
    atomic_uint generation;
    atomic_int done;            /* tasks finished in the current job */
    atomic_int waiting;         /* the caller sleeps on done_cv */
    int quit;
};


static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Runs tasks of generation gen until none is left; returns how many it ran. */
static int run_tasks(dl_pool *p, uint32_t gen, int worker) {
    const job_slot *sl = &p->slot[gen & 1];
    int ran = 0;
    for (;;) {
        uint64_t t = atomic_load_explicit(&p->ticket, memory_order_acquire);
        if ((uint32_t)(t >> 32) != gen)
            return ran;
        dl_pool_task_fn fn = atomic_load_explicit(&sl->fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&sl->ctx, memory_order_relaxed);
        int n = atomic_load_explicit(&sl->n_tasks, memory_order_relaxed);
        uint32_t idx = (uint32_t)t;
        if ((int64_t)idx >= n)
            return ran;
        if (!atomic_compare_exchange_weak_explicit(&p->ticket, &t, t + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        fn(ctx, (int)idx, worker);
        ran++;
        /* seq_cst pairs with the caller's store of waiting then load of done: one of
         * the two sides always sees the other, so the last signal is never lost */
        if (atomic_fetch_add_explicit(&p->done, 1, memory_order_seq_cst) + 1 == n &&
            atomic_load_explicit(&p->waiting, memory_order_seq_cst)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void *helper_main(void *arg) {
    const helper_arg *a = arg;
    dl_pool *p = a->p;
    int id = a->id;
    uint32_t seen = 0;
    for (;;) {
        uint32_t gen = atomic_load_explicit(&p->generation, memory_order_acquire);
        for (int i = 0; gen == seen && i < SPIN_ROUNDS; i++) {
            cpu_relax();
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
        run_tasks(p, gen, id);
    }
}

int dl_pool_create(dl_pool **out, int n_threads, dl_err *err) {
    *out = NULL;
    if (n_threads <= 0)
        n_threads = dl_cpu_count();
    if (n_threads > 1024)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "thread count %d is above 1024", n_threads);
    dl_pool *p = dl_calloc(1, sizeof *p);
    if (!p)
        return dl_fail(err, DIFFLM_E_NOMEM, "thread pool");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (n_threads > 1) {
        p->th = dl_calloc((size_t)n_threads - 1, sizeof *p->th);
        p->args = dl_calloc((size_t)n_threads - 1, sizeof *p->args);
        if (!p->th || !p->args) {
            dl_pool_free(p);
            return dl_fail(err, DIFFLM_E_NOMEM, "thread pool of %d", n_threads);
        }
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, DL_POOL_STACK);
        for (int i = 1; i < n_threads; i++) {
            helper_arg *a = &p->args[i - 1];
            *a = (helper_arg){ p, i };
            if (pthread_create(&p->th[i - 1], &attr, helper_main, a) != 0) {
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
    pthread_cond_destroy(&p->done_cv);
    dl_free(p->th);
    dl_free(p->args);
    dl_free(p);
}

int dl_pool_threads(const dl_pool *p) {
    return p ? p->n_threads : 1;
}

/* Jobs larger than the ticket's index field are run as several. */
#define MAX_JOB_TASKS (1 << 30)

typedef struct offset_job {
    dl_pool_task_fn fn;
    void *ctx;
    int base;
} offset_job;

static void offset_task(void *ctx, int task, int worker) {
    offset_job *j = ctx;
    j->fn(j->ctx, j->base + task, worker);
}

void dl_pool_run(dl_pool *p, int n_tasks, dl_pool_task_fn fn, void *ctx) {
    if (n_tasks <= 0)
        return;
    if (!p || p->n_started == 0 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    if (n_tasks > MAX_JOB_TASKS) {
        for (int base = 0; base < n_tasks; base += MAX_JOB_TASKS) {
            offset_job j = { fn, ctx, base };
            dl_pool_run(p, n_tasks - base < MAX_JOB_TASKS ? n_tasks - base : MAX_JOB_TASKS,
                        offset_task, &j);
        }
        return;
    }
    uint32_t gen = atomic_load_explicit(&p->generation, memory_order_relaxed) + 1;
    job_slot *sl = &p->slot[gen & 1];
    atomic_store_explicit(&sl->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&sl->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&sl->n_tasks, n_tasks, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->ticket, (uint64_t)gen << 32, memory_order_release);
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->generation, gen, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, gen, 0);
    /* wait for the tasks other threads claimed, not for the threads themselves */
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        if (atomic_load_explicit(&p->done, memory_order_acquire) == n_tasks)
            return;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->waiting, 1, memory_order_seq_cst);
    while (atomic_load_explicit(&p->done, memory_order_seq_cst) != n_tasks)
        pthread_cond_wait(&p->done_cv, &p->mu);
    atomic_store_explicit(&p->waiting, 0, memory_order_relaxed);
    pthread_mutex_unlock(&p->mu);
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

/* parallel.c - a parallel for over independent tasks.
 *
 * Tasks are claimed from an atomic counter, so which thread runs a task varies from
 * run to run; callers make every task's result independent of that (fixed task shapes,
 * disjoint outputs), which is what keeps results bitwise equal for any thread count.
 * Helper threads are started per call: a forward pass has a few hundred parallel
 * regions, each far longer than a thread start, and no pool has to outlive a context. */
#include <pthread.h>
#include <stdatomic.h>

#include "kernels/kernels.h"

#define DL_PAR_MAX_HELPERS 255

typedef struct par_job {
    dl_task_fn fn;
    void *ctx;
    int n_tasks;
    atomic_int next;
} par_job;

typedef struct par_worker {
    par_job *job;
    int id;
} par_worker;

static void run_tasks(par_job *job, int worker) {
    for (;;) {
        int t = atomic_fetch_add(&job->next, 1);
        if (t >= job->n_tasks)
            return;
        job->fn(job->ctx, t, worker);
    }
}

static void *worker_main(void *arg) {
    par_worker *w = arg;
    run_tasks(w->job, w->id);
    return NULL;
}

void dl_parallel_for(int n_threads, int n_tasks, dl_task_fn fn, void *ctx) {
    if (n_tasks <= 0)
        return;
    int nt = n_threads < n_tasks ? n_threads : n_tasks;
    if (nt > DL_PAR_MAX_HELPERS + 1)
        nt = DL_PAR_MAX_HELPERS + 1;
    par_job job = { fn, ctx, n_tasks, 0 };
    if (nt <= 1) {
        run_tasks(&job, 0);
        return;
    }
    pthread_t th[DL_PAR_MAX_HELPERS];
    par_worker wk[DL_PAR_MAX_HELPERS];
    int started = 0;
    for (int i = 0; i < nt - 1; i++) {
        wk[i] = (par_worker){ &job, i + 1 };
        if (pthread_create(&th[i], NULL, worker_main, &wk[i]) != 0)
            break;   /* fewer helpers: the counter still hands out every task */
        started++;
    }
    run_tasks(&job, 0);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

/* test_pool.c - the persistent thread pool: every task runs exactly once per job, worker
 * ids stay in range, jobs run back to back (spinning and sleeping helpers), nested use
 * of per-call threads, and clean shutdown (valgrind: no leaks). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check_compat.h"
#include "core/pool.h"

typedef struct probe {
    atomic_int *hits;
    int n_threads;
    atomic_int bad_worker;
    atomic_int sum;
} probe;

static void probe_task(void *ctx, int task, int worker) {
    probe *p = ctx;
    atomic_fetch_add(&p->hits[task], 1);
    atomic_fetch_add(&p->sum, task);
    if (worker < 0 || worker >= p->n_threads)
        atomic_store(&p->bad_worker, 1);
}

START_TEST(test_pool_jobs) {
    static const int threads[] = { 1, 2, 3, 4, 8 };
    static const int tasks[] = { 0, 1, 2, 7, 64, 1000 };
    for (int a = 0; a < 5; a++) {
        dl_pool *pool;
        dl_err e = { 0 };
        ck_assert_int_eq(dl_pool_create(&pool, threads[a], &e), 0);
        ck_assert_int_eq(dl_pool_threads(pool), threads[a]);
        for (int rep = 0; rep < 200; rep++) {
            int n = tasks[rep % 6];
            probe p = { calloc((size_t)n + 1, sizeof(atomic_int)), threads[a], 0, 0 };
            ck_assert_ptr_nonnull(p.hits);
            dl_pool_run(pool, n, probe_task, &p);
            for (int t = 0; t < n; t++)
                ck_assert_int_eq(atomic_load(&p.hits[t]), 1);
            ck_assert_int_eq(atomic_load(&p.sum), n * (n - 1) / 2);
            ck_assert_int_eq(atomic_load(&p.bad_worker), 0);
            free(p.hits);
            if (rep == 100)
                usleep(20000);   /* let the helpers fall asleep; the next job wakes them */
        }
        dl_pool_free(pool);
    }
    dl_pool_free(NULL);
    ck_assert_int_eq(dl_pool_threads(NULL), 1);
}
END_TEST

START_TEST(test_pool_for_fallback) {
    /* no pool: threads started for the call, same contract */
    for (int nt = 1; nt <= 4; nt++) {
        probe p = { calloc(50, sizeof(atomic_int)), nt, 0, 0 };
        dl_pool_for(NULL, nt, 50, probe_task, &p);
        for (int t = 0; t < 50; t++)
            ck_assert_int_eq(atomic_load(&p.hits[t]), 1);
        ck_assert_int_eq(atomic_load(&p.bad_worker), 0);
        free(p.hits);
    }
    dl_pool *pool;
    ck_assert_int_eq(dl_pool_create(&pool, 0, NULL), 0);   /* 0 = all cores */
    ck_assert_int_ge(dl_pool_threads(pool), 1);
    probe p = { calloc(9, sizeof(atomic_int)), dl_pool_threads(pool), 0, 0 };
    dl_pool_for(pool, 1, 9, probe_task, &p);   /* the pool wins over the count */
    for (int t = 0; t < 9; t++)
        ck_assert_int_eq(atomic_load(&p.hits[t]), 1);
    free(p.hits);
    dl_pool_free(pool);
    dl_err e = { 0 };
    ck_assert_int_eq(dl_pool_create(&pool, 5000, &e), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_null(pool);
}
END_TEST

int main(void) {
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pool_jobs);
    tcase_add_test(tc, test_pool_for_fallback);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}

/* bench_common.h - timing helpers shared by the benchmarks. */
#ifndef DL_BENCH_COMMON_H
#define DL_BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Peak resident set size of this process so far, in MiB. */
static inline double bench_peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* Current resident set size in MiB (from /proc/self/statm; 0 if unreadable). */
static inline double bench_rss_mib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return (double)rss * 4096.0 / (1024.0 * 1024.0);
}

/* Runs fn(arg) once to warm up, then repeatedly for at least min_s seconds (and at
 * least min_reps times); returns the best (smallest) wall time of one call. */
static inline double bench_best(void (*fn)(void *), void *arg, double min_s, int min_reps) {
    fn(arg);
    double best = 1e30, start = bench_now();
    int reps = 0;
    while (reps < min_reps || bench_now() - start < min_s) {
        double t0 = bench_now();
        fn(arg);
        double t = bench_now() - t0;
        best = t < best ? t : best;
        reps++;
    }
    return best;
}

/* fn(arg) in a forked process, so that nothing it leaves behind (threads, memory)
 * touches this one; returns its result, or 0 when the child could not run or report. */
static inline double bench_forked(double (*fn)(void *), void *arg) {
    double r = 0;
    int fd[2];
    if (pipe(fd) != 0)
        return 0;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        double v = fn(arg);
        _exit(write(fd[1], &v, sizeof v) == (ssize_t)sizeof v ? 0 : 1);
    }
    close(fd[1]);
    if (pid > 0) {
        if (read(fd[0], &r, sizeof r) != (ssize_t)sizeof r)
            r = 0;
        waitpid(pid, NULL, 0);
    }
    close(fd[0]);
    return r;
}

#ifdef DL_HAVE_BLAS
#include <cblas.h>

typedef struct bench_blas_job {
    void (*fn)(void *);
    void *arg;
    double min_s;
    int min_reps, threads;
} bench_blas_job;

static inline double bench_blas_child(void *p) {
    bench_blas_job *j = p;
    openblas_set_num_threads(j->threads);
    return bench_best(j->fn, j->arg, j->min_s, j->min_reps);
}

/* bench_best with OpenBLAS at `threads` threads, forked: OpenBLAS's helper threads keep
 * spinning after a threaded call and would steal a core from everything measured after
 * it. Returns 0 when the child could not run or report. */
static inline double bench_best_openblas(void (*fn)(void *), void *arg, double min_s,
                                         int min_reps, int threads) {
    bench_blas_job j = { fn, arg, min_s, min_reps, threads };
    return bench_forked(bench_blas_child, &j);
}
#endif

#endif

/* bench_common.h - timing helpers shared by the benchmarks. */
#ifndef DL_BENCH_COMMON_H
#define DL_BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

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

#endif

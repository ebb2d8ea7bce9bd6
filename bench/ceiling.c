/* ceiling.c - the machine's f32 ceiling: a register-only FMA loop on every thread. */
#include <string.h>

#include "bench_common.h"
#include "ceiling.h"
#include "difflm_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PEAK_ITERS 1000000

/* Independent chains of FMAs held in named registers (an array would live in memory):
 * 24 x 16 lanes covers latency x throughput on every AVX-512 core; 12 x 8 for AVX2. */
#define CH4(M, a, b, c, d) M(a) M(b) M(c) M(d)
#define CH24(M) CH4(M, 0, 1, 2, 3) CH4(M, 4, 5, 6, 7) CH4(M, 8, 9, 10, 11) \
                CH4(M, 12, 13, 14, 15) CH4(M, 16, 17, 18, 19) CH4(M, 20, 21, 22, 23)
#define CH12(M) CH4(M, 0, 1, 2, 3) CH4(M, 4, 5, 6, 7) CH4(M, 8, 9, 10, 11)

__attribute__((target("avx512f"))) static float peak512(float seed) {
    __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
#define DECL(i) __m512 a##i = _mm512_set1_ps(seed + (float)i);
#define STEP(i) a##i = _mm512_fmadd_ps(a##i, m, c);
#define SUM(i) s += _mm512_reduce_add_ps(a##i);
    CH24(DECL)
    for (long it = 0; it < PEAK_ITERS; it++) {
        CH24(STEP)
        __asm__ volatile("" ::: "memory");   /* keep the loop a loop */
    }
    float s = 0;
    CH24(SUM)
#undef DECL
#undef STEP
#undef SUM
    return s;
}

__attribute__((target("avx2,fma"))) static float peak256(float seed) {
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    float t[8];
#define DECL(i) __m256 a##i = _mm256_set1_ps(seed + (float)i);
#define STEP(i) a##i = _mm256_fmadd_ps(a##i, m, c);
#define SUM(i) _mm256_storeu_ps(t, a##i); for (int j = 0; j < 8; j++) s += t[j];
    CH12(DECL)
    for (long it = 0; it < PEAK_ITERS; it++) {
        CH12(STEP)
        __asm__ volatile("" ::: "memory");
    }
    float s = 0;
    CH12(SUM)
#undef DECL
#undef STEP
#undef SUM
    return s;
}
#endif

typedef struct peak_job {
    int wide;
    volatile float sink[1024];
} peak_job;

static void peak_task(void *ctx, int task, int worker) {
    (void)worker;
    peak_job *j = ctx;
#if defined(__x86_64__) && defined(__GNUC__)
    j->sink[task % 1024] = j->wide ? peak512((float)task) : peak256((float)task);
#else
    (void)j;
    (void)task;
#endif
}


double bench_peak_fma(dl_pool *pool) {
#if defined(__x86_64__) && defined(__GNUC__)
    int threads = dl_pool_threads(pool);
    peak_job pj;
    memset(&pj, 0, sizeof pj);
    pj.wide = dl_fpath_available(DL_FPATH_AVX512);
    if (!pj.wide && !dl_fpath_available(DL_FPATH_AVX2))
        return 0;
    /* many short repetitions, best one: the machine is shared and noisy */
    double best = 1e30;
    for (int rep = 0; rep < 30; rep++) {
        double t0 = bench_now();
        dl_pool_run(pool, threads, peak_task, &pj);
        double t = bench_now() - t0;
        best = t < best ? t : best;
    }
    return (double)threads * PEAK_ITERS * (pj.wide ? 24 * 16 : 12 * 8) * 2.0 / best / 1e9;
#else
    (void)pool;
    return 0;
#endif
}

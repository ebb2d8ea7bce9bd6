/* ceiling.h - the machine's peak f32 FMA rate, shared by the benchmarks. */
#ifndef DL_BENCH_CEILING_H
#define DL_BENCH_CEILING_H

#include "difflm_internal.h"

/* GFLOP/s of independent FMA chains on every pool thread (AVX-512 when the CPU has it,
 * else AVX2; 0 without either). Best of 30 short runs. */
double bench_peak_fma(dl_pool *pool);

#endif

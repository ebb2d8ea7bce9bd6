/* test_amx_refused - the integer products when Linux refuses the AMX tile state.
 *
 * Linux refuses ARCH_REQ_XCOMP_PERM while a thread of the process has an alternate
 * signal stack too small for the larger signal frame the tiles need (ENOSPC). A host
 * with such a stack must still get every quantized product, on the VNNI kernel with the
 * same bits, and never a tile instruction (which would be SIGILL without the grant).
 * Its own process: the grant, once asked, holds for the process's lifetime.
 *
 * Exit status 0 and "skipped: ..." where the CPU has no AMX-INT8 (nothing to refuse), or
 * where this stack turned out large enough and the grant was given (then the products are
 * compared all the same). */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/quant.h"
#include "kernels/types.h"

#define FAIL(...) (fprintf(stderr, "FAIL: " __VA_ARGS__), fputc('\n', stderr), exit(1))

/* out[N][M] of Q8_0 weights on path, from activations quantized once */
static void product(int path, float *out, const dl_qact *xa, const uint8_t *w, int N, int K,
                    int M) {
    for (int m0 = 0; m0 < M; m0 += DL_QGEMM_COLS)
        dl_qgemm_cols(path, out, M, xa, N, w, DL_TYPE_Q8_0, K, m0,
                      M - m0 < DL_QGEMM_COLS ? M - m0 : DL_QGEMM_COLS, NULL, 0);
}

int main(void) {
    /* 8 KiB: enough for a signal frame without the tiles' 8 KiB of state, too small with */
    static char alt[8192];
    stack_t ss = { .ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0 };
    if (sigaltstack(&ss, NULL) != 0)
        FAIL("sigaltstack of %zu bytes", sizeof alt);

    enum { N = 48, K = 256, M = 80 };
    static float wf[M * K], x[N * K], o_scalar[N * M], o_best[N * M];
    uint32_t seed = 7;
    for (int i = 0; i < M * K; i++)
        wf[i] = (float)((seed = seed * 1103515245u + 12345u) >> 8) / (float)(1 << 24) - 0.5f;
    for (int i = 0; i < N * K; i++)
        x[i] = (float)((seed = seed * 1103515245u + 12345u) >> 8) / (float)(1 << 24) - 0.5f;
    size_t rb = dl_row_bytes(DL_TYPE_Q8_0, K);
    uint8_t *w = malloc(rb * M);
    dl_qact *xa = malloc(sizeof(dl_qact) * N * (K / 32));
    if (!w || !xa)
        FAIL("allocation");
    for (int m = 0; m < M; m++)
        dl_quantize_row(DL_TYPE_Q8_0, w + rb * m, wf + (size_t)m * K, K);
    for (int n = 0; n < N; n++)
        dl_qact_row(xa + (size_t)n * (K / 32), x + (size_t)n * K, DL_TYPE_Q8_0, K);

    int has_amx = (dl_cpu_features() & DL_CPU_AMX_INT8) != 0;
    int granted = dl_amx_granted();   /* asks now, with the small stack in place */
    int best = dl_qpath_best();
    if (!granted && best == DL_QPATH_AMX_INT8)
        FAIL("AMX-INT8 chosen although the tile state was refused");
    product(DL_QPATH_SCALAR, o_scalar, xa, w, N, K, M);
    product(best, o_best, xa, w, N, K, M);   /* a tile instruction here would be SIGILL */
    if (memcmp(o_scalar, o_best, sizeof o_best) != 0)
        FAIL("path %s differs from the portable one", dl_qpath_name(best));

    if (!has_amx)
        printf("skipped: this CPU (or DIFFLM_CPU_MASK) has no AMX-INT8, nothing to refuse; "
               "%s product checked\n", dl_qpath_name(best));
    else if (granted)
        printf("skipped: Linux granted the tile state with an 8 KiB sigaltstack here; "
               "%s product checked\n", dl_qpath_name(best));
    else
        printf("refused as expected: products on %s, the portable path's bits\n",
               dl_qpath_name(best));
    free(w);
    free(xa);
    return 0;
}

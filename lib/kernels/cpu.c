/* cpu.c - CPUID feature detection and the choice of kernel paths. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "kernels/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static unsigned detect(void) {
    unsigned a, b, c, d, f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx)
        return 0;
    unsigned long long xcr0 = xgetbv0();
    if ((xcr0 & 6u) != 6u)   /* SSE and AVX state */
        return 0;
    int fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    unsigned b7 = 0, c7 = 0, d7 = 0, a71 = 0;
    if (__get_cpuid_count(7, 0, &a, &b7, &c7, &d7))
        if (__get_cpuid_count(7, 1, &a71, &b, &c, &d) == 0)
            a71 = 0;
    if (b7 & (1u << 5))
        f |= DL_CPU_AVX2;
    if (fma)
        f |= DL_CPU_FMA;
    if (f16c)
        f |= DL_CPU_F16C;
    if (a71 & (1u << 4))
        f |= DL_CPU_AVX_VNNI;
    /* AVX-512 also needs the opmask and both halves of the upper ZMM state */
    if ((xcr0 & 0xe0u) == 0xe0u) {
        if (b7 & (1u << 16)) f |= DL_CPU_AVX512F;
        if (b7 & (1u << 17)) f |= DL_CPU_AVX512DQ;
        if (b7 & (1u << 30)) f |= DL_CPU_AVX512BW;
        if (b7 & (1u << 31)) f |= DL_CPU_AVX512VL;
        if (c7 & (1u << 11)) f |= DL_CPU_AVX512_VNNI;
        if (d7 & (1u << 23)) f |= DL_CPU_AVX512_FP16;
        if (a71 & (1u << 5)) f |= DL_CPU_AVX512_BF16;
    }
    /* AMX: tiles (bit 24) and the XTILECFG and XTILEDATA state enabled in XCR0 */
    if ((d7 & (1u << 24)) && (xcr0 & 0x60000u) == 0x60000u) {
        if (d7 & (1u << 25)) f |= DL_CPU_AMX_INT8;
        if (d7 & (1u << 22)) f |= DL_CPU_AMX_BF16;
    }
    return f;
}
#else
static unsigned detect(void) {
    return 0;
}
#endif

unsigned dl_cpu_features(void) {
    /* bit 31 marks "computed", so a CPU without any feature is cached too */
    static atomic_uint cached = 0;
    unsigned f = atomic_load_explicit(&cached, memory_order_relaxed);
    if (f)
        return f & ~(1u << 31);
    f = detect();
    const char *mask = getenv("DIFFLM_CPU_MASK");
    if (mask && *mask)
        f &= ~(unsigned)strtoul(mask, NULL, 0);
    atomic_store_explicit(&cached, f | (1u << 31), memory_order_relaxed);   /* same value in any race */
    return f;
}

const char *dl_cpu_features_str(char *buf, size_t cap) {
    static const struct { unsigned bit; const char *name; } names[] = {
        { DL_CPU_AVX2, "avx2" }, { DL_CPU_FMA, "fma" }, { DL_CPU_F16C, "f16c" },
        { DL_CPU_AVX512F, "avx512f" }, { DL_CPU_AVX512BW, "avx512bw" },
        { DL_CPU_AVX512VL, "avx512vl" }, { DL_CPU_AVX512DQ, "avx512dq" },
        { DL_CPU_AVX512_VNNI, "avx512_vnni" }, { DL_CPU_AVX_VNNI, "avx_vnni" },
        { DL_CPU_AVX512_BF16, "avx512_bf16" }, { DL_CPU_AVX512_FP16, "avx512_fp16" },
        { DL_CPU_AMX_INT8, "amx_int8" }, { DL_CPU_AMX_BF16, "amx_bf16" },
    };
    unsigned f = dl_cpu_features();
    size_t used = 0;
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(f & names[i].bit))
            continue;
        size_t n = strlen(names[i].name) + (used ? 1 : 0);
        if (used + n + 1 > cap)
            break;
        if (used)
            buf[used++] = ' ';
        memcpy(buf + used, names[i].name, strlen(names[i].name) + 1);
        used += strlen(names[i].name);
    }
    if (!used && cap > 9)
        memcpy(buf, "baseline", 9);
    return buf;
}

static atomic_int amx_state;   /* 0 unknown, 1 granted, 2 refused */

int dl_amx_asked(void) { return atomic_load(&amx_state) != 0; }

int dl_amx_granted(void) {
    int s = atomic_load(&amx_state);
    if (!s) {
        s = 2;
#if defined(__linux__) && defined(__x86_64__)
        enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
        if ((dl_cpu_features() & (DL_CPU_AMX_INT8 | DL_CPU_AMX_BF16)) &&
            syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0)
            s = 1;
#endif
        atomic_store(&amx_state, s);
    }
    return s == 1;
}

int dl_qpath_available(int path) {
    unsigned f = dl_cpu_features();
    switch (path) {
    case DL_QPATH_SCALAR:
        return 1;
    case DL_QPATH_AVX2:
        return (f & (DL_CPU_AVX2 | DL_CPU_FMA)) == (DL_CPU_AVX2 | DL_CPU_FMA);
    case DL_QPATH_AVX_VNNI:
        return (f & (DL_CPU_AVX2 | DL_CPU_FMA | DL_CPU_AVX_VNNI)) ==
               (DL_CPU_AVX2 | DL_CPU_FMA | DL_CPU_AVX_VNNI);
    case DL_QPATH_AVX512_VNNI:
    case DL_QPATH_AMX_INT8: {   /* the AMX kernel scales with AVX-512 and ends rows in VNNI */
        unsigned need = DL_CPU_AVX512F | DL_CPU_AVX512BW | DL_CPU_AVX512VL | DL_CPU_AVX512_VNNI;
        if (path == DL_QPATH_AMX_INT8)
            need |= DL_CPU_AMX_INT8;
        return (f & need) == need && (path != DL_QPATH_AMX_INT8 || dl_amx_granted());
    }
    default:
        return 0;
    }
}

int dl_fpath_available(int path) {
    unsigned f = dl_cpu_features();
    switch (path) {
    case DL_FPATH_SCALAR:
        return 1;
    case DL_FPATH_AVX2:
        return (f & (DL_CPU_AVX2 | DL_CPU_FMA | DL_CPU_F16C)) == (DL_CPU_AVX2 | DL_CPU_FMA | DL_CPU_F16C);
    case DL_FPATH_AVX512:
        return (f & (DL_CPU_AVX512F | DL_CPU_AVX512BW | DL_CPU_F16C)) ==
               (DL_CPU_AVX512F | DL_CPU_AVX512BW | DL_CPU_F16C);
    default:
        return 0;
    }
}

int dl_qpath_best(void) {
    for (int p = DL_QPATH_COUNT - 1; p > 0; p--)
        if (dl_qpath_available(p))
            return p;
    return DL_QPATH_SCALAR;
}

int dl_fpath_best(void) {
    for (int p = DL_FPATH_COUNT - 1; p > 0; p--)
        if (dl_fpath_available(p))
            return p;
    return DL_FPATH_SCALAR;
}

const char *dl_qpath_name(int path) {
    static const char *const n[] = { "scalar", "avx2", "avx-vnni", "avx512-vnni", "amx-int8" };
    return path >= 0 && path < DL_QPATH_COUNT ? n[path] : "?";
}

const char *dl_fpath_name(int path) {
    static const char *const n[] = { "scalar", "avx2-fma", "avx512" };
    return path >= 0 && path < DL_FPATH_COUNT ? n[path] : "?";
}

/* cpu.h - what the CPU can run, read once from CPUID (and XGETBV: a feature counts only
 * when the OS also saves its registers), and the kernel paths built on it.
 *
 * One binary runs everywhere: the fast kernels are compiled with per-function target
 * attributes and chosen at run time from these bits. DIFFLM_CPU_MASK (environment, hex
 * or decimal) clears features, so the slower paths can be exercised on a fast machine. */
#ifndef DL_CPU_H
#define DL_CPU_H

#include <stddef.h>
#include <stdint.h>

enum dl_cpu_feature {
    DL_CPU_AVX2 = 1u << 0,
    DL_CPU_FMA = 1u << 1,
    DL_CPU_F16C = 1u << 2,
    DL_CPU_AVX512F = 1u << 3,
    DL_CPU_AVX512BW = 1u << 4,
    DL_CPU_AVX512VL = 1u << 5,
    DL_CPU_AVX512DQ = 1u << 6,
    DL_CPU_AVX512_VNNI = 1u << 7,
    DL_CPU_AVX_VNNI = 1u << 8,
    DL_CPU_AVX512_BF16 = 1u << 9,
    DL_CPU_AVX512_FP16 = 1u << 10,
    /* AMX: the tile registers exist and the OS saves them (XCR0 bits 17, 18). A process
     * must still ask Linux for them (dl_amx_granted) before its first tile instruction.
     * The grant grows the signal frame of the whole host process (Linux refuses it while
     * a thread's sigaltstack is too small for the larger frame, and the paths fall back),
     * so it is asked only by work that uses tiles: the first quantized product on a CPU
     * with AMX-INT8, and bf16 work on one with AMX-BF16 (kernels/gemm_bf16.h). A host
     * that must not grow its frames clears both bits with DIFFLM_CPU_MASK=0x1800. */
    DL_CPU_AMX_INT8 = 1u << 11,
    DL_CPU_AMX_BF16 = 1u << 12,
};

/* The feature bits (enum dl_cpu_feature), cached after the first call. */
unsigned dl_cpu_features(void);
/* "avx2 fma f16c avx512f ..." for logs; returns buf. */
const char *dl_cpu_features_str(char *buf, size_t cap);

/* 1 once Linux has granted this process the AMX tile state (arch_prctl
 * ARCH_REQ_XCOMP_PERM, asked on the first call; without it the first tile instruction
 * is SIGILL); 0 where it refused or the CPU has no AMX. Thread-safe. */
int dl_amx_granted(void);
/* 1 once dl_amx_granted has asked (its answer is then known), without asking. */
int dl_amx_asked(void);
/* The 64 bytes ldtilecfg reads (palette 1): per tile, its rows and bytes per row. */
typedef struct dl_tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} dl_tile_config;

/* Kernel paths of the integer (quantized-weight) products, slowest first. */
enum dl_qpath {
    DL_QPATH_SCALAR = 0,
    DL_QPATH_AVX2 = 1,          /* vpmaddubsw + vpmaddwd, 8 lanes */
    DL_QPATH_AVX_VNNI = 2,      /* VEX vpdpbusd, 8 lanes */
    DL_QPATH_AVX512_VNNI = 3,   /* EVEX vpdpbusd, 16 lanes */
    DL_QPATH_AMX_INT8 = 4,      /* tdpbsud, 16 x 16 tiles, scaled by AVX-512 (after dl_amx_granted) */
    DL_QPATH_COUNT
};
/* Kernel paths of the f32 products (weights F32, F16, BF16). */
enum dl_fpath {
    DL_FPATH_SCALAR = 0,
    DL_FPATH_AVX2 = 1,          /* AVX2 + FMA, 6 x 16 micro-tile */
    DL_FPATH_AVX512 = 2,        /* AVX-512F, 12 x 32 micro-tile */
    DL_FPATH_COUNT
};

int dl_qpath_available(int path);
int dl_fpath_available(int path);
int dl_qpath_best(void);
int dl_fpath_best(void);
const char *dl_qpath_name(int path);
const char *dl_fpath_name(int path);

#endif

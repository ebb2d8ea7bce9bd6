/* types.c - the type table (types.h): one row per weight type, and the row-level entry
 * points of quant.h that look a type up in it.
 *
 * A row names the type's own functions (formats.h) and, for the integer product, how
 * its decoded panel combines with the activations (kind, zero point) and which kernel
 * runs it on each instruction set. The kernels are shared by all quantized types except
 * where a type needs its own: Q8_0 on AVX2, whose signed values would saturate
 * vpmaddubsw as u = q + 128 (qgemm_x86.c).
 *
 * Rows with a zero block size are ids this library does not know: the retired ids 4 and
 * 5, and the IQ/TQ/MXFP4 families, whose layouts it does not implement. Rows with
 * geometry but no functions (Q8_1, Q2_K, Q3_K, Q8_K) are layouts GGUF files may hold
 * and the reader can size and skip, but that nothing here computes with. */
#include <stdio.h>
#include <string.h>

#include "kernels/formats.h"
#include "kernels/qgemm_impl.h"
#include "kernels/quant.h"
#include "kernels/types.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define QKERNELS(avx2, amx)                                                           \
    { [DL_QPATH_SCALAR] = dl_qkernel_scalar, [DL_QPATH_AVX2] = (avx2),                \
      [DL_QPATH_AVX_VNNI] = dl_qkernel_avxvnni,                                       \
      [DL_QPATH_AVX512_VNNI] = dl_qkernel_avx512vnni, [DL_QPATH_AMX_INT8] = (amx) }
#else
#define QKERNELS(avx2, amx) { [DL_QPATH_SCALAR] = dl_qkernel_scalar }
#endif

/* A float type: one element per block, read by the f32 kernels. */
#define FLOAT_ROW(nm, bytes, t)                                                       \
    { .name = nm, .block_size = 1, .type_size = bytes, .quantized = 0,                \
      .product = DL_PRODUCT_F32, .to_f32 = dl_type_##t##_to_f32,                      \
      .from_f32 = dl_type_##t##_from_f32 }
/* A quantized type the integer product reads; avx2 and amx: its kernels on those paths
 * (Q6_K keeps the VNNI kernel on the AMX path: qgemm_amx.c says why). */
#define QUANT_ROW(nm, bs, bytes, t, kind, zero, avx2, amx)                            \
    { .name = nm, .block_size = bs, .type_size = bytes, .quantized = 1,               \
      .product = DL_PRODUCT_INT8, .to_f32 = dl_type_##t##_to_f32,                     \
      .from_f32 = dl_type_##t##_from_f32, .qdecode = dl_type_##t##_qdecode,           \
      .qkind = kind, .qzero = zero, .qkernel = QKERNELS(avx2, amx) }
/* A quantized layout known by its geometry only. */
#define SIZED_ROW(nm, bs, bytes) \
    { .name = nm, .block_size = bs, .type_size = bytes, .quantized = 1 }

static const dl_type_info type_table[DL_TYPE_ID_END] = {
    [DL_TYPE_F32] = FLOAT_ROW("F32", 4, f32),
    [DL_TYPE_F16] = FLOAT_ROW("F16", 2, f16),
    [DL_TYPE_Q4_0] = QUANT_ROW("Q4_0", 32, 18, q4_0, DL_QK_ZP32, 8, dl_qkernel_avx2, dl_qkernel_amx),
    [DL_TYPE_Q4_1] = QUANT_ROW("Q4_1", 32, 20, q4_1, DL_QK_MIN32, 0, dl_qkernel_avx2, dl_qkernel_amx),
    [DL_TYPE_Q5_0] = QUANT_ROW("Q5_0", 32, 22, q5_0, DL_QK_ZP32, 16, dl_qkernel_avx2, dl_qkernel_amx),
    [DL_TYPE_Q5_1] = QUANT_ROW("Q5_1", 32, 24, q5_1, DL_QK_MIN32, 0, dl_qkernel_avx2, dl_qkernel_amx),
    [DL_TYPE_Q8_0] = QUANT_ROW("Q8_0", 32, 34, q8_0, DL_QK_ZP32, 128, dl_qkernel_avx2_signed, dl_qkernel_amx),
    [DL_TYPE_Q8_1] = SIZED_ROW("Q8_1", 32, 36),
    [DL_TYPE_Q2_K] = SIZED_ROW("Q2_K", 256, 84),
    [DL_TYPE_Q3_K] = SIZED_ROW("Q3_K", 256, 110),
    [DL_TYPE_Q4_K] = QUANT_ROW("Q4_K", 256, 144, q4_k, DL_QK_MIN32, 0, dl_qkernel_avx2, dl_qkernel_amx),
    [DL_TYPE_Q5_K] = QUANT_ROW("Q5_K", 256, 176, q5_k, DL_QK_MIN32, 0, dl_qkernel_avx2, dl_qkernel_amx),
    [DL_TYPE_Q6_K] = QUANT_ROW("Q6_K", 256, 210, q6_k, DL_QK_ZP16, 32, dl_qkernel_avx2, dl_qkernel_avx512vnni),
    [DL_TYPE_Q8_K] = SIZED_ROW("Q8_K", 256, 292),
    [DL_TYPE_BF16] = FLOAT_ROW("BF16", 2, bf16),
};

const dl_type_info *dl_type_get(uint32_t type) {
    if (type >= DL_TYPE_ID_END || type_table[type].block_size == 0)
        return NULL;
    return &type_table[type];
}

const char *dl_type_name(uint32_t type, char *buf, size_t cap) {
    const dl_type_info *ti = dl_type_get(type);
    if (ti)
        return ti->name;
    if (!buf || cap == 0)
        return "unknown type";
    snprintf(buf, cap, "type %u", type);
    return buf;
}

const char *dl_type_list(char *buf, size_t cap, int (*keep)(const dl_type_info *)) {
    if (!buf || cap == 0)
        return "";
    buf[0] = '\0';
    int total = 0, done = 0;
    for (uint32_t t = 0; t < DL_TYPE_ID_END; t++)
        total += dl_type_get(t) && keep(dl_type_get(t));
    size_t len = 0;
    for (uint32_t t = 0; t < DL_TYPE_ID_END && len < cap; t++) {
        const dl_type_info *ti = dl_type_get(t);
        if (!ti || !keep(ti))
            continue;
        const char *sep = done == 0 ? "" : done == total - 1 ? " and " : ", ";
        int n = snprintf(buf + len, cap - len, "%s%s", sep, ti->name);
        len = n < 0 ? cap : len + (size_t)n;
        done++;
    }
    return buf;
}

size_t dl_row_bytes(uint32_t type, int64_t K) {
    const dl_type_info *ti = dl_type_get(type);
    if (!ti || K < 0)
        return 0;
    return (size_t)(K / ti->block_size) * ti->type_size;
}

/* --- quant.h's row-level entry points */

int dl_quant_type_supported(uint32_t type) {
    const dl_type_info *ti = dl_type_get(type);
    return ti && ti->product == DL_PRODUCT_INT8;
}

void dl_dequant_row(uint32_t type, float *out, const void *src, int64_t n) {
    const dl_type_info *ti = dl_type_get(type);
    if (ti && ti->to_f32)
        ti->to_f32(out, src, n);
}

int dl_quantize_row(uint32_t type, void *dst, const float *src, int64_t n) {
    const dl_type_info *ti = dl_type_get(type);
    if (!ti || !ti->quantized || !ti->from_f32)
        return -1;
    ti->from_f32(dst, src, n);
    return 0;
}

int dl_from_f32_row(uint32_t type, void *dst, const float *src, int64_t n) {
    const dl_type_info *ti = dl_type_get(type);
    if (!ti || !ti->from_f32)
        return -1;
    ti->from_f32(dst, src, n);
    return 0;
}

/* type_float.c - the row conversions of the float types F32, F16 and BF16 (one element
 * per block): f32 is copied, the halves are widened exactly and narrowed with
 * round-to-nearest-even (kernels.h). */
#include <string.h>

#include "kernels/formats.h"
#include "kernels/kernels.h"

void dl_type_f32_to_f32(float *out, const void *src, int64_t n) {
    memcpy(out, src, (size_t)n * sizeof(float));
}

void dl_type_f32_from_f32(void *dst, const float *src, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void dl_type_f16_to_f32(float *out, const void *src, int64_t n) {
    dl_f16_to_f32_row(out, src, (size_t)n);
}

void dl_type_f16_from_f32(void *dst, const float *src, int64_t n) {
    uint8_t *d = dst;
    for (int64_t k = 0; k < n; k++) {
        uint16_t h = dl_f32_to_f16(src[k]);
        memcpy(d + 2 * k, &h, 2);
    }
}

void dl_type_bf16_to_f32(float *out, const void *src, int64_t n) {
    dl_bf16_to_f32_row(out, src, (size_t)n);
}

void dl_type_bf16_from_f32(void *dst, const float *src, int64_t n) {
    uint8_t *d = dst;
    for (int64_t k = 0; k < n; k++) {
        uint16_t h = dl_f32_to_bf16(src[k]);
        memcpy(d + 2 * k, &h, 2);
    }
}

/* golden_gguf_writer - writes a GGUF with difflm's C writer that uses every metadata
 * value type, every array element type and the float tensor types, for
 * golden_gguf.py to read back with the independent reference reader (tests/ref/gguf.py).
 *
 *     golden_gguf_writer OUT.gguf VERSION ALIGNMENT     (ALIGNMENT 0 = the default 32)
 *
 * The values here are mirrored in golden_gguf.py; change both together. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fmt/gguf.h"

#define CHECK(x)                                                                          \
    do {                                                                                  \
        if ((x) != 0) {                                                                   \
            fprintf(stderr, "golden_gguf_writer: %s failed (line %d)\n", #x, __LINE__);   \
            goto fail;                                                                    \
        }                                                                                 \
    } while (0)

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: golden_gguf_writer OUT.gguf VERSION ALIGNMENT\n");
        return 1;
    }
    const uint32_t version = (uint32_t)strtoul(argv[2], NULL, 10);
    const uint32_t alignment = (uint32_t)strtoul(argv[3], NULL, 10);
    dl_gguf_writer *w = dl_gguf_writer_new();
    if (!w)
        return 1;
    dl_gguf_writer_set_version(w, version);
    if (alignment)
        CHECK(dl_gguf_writer_set_alignment(w, alignment));

    /* scalars: one of each value type */
    const uint8_t u8 = 200;
    const int8_t i8 = -100;
    const uint16_t u16 = 60000;
    const int16_t i16 = -30000;
    const uint32_t u32 = 4000000000u;
    const int32_t i32 = -2000000000;
    const float f32 = 1.5f;
    const uint8_t bl = 1;
    const dl_str str = {"h\xc3\xa9llo", 6};
    const uint64_t u64 = 9223372036854775813ull;
    const int64_t i64 = -4611686018427387904ll;
    const double f64 = -2.25;
    CHECK(dl_gguf_w_kv(w, "s.u8", DL_GGUF_U8, &u8));
    CHECK(dl_gguf_w_kv(w, "s.i8", DL_GGUF_I8, &i8));
    CHECK(dl_gguf_w_kv(w, "s.u16", DL_GGUF_U16, &u16));
    CHECK(dl_gguf_w_kv(w, "s.i16", DL_GGUF_I16, &i16));
    CHECK(dl_gguf_w_kv(w, "s.u32", DL_GGUF_U32, &u32));
    CHECK(dl_gguf_w_kv(w, "s.i32", DL_GGUF_I32, &i32));
    CHECK(dl_gguf_w_kv(w, "s.f32", DL_GGUF_F32, &f32));
    CHECK(dl_gguf_w_kv(w, "s.bool", DL_GGUF_BOOL, &bl));
    CHECK(dl_gguf_w_kv(w, "s.str", DL_GGUF_STRING, &str));
    CHECK(dl_gguf_w_kv(w, "s.u64", DL_GGUF_U64, &u64));
    CHECK(dl_gguf_w_kv(w, "s.i64", DL_GGUF_I64, &i64));
    CHECK(dl_gguf_w_kv(w, "s.f64", DL_GGUF_F64, &f64));
    CHECK(dl_gguf_w_str(w, "s.empty_str", ""));
    CHECK(dl_gguf_w_bool(w, "s.false", 0));

    /* arrays: one of each element type, plus an empty one */
    const uint8_t a_u8[3] = {0, 1, 255};
    const int8_t a_i8[3] = {-128, 0, 127};
    const uint16_t a_u16[2] = {0, 65535};
    const int16_t a_i16[2] = {-32768, 32767};
    const uint32_t a_u32[2] = {0, 4294967295u};
    const int32_t a_i32[3] = {-1, 2, 3};
    const float a_f32[2] = {0.25f, -1e30f};
    const uint8_t a_bool[3] = {1, 0, 1};
    const dl_str a_str[3] = {{"a", 1}, {"", 0}, {"\xc3\xbc", 2}};
    const uint64_t a_u64[2] = {0, 18446744073709551615ull};
    const int64_t a_i64[2] = {-9223372036854775807ll - 1, 9223372036854775807ll};
    const double a_f64[2] = {0.5, -1e300};
    CHECK(dl_gguf_w_arr(w, "a.u8", DL_GGUF_U8, a_u8, 3));
    CHECK(dl_gguf_w_arr(w, "a.i8", DL_GGUF_I8, a_i8, 3));
    CHECK(dl_gguf_w_arr(w, "a.u16", DL_GGUF_U16, a_u16, 2));
    CHECK(dl_gguf_w_arr(w, "a.i16", DL_GGUF_I16, a_i16, 2));
    CHECK(dl_gguf_w_arr(w, "a.u32", DL_GGUF_U32, a_u32, 2));
    CHECK(dl_gguf_w_arr(w, "a.i32", DL_GGUF_I32, a_i32, 3));
    CHECK(dl_gguf_w_arr(w, "a.f32", DL_GGUF_F32, a_f32, 2));
    CHECK(dl_gguf_w_arr(w, "a.bool", DL_GGUF_BOOL, a_bool, 3));
    CHECK(dl_gguf_w_arr(w, "a.str", DL_GGUF_STRING, a_str, 3));
    CHECK(dl_gguf_w_arr(w, "a.u64", DL_GGUF_U64, a_u64, 2));
    CHECK(dl_gguf_w_arr(w, "a.i64", DL_GGUF_I64, a_i64, 2));
    CHECK(dl_gguf_w_arr(w, "a.f64", DL_GGUF_F64, a_f64, 2));
    CHECK(dl_gguf_w_arr(w, "a.empty", DL_GGUF_I32, a_i32, 0));

    /* tensors: t.f32 is [2][3][5] (ne = {5, 3, 2}) holding 0.5 * i - 7; sizes chosen so
     * that no tensor is a multiple of the alignment (padding between all of them) */
    float t32[30];
    for (int i = 0; i < 30; i++)
        t32[i] = 0.5f * (float)i - 7.0f;
    const int64_t ne32[3] = {5, 3, 2};
    const uint16_t t16[5] = {0x3C00, 0xC000, 0x3555, 0x7BFF, 0x0001};
    const int64_t ne16[1] = {5};
    const uint16_t tb16[6] = {0x3F80, 0xC040, 0x3A83, 0x0001, 0xFF80, 0x4049};
    const int64_t neb16[2] = {3, 2};
    const float one[1] = {42.0f};
    const int64_t ne1[2] = {1, 1};
    CHECK(dl_gguf_w_tensor(w, "t.f32", DL_TYPE_F32, 3, ne32, t32));
    CHECK(dl_gguf_w_tensor(w, "t.f16", DL_TYPE_F16, 1, ne16, t16));
    CHECK(dl_gguf_w_tensor(w, "t.bf16", DL_TYPE_BF16, 2, neb16, tb16));
    CHECK(dl_gguf_w_tensor(w, "t.one", DL_TYPE_F32, 2, ne1, one));

    dl_err err;
    dl_err_clear(&err);
    if (dl_gguf_writer_write(w, argv[1], &err) != 0) {
        fprintf(stderr, "golden_gguf_writer: %s\n", err.msg);
        goto fail;
    }
    dl_gguf_writer_free(w);
    return 0;
fail:
    dl_gguf_writer_free(w);
    return 1;
}

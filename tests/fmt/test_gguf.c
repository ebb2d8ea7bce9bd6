/* test_gguf.c - GGUF writer/reader round trips, typed getters, tensor layout, file I/O,
 * and the writer's bytes against a file built by hand from the format description. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_compat.h"
#include "fmt/ggml_types.h"
#include "fmt/gguf.h"
#include "gguf_bytes.h"
#include "fmt/tensor_bytes.h"

/* One scalar of every value type. */
static const uint8_t v_u8 = 200;
static const int8_t v_i8 = -5;
static const uint16_t v_u16 = 60000;
static const int16_t v_i16 = -30000;
static const uint32_t v_u32 = 4000000000u;
static const int32_t v_i32 = -2000000000;
static const float v_f32 = 1.5f;
static const uint8_t v_bool = 1;
static const uint64_t v_u64 = (1ull << 40) + 3;
static const int64_t v_i64 = -(1ll << 40);
static const double v_f64 = 3.25;

/* Arrays of every element type. */
static const uint8_t a_u8[] = {0, 1, 255};
static const int8_t a_i8[] = {-128, 0, 127};
static const uint16_t a_u16[] = {0, 65535};
static const int16_t a_i16[] = {-32768, 32767, 5};
static const uint32_t a_u32[] = {7, 4294967295u};
static const int32_t a_i32[] = {-1, 2, -3, 4};
static const float a_f32[] = {0.5f, -2.25f, 1e30f};
static const uint8_t a_bool[] = {1, 0, 1, 1};
static const uint64_t a_u64[] = {1, 9223372036854775807ull};
static const int64_t a_i64[] = {-9223372036854775807ll - 1, 42};
static const double a_f64[] = {1e-300, -0.125};
static const dl_str a_str[] = {{"alpha", 5}, {"", 0}, {"b\0c", 3}, {"\xe4\xb8\xad", 3}};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Tensors of several types: names, types, dims and expected byte sizes (from the type
 * table in the reference: Q8_0 = 34 bytes per 32, Q4_K = 144 per 256). */
typedef struct tspec {
    const char *name;
    uint32_t type, n_dims;
    int64_t ne[4];
    uint64_t size;
} tspec;

static const tspec tensors[] = {
    {"token_embd.weight", DL_TYPE_F32, 2, {5, 3, 1, 1}, 60},
    {"blk.0.attn_norm.weight", DL_TYPE_F16, 1, {7, 1, 1, 1}, 14},
    {"blk.0.bf16", DL_TYPE_BF16, 3, {4, 2, 2, 1}, 32},
    {"blk.0.attn_q.weight", DL_TYPE_Q8_0, 2, {64, 3, 1, 1}, 204},
    {"blk.0.ffn_up.weight", DL_TYPE_Q4_K, 4, {256, 2, 1, 1}, 288},
    {"empty", DL_TYPE_F32, 2, {0, 4, 1, 1}, 0},
};

static uint8_t *tensor_data[N(tensors)];

static void make_tensor_data(void) {
    for (size_t i = 0; i < N(tensors); i++) {
        tensor_data[i] = malloc(tensors[i].size ? tensors[i].size : 1);
        ck_assert_ptr_nonnull(tensor_data[i]);
        for (uint64_t j = 0; j < tensors[i].size; j++)
            tensor_data[i][j] = (uint8_t)(j * 31 + i * 7 + 1);
    }
}

static void free_tensor_data(void) {
    for (size_t i = 0; i < N(tensors); i++)
        free(tensor_data[i]);
}

static dl_gguf_writer *make_writer(uint32_t version, uint32_t alignment) {
    dl_gguf_writer *w = dl_gguf_writer_new();
    ck_assert_ptr_nonnull(w);
    dl_gguf_writer_set_version(w, version);
    ck_assert_int_eq(dl_gguf_w_str(w, "general.architecture", "llada"), 0);
    if (alignment)
        ck_assert_int_eq(dl_gguf_writer_set_alignment(w, alignment), 0);
    ck_assert_int_eq(dl_gguf_w_kv(w, "t.u8", DL_GGUF_U8, &v_u8), 0);
    ck_assert_int_eq(dl_gguf_w_kv(w, "t.i8", DL_GGUF_I8, &v_i8), 0);
    ck_assert_int_eq(dl_gguf_w_kv(w, "t.u16", DL_GGUF_U16, &v_u16), 0);
    ck_assert_int_eq(dl_gguf_w_kv(w, "t.i16", DL_GGUF_I16, &v_i16), 0);
    ck_assert_int_eq(dl_gguf_w_u32(w, "t.u32", v_u32), 0);
    ck_assert_int_eq(dl_gguf_w_i32(w, "t.i32", v_i32), 0);
    ck_assert_int_eq(dl_gguf_w_f32(w, "t.f32", v_f32), 0);
    ck_assert_int_eq(dl_gguf_w_kv(w, "t.bool", DL_GGUF_BOOL, &v_bool), 0);
    ck_assert_int_eq(dl_gguf_w_bool(w, "t.false", 0), 0);
    dl_str s = {"h\xc3\xa9llo", 6};
    ck_assert_int_eq(dl_gguf_w_kv(w, "t.str", DL_GGUF_STRING, &s), 0);
    ck_assert_int_eq(dl_gguf_w_str(w, "t.empty_str", ""), 0);
    ck_assert_int_eq(dl_gguf_w_kv(w, "t.u64", DL_GGUF_U64, &v_u64), 0);
    ck_assert_int_eq(dl_gguf_w_kv(w, "t.i64", DL_GGUF_I64, &v_i64), 0);
    ck_assert_int_eq(dl_gguf_w_kv(w, "t.f64", DL_GGUF_F64, &v_f64), 0);
    ck_assert_int_eq(dl_gguf_w_arr(w, "a.u8", DL_GGUF_U8, a_u8, N(a_u8)), 0);
    ck_assert_int_eq(dl_gguf_w_arr(w, "a.i8", DL_GGUF_I8, a_i8, N(a_i8)), 0);
    ck_assert_int_eq(dl_gguf_w_arr(w, "a.u16", DL_GGUF_U16, a_u16, N(a_u16)), 0);
    ck_assert_int_eq(dl_gguf_w_arr(w, "a.i16", DL_GGUF_I16, a_i16, N(a_i16)), 0);
    ck_assert_int_eq(dl_gguf_w_arr(w, "a.u32", DL_GGUF_U32, a_u32, N(a_u32)), 0);
    ck_assert_int_eq(dl_gguf_w_arr(w, "a.i32", DL_GGUF_I32, a_i32, N(a_i32)), 0);
    ck_assert_int_eq(dl_gguf_w_arr(w, "a.f32", DL_GGUF_F32, a_f32, N(a_f32)), 0);
    ck_assert_int_eq(dl_gguf_w_arr(w, "a.bool", DL_GGUF_BOOL, a_bool, N(a_bool)), 0);
    ck_assert_int_eq(dl_gguf_w_arr(w, "a.u64", DL_GGUF_U64, a_u64, N(a_u64)), 0);
    ck_assert_int_eq(dl_gguf_w_arr(w, "a.i64", DL_GGUF_I64, a_i64, N(a_i64)), 0);
    ck_assert_int_eq(dl_gguf_w_arr(w, "a.f64", DL_GGUF_F64, a_f64, N(a_f64)), 0);
    ck_assert_int_eq(dl_gguf_w_arr(w, "a.str", DL_GGUF_STRING, a_str, N(a_str)), 0);
    ck_assert_int_eq(dl_gguf_w_arr(w, "a.none", DL_GGUF_STRING, NULL, 0), 0);
    for (size_t i = 0; i < N(tensors); i++)
        ck_assert_int_eq(dl_gguf_w_tensor(w, tensors[i].name, tensors[i].type, tensors[i].n_dims,
                                          tensors[i].ne, tensor_data[i]), 0);
    return w;
}

static void check_scalars(const dl_gguf *g) {
    dl_err err = {0};
    uint32_t u32;
    int64_t i64;
    float f32;
    int b;
    dl_str s;
    ck_assert_int_eq(dl_gguf_get_u32(g, "t.u8", &u32, &err), 0);
    ck_assert_uint_eq(u32, v_u8);
    ck_assert_int_eq(dl_gguf_get_u32(g, "t.u16", &u32, &err), 0);
    ck_assert_uint_eq(u32, v_u16);
    ck_assert_int_eq(dl_gguf_get_u32(g, "t.u32", &u32, &err), 0);
    ck_assert_uint_eq(u32, v_u32);
    ck_assert_int_eq(dl_gguf_get_i64_opt(g, "t.i8", 0, &i64, &err), 0);
    ck_assert_int_eq(i64, v_i8);
    ck_assert_int_eq(dl_gguf_get_i64_opt(g, "t.i16", 0, &i64, &err), 0);
    ck_assert_int_eq(i64, v_i16);
    ck_assert_int_eq(dl_gguf_get_i64_opt(g, "t.i32", 0, &i64, &err), 0);
    ck_assert_int_eq(i64, v_i32);
    ck_assert_int_eq(dl_gguf_get_i64_opt(g, "t.i64", 0, &i64, &err), 0);
    ck_assert_int_eq(i64, v_i64);
    ck_assert_int_eq(dl_gguf_get_i64_opt(g, "t.u64", 0, &i64, &err), 0);
    ck_assert_int_eq(i64, (int64_t)v_u64);
    ck_assert_int_eq(dl_gguf_get_i64_opt(g, "t.u32", 0, &i64, &err), 0);
    ck_assert_int_eq(i64, (int64_t)v_u32);
    ck_assert_int_eq(dl_gguf_get_f32(g, "t.f32", &f32, &err), 0);
    ck_assert_float_eq(f32, v_f32);
    ck_assert_int_eq(dl_gguf_get_f32(g, "t.f64", &f32, &err), 0);
    ck_assert_float_eq(f32, 3.25f);
    ck_assert_int_eq(dl_gguf_get_bool_opt(g, "t.bool", 0, &b, &err), 0);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(dl_gguf_get_bool_opt(g, "t.false", 1, &b, &err), 0);
    ck_assert_int_eq(b, 0);
    ck_assert_int_eq(dl_gguf_get_str(g, "t.str", &s, &err), 0);
    ck_assert_uint_eq(s.n, 6);
    ck_assert(memcmp(s.p, "h\xc3\xa9llo", 6) == 0);
    ck_assert_int_eq(dl_gguf_get_str(g, "t.empty_str", &s, &err), 0);
    ck_assert_uint_eq(s.n, 0);
    ck_assert_ptr_nonnull(s.p);
    ck_assert_int_eq(dl_gguf_get_str(g, "general.architecture", &s, &err), 0);
    ck_assert(s.n == 5 && memcmp(s.p, "llada", 5) == 0);
    /* The f64 keeps full precision in the file. */
    double d;
    ck_assert_int_eq(dl_gguf_get_arr(g, "a.f64", &u32, &(uint64_t){0}, &err), 0);
    ck_assert_int_eq(dl_gguf_arr_f64(g, "a.f64", 0, &d, &err), 0);
    ck_assert(d == 1e-300);
}

static void check_arrays(const dl_gguf *g) {
    dl_err err = {0};
    uint32_t et;
    uint64_t n;
    int64_t v;
    double d;
#define CHECK_INT_ARR(key, arr, type)                                     \
    do {                                                                  \
        ck_assert_int_eq(dl_gguf_get_arr(g, key, &et, &n, &err), 0);      \
        ck_assert_uint_eq(et, type);                                      \
        ck_assert_uint_eq(n, N(arr));                                     \
        for (uint64_t i_ = 0; i_ < n; i_++) {                             \
            ck_assert_int_eq(dl_gguf_arr_i64(g, key, i_, &v, &err), 0);   \
            ck_assert_int_eq(v, (int64_t)(arr)[i_]);                      \
            ck_assert_int_eq(dl_gguf_arr_f64(g, key, i_, &d, &err), 0);   \
            ck_assert(d == (double)(arr)[i_]);                            \
        }                                                                 \
    } while (0)
    CHECK_INT_ARR("a.u8", a_u8, DL_GGUF_U8);
    CHECK_INT_ARR("a.i8", a_i8, DL_GGUF_I8);
    CHECK_INT_ARR("a.u16", a_u16, DL_GGUF_U16);
    CHECK_INT_ARR("a.i16", a_i16, DL_GGUF_I16);
    CHECK_INT_ARR("a.u32", a_u32, DL_GGUF_U32);
    CHECK_INT_ARR("a.i32", a_i32, DL_GGUF_I32);
    CHECK_INT_ARR("a.u64", a_u64, DL_GGUF_U64);
    CHECK_INT_ARR("a.i64", a_i64, DL_GGUF_I64);
#undef CHECK_INT_ARR
    ck_assert_int_eq(dl_gguf_get_arr(g, "a.bool", &et, &n, &err), 0);
    ck_assert(et == DL_GGUF_BOOL && n == N(a_bool));
    for (uint64_t i = 0; i < n; i++) {
        ck_assert_int_eq(dl_gguf_arr_i64(g, "a.bool", i, &v, &err), 0);
        ck_assert_int_eq(v, a_bool[i]);
    }
    ck_assert_int_eq(dl_gguf_get_arr(g, "a.f32", &et, &n, &err), 0);
    ck_assert(et == DL_GGUF_F32 && n == N(a_f32));
    for (uint64_t i = 0; i < n; i++) {
        ck_assert_int_eq(dl_gguf_arr_f64(g, "a.f32", i, &d, &err), 0);
        ck_assert(d == (double)a_f32[i]);
    }
    ck_assert_int_eq(dl_gguf_get_arr(g, "a.f64", &et, &n, &err), 0);
    ck_assert(et == DL_GGUF_F64 && n == N(a_f64));
    for (uint64_t i = 0; i < n; i++) {
        ck_assert_int_eq(dl_gguf_arr_f64(g, "a.f64", i, &d, &err), 0);
        ck_assert(d == a_f64[i]);
    }
    ck_assert_int_eq(dl_gguf_get_arr(g, "a.str", &et, &n, &err), 0);
    ck_assert(et == DL_GGUF_STRING && n == N(a_str));
    /* Read back to front: the index must not depend on sequential access. */
    for (uint64_t i = n; i-- > 0;) {
        dl_str s;
        ck_assert_int_eq(dl_gguf_arr_str(g, "a.str", i, &s, &err), 0);
        ck_assert_uint_eq(s.n, a_str[i].n);
        ck_assert(memcmp(s.p, a_str[i].p, (size_t)s.n) == 0);
    }
    ck_assert_int_eq(dl_gguf_get_arr(g, "a.none", &et, &n, &err), 0);
    ck_assert(et == DL_GGUF_STRING && n == 0);
}

static uint64_t align_up(uint64_t x, uint64_t a) {
    return (x + a - 1) / a * a;
}

static void check_tensors(const dl_gguf *g, const uint8_t *file, size_t file_n, uint32_t alignment) {
    ck_assert_uint_eq(dl_gguf_n_tensors(g), N(tensors));
    const uint8_t *data0 = NULL;
    uint64_t expect_off = 0;
    for (size_t i = 0; i < N(tensors); i++) {
        const dl_gguf_tensor *t = dl_gguf_tensor_at(g, i);
        ck_assert_ptr_nonnull(t);
        ck_assert_ptr_eq(dl_gguf_find_tensor(g, tensors[i].name), t);
        ck_assert_str_eq(t->name, tensors[i].name);
        ck_assert_uint_eq(t->type, tensors[i].type);
        ck_assert_uint_eq(t->n_dims, tensors[i].n_dims);
        for (int d = 0; d < 4; d++)
            ck_assert_int_eq(t->ne[d], tensors[i].ne[d]);
        ck_assert_uint_eq(t->size, tensors[i].size);
        /* Strict contiguous layout, each tensor aligned, data pointing into the file. */
        ck_assert_uint_eq(t->offset, expect_off);
        ck_assert_uint_eq(t->offset % alignment, 0);
        expect_off = align_up(t->offset + t->size, alignment);
        const uint8_t *p = t->data;
        if (i == 0) {
            data0 = p;
            ck_assert_uint_eq((uint64_t)(p - file) % alignment, 0);
        }
        ck_assert_ptr_eq(p, data0 + t->offset);
        ck_assert(p >= file && p + t->size <= file + file_n);
        ck_assert(memcmp(p, tensor_data[i], (size_t)t->size) == 0);
    }
    /* The data section ends with the last tensor's padding. */
    ck_assert_uint_eq((uint64_t)(data0 - file) + expect_off, file_n);
    ck_assert_ptr_null(dl_gguf_find_tensor(g, "missing"));
    ck_assert_ptr_null(dl_gguf_tensor_at(g, N(tensors)));
}

static void round_trip(uint32_t version, uint32_t alignment) {
    make_tensor_data();
    dl_gguf_writer *w = make_writer(version, alignment);
    void *buf = NULL;
    size_t n = 0;
    dl_err err = {0};
    ck_assert_int_eq(dl_gguf_writer_to_buffer(w, &buf, &n, &err), 0);
    dl_gguf *g = NULL;
    int rc = dl_gguf_open_mem(&g, buf, n, &err);
    ck_assert_msg(rc == 0, "open failed: %s", err.msg);
    ck_assert_uint_eq(dl_gguf_version(g), version);
    uint32_t a = alignment ? alignment : 32;
    ck_assert_uint_eq(dl_gguf_alignment(g), a);
    ck_assert_uint_eq(n % a, 0);
    /* Metadata in insertion order. */
    ck_assert_str_eq(dl_gguf_key_at(g, 0), "general.architecture");
    ck_assert_uint_eq(dl_gguf_type_at(g, 0), DL_GGUF_STRING);
    size_t first_t = alignment ? 2 : 1;
    if (alignment)
        ck_assert_str_eq(dl_gguf_key_at(g, 1), "general.alignment");
    ck_assert_str_eq(dl_gguf_key_at(g, first_t), "t.u8");
    ck_assert_str_eq(dl_gguf_key_at(g, dl_gguf_n_kv(g) - 1), "a.none");
    ck_assert_uint_eq(dl_gguf_n_kv(g), first_t + 27);
    for (size_t i = 0; i < dl_gguf_n_kv(g); i++)
        ck_assert_int_eq(dl_gguf_find_key(g, dl_gguf_key_at(g, i)), (int64_t)i);
    ck_assert_ptr_null(dl_gguf_key_at(g, dl_gguf_n_kv(g)));
    ck_assert_int_eq(dl_gguf_find_key(g, "t.nope"), -1);
    check_scalars(g);
    check_arrays(g);
    check_tensors(g, buf, n, a);
    dl_gguf_close(g);
    free(buf);
    dl_gguf_writer_free(w);
    free_tensor_data();
}

START_TEST(test_round_trip_v3) { round_trip(3, 0); }
END_TEST

START_TEST(test_round_trip_v2) { round_trip(2, 0); }
END_TEST

START_TEST(test_round_trip_align64) { round_trip(3, 64); }
END_TEST

START_TEST(test_round_trip_align8_v2) { round_trip(2, 8); }
END_TEST

START_TEST(test_round_trip_align4096) { round_trip(3, 4096); }
END_TEST

START_TEST(test_getter_conversions) {
    dl_gguf_writer *w = dl_gguf_writer_new();
    ck_assert_ptr_nonnull(w);
    int8_t neg = -1;
    uint64_t big = 1ull << 33, huge = UINT64_MAX;
    int32_t one = 1;
    uint16_t two = 2;
    ck_assert_int_eq(dl_gguf_w_kv(w, "neg", DL_GGUF_I8, &neg), 0);
    ck_assert_int_eq(dl_gguf_w_kv(w, "big", DL_GGUF_U64, &big), 0);
    ck_assert_int_eq(dl_gguf_w_kv(w, "huge", DL_GGUF_U64, &huge), 0);
    ck_assert_int_eq(dl_gguf_w_kv(w, "one", DL_GGUF_I32, &one), 0);
    ck_assert_int_eq(dl_gguf_w_kv(w, "two", DL_GGUF_U16, &two), 0);
    ck_assert_int_eq(dl_gguf_w_str(w, "name", "x"), 0);
    ck_assert_int_eq(dl_gguf_w_f32(w, "eps", 1e-5f), 0);
    ck_assert_int_eq(dl_gguf_w_arr(w, "ints", DL_GGUF_U64, &huge, 1), 0);
    ck_assert_int_eq(dl_gguf_w_arr(w, "strs", DL_GGUF_STRING, &(dl_str){"q", 1}, 1), 0);
    void *buf;
    size_t n;
    dl_err err = {0};
    ck_assert_int_eq(dl_gguf_writer_to_buffer(w, &buf, &n, &err), 0);
    dl_gguf *g;
    ck_assert_int_eq(dl_gguf_open_mem(&g, buf, n, &err), 0);
    ck_assert_uint_eq(dl_gguf_alignment(g), 32);

    uint32_t u = 77;
    int64_t i64;
    float f;
    int b;
    dl_str s;
    /* Integers convert when they fit, and fail naming the key when they do not. */
    ck_assert_int_eq(dl_gguf_get_u32(g, "one", &u, &err), 0);
    ck_assert_uint_eq(u, 1);
    ck_assert_int_eq(dl_gguf_get_u32(g, "neg", &u, &err), DIFFLM_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "'neg'"));
    ck_assert_int_eq(dl_gguf_get_u32(g, "big", &u, &err), DIFFLM_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "'big'"));
    ck_assert_int_eq(dl_gguf_get_i64_opt(g, "big", 0, &i64, &err), 0);
    ck_assert_int_eq(i64, (int64_t)big);
    ck_assert_int_eq(dl_gguf_get_i64_opt(g, "neg", 0, &i64, &err), 0);
    ck_assert_int_eq(i64, -1);
    ck_assert_int_eq(dl_gguf_get_i64_opt(g, "huge", 0, &i64, &err), DIFFLM_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "'huge'"));
    ck_assert_int_eq(dl_gguf_arr_i64(g, "ints", 0, &i64, &err), DIFFLM_E_FORMAT);
    /* Wrong types. */
    ck_assert_int_eq(dl_gguf_get_u32(g, "name", &u, &err), DIFFLM_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "'name'"));
    ck_assert_int_eq(dl_gguf_get_u32(g, "eps", &u, &err), DIFFLM_E_FORMAT);
    ck_assert_int_eq(dl_gguf_get_u32(g, "ints", &u, &err), DIFFLM_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "'ints'"));
    ck_assert_int_eq(dl_gguf_get_f32(g, "one", &f, &err), DIFFLM_E_FORMAT);
    ck_assert_int_eq(dl_gguf_get_str(g, "one", &s, &err), DIFFLM_E_FORMAT);
    ck_assert_int_eq(dl_gguf_get_arr(g, "one", &u, &(uint64_t){0}, &err), DIFFLM_E_FORMAT);
    ck_assert_int_eq(dl_gguf_arr_str(g, "ints", 0, &s, &err), DIFFLM_E_FORMAT);
    ck_assert_int_eq(dl_gguf_arr_f64(g, "strs", 0, &(double){0}, &err), DIFFLM_E_FORMAT);
    ck_assert_int_eq(dl_gguf_arr_i64(g, "strs", 0, &i64, &err), DIFFLM_E_FORMAT);
    ck_assert_int_eq(dl_gguf_arr_i64(g, "one", 0, &i64, &err), DIFFLM_E_FORMAT);
    ck_assert_int_eq(dl_gguf_arr_str(g, "strs", 1, &s, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "'strs'"));
    ck_assert_int_eq(dl_gguf_arr_str(g, "strs", 0, &s, &err), 0);
    ck_assert(s.n == 1 && s.p[0] == 'q');
    /* bool: integers 0/1 accepted, others not. */
    ck_assert_int_eq(dl_gguf_get_bool_opt(g, "one", 0, &b, &err), 0);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(dl_gguf_get_bool_opt(g, "two", 0, &b, &err), DIFFLM_E_FORMAT);
    ck_assert_int_eq(dl_gguf_get_bool_opt(g, "name", 0, &b, &err), DIFFLM_E_FORMAT);
    /* f32 from f32. */
    ck_assert_int_eq(dl_gguf_get_f32(g, "eps", &f, &err), 0);
    ck_assert_float_eq(f, 1e-5f);
    /* Missing keys: required forms name the key, optional forms give the default. */
    ck_assert_int_eq(dl_gguf_get_u32(g, "llada.block_count", &u, &err), DIFFLM_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "llada.block_count"));
    ck_assert_ptr_nonnull(strstr(err.msg, "required"));
    ck_assert_int_eq(dl_gguf_get_f32(g, "x.eps", &f, &err), DIFFLM_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "x.eps"));
    ck_assert_int_eq(dl_gguf_get_str(g, "x.s", &s, &err), DIFFLM_E_FORMAT);
    ck_assert_int_eq(dl_gguf_get_arr(g, "x.a", &u, &(uint64_t){0}, &err), DIFFLM_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "x.a"));
    ck_assert_int_eq(dl_gguf_arr_str(g, "x.a", 0, &s, &err), DIFFLM_E_FORMAT);
    ck_assert_int_eq(dl_gguf_get_u32_opt(g, "x", 9, &u, &err), 0);
    ck_assert_uint_eq(u, 9);
    ck_assert_int_eq(dl_gguf_get_i64_opt(g, "x", -9, &i64, &err), 0);
    ck_assert_int_eq(i64, -9);
    ck_assert_int_eq(dl_gguf_get_f32_opt(g, "x", 2.5f, &f, &err), 0);
    ck_assert_float_eq(f, 2.5f);
    ck_assert_int_eq(dl_gguf_get_bool_opt(g, "x", 1, &b, &err), 0);
    ck_assert_int_eq(b, 1);
    s.p = "junk";
    s.n = 4;
    ck_assert_int_eq(dl_gguf_get_str_opt(g, "x", &s, &err), 0);
    ck_assert(s.p == NULL && s.n == 0);
    /* Optional forms still reject a present key of the wrong type. */
    ck_assert_int_eq(dl_gguf_get_u32_opt(g, "name", 0, &u, &err), DIFFLM_E_FORMAT);
    ck_assert_int_eq(dl_gguf_get_f32_opt(g, "name", 0, &f, &err), DIFFLM_E_FORMAT);
    ck_assert_int_eq(dl_gguf_get_str_opt(g, "one", &s, &err), DIFFLM_E_FORMAT);
    ck_assert_uint_eq(dl_gguf_n_tensors(g), 0);
    dl_gguf_close(g);
    free(buf);
    dl_gguf_writer_free(w);
}
END_TEST

START_TEST(test_writer_rejects) {
    dl_gguf_writer *w = dl_gguf_writer_new();
    ck_assert_ptr_nonnull(w);
    float x[64] = {0};
    uint8_t two = 2;
    ck_assert_int_eq(dl_gguf_w_u32(w, "k", 1), 0);
    ck_assert_int_eq(dl_gguf_w_u32(w, "k", 2), DIFFLM_E_INVALID_ARG);          /* duplicate */
    ck_assert_int_eq(dl_gguf_w_u32(w, "", 2), DIFFLM_E_INVALID_ARG);           /* empty key */
    ck_assert_int_eq(dl_gguf_w_kv(w, "b", DL_GGUF_BOOL, &two), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_gguf_w_kv(w, "t", 13, &two), DIFFLM_E_INVALID_ARG);   /* bad type */
    ck_assert_int_eq(dl_gguf_w_kv(w, "t", DL_GGUF_ARRAY, &two), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_gguf_w_arr(w, "t", DL_GGUF_ARRAY, &two, 1), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_gguf_w_arr(w, "k", DL_GGUF_U8, &two, 1), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_gguf_writer_set_alignment(w, 0), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_gguf_writer_set_alignment(w, 48), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_gguf_w_f32(w, "general.alignment", 64.0f), DIFFLM_E_INVALID_ARG);
    int64_t ne[4] = {64, 1, 1, 1};
    ck_assert_int_eq(dl_gguf_w_tensor(w, "a", DL_TYPE_F32, 1, ne, x), 0);
    ck_assert_int_eq(dl_gguf_w_tensor(w, "a", DL_TYPE_F32, 1, ne, x), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_gguf_w_tensor(w, "", DL_TYPE_F32, 1, ne, x), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_gguf_w_tensor(w, "b", DL_TYPE_F32, 0, ne, x), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_gguf_w_tensor(w, "b", DL_TYPE_F32, 5, ne, x), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_gguf_w_tensor(w, "b", 4, 1, ne, x), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_gguf_w_tensor(w, "b", DL_TYPE_F32, 1, ne, NULL), DIFFLM_E_INVALID_ARG);
    int64_t bad[1] = {48};      /* not a multiple of Q8_0's 32 */
    ck_assert_int_eq(dl_gguf_w_tensor(w, "b", DL_TYPE_Q8_0, 1, bad, x), DIFFLM_E_INVALID_ARG);
    int64_t neg[1] = {-1};
    ck_assert_int_eq(dl_gguf_w_tensor(w, "b", DL_TYPE_F32, 1, neg, x), DIFFLM_E_INVALID_ARG);
    char longname[65];
    memset(longname, 'n', 64);
    longname[64] = '\0';
    ck_assert_int_eq(dl_gguf_w_tensor(w, longname, DL_TYPE_F32, 1, ne, x), DIFFLM_E_INVALID_ARG);
    longname[63] = '\0';    /* 63 bytes is the longest allowed */
    ck_assert_int_eq(dl_gguf_w_tensor(w, longname, DL_TYPE_F32, 1, ne, x), 0);
    /* Alignment set twice keeps one key with the last value. */
    ck_assert_int_eq(dl_gguf_writer_set_alignment(w, 16), 0);
    ck_assert_int_eq(dl_gguf_w_u32(w, "general.alignment", 128), 0);
    dl_gguf_writer_set_version(w, 1);
    void *buf = NULL;
    size_t n;
    dl_err err = {0};
    ck_assert_int_eq(dl_gguf_writer_to_buffer(w, &buf, &n, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_ptr_null(buf);
    dl_gguf_writer_set_version(w, 2);
    ck_assert_int_eq(dl_gguf_writer_to_buffer(w, &buf, &n, &err), 0);
    dl_gguf *g;
    ck_assert_int_eq(dl_gguf_open_mem(&g, buf, n, &err), 0);
    ck_assert_uint_eq(dl_gguf_n_kv(g), 2);
    ck_assert_uint_eq(dl_gguf_alignment(g), 128);
    ck_assert_uint_eq(dl_gguf_tensor_at(g, 1)->offset, 256);
    ck_assert_str_eq(dl_gguf_tensor_at(g, 1)->name, longname);
    dl_gguf_close(g);
    free(buf);
    dl_gguf_writer_free(w);
    dl_gguf_writer_free(NULL);
    dl_gguf_close(NULL);
}
END_TEST

/* The writer's bytes must equal a file assembled field by field from the format
 * description (doc/formats.md, "GGUF container layout"), so the reader is not its only judge. */
START_TEST(test_writer_bytes_match_spec) {
    const float data[2] = {1.0f, -2.0f};
    const uint16_t half[32] = {0x3c00};
    dl_gguf_writer *w = dl_gguf_writer_new();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(dl_gguf_w_str(w, "general.architecture", "dream"), 0);
    ck_assert_int_eq(dl_gguf_w_u32(w, "dream.block_count", 28), 0);
    const dl_str toks[2] = {{"<s>", 3}, {"a", 1}};
    ck_assert_int_eq(dl_gguf_w_arr(w, "tokenizer.ggml.tokens", DL_GGUF_STRING, toks, 2), 0);
    ck_assert_int_eq(dl_gguf_w_tensor(w, "x", DL_TYPE_F32, 1, (int64_t[]){2}, data), 0);
    ck_assert_int_eq(dl_gguf_w_tensor(w, "h", DL_TYPE_F16, 2, (int64_t[]){16, 2}, half), 0);
    void *buf;
    size_t n;
    ck_assert_int_eq(dl_gguf_writer_to_buffer(w, &buf, &n, NULL), 0);

    bytes e = {0};
    b_raw(&e, "GGUF", 4);
    b_u32(&e, 3);
    b_u64(&e, 2);           /* tensors */
    b_u64(&e, 3);           /* kvs */
    b_str(&e, "general.architecture");
    b_u32(&e, 8);
    b_str(&e, "dream");
    b_str(&e, "dream.block_count");
    b_u32(&e, 4);
    b_u32(&e, 28);
    b_str(&e, "tokenizer.ggml.tokens");
    b_u32(&e, 9);
    b_u32(&e, 8);
    b_u64(&e, 2);
    b_str(&e, "<s>");
    b_str(&e, "a");
    b_str(&e, "x");
    b_u32(&e, 1);
    b_u64(&e, 2);
    b_u32(&e, 0);           /* F32 */
    b_u64(&e, 0);
    b_str(&e, "h");
    b_u32(&e, 2);
    b_u64(&e, 16);
    b_u64(&e, 2);
    b_u32(&e, 1);           /* F16 */
    b_u64(&e, 32);          /* 8 bytes of x rounded up to 32 */
    b_pad(&e, 32);
    b_raw(&e, data, 8);     /* little-endian host assumed by the test */
    b_pad(&e, 32);
    b_raw(&e, half, 64);
    b_pad(&e, 32);
    ck_assert_uint_eq(n, e.n);
    ck_assert(memcmp(buf, e.p, n) == 0);
    b_free(&e);
    free(buf);
    dl_gguf_writer_free(w);
}
END_TEST

START_TEST(test_file_io) {
    char dir[] = "/tmp/difflm_gguf_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256], missing[256];
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    snprintf(missing, sizeof missing, "%s/none.gguf", dir);
    make_tensor_data();
    dl_gguf_writer *w = make_writer(3, 0);
    dl_err err = {0};
    ck_assert_int_eq(dl_gguf_writer_write(w, path, &err), 0);
    /* Writing over an existing file replaces it. */
    ck_assert_int_eq(dl_gguf_writer_write(w, path, &err), 0);
    void *buf;
    size_t n;
    ck_assert_int_eq(dl_gguf_writer_to_buffer(w, &buf, &n, &err), 0);
    dl_gguf *g = NULL;
    int rc = dl_gguf_open(&g, path, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    const dl_gguf_tensor *t0 = dl_gguf_tensor_at(g, 0);
    check_scalars(g);
    check_arrays(g);
    /* The file holds exactly the buffer form's bytes. */
    FILE *rf = fopen(path, "rb");
    ck_assert_ptr_nonnull(rf);
    uint8_t *disk = malloc(n + 1);
    ck_assert_ptr_nonnull(disk);
    ck_assert_uint_eq(fread(disk, 1, n + 1, rf), n);
    fclose(rf);
    ck_assert(memcmp(disk, buf, n) == 0);
    free(disk);
    (void)t0;
    for (size_t i = 0; i < N(tensors); i++) {
        const dl_gguf_tensor *t = dl_gguf_tensor_at(g, i);
        ck_assert(memcmp(t->data, tensor_data[i], (size_t)t->size) == 0);
        ck_assert_uint_eq((uintptr_t)t->data % 32, 0);  /* page-aligned map + aligned offsets */
    }
    dl_gguf_close(g);
    free(buf);

    g = (dl_gguf *)1;
    ck_assert_int_eq(dl_gguf_open(&g, missing, &err), DIFFLM_E_IO);
    ck_assert_ptr_null(g);
    ck_assert_ptr_nonnull(strstr(err.msg, "none.gguf"));
    ck_assert_int_eq(dl_gguf_open(&g, dir, &err), DIFFLM_E_IO);  /* a directory */
    /* A malformed file on disk: the message names the path. */
    FILE *f = fopen(missing, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite("GGUF\3\0\0\0", 1, 8, f);
    fclose(f);
    ck_assert_int_eq(dl_gguf_open(&g, missing, &err), DIFFLM_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "none.gguf"));
    ck_assert_ptr_nonnull(strstr(err.msg, "tensor count"));
    f = fopen(missing, "wb");   /* empty */
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(dl_gguf_open(&g, missing, &err), DIFFLM_E_FORMAT);
    unlink(missing);
    /* Writing into a directory that does not exist fails cleanly. */
    char nodir[300];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir.gguf", dir);
    ck_assert_int_eq(dl_gguf_writer_write(w, nodir, &err), DIFFLM_E_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "dir.gguf"));
    dl_gguf_writer_free(w);
    free_tensor_data();
    unlink(path);
    ck_assert_int_eq(rmdir(dir), 0);   /* no temporary files were left behind */
}
END_TEST

START_TEST(test_type_table) {
    char buf[32];
    ck_assert_str_eq(dl_type_name(DL_TYPE_Q4_K, buf, sizeof buf), "Q4_K");
    ck_assert_str_eq(dl_type_name(42, buf, sizeof buf), "type 42");
    ck_assert_ptr_null(dl_type_get(4));
    ck_assert_ptr_null(dl_type_get(5));
    ck_assert_ptr_null(dl_type_get(16));
    ck_assert_ptr_null(dl_type_get(1000000));
    /* Block geometry from the reference's type table. */
    static const struct { uint32_t id, bs, ts; } want[] = {
        {0, 1, 4}, {1, 1, 2}, {2, 32, 18}, {3, 32, 20}, {6, 32, 22}, {7, 32, 24}, {8, 32, 34},
        {9, 32, 36}, {10, 256, 84}, {11, 256, 110}, {12, 256, 144}, {13, 256, 176},
        {14, 256, 210}, {15, 256, 292}, {30, 1, 2}};
    for (size_t i = 0; i < N(want); i++) {
        const dl_type_info *ti = dl_type_get(want[i].id);
        ck_assert_ptr_nonnull(ti);
        ck_assert_uint_eq(ti->block_size, want[i].bs);
        ck_assert_uint_eq(ti->type_size, want[i].ts);
    }
    uint64_t nb;
    ck_assert_int_eq(dl_tensor_nbytes(&nb, DL_TYPE_Q6_K, 2, (int64_t[]){512, 3}), DL_SHAPE_OK);
    ck_assert_uint_eq(nb, 2 * 210 * 3);
    ck_assert_int_eq(dl_tensor_nbytes(&nb, DL_TYPE_F32, 2, (int64_t[]){1ll << 40, 1ll << 30}),
                     DL_SHAPE_OVERFLOW);
    ck_assert_int_eq(dl_tensor_nbytes(&nb, DL_TYPE_F32, 1, (int64_t[]){1ll << 62}),
                     DL_SHAPE_OVERFLOW);  /* elements fit, bytes do not */
    ck_assert_int_eq(dl_tensor_nbytes(&nb, DL_TYPE_Q4_K, 1, (int64_t[]){128}),
                     DL_SHAPE_NOT_BLOCK_MULTIPLE);
}
END_TEST

static Suite *gguf_suite(void) {
    Suite *s = suite_create("gguf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round_trip_v3);
    tcase_add_test(tc, test_round_trip_v2);
    tcase_add_test(tc, test_round_trip_align64);
    tcase_add_test(tc, test_round_trip_align8_v2);
    tcase_add_test(tc, test_round_trip_align4096);
    tcase_add_test(tc, test_getter_conversions);
    tcase_add_test(tc, test_writer_rejects);
    tcase_add_test(tc, test_writer_bytes_match_spec);
    tcase_add_test(tc, test_file_io);
    tcase_add_test(tc, test_type_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return dl_run_suite(gguf_suite());
}

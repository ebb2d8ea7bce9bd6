/* test_safetensors.c - the safetensors reader (lib/fmt/safetensors.c) on files built
 * here byte by byte: a valid file read back field by field, then every truncation, bad
 * offsets, overlaps, bad and unsupported dtypes, duplicate keys, non-object headers,
 * huge header lengths and bad shapes, each failing with E_FORMAT (or E_UNSUPPORTED for
 * a dtype difflm does not compute with) and a message naming the tensor and field;
 * then sharded folders (index.json) with a missing shard, a misplaced tensor, a path
 * outside the folder. Every file is opened from an exact-size heap copy so valgrind
 * sees any over-read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_compat.h"
#include "fmt/ggml_types.h"
#include "fmt/safetensors.h"

/* header JSON (padded with spaces to 8 bytes, as the reference writer does) + data */
static uint8_t *make(const char *json, const void *data, size_t dn, size_t *n) {
    size_t hl = strlen(json), pad = (8 - hl % 8) % 8;
    *n = 8 + hl + pad + dn;
    uint8_t *b = malloc(*n);
    uint64_t h = hl + pad;
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(h >> (8 * i));
    memcpy(b + 8, json, hl);
    memset(b + 8 + hl, ' ', pad);
    if (dn)
        memcpy(b + 8 + hl + pad, data, dn);
    return b;
}

static const float k_a[6] = { 1, 2, 3, 4, 5, 6 };
static uint8_t k_data[32];

#define VALID "{\"__metadata__\":{\"format\":\"pt\"}," \
              "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}," \
              "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]}}"

/* Opens json + 32 data bytes; returns the status, message in err. */
static int try_open(const char *json, size_t data_n, dl_err *err) {
    size_t n;
    uint8_t *b = make(json, k_data, data_n, &n);
    dl_st *s = NULL;
    dl_err_clear(err);
    int rc = dl_st_open_mem(&s, b, n, "x.safetensors", err);
    if (rc == 0) {
        ck_assert_ptr_nonnull(s);
        dl_st_close(s);
    } else
        ck_assert_ptr_null(s);
    free(b);
    return rc;
}

static void expect(const char *json, int status, const char *needle) {
    dl_err err;
    int rc = try_open(json, 32, &err);
    ck_assert_msg(rc == status, "%s: got %d (%s)", json, rc, err.msg);
    if (needle)
        ck_assert_msg(strstr(err.msg, needle), "'%s' lacks '%s'", err.msg, needle);
    if (status)
        ck_assert_msg(strstr(err.msg, "x.safetensors"), "'%s' does not name the file", err.msg);
}

START_TEST(valid_file) {
    memcpy(k_data, k_a, 24);
    size_t n;
    uint8_t *b = make(VALID, k_data, 32, &n);
    dl_st *s;
    dl_err err;
    ck_assert_int_eq(dl_st_open_mem(&s, b, n, "x.safetensors", &err), 0);
    ck_assert_uint_eq(dl_st_n_tensors(s), 2);
    const dl_st_tensor *a = dl_st_find(s, "a");
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->t.type, DL_TYPE_F32);
    ck_assert_int_eq(a->t.ne[0], 3);   /* HF [2, 3] is GGUF {3, 2} */
    ck_assert_int_eq(a->t.ne[1], 2);
    ck_assert_int_eq(a->shape[0], 2);
    ck_assert_uint_eq(a->t.size, 24);
    ck_assert_int_eq(memcmp(a->t.data, k_a, 24), 0);
    ck_assert_ptr_eq(a->t.data, b + 8 + (n - 8 - 32));   /* in place, not copied */
    const dl_gguf_tensor *t;
    ck_assert_int_eq(dl_st_get(s, "b", &t, &err), 0);
    ck_assert_uint_eq(t->type, DL_TYPE_BF16);
    ck_assert_uint_eq(t->n_dims, 1);
    ck_assert_int_eq(dl_st_get(s, "nope", &t, &err), 0);
    ck_assert_ptr_null(t);
    ck_assert_str_eq(dl_st_tensor_at(s, 0)->t.name, "a");   /* offset order */
    dl_st_close(s);
    free(b);
}
END_TEST

START_TEST(every_truncation) {
    size_t n;
    uint8_t *full = make(VALID, k_data, 32, &n);
    for (size_t len = 0; len < n; len++) {
        uint8_t *b = malloc(len ? len : 1);
        memcpy(b, full, len);
        dl_st *s = NULL;
        dl_err err;
        int rc = dl_st_open_mem(&s, b, len, "x.safetensors", &err);
        ck_assert_msg(rc == DIFFLM_E_FORMAT, "length %zu: %d", len, rc);
        ck_assert_ptr_null(s);
        free(b);
    }
    free(full);
}
END_TEST

START_TEST(bad_offsets) {
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,40]}}", DIFFLM_E_FORMAT,
           "'data_offsets' [0, 40] is not a range inside the 32-byte data region");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", DIFFLM_E_FORMAT,
           "tensor 'a': field 'data_offsets'");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", DIFFLM_E_FORMAT,
           "spans 20 bytes but the shape and dtype F32 need 24");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", DIFFLM_E_FORMAT,
           "not an array of two integers");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", DIFFLM_E_FORMAT,
           "two non-negative integers");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}", DIFFLM_E_FORMAT,
           "two non-negative integers");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551612,"
           "18446744073709551616]}}", DIFFLM_E_FORMAT, "header JSON");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", DIFFLM_E_FORMAT,
           "tensor 'a': field 'data_offsets' is missing");
}
END_TEST

START_TEST(overlaps) {
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[12,28]}}", DIFFLM_E_FORMAT,
           "overlaps tensor 'a'");
    expect("{\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[8,16]},"
           "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", DIFFLM_E_FORMAT,
           "overlaps");
    /* the same range twice */
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", DIFFLM_E_FORMAT,
           "overlaps");
    /* empty tensors share an offset without overlapping */
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 0, NULL);
}
END_TEST

START_TEST(dtypes) {
    expect("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", DIFFLM_E_FORMAT,
           "tensor 'a': field 'dtype' is 'Q4', not a safetensors dtype");
    expect("{\"a\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", DIFFLM_E_FORMAT,
           "field 'dtype' is not a string");
    expect("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", DIFFLM_E_FORMAT,
           "field 'dtype' is missing");
    /* a dtype of the format that difflm does not compute with: listed, refused on use */
    size_t n;
    uint8_t *b = make("{\"pos\":{\"dtype\":\"I64\",\"shape\":[4],\"data_offsets\":[0,32]}}",
                      k_data, 32, &n);
    dl_st *s;
    dl_err err;
    ck_assert_int_eq(dl_st_open_mem(&s, b, n, "x.safetensors", &err), 0);
    const dl_gguf_tensor *t;
    ck_assert_int_eq(dl_st_get(s, "pos", &t, &err), DIFFLM_E_UNSUPPORTED);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err.msg, "tensor 'pos' has dtype I64"), "%s", err.msg);
    dl_st_close(s);
    free(b);
    /* rank 5 */
    b = make("{\"r\":{\"dtype\":\"F32\",\"shape\":[1,1,1,2,1],\"data_offsets\":[0,8]}}", k_data,
             32, &n);
    ck_assert_int_eq(dl_st_open_mem(&s, b, n, "x.safetensors", &err), 0);
    ck_assert_int_eq(dl_st_get(s, "r", &t, &err), DIFFLM_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "rank 5"), "%s", err.msg);
    dl_st_close(s);
    free(b);
}
END_TEST

START_TEST(json_problems) {
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", DIFFLM_E_FORMAT,
           "duplicate");
    expect("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}",
           DIFFLM_E_FORMAT, "duplicate");
    expect("[1,2]", DIFFLM_E_FORMAT, "not a JSON object");
    expect("\"str\"", DIFFLM_E_FORMAT, "header JSON");   /* jansson wants a container */
    expect("{\"a\":[1]}", DIFFLM_E_FORMAT, "tensor 'a': the entry is not a JSON object");
    expect("{\"a\":{\"dtype\":\"F32\"", DIFFLM_E_FORMAT, "header JSON");
    expect("{\"__metadata__\":[1]}", DIFFLM_E_FORMAT, "'__metadata__' is not an object");
    expect("{} trailing", DIFFLM_E_FORMAT, "header JSON");
    expect("{}", 0, NULL);
    expect("{\"__metadata__\":{}}", 0, NULL);
}
END_TEST

START_TEST(shapes) {
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", DIFFLM_E_FORMAT,
           "field 'shape' is not an array");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}", DIFFLM_E_FORMAT,
           "field 'shape' entry 1");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
           DIFFLM_E_FORMAT, "element count beyond 2^63");
    expect("{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952,2],\"data_offsets\":[0,8]}}",
           DIFFLM_E_FORMAT, "byte size beyond 2^64");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 0, NULL);
}
END_TEST

START_TEST(header_lengths) {
    uint8_t b[16] = { 0 };
    dl_st *s;
    dl_err err;
    const uint64_t lens[] = { UINT64_MAX, (uint64_t)1 << 63, 200000000, 9, 1, 0 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (int k = 0; k < 8; k++)
            b[k] = (uint8_t)(lens[i] >> (8 * k));
        memcpy(b + 8, "{}      ", 8);
        uint8_t *c = malloc(sizeof b);
        memcpy(c, b, sizeof b);
        ck_assert_int_eq(dl_st_open_mem(&s, c, sizeof b, "x.safetensors", &err), DIFFLM_E_FORMAT);
        ck_assert_msg(strstr(err.msg, "header length"), "%s", err.msg);
        free(c);
    }
}
END_TEST

/* --- folders */

static char g_dir[256];

static void put(const char *name, const void *p, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void put_st(const char *name, const char *json) {
    size_t n;
    uint8_t *b = make(json, k_data, 32, &n);
    put(name, b, n);
    free(b);
}

static void setup_dir(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/difflm-st-%d", (int)getpid());
    mkdir(g_dir, 0700);
}

static void rm_dir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

#define S1 "{\"x\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]}}"
#define S2 "{\"y\":{\"dtype\":\"F16\",\"shape\":[16],\"data_offsets\":[0,32]}}"

static int open_dir(dl_err *err) {
    dl_st *s = NULL;
    int rc = dl_st_open_dir(&s, g_dir, err);
    if (!rc) {
        ck_assert_ptr_nonnull(dl_st_find(s, "x"));
        ck_assert_ptr_nonnull(dl_st_find(s, "y"));
        ck_assert_uint_eq(dl_st_n_files(s), 2);
        dl_st_close(s);
    }
    return rc;
}

static void put_index(const char *json) {
    put("model.safetensors.index.json", json, strlen(json));
}

START_TEST(shards) {
    setup_dir();
    dl_err err;
    dl_st *s;
    ck_assert_int_eq(dl_st_open_dir(&s, g_dir, &err), DIFFLM_E_IO);
    ck_assert_msg(strstr(err.msg, "model.safetensors"), "%s", err.msg);
    put_st("a.safetensors", S1);
    put_st("b.safetensors", S2);
    put_index("{\"metadata\":{},\"weight_map\":{\"x\":\"a.safetensors\",\"y\":\"b.safetensors\"}}");
    ck_assert_int_eq(open_dir(&err), 0);
    /* a tensor listed in the wrong shard */
    put_index("{\"weight_map\":{\"x\":\"b.safetensors\",\"y\":\"b.safetensors\"}}");
    ck_assert_int_eq(dl_st_open_dir(&s, g_dir, &err), DIFFLM_E_FORMAT);
    ck_assert_msg(strstr(err.msg, "tensor 'x'"), "%s", err.msg);
    /* a missing shard */
    put_index("{\"weight_map\":{\"x\":\"a.safetensors\",\"y\":\"c.safetensors\"}}");
    ck_assert_int_eq(dl_st_open_dir(&s, g_dir, &err), DIFFLM_E_IO);
    ck_assert_msg(strstr(err.msg, "c.safetensors"), "%s", err.msg);
    /* a path out of the folder */
    put_index("{\"weight_map\":{\"x\":\"../a.safetensors\"}}");
    ck_assert_int_eq(dl_st_open_dir(&s, g_dir, &err), DIFFLM_E_FORMAT);
    ck_assert_msg(strstr(err.msg, "weight_map entry 'x'"), "%s", err.msg);
    put_index("{\"weight_map\":[]}");
    ck_assert_int_eq(dl_st_open_dir(&s, g_dir, &err), DIFFLM_E_FORMAT);
    put_index("{\"weight_map\":{\"x\":\"a.safetensors\",\"x\":\"b.safetensors\"}}");
    ck_assert_int_eq(dl_st_open_dir(&s, g_dir, &err), DIFFLM_E_FORMAT);
    ck_assert_msg(strstr(err.msg, "duplicate"), "%s", err.msg);
    /* the same tensor in two shards */
    put_st("b.safetensors", S1);
    put_index("{\"weight_map\":{\"x\":\"a.safetensors\",\"z\":\"b.safetensors\"}}");
    ck_assert_int_eq(dl_st_open_dir(&s, g_dir, &err), DIFFLM_E_FORMAT);
    ck_assert_msg(strstr(err.msg, "is in both"), "%s", err.msg);
    /* a malformed shard names its file */
    put_st("b.safetensors", "{\"y\":{\"dtype\":\"F16\",\"shape\":[17],\"data_offsets\":[0,32]}}");
    put_index("{\"weight_map\":{\"x\":\"a.safetensors\",\"y\":\"b.safetensors\"}}");
    ck_assert_int_eq(dl_st_open_dir(&s, g_dir, &err), DIFFLM_E_FORMAT);
    ck_assert_msg(strstr(err.msg, "b.safetensors': tensor 'y'"), "%s", err.msg);
    rm_dir();
}
END_TEST

int main(void) {
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, valid_file);
    tcase_add_test(tc, every_truncation);
    tcase_add_test(tc, bad_offsets);
    tcase_add_test(tc, overlaps);
    tcase_add_test(tc, dtypes);
    tcase_add_test(tc, json_problems);
    tcase_add_test(tc, shapes);
    tcase_add_test(tc, header_lengths);
    tcase_add_test(tc, shards);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}

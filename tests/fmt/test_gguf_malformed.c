/* test_gguf_malformed.c - the reader against a corpus of broken files made here: a small
 * valid file truncated at every length, then field by field patched (huge counts and
 * lengths, bad types, bad shapes, bad offsets, bad alignment, duplicates, bad headers),
 * then every byte flipped. Each must fail cleanly with the right status and a message
 * naming what is wrong, or (for flips) open to something whose every pointer is in bounds.
 * Every file is opened from an exact-size heap copy so valgrind sees any over-read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "fmt/ggml_types.h"
#include "fmt/gguf.h"
#include "gguf_bytes.h"

typedef struct opts {
    uint32_t version;
    uint32_t alignment;         /* 0: no general.alignment key */
    uint32_t alignment_type;    /* value type of that key */
    int dup_key;
    int dup_tensor;
    const char *name0;          /* name of tensor 0 */
    size_t extra_data;          /* zero bytes appended to the data section */
} opts;

/* Where the interesting fields of the built file are. */
typedef struct layout {
    size_t n_tensors, n_kv, key0_len, str_len, u32_type, arr_elem_type, arr_count;
    size_t strarr_count, bool_val;
    size_t t_ndims[3], t_ne[3], t_type[3], t_offset[3];
    size_t data_start, min_valid;   /* shortest prefix that is still a valid file */
} layout;

static opts defaults(void) {
    return (opts){.version = 3, .alignment_type = DL_GGUF_U32, .name0 = "tok.weight"};
}

/* Three tensors: F32 {8,4} (128 bytes), Q8_0 {32,2} (68), F16 {6} (12). */
static void build(const opts *o, bytes *b, layout *L) {
    memset(L, 0, sizeof *L);
    /* Lay out with a valid alignment even when the key holds a bad one. */
    uint32_t a = o->alignment;
    uint32_t align = a && (a & (a - 1)) == 0 ? a : 32;
    b_raw(b, "GGUF", 4);
    b_u32(b, o->version);
    L->n_tensors = b->n;
    b_u64(b, 3 + (o->dup_tensor != 0));
    L->n_kv = b->n;
    b_u64(b, 5 + (o->alignment != 0) + (o->dup_key != 0));
    L->key0_len = b->n;
    b_str(b, "general.architecture");
    b_u32(b, DL_GGUF_STRING);
    L->str_len = b->n;
    b_str(b, "llada");
    if (o->alignment) {
        b_str(b, "general.alignment");
        b_u32(b, o->alignment_type);
        b_uint(b, o->alignment, o->alignment_type == DL_GGUF_U64 ? 8 : 4);
    }
    b_str(b, "test.u32");
    L->u32_type = b->n;
    b_u32(b, DL_GGUF_U32);
    b_u32(b, 7);
    b_str(b, "test.ints");
    b_u32(b, DL_GGUF_ARRAY);
    L->arr_elem_type = b->n;
    b_u32(b, DL_GGUF_I32);
    L->arr_count = b->n;
    b_u64(b, 3);
    for (uint32_t i = 1; i <= 3; i++)
        b_u32(b, i);
    b_str(b, "test.strs");
    b_u32(b, DL_GGUF_ARRAY);
    b_u32(b, DL_GGUF_STRING);
    L->strarr_count = b->n;
    b_u64(b, 3);
    b_str(b, "a");
    b_str(b, "bc");
    b_str(b, "");
    b_str(b, "test.flag");
    b_u32(b, DL_GGUF_BOOL);
    L->bool_val = b->n;
    b_u8(b, 1);
    if (o->dup_key) {
        b_str(b, "test.u32");
        b_u32(b, DL_GGUF_U32);
        b_u32(b, 8);
    }
    const char *names[4] = {o->name0, "blk.0.q", "norm", "norm"};
    const uint32_t types[4] = {DL_TYPE_F32, DL_TYPE_Q8_0, DL_TYPE_F16, DL_TYPE_F16};
    const uint32_t ndims[4] = {2, 2, 1, 1};
    const uint64_t ne[4][2] = {{8, 4}, {32, 2}, {6, 1}, {6, 1}};
    const uint64_t sizes[4] = {128, 68, 12, 12};
    uint64_t off = 0, end = 0;
    for (int i = 0; i < 3 + (o->dup_tensor != 0); i++) {
        b_str(b, names[i]);
        if (i < 3)
            L->t_ndims[i] = b->n;
        b_u32(b, ndims[i]);
        if (i < 3)
            L->t_ne[i] = b->n;
        for (uint32_t d = 0; d < ndims[i]; d++)
            b_u64(b, ne[i][d]);
        if (i < 3)
            L->t_type[i] = b->n;
        b_u32(b, types[i]);
        if (i < 3)
            L->t_offset[i] = b->n;
        b_u64(b, off);
        end = off + sizes[i];
        off = (end + align - 1) / align * align;
    }
    b_pad(b, align);
    L->data_start = b->n;
    L->min_valid = b->n + end;
    for (uint64_t i = 0; i < off + o->extra_data; i++)
        b_u8(b, (uint8_t)(i * 13 + 5));
}

/* Opens an exact-size heap copy (so any over-read is a valgrind error), walks the whole
 * result if it opened, and returns the status with the message in *err. */
static void walk(const dl_gguf *g);

static int open_copy(const uint8_t *p, size_t n, dl_err *err) {
    uint8_t *copy = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(copy);
    if (n)
        memcpy(copy, p, n);
    dl_gguf *g = (dl_gguf *)1;
    dl_err_clear(err);
    int rc = dl_gguf_open_mem(&g, copy, n, err);
    if (rc == 0) {
        ck_assert_ptr_nonnull(g);
        walk(g);
        dl_gguf_close(g);
    } else {
        ck_assert_ptr_null(g);
        ck_assert_int_eq(err->status, rc);
        ck_assert_msg(err->msg[0] != '\0', "status %d without a message", rc);
    }
    free(copy);
    return rc;
}

/* Touches every value and every tensor byte a successful open exposes. */
static void walk(const dl_gguf *g) {
    dl_err err;
    unsigned sum = 0;
    for (size_t i = 0; i < dl_gguf_n_kv(g); i++) {
        const char *key = dl_gguf_key_at(g, i);
        ck_assert_ptr_nonnull(key);
        uint32_t et, u;
        uint64_t n;
        dl_str s;
        int64_t v;
        double d;
        float f;
        int b;
        switch (dl_gguf_type_at(g, i)) {
        case DL_GGUF_STRING:
            ck_assert_int_eq(dl_gguf_get_str(g, key, &s, &err), 0);
            for (uint64_t j = 0; j < s.n; j++)
                sum += (uint8_t)s.p[j];
            break;
        case DL_GGUF_ARRAY:
            ck_assert_int_eq(dl_gguf_get_arr(g, key, &et, &n, &err), 0);
            for (uint64_t j = 0; j < n; j++) {
                if (et == DL_GGUF_STRING) {
                    ck_assert_int_eq(dl_gguf_arr_str(g, key, j, &s, &err), 0);
                    for (uint64_t k = 0; k < s.n; k++)
                        sum += (uint8_t)s.p[k];
                } else if (dl_gguf_arr_i64(g, key, j, &v, &err) == 0) {
                    sum += (unsigned)v;
                } else if (dl_gguf_arr_f64(g, key, j, &d, &err) == 0) {
                    sum += d > 0;
                }
            }
            break;
        default:
            (void)dl_gguf_get_u32(g, key, &u, &err);
            (void)dl_gguf_get_f32(g, key, &f, &err);
            (void)dl_gguf_get_bool_opt(g, key, 0, &b, &err);
            (void)dl_gguf_get_i64_opt(g, key, 0, &v, &err);
            break;
        }
    }
    for (size_t i = 0; i < dl_gguf_n_tensors(g); i++) {
        const dl_gguf_tensor *t = dl_gguf_tensor_at(g, i);
        ck_assert_ptr_eq(dl_gguf_find_tensor(g, t->name), t);
        ck_assert_uint_lt(strlen(t->name), 64);
        ck_assert_uint_eq(t->offset % dl_gguf_alignment(g), 0);
        const uint8_t *p = t->data;
        for (uint64_t j = 0; j < t->size; j++)
            sum += p[j];
    }
    (void)sum;
}

/* Builds with o, applies a patch, and checks status and message fragments. */
typedef void (*patch_fn)(bytes *b, const layout *L);

static void expect(const opts *o, patch_fn patch, int status, const char *frag1, const char *frag2) {
    bytes b = {0};
    layout L;
    build(o, &b, &L);
    if (patch)
        patch(&b, &L);
    dl_err err;
    int rc = open_copy(b.p, b.n, &err);
    ck_assert_msg(rc == status, "status %d, expected %d (%s)", rc, status, err.msg);
    if (getenv("DL_SHOW_MSG"))  /* for reviewing the wording */
        fprintf(stderr, "%d: %s\n", rc, err.msg);
    if (frag1)
        ck_assert_msg(strstr(err.msg, frag1), "message '%s' lacks '%s'", err.msg, frag1);
    if (frag2)
        ck_assert_msg(strstr(err.msg, frag2), "message '%s' lacks '%s'", err.msg, frag2);
    b_free(&b);
}

START_TEST(test_valid_base) {
    opts o = defaults();
    bytes b = {0};
    layout L;
    build(&o, &b, &L);
    dl_gguf *g;
    dl_err err;
    ck_assert_int_eq(dl_gguf_open_mem(&g, b.p, b.n, &err), 0);
    ck_assert_uint_eq(dl_gguf_n_tensors(g), 3);
    ck_assert_uint_eq(dl_gguf_n_kv(g), 5);
    ck_assert_ptr_eq(dl_gguf_tensor_at(g, 2)->data, b.p + L.data_start + 224);
    dl_gguf_close(g);
    b_free(&b);
    o.version = 2;
    o.alignment = 64;
    expect(&o, NULL, 0, NULL, NULL);
    o.name0 = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"; /* 63 */
    expect(&o, NULL, 0, NULL, NULL);
}
END_TEST

START_TEST(test_truncated_everywhere) {
    opts o = defaults();
    bytes b = {0};
    layout L;
    build(&o, &b, &L);
    ck_assert_uint_lt(L.min_valid, b.n);    /* the last tensor's padding is optional */
    dl_err err;
    for (size_t n = 0; n < L.min_valid; n++) {
        int rc = open_copy(b.p, n, &err);
        ck_assert_msg(rc == DIFFLM_E_FORMAT, "prefix of %zu bytes gave %d (%s)", n, rc, err.msg);
    }
    for (size_t n = L.min_valid; n <= b.n; n++)
        ck_assert_int_eq(open_copy(b.p, n, &err), 0);
    b_free(&b);
}
END_TEST

START_TEST(test_every_byte_flipped) {
    opts o = defaults();
    bytes b = {0};
    layout L;
    build(&o, &b, &L);
    dl_err err;
    /* Up to the data (flips inside tensor data change nothing the reader checks). */
    for (size_t i = 0; i < L.data_start; i++) {
        const uint8_t orig = b.p[i];
        const uint8_t vals[5] = {0x00, 0xff, 0x80, (uint8_t)(orig ^ 0x01), (uint8_t)(orig ^ 0x40)};
        for (int k = 0; k < 5; k++) {
            b.p[i] = vals[k];
            int rc = open_copy(b.p, b.n, &err);
            ck_assert_msg(rc == 0 || rc == DIFFLM_E_FORMAT || rc == DIFFLM_E_UNSUPPORTED,
                          "byte %zu = 0x%02x gave %d (%s)", i, vals[k], rc, err.msg);
        }
        b.p[i] = orig;
    }
    b_free(&b);
}
END_TEST

/* ---- header */
static void p_magic(bytes *b, const layout *L) { b->p[0] = 'g'; }
static void p_v1(bytes *b, const layout *L) { b_patch_u32(b, 4, 1); }
static void p_v4(bytes *b, const layout *L) { b_patch_u32(b, 4, 4); }
static void p_v0(bytes *b, const layout *L) { b_patch_u32(b, 4, 0); }
static void p_swapped(bytes *b, const layout *L) { b_patch_u32(b, 4, 0x03000000u); }
static void p_kv_huge(bytes *b, const layout *L) { b_patch_u64(b, L->n_kv, 1ull << 63); }
static void p_kv_max(bytes *b, const layout *L) { b_patch_u64(b, L->n_kv, UINT64_MAX); }
static void p_kv_more(bytes *b, const layout *L) { b_patch_u64(b, L->n_kv, 9); }
static void p_t_huge(bytes *b, const layout *L) { b_patch_u64(b, L->n_tensors, 1ull << 63); }
static void p_t_more(bytes *b, const layout *L) { b_patch_u64(b, L->n_tensors, 4); }

START_TEST(test_bad_header) {
    opts o = defaults();
    expect(&o, p_magic, DIFFLM_E_FORMAT, "magic", NULL);
    expect(&o, p_v1, DIFFLM_E_FORMAT, "version 1", NULL);
    expect(&o, p_v4, DIFFLM_E_FORMAT, "version 4", NULL);
    expect(&o, p_v0, DIFFLM_E_FORMAT, "version 0", NULL);
    expect(&o, p_swapped, DIFFLM_E_FORMAT, "byte order", NULL);
    expect(&o, p_kv_huge, DIFFLM_E_FORMAT, "kv count 9223372036854775808", NULL);
    expect(&o, p_kv_max, DIFFLM_E_FORMAT, "kv count", NULL);
    expect(&o, p_kv_more, DIFFLM_E_FORMAT, NULL, NULL);
    expect(&o, p_t_huge, DIFFLM_E_FORMAT, "tensor count 9223372036854775808", NULL);
    expect(&o, p_t_more, DIFFLM_E_FORMAT, NULL, NULL);
}
END_TEST

/* ---- metadata */
static void p_empty_key(bytes *b, const layout *L) { b_patch_u64(b, L->key0_len, 0); }
static void p_key_len_huge(bytes *b, const layout *L) { b_patch_u64(b, L->key0_len, UINT64_MAX); }
static void p_str_huge(bytes *b, const layout *L) { b_patch_u64(b, L->str_len, 1ull << 62); }
static void p_str_max(bytes *b, const layout *L) { b_patch_u64(b, L->str_len, UINT64_MAX); }
static void p_bad_vtype(bytes *b, const layout *L) { b_patch_u32(b, L->u32_type, 13); }
static void p_arr_of_arr(bytes *b, const layout *L) { b_patch_u32(b, L->arr_elem_type, DL_GGUF_ARRAY); }
static void p_bad_elem(bytes *b, const layout *L) { b_patch_u32(b, L->arr_elem_type, 77); }
static void p_arr_huge(bytes *b, const layout *L) { b_patch_u64(b, L->arr_count, 1ull << 62); }
static void p_arr_max(bytes *b, const layout *L) { b_patch_u64(b, L->arr_count, UINT64_MAX); }
static void p_strarr_huge(bytes *b, const layout *L) { b_patch_u64(b, L->strarr_count, 1ull << 61); }
static void p_strarr_more(bytes *b, const layout *L) { b_patch_u64(b, L->strarr_count, 40); }
static void p_bool2(bytes *b, const layout *L) { b->p[L->bool_val] = 2; }
static void p_key_nul(bytes *b, const layout *L) { b->p[L->key0_len + 8 + 3] = 0; }

START_TEST(test_bad_metadata) {
    opts o = defaults();
    expect(&o, p_empty_key, DIFFLM_E_FORMAT, "empty key", NULL);
    expect(&o, p_key_len_huge, DIFFLM_E_FORMAT, "key of kv 0", NULL);
    expect(&o, p_str_huge, DIFFLM_E_FORMAT, "general.architecture", NULL);
    expect(&o, p_str_max, DIFFLM_E_FORMAT, "general.architecture", NULL);
    expect(&o, p_bad_vtype, DIFFLM_E_FORMAT, "test.u32", "type 13");
    expect(&o, p_arr_of_arr, DIFFLM_E_FORMAT, "test.ints", "array of arrays");
    expect(&o, p_bad_elem, DIFFLM_E_FORMAT, "test.ints", "77");
    expect(&o, p_arr_huge, DIFFLM_E_FORMAT, "test.ints", "4611686018427387904");
    expect(&o, p_arr_max, DIFFLM_E_FORMAT, "test.ints", NULL);
    expect(&o, p_strarr_huge, DIFFLM_E_FORMAT, "test.strs", NULL);
    expect(&o, p_strarr_more, DIFFLM_E_FORMAT, NULL, NULL);
    expect(&o, p_bool2, DIFFLM_E_FORMAT, "test.flag", NULL);
    expect(&o, p_key_nul, DIFFLM_E_FORMAT, "NUL", NULL);
    o.dup_key = 1;
    expect(&o, NULL, DIFFLM_E_FORMAT, "duplicate key 'test.u32'", NULL);
    o = defaults();
    o.alignment = 48;
    expect(&o, NULL, DIFFLM_E_FORMAT, "general.alignment", "48");
    o.alignment = 0x80000001u;
    expect(&o, NULL, DIFFLM_E_FORMAT, "general.alignment", NULL);
    o.alignment = 64;
    o.alignment_type = DL_GGUF_U64;
    expect(&o, NULL, DIFFLM_E_FORMAT, "general.alignment", "u64");
}
END_TEST

START_TEST(test_zero_alignment) {
    /* build() cannot pad to 0, so write the key by hand into a tensorless file. */
    bytes b = {0};
    b_raw(&b, "GGUF", 4);
    b_u32(&b, 3);
    b_u64(&b, 0);
    b_u64(&b, 1);
    b_str(&b, "general.alignment");
    b_u32(&b, DL_GGUF_U32);
    b_u32(&b, 0);
    dl_err err;
    ck_assert_int_eq(open_copy(b.p, b.n, &err), DIFFLM_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "general.alignment"));
    /* The same file with 16 is fine, and needs no padding when it has no tensors. */
    b_patch_u32(&b, b.n - 4, 16);
    ck_assert_int_eq(open_copy(b.p, b.n, &err), 0);
    b_free(&b);
}
END_TEST

/* ---- tensor infos */
static void p_ndims5(bytes *b, const layout *L) { b_patch_u32(b, L->t_ndims[1], 5); }
static void p_ndims0(bytes *b, const layout *L) { b_patch_u32(b, L->t_ndims[1], 0); }
static void p_negdim(bytes *b, const layout *L) { b_patch_u64(b, L->t_ne[0] + 8, UINT64_MAX); }
static void p_not_block(bytes *b, const layout *L) { b_patch_u64(b, L->t_ne[1], 48); }
static void p_overflow(bytes *b, const layout *L) {
    b_patch_u64(b, L->t_ne[0], 1ull << 40);
    b_patch_u64(b, L->t_ne[0] + 8, 1ull << 40);
}
static void p_type99(bytes *b, const layout *L) { b_patch_u32(b, L->t_type[2], 99); }
static void p_type4(bytes *b, const layout *L) { b_patch_u32(b, L->t_type[0], 4); }
static void p_name_huge(bytes *b, const layout *L) { b_patch_u64(b, L->t_ndims[0] - 8 - 10, UINT64_MAX); }

START_TEST(test_bad_tensor_info) {
    opts o = defaults();
    expect(&o, p_ndims5, DIFFLM_E_FORMAT, "blk.0.q", "n_dims 5");
    expect(&o, p_ndims0, DIFFLM_E_FORMAT, "blk.0.q", "n_dims 0");
    expect(&o, p_negdim, DIFFLM_E_FORMAT, "tok.weight", "negative");
    expect(&o, p_not_block, DIFFLM_E_FORMAT, "blk.0.q", "block size");
    expect(&o, p_overflow, DIFFLM_E_FORMAT, "tok.weight", "overflow");
    expect(&o, p_type99, DIFFLM_E_UNSUPPORTED, "norm", "99");
    expect(&o, p_type4, DIFFLM_E_UNSUPPORTED, "tok.weight", "type id 4");
    expect(&o, p_name_huge, DIFFLM_E_FORMAT, "name of tensor 0", NULL);
    o.name0 = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"; /* 64 */
    expect(&o, NULL, DIFFLM_E_FORMAT, "64 bytes", "nnnn");
    o = defaults();
    o.dup_tensor = 1;
    expect(&o, NULL, DIFFLM_E_FORMAT, "duplicate tensor name 'norm'", NULL);
}
END_TEST

/* ---- data offsets */
static void p_off_oob(bytes *b, const layout *L) { b_patch_u64(b, L->t_offset[2], 4096); }
static void p_off_end(bytes *b, const layout *L) { b_patch_u64(b, L->t_offset[2], 256); }
static void p_off_huge(bytes *b, const layout *L) { b_patch_u64(b, L->t_offset[1], 1ull << 63); }
static void p_off_max(bytes *b, const layout *L) { b_patch_u64(b, L->t_offset[1], UINT64_MAX - 31); }
static void p_misaligned(bytes *b, const layout *L) { b_patch_u64(b, L->t_offset[1], 130); }
static void p_overlap(bytes *b, const layout *L) { b_patch_u64(b, L->t_offset[1], 96); }
static void p_same(bytes *b, const layout *L) { b_patch_u64(b, L->t_offset[2], 0); }
static void p_shuffled(bytes *b, const layout *L) {
    b_patch_u64(b, L->t_offset[0], 256);
    b_patch_u64(b, L->t_offset[1], 0);
    b_patch_u64(b, L->t_offset[2], 96);
}

START_TEST(test_bad_offsets) {
    opts o = defaults();
    expect(&o, p_off_oob, DIFFLM_E_FORMAT, "norm", "4096");
    expect(&o, p_off_end, DIFFLM_E_FORMAT, "norm", "end of the file");
    expect(&o, p_off_huge, DIFFLM_E_FORMAT, "blk.0.q", NULL);
    expect(&o, p_off_max, DIFFLM_E_FORMAT, "blk.0.q", NULL);
    expect(&o, p_misaligned, DIFFLM_E_FORMAT, "blk.0.q", "alignment");
    expect(&o, p_overlap, DIFFLM_E_FORMAT, "'tok.weight'", "'blk.0.q'");
    expect(&o, p_same, DIFFLM_E_FORMAT, "overlap", "'norm'");
    /* Accepted: aligned, in bounds, not overlapping, even when not in header order. */
    o.extra_data = 256;
    expect(&o, p_shuffled, 0, NULL, NULL);
    bytes b = {0};
    layout L;
    build(&o, &b, &L);
    p_shuffled(&b, &L);
    dl_gguf *g;
    dl_err err;
    ck_assert_int_eq(dl_gguf_open_mem(&g, b.p, b.n, &err), 0);
    ck_assert_ptr_eq(dl_gguf_find_tensor(g, "tok.weight")->data, b.p + L.data_start + 256);
    ck_assert_ptr_eq(dl_gguf_find_tensor(g, "norm")->data, b.p + L.data_start + 96);
    dl_gguf_close(g);
    b_free(&b);
}
END_TEST

START_TEST(test_bad_args) {
    dl_err err;
    dl_gguf *g;
    ck_assert_int_eq(dl_gguf_open_mem(NULL, "GGUF", 4, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_gguf_open_mem(&g, NULL, 4, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_gguf_open_mem(&g, NULL, 0, &err), DIFFLM_E_FORMAT);
    ck_assert_int_eq(dl_gguf_open_mem(&g, "GGUF", 4, NULL), DIFFLM_E_FORMAT); /* NULL err ok */
    ck_assert_int_eq(dl_gguf_open(&g, NULL, &err), DIFFLM_E_INVALID_ARG);
}
END_TEST

static Suite *malformed_suite(void) {
    Suite *s = suite_create("gguf_malformed");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_valid_base);
    tcase_add_test(tc, test_truncated_everywhere);
    tcase_add_test(tc, test_every_byte_flipped);
    tcase_add_test(tc, test_bad_header);
    tcase_add_test(tc, test_bad_metadata);
    tcase_add_test(tc, test_zero_alignment);
    tcase_add_test(tc, test_bad_tensor_info);
    tcase_add_test(tc, test_bad_offsets);
    tcase_add_test(tc, test_bad_args);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return dl_run_suite(malformed_suite());
}

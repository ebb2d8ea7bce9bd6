/* gguf_read.c - parses and validates a GGUF v2/v3 file held in memory or mapped.
 *
 * Every count, length and offset is checked against the bytes that remain BEFORE it is
 * used or allocated for, so the largest allocation is bounded by the file's size
 * whatever the header claims. Nothing is copied except key and tensor names. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt/gguf_internal.h"
#include "fmt/le.h"
#include "fmt/tensor_bytes.h"

#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_MAX_NAME 64        /* tensor names must be shorter (ggml's GGML_MAX_NAME) */
#define NAME_SHOWN 80           /* at most this many bytes of a name go into a message */

/* Smallest encodings, used to bound counts before allocating: a kv is a key length (8),
 * a value type (4) and at least one value byte; a tensor info is a name length (8),
 * n_dims (4), one dimension (8), a type (4) and an offset (8). */
#define MIN_KV_BYTES 13u
#define MIN_TENSOR_INFO_BYTES 32u

static const int8_t vtype_sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
static const char *const vtype_names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                          "bool", "string", "array", "u64", "i64", "f64"};

int dl_gguf_vtype_size(uint32_t vtype) {
    return vtype < sizeof vtype_sizes ? vtype_sizes[vtype] : -1;
}

const char *dl_gguf_vtype_name(uint32_t vtype) {
    return vtype < sizeof vtype_sizes ? vtype_names[vtype] : "unknown";
}

typedef struct cursor {
    const uint8_t *base;
    size_t size;
    size_t pos;
    uint64_t want;              /* bytes the last failed read needed from pos */
    dl_err *err;
} cursor;

static size_t left(const cursor *c) {
    return c->size - c->pos;
}

/* Fails with a message saying what was being read where; `what` is printf-style. */
static int truncated(cursor *c, const char *what, ...) __attribute__((format(printf, 2, 3)));
static int truncated(cursor *c, const char *what, ...) {
    char desc[256];
    va_list ap;
    va_start(ap, what);
    vsnprintf(desc, sizeof desc, what, ap);
    va_end(ap);
    return dl_fail(c->err, DIFFLM_E_FORMAT,
                   "truncated file: %s at byte %zu needs %llu bytes, only %zu left", desc,
                   c->pos, (unsigned long long)c->want, left(c));
}

static const uint8_t *take(cursor *c, uint64_t n) {
    if (n > left(c)) {
        c->want = n;
        return NULL;
    }
    const uint8_t *p = c->base + c->pos;
    c->pos += (size_t)n;
    return p;
}

static int take_u32(cursor *c, uint32_t *v) {
    const uint8_t *p = take(c, 4);
    if (!p)
        return -1;
    *v = dl_ld_u32(p);
    return 0;
}

static int take_u64(cursor *c, uint64_t *v) {
    const uint8_t *p = take(c, 8);
    if (!p)
        return -1;
    *v = dl_ld_u64(p);
    return 0;
}

/* A GGUF string: u64 length, then the bytes (checked to be present). */
static int take_str(cursor *c, dl_str *s) {
    size_t at = c->pos;
    uint64_t n;
    if (take_u64(c, &n))
        return -1;
    const uint8_t *p = take(c, n);
    if (!p) {
        c->pos = at;    /* report the string's start and its whole size */
        c->want = n > UINT64_MAX - 8 ? n : n + 8;
        return -1;
    }
    s->p = (const char *)p;
    s->n = n;
    return 0;
}

static int shown(uint64_t n) {
    return n > NAME_SHOWN ? NAME_SHOWN : (int)n;
}

/* A NUL-terminated copy of a key or tensor name (the caller checked it has no NUL). */
static char *copy_name(dl_str s) {
    char *p = dl_malloc((size_t)s.n + 1);
    if (p) {
        memcpy(p, s.p, (size_t)s.n);
        p[s.n] = '\0';
    }
    return p;
}

static int check_bools(cursor *c, const uint8_t *p, uint64_t n, const char *key) {
    for (uint64_t i = 0; i < n; i++)
        if (p[i] > 1)
            return dl_fail(c->err, DIFFLM_E_FORMAT,
                           "key '%s': bool value %u at byte %zu is neither 0 nor 1", key, p[i],
                           (size_t)(p + i - c->base));
    return 0;
}

static int parse_array(cursor *c, dl_gguf_kv *kv) {
    uint32_t et;
    uint64_t n;
    if (take_u32(c, &et))
        return truncated(c, "array element type of key '%s'", kv->key);
    if (et == DL_GGUF_ARRAY)
        return dl_fail(c->err, DIFFLM_E_FORMAT,
                       "key '%s' is an array of arrays (not allowed), at byte %zu", kv->key,
                       c->pos - 4);
    int esize = dl_gguf_vtype_size(et);
    if (esize < 0)
        return dl_fail(c->err, DIFFLM_E_FORMAT,
                       "key '%s' has arrays of unknown value type %u, at byte %zu", kv->key, et,
                       c->pos - 4);
    if (take_u64(c, &n))
        return truncated(c, "array length of key '%s'", kv->key);
    kv->elem_type = et;
    kv->n = n;
    kv->val = c->base + c->pos;
    /* A string element needs at least its 8-byte length. */
    uint64_t min_size = esize > 0 ? (uint64_t)esize : 8;
    if (n > left(c) / min_size)
        return dl_fail(c->err, DIFFLM_E_FORMAT,
                       "key '%s': array of %llu %s elements at byte %zu cannot fit in the %zu "
                       "bytes left", kv->key, (unsigned long long)n, dl_gguf_vtype_name(et),
                       c->pos, left(c));
    if (esize > 0) {
        const uint8_t *p = take(c, n * (uint64_t)esize);
        return et == DL_GGUF_BOOL ? check_bools(c, p, n, kv->key) : 0;
    }
    if (n == 0)
        return 0;
    kv->str_off = dl_malloc((size_t)n * sizeof *kv->str_off);
    if (!kv->str_off)
        return dl_fail(c->err, DIFFLM_E_NOMEM, "key '%s': no memory for a %llu-string index",
                       kv->key, (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        kv->str_off[i] = (uint64_t)(c->base + c->pos - kv->val);
        dl_str s;
        if (take_str(c, &s))
            return truncated(c, "string %llu of array key '%s'",
                             (unsigned long long)i, kv->key);
    }
    return 0;
}

static int parse_value(cursor *c, dl_gguf_kv *kv) {
    int size = dl_gguf_vtype_size(kv->type);
    if (size < 0)
        return dl_fail(c->err, DIFFLM_E_FORMAT, "key '%s' has unknown value type %u, at byte %zu",
                       kv->key, kv->type, c->pos - 4);
    if (kv->type == DL_GGUF_ARRAY)
        return parse_array(c, kv);
    if (kv->type == DL_GGUF_STRING) {
        dl_str s;
        if (take_str(c, &s))
            return truncated(c, "string value of key '%s'", kv->key);
        kv->val = (const uint8_t *)s.p;
        kv->n = s.n;
        return 0;
    }
    kv->n = 1;
    kv->val = take(c, (uint64_t)size);
    if (!kv->val)
        return truncated(c, "%s value of key '%s'", dl_gguf_vtype_name(kv->type),
                         kv->key);
    return kv->type == DL_GGUF_BOOL ? check_bools(c, kv->val, 1, kv->key) : 0;
}

static int parse_kvs(dl_gguf *g, cursor *c, uint64_t n_kv) {
    if (n_kv > left(c) / MIN_KV_BYTES)
        return dl_fail(c->err, DIFFLM_E_FORMAT,
                       "kv count %llu (header) cannot fit in the %zu bytes after the header",
                       (unsigned long long)n_kv, left(c));
    g->kv = dl_calloc(n_kv ? (size_t)n_kv : 1, sizeof *g->kv);
    if (!g->kv || dl_name_index_init(&g->kv_index, (size_t)n_kv))
        return dl_fail(c->err, DIFFLM_E_NOMEM, "no memory for %llu metadata keys",
                       (unsigned long long)n_kv);
    for (size_t i = 0; i < (size_t)n_kv; i++) {
        dl_gguf_kv *kv = &g->kv[i];
        size_t at = c->pos;
        dl_str key;
        if (take_str(c, &key))
            return truncated(c, "key of kv %zu", i);
        if (key.n == 0)
            return dl_fail(c->err, DIFFLM_E_FORMAT, "kv %zu at byte %zu has an empty key", i, at);
        if (memchr(key.p, 0, (size_t)key.n))
            return dl_fail(c->err, DIFFLM_E_FORMAT, "key '%.*s' at byte %zu contains a NUL byte",
                           shown(key.n), key.p, at);
        kv->key = copy_name(key);
        if (!kv->key)
            return dl_fail(c->err, DIFFLM_E_NOMEM, "no memory for key '%.*s'", shown(key.n), key.p);
        g->n_kv = i + 1;    /* from here on close() frees this kv */
        size_t prev;
        if (dl_name_index_add(&g->kv_index, kv->key, i, &prev))
            return dl_fail(c->err, DIFFLM_E_FORMAT, "duplicate key '%s' (kv %zu and kv %zu, byte %zu)",
                           kv->key, prev, i, at);
        if (take_u32(c, &kv->type))
            return truncated(c, "value type of key '%s'", kv->key);
        int rc = parse_value(c, kv);
        if (rc)
            return rc;
    }
    return 0;
}

/* general.alignment: a non-zero power of two stored as u32, else the default 32. */
static int read_alignment(dl_gguf *g, dl_err *err) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t i = dl_name_index_find(&g->kv_index, "general.alignment");
    if (i < 0)
        return 0;
    const dl_gguf_kv *kv = &g->kv[i];
    if (kv->type != DL_GGUF_U32)
        return dl_fail(err, DIFFLM_E_FORMAT, "key 'general.alignment' has type %s, expected u32",
                       dl_gguf_vtype_name(kv->type));
    uint32_t a = dl_ld_u32(kv->val);
    if (a == 0 || (a & (a - 1)) != 0)
        return dl_fail(err, DIFFLM_E_FORMAT,
                       "key 'general.alignment' is %u, which is not a non-zero power of two", a);
    g->alignment = a;
    return 0;
}

static int parse_tensor_info(dl_gguf *g, cursor *c, size_t i) {
    dl_gguf_tensor *t = &g->tensors[i];
    size_t at = c->pos;
    dl_str name;
    if (take_str(c, &name))
        return truncated(c, "name of tensor %zu", i);
    if (name.n >= GGUF_MAX_NAME)
        return dl_fail(c->err, DIFFLM_E_FORMAT,
                       "tensor %zu name '%.*s' at byte %zu is %llu bytes long (limit %d)", i,
                       shown(name.n), name.p, at, (unsigned long long)name.n, GGUF_MAX_NAME - 1);
    if (memchr(name.p, 0, (size_t)name.n))
        return dl_fail(c->err, DIFFLM_E_FORMAT, "tensor %zu name at byte %zu contains a NUL byte",
                       i, at);
    char *copy = copy_name(name);
    if (!copy)
        return dl_fail(c->err, DIFFLM_E_NOMEM, "no memory for tensor name '%.*s'", shown(name.n),
                       name.p);
    t->name = copy;
    g->n_tensors = i + 1;   /* from here on close() frees this name */
    size_t prev;
    if (dl_name_index_add(&g->tensor_index, t->name, i, &prev))
        return dl_fail(c->err, DIFFLM_E_FORMAT,
                       "duplicate tensor name '%s' (tensors %zu and %zu, byte %zu)", t->name, prev,
                       i, at);
    if (take_u32(c, &t->n_dims))
        return truncated(c, "n_dims of tensor '%s'", t->name);
    if (t->n_dims < 1 || t->n_dims > 4)
        return dl_fail(c->err, DIFFLM_E_FORMAT, "tensor '%s' has n_dims %u at byte %zu (must be 1..4)",
                       t->name, t->n_dims, c->pos - 4);
    for (int d = 0; d < 4; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t v;
        if (take_u64(c, &v))
            return truncated(c, "dimension %u of tensor '%s'", d, t->name);
        if (v > (uint64_t)INT64_MAX)
            return dl_fail(c->err, DIFFLM_E_FORMAT, "tensor '%s' dimension %u is negative (%lld)",
                           t->name, d, (long long)(int64_t)v);
        t->ne[d] = (int64_t)v;
    }
    if (take_u32(c, &t->type))
        return truncated(c, "type of tensor '%s'", t->name);
    /* An id we cannot size is a type ggml may well know (IQ*, TQ*, MXFP4): the file
     * need not be malformed, this library just cannot use it. */
    if (!dl_type_get(t->type))
        return dl_fail(c->err, DIFFLM_E_UNSUPPORTED,
                       "tensor '%s' has ggml type id %u, which this library does not support",
                       t->name, t->type);
    int problem = dl_tensor_nbytes(&t->size, t->type, t->n_dims, t->ne);
    if (problem != DL_SHAPE_OK)
        return dl_fail(c->err, DIFFLM_E_FORMAT,
                       "tensor '%s' (%s, ne = {%lld, %lld, %lld, %lld}): %s", t->name,
                       dl_type_get(t->type)->name, (long long)t->ne[0], (long long)t->ne[1],
                       (long long)t->ne[2], (long long)t->ne[3], dl_shape_problem_str(problem));
    if (take_u64(c, &t->offset))
        return truncated(c, "data offset of tensor '%s'", t->name);
    return 0;
}

static int cmp_by_offset(const void *a, const void *b) {
    const dl_gguf_tensor *x = *(const dl_gguf_tensor *const *)a;
    const dl_gguf_tensor *y = *(const dl_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Any aligned, in-bounds, non-overlapping layout is accepted (see doc/formats.md);
 * llama.cpp's stricter contiguous rule is what the writer produces. */
static int check_layout(dl_gguf *g, dl_err *err) {
    if (g->n_tensors == 0)
        return 0;
    uint64_t data_bytes = g->size - g->data_start;
    for (size_t i = 0; i < g->n_tensors; i++) {
        dl_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0)
            return dl_fail(err, DIFFLM_E_FORMAT,
                           "tensor '%s' offset %llu is not a multiple of the alignment %u",
                           t->name, (unsigned long long)t->offset, g->alignment);
        if (t->offset > data_bytes || t->size > data_bytes - t->offset)
            return dl_fail(err, DIFFLM_E_FORMAT,
                           "tensor '%s' data [%llu, +%llu) runs past the end of the file (the "
                           "data section at byte %llu holds %llu bytes)", t->name,
                           (unsigned long long)t->offset, (unsigned long long)t->size,
                           (unsigned long long)g->data_start, (unsigned long long)data_bytes);
        t->data = g->base + g->data_start + t->offset;
    }
    const dl_gguf_tensor **order = dl_malloc(g->n_tensors * sizeof *order);
    if (!order)
        return dl_fail(err, DIFFLM_E_NOMEM, "no memory to sort %zu tensors", g->n_tensors);
    for (size_t i = 0; i < g->n_tensors; i++)
        order[i] = &g->tensors[i];
    qsort(order, g->n_tensors, sizeof *order, cmp_by_offset);
    /* Empty tensors occupy no bytes, so they can sit anywhere. */
    const dl_gguf_tensor *last = NULL;
    uint64_t end = 0;
    int rc = 0;
    for (size_t i = 0; i < g->n_tensors && rc == 0; i++) {
        const dl_gguf_tensor *t = order[i];
        if (t->size == 0)
            continue;
        if (last && t->offset < end)
            rc = dl_fail(err, DIFFLM_E_FORMAT,
                         "tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap", last->name,
                         (unsigned long long)last->offset, (unsigned long long)end, t->name,
                         (unsigned long long)t->offset,
                         (unsigned long long)(t->offset + t->size));
        last = t;
        end = t->offset + t->size;
    }
    dl_free(order);
    return rc;
}

static int check_header(cursor *c, uint32_t *version) {
    static const uint8_t magic[4] = {'G', 'G', 'U', 'F'};
    const uint8_t *p = take(c, 4);
    if (!p)
        return dl_fail(c->err, DIFFLM_E_FORMAT, "not a GGUF file: %zu bytes, too short for the magic",
                       c->size);
    if (memcmp(p, magic, 4) != 0)
        return dl_fail(c->err, DIFFLM_E_FORMAT,
                       "not a GGUF file: magic at byte 0 is %02x %02x %02x %02x, expected 'GGUF'",
                       p[0], p[1], p[2], p[3]);
    if (take_u32(c, version))
        return truncated(c, "version");
    uint32_t v = *version;
    if (v != 0 && (v & 0xffffu) == 0)
        return dl_fail(c->err, DIFFLM_E_FORMAT,
                       "GGUF version 0x%08x has zero low 16 bits: probably a file of the other "
                       "byte order (only little-endian files are supported)", v);
    if (v == 0 || v == 1)
        return dl_fail(c->err, DIFFLM_E_FORMAT, "GGUF version %u is not supported (v1 and older "
                       "are obsolete; need 2 or 3)", v);
    if (v > 3)
        return dl_fail(c->err, DIFFLM_E_FORMAT, "GGUF version %u is newer than supported (2 or 3)", v);
    return 0;
}

static int parse(dl_gguf *g, dl_err *err) {
    cursor c = {g->base, g->size, 0, 0, err};
    uint64_t n_tensors, n_kv;
    int rc = check_header(&c, &g->version);
    if (rc)
        return rc;
    if (take_u64(&c, &n_tensors))
        return truncated(&c, "tensor count");
    if (take_u64(&c, &n_kv))
        return truncated(&c, "kv count");
    if ((rc = parse_kvs(g, &c, n_kv)) || (rc = read_alignment(g, err)))
        return rc;
    if (n_tensors > left(&c) / MIN_TENSOR_INFO_BYTES)
        return dl_fail(err, DIFFLM_E_FORMAT,
                       "tensor count %llu (header) cannot fit in the %zu bytes after the metadata",
                       (unsigned long long)n_tensors, left(&c));
    g->tensors = dl_calloc(n_tensors ? (size_t)n_tensors : 1, sizeof *g->tensors);
    if (!g->tensors || dl_name_index_init(&g->tensor_index, (size_t)n_tensors))
        return dl_fail(err, DIFFLM_E_NOMEM, "no memory for %llu tensor infos",
                       (unsigned long long)n_tensors);
    for (size_t i = 0; i < (size_t)n_tensors; i++)
        if ((rc = parse_tensor_info(g, &c, i)))
            return rc;
    /* The data section starts at the next multiple of the alignment. A file without
     * tensors may end before that padding. */
    uint64_t start = ((uint64_t)c.pos + g->alignment - 1) / g->alignment * g->alignment;
    if (g->n_tensors > 0 && start > g->size)
        return dl_fail(err, DIFFLM_E_FORMAT,
                       "truncated file: data section would start at byte %llu, file has %zu bytes",
                       (unsigned long long)start, g->size);
    g->data_start = start > g->size ? g->size : start;
    return check_layout(g, err);
}

int dl_gguf_open_mem(dl_gguf **out, const void *data, size_t size, dl_err *err) {
    if (!out)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_gguf_open_mem: out is NULL");
    *out = NULL;
    if (!data && size > 0)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_gguf_open_mem: NULL data of %zu bytes", size);
    dl_gguf *g = dl_calloc(1, sizeof *g);
    if (!g)
        return dl_fail(err, DIFFLM_E_NOMEM, "no memory for a GGUF handle");
    g->base = data;
    g->size = size;
    int rc = parse(g, err);
    if (rc) {
        dl_gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int dl_gguf_open_mapped(dl_gguf **out, dl_mapped_file *mf, const char *name, dl_err *err) {
    dl_gguf *g;
    int rc = dl_gguf_open_mem(&g, mf->data, mf->size, err);
    if (rc) {
        /* Say which file was malformed: prefix the name to the parser's message. */
        if (err && name) {
            char msg[DL_ERR_MSG_MAX];
            snprintf(msg, sizeof msg, "%s", err->msg);
            dl_fail(err, rc, "%s: %s", name, msg);
        }
        dl_unmap_file(mf);
        return rc;
    }
    g->map = *mf;
    *out = g;
    return 0;
}

int dl_gguf_open(dl_gguf **out, const char *path, dl_err *err) {
    if (!out)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_gguf_open: out is NULL");
    *out = NULL;
    dl_mapped_file mf;
    int rc = dl_map_file(&mf, path, err);
    if (rc)
        return rc;
    return dl_gguf_open_mapped(out, &mf, path, err);
}

void dl_gguf_close(dl_gguf *g) {
    if (!g)
        return;
    for (size_t i = 0; i < g->n_kv; i++) {
        dl_free(g->kv[i].key);
        dl_free(g->kv[i].str_off);
    }
    dl_free(g->kv);
    for (size_t i = 0; i < g->n_tensors; i++)
        dl_free((char *)g->tensors[i].name);
    dl_free(g->tensors);
    dl_name_index_free(&g->kv_index);
    dl_name_index_free(&g->tensor_index);
    dl_unmap_file(&g->map);
    dl_free(g);
}

uint32_t dl_gguf_version(const dl_gguf *g) {
    return g->version;
}

uint32_t dl_gguf_alignment(const dl_gguf *g) {
    return g->alignment;
}

size_t dl_gguf_n_kv(const dl_gguf *g) {
    return g->n_kv;
}

int64_t dl_gguf_find_key(const dl_gguf *g, const char *key) {
    return dl_name_index_find(&g->kv_index, key);
}

const char *dl_gguf_key_at(const dl_gguf *g, size_t i) {
    return i < g->n_kv ? g->kv[i].key : NULL;
}

uint32_t dl_gguf_type_at(const dl_gguf *g, size_t i) {
    return i < g->n_kv ? g->kv[i].type : UINT32_MAX;
}

size_t dl_gguf_n_tensors(const dl_gguf *g) {
    return g->n_tensors;
}

const dl_gguf_tensor *dl_gguf_tensor_at(const dl_gguf *g, size_t i) {
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const dl_gguf_tensor *dl_gguf_find_tensor(const dl_gguf *g, const char *name) {
    int64_t i = dl_name_index_find(&g->tensor_index, name);
    return i < 0 ? NULL : &g->tensors[i];
}

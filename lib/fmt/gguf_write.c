/* gguf_write.c - builds a GGUF v2/v3 file: metadata in insertion order, then tensor infos,
 * then tensor data laid out contiguously in insertion order, each padded with zeros to the
 * alignment. That is llama.cpp's strict offset rule, so its reader accepts our files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmt/gguf_internal.h"
#include "fmt/le.h"
#include "fmt/tensor_bytes.h"

#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_MAX_NAME 64

typedef struct wkv {
    char *key;
    uint8_t *blob;              /* [blob_n] value type (u32) followed by the encoded value */
    size_t blob_n;
} wkv;

typedef struct wtensor {
    char *name;
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[4];
    uint64_t size;
    const void *data;           /* borrowed */
    dl_gguf_fill_fn fill;       /* or produced at emission time */
    void *fill_ctx;
} wtensor;

struct dl_gguf_writer {
    uint32_t version;
    uint32_t alignment;
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
};

dl_gguf_writer *dl_gguf_writer_new(void) {
    dl_gguf_writer *w = dl_calloc(1, sizeof *w);
    if (w) {
        w->version = 3;
        w->alignment = GGUF_DEFAULT_ALIGNMENT;
    }
    return w;
}

void dl_gguf_writer_free(dl_gguf_writer *w) {
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        dl_free(w->kv[i].key);
        dl_free(w->kv[i].blob);
    }
    dl_free(w->kv);
    for (size_t i = 0; i < w->n_t; i++)
        dl_free(w->t[i].name);
    dl_free(w->t);
    dl_free(w);
}

void dl_gguf_writer_set_version(dl_gguf_writer *w, uint32_t version) {
    w->version = version;   /* checked when writing */
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = dl_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static wkv *find_kv(const dl_gguf_writer *w, const char *key) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0)
            return &w->kv[i];
    return NULL;
}

/* Takes ownership of blob (freed on failure). */
static int append_kv(dl_gguf_writer *w, const char *key, uint8_t *blob, size_t blob_n) {
    char *k = dup_str(key);
    if (!k) {
        dl_free(blob);
        return DIFFLM_E_NOMEM;
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? 2 * w->cap_kv : 16;
        wkv *p = dl_realloc(w->kv, cap * sizeof *p);
        if (!p) {
            dl_free(k);
            dl_free(blob);
            return DIFFLM_E_NOMEM;
        }
        w->kv = p;
        w->cap_kv = cap;
    }
    w->kv[w->n_kv++] = (wkv){k, blob, blob_n};
    return 0;
}

int dl_gguf_writer_set_alignment(dl_gguf_writer *w, uint32_t alignment) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        return DIFFLM_E_INVALID_ARG;
    w->alignment = alignment;
    wkv *kv = find_kv(w, "general.alignment");
    if (kv) {       /* setting it again replaces the value, keeping its place */
        dl_st_u32(kv->blob + 4, alignment);
        return 0;
    }
    uint8_t *blob = dl_malloc(8);
    if (!blob)
        return DIFFLM_E_NOMEM;
    dl_st_u32(blob, DL_GGUF_U32);
    dl_st_u32(blob + 4, alignment);
    return append_kv(w, "general.alignment", blob, 8);
}

/* Encoded size of n values of a non-array type (vals: dl_str[n] for strings). */
static int values_size(uint32_t type, const void *vals, uint64_t n, size_t *out) {
    int esize = dl_gguf_vtype_size(type);
    if (esize < 0 || type == DL_GGUF_ARRAY)
        return DIFFLM_E_INVALID_ARG;
    if (n > SIZE_MAX)
        return DIFFLM_E_NOMEM;
    if (esize > 0)
        return dl_mul_size((size_t)n, (size_t)esize, out) ? DIFFLM_E_NOMEM : 0;
    const dl_str *s = vals;
    size_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (!s[i].p && s[i].n > 0)
            return DIFFLM_E_INVALID_ARG;
        if (s[i].n > SIZE_MAX || dl_add_size(total, 8, &total) ||
            dl_add_size(total, (size_t)s[i].n, &total))
            return DIFFLM_E_NOMEM;
    }
    *out = total;
    return 0;
}

static int check_values(uint32_t type, const void *vals, uint64_t n) {
    if (type != DL_GGUF_BOOL)
        return 0;
    const uint8_t *b = vals;
    for (uint64_t i = 0; i < n; i++)
        if (b[i] > 1)
            return DIFFLM_E_INVALID_ARG;
    return 0;
}

/* Writes n values little-endian at p (sized by values_size). */
static void encode_values(uint8_t *p, uint32_t type, const void *vals, uint64_t n) {
    int esize = dl_gguf_vtype_size(type);
    if (type == DL_GGUF_STRING) {
        const dl_str *s = vals;
        for (uint64_t i = 0; i < n; i++) {
            dl_st_u64(p, s[i].n);
            if (s[i].n)
                memcpy(p + 8, s[i].p, (size_t)s[i].n);
            p += 8 + s[i].n;
        }
        return;
    }
    const uint8_t *src = vals;
    for (uint64_t i = 0; i < n; i++, p += esize, src += esize) {
        switch (esize) {
        case 1: p[0] = src[0]; break;
        case 2: { uint16_t v; memcpy(&v, src, 2); dl_st_u16(p, v); break; }
        case 4: { uint32_t v; memcpy(&v, src, 4); dl_st_u32(p, v); break; }
        default: { uint64_t v; memcpy(&v, src, 8); dl_st_u64(p, v); break; }
        }
    }
}

static int check_new_key(const dl_gguf_writer *w, const char *key) {
    if (!w || !key || !key[0])
        return DIFFLM_E_INVALID_ARG;
    return find_kv(w, key) ? DIFFLM_E_INVALID_ARG : 0;
}

int dl_gguf_w_kv(dl_gguf_writer *w, const char *key, uint32_t vtype, const void *val) {
    if (w && key && strcmp(key, "general.alignment") == 0) {
        if (vtype != DL_GGUF_U32 || !val)
            return DIFFLM_E_INVALID_ARG;
        uint32_t a;
        memcpy(&a, val, 4);
        return dl_gguf_writer_set_alignment(w, a);
    }
    int rc = check_new_key(w, key);
    if (rc || !val || vtype == DL_GGUF_ARRAY)
        return rc ? rc : DIFFLM_E_INVALID_ARG;
    size_t n;
    if ((rc = values_size(vtype, val, 1, &n)) || (rc = check_values(vtype, val, 1)))
        return rc;
    if (dl_add_size(n, 4, &n))
        return DIFFLM_E_NOMEM;
    uint8_t *blob = dl_malloc(n);
    if (!blob)
        return DIFFLM_E_NOMEM;
    dl_st_u32(blob, vtype);
    encode_values(blob + 4, vtype, val, 1);
    return append_kv(w, key, blob, n);
}

int dl_gguf_w_arr(dl_gguf_writer *w, const char *key, uint32_t elem_type, const void *elems, uint64_t n) {
    int rc = check_new_key(w, key);
    if (rc || (!elems && n > 0) || elem_type == DL_GGUF_ARRAY)
        return rc ? rc : DIFFLM_E_INVALID_ARG;
    size_t size;
    if ((rc = values_size(elem_type, elems, n, &size)) || (rc = check_values(elem_type, elems, n)))
        return rc;
    if (dl_add_size(size, 16, &size))
        return DIFFLM_E_NOMEM;
    uint8_t *blob = dl_malloc(size);
    if (!blob)
        return DIFFLM_E_NOMEM;
    dl_st_u32(blob, DL_GGUF_ARRAY);
    dl_st_u32(blob + 4, elem_type);
    dl_st_u64(blob + 8, n);
    encode_values(blob + 16, elem_type, elems, n);
    return append_kv(w, key, blob, size);
}

int dl_gguf_w_copy_kv(dl_gguf_writer *w, const dl_gguf *g, size_t i) {
    if (!g || i >= g->n_kv)
        return DIFFLM_E_INVALID_ARG;
    const dl_gguf_kv *kv = &g->kv[i];
    if (kv->type == DL_GGUF_STRING) {
        dl_str s = { (const char *)kv->val, kv->n };
        return dl_gguf_w_kv(w, kv->key, DL_GGUF_STRING, &s);
    }
    /* the reader checked every value against the file, and the file is little-endian
     * like the values the writer takes, so numbers and bools copy as they lie */
    if (kv->type != DL_GGUF_ARRAY)
        return dl_gguf_w_kv(w, kv->key, kv->type, kv->val);
    if (kv->elem_type != DL_GGUF_STRING)
        return dl_gguf_w_arr(w, kv->key, kv->elem_type, kv->val, kv->n);
    if (kv->n > SIZE_MAX / sizeof(dl_str))
        return DIFFLM_E_NOMEM;
    dl_str *s = dl_malloc((size_t)(kv->n ? kv->n : 1) * sizeof *s);
    if (!s)
        return DIFFLM_E_NOMEM;
    for (uint64_t e = 0; e < kv->n; e++)
        if (dl_gguf_arr_str(g, kv->key, e, &s[e], NULL)) {
            dl_free(s);
            return DIFFLM_E_FORMAT;
        }
    int rc = dl_gguf_w_arr(w, kv->key, DL_GGUF_STRING, s, kv->n);
    dl_free(s);
    return rc;
}

int dl_gguf_w_u32(dl_gguf_writer *w, const char *key, uint32_t v) {
    return dl_gguf_w_kv(w, key, DL_GGUF_U32, &v);
}

int dl_gguf_w_i32(dl_gguf_writer *w, const char *key, int32_t v) {
    return dl_gguf_w_kv(w, key, DL_GGUF_I32, &v);
}

int dl_gguf_w_f32(dl_gguf_writer *w, const char *key, float v) {
    return dl_gguf_w_kv(w, key, DL_GGUF_F32, &v);
}

int dl_gguf_w_bool(dl_gguf_writer *w, const char *key, int v) {
    uint8_t b = v != 0;
    return dl_gguf_w_kv(w, key, DL_GGUF_BOOL, &b);
}

int dl_gguf_w_str(dl_gguf_writer *w, const char *key, const char *v) {
    if (!v)
        return DIFFLM_E_INVALID_ARG;
    dl_str s = {v, strlen(v)};
    return dl_gguf_w_kv(w, key, DL_GGUF_STRING, &s);
}

int dl_gguf_w_tensor_fill(dl_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                          const int64_t *ne, dl_gguf_fill_fn fill, void *ctx) {
    static const uint8_t dummy;
    int rc = dl_gguf_w_tensor(w, name, type, n_dims, ne, &dummy);
    if (rc == 0) {
        w->t[w->n_t - 1].fill = fill;
        w->t[w->n_t - 1].fill_ctx = ctx;
        w->t[w->n_t - 1].data = NULL;
    }
    return rc;
}

int dl_gguf_w_tensor(dl_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                     const int64_t *ne, const void *data) {
    if (!w || !name || !name[0] || strlen(name) >= GGUF_MAX_NAME || !ne)
        return DIFFLM_E_INVALID_ARG;
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return DIFFLM_E_INVALID_ARG;
    wtensor t = {0};
    t.type = type;
    t.n_dims = n_dims;
    if (dl_tensor_nbytes(&t.size, type, n_dims, ne) != DL_SHAPE_OK || (t.size > 0 && !data))
        return DIFFLM_E_INVALID_ARG;
    for (int d = 0; d < 4; d++)
        t.ne[d] = d < (int)n_dims ? ne[d] : 1;
    t.data = data;
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? 2 * w->cap_t : 16;
        wtensor *p = dl_realloc(w->t, cap * sizeof *p);
        if (!p)
            return DIFFLM_E_NOMEM;
        w->t = p;
        w->cap_t = cap;
    }
    if (!(t.name = dup_str(name)))
        return DIFFLM_E_NOMEM;
    w->t[w->n_t++] = t;
    return 0;
}

/* ---- emission: the same walk sizes the file, fills a buffer or streams to a FILE. */

typedef struct sink {
    uint8_t *buf;               /* buffer mode when non-NULL */
    FILE *f;                    /* file mode when non-NULL */
    uint64_t pos;               /* bytes emitted so far (counted in every mode) */
    int failed;
} sink;

static void put(sink *s, const void *p, size_t n) {
    if (n == 0 || s->failed)
        return;
    if (s->buf)
        memcpy(s->buf + s->pos, p, n);
    else if (s->f && fwrite(p, 1, n, s->f) != n)
        s->failed = 1;
    s->pos += n;
}

static void put_u32(sink *s, uint32_t v) {
    uint8_t b[4];
    dl_st_u32(b, v);
    put(s, b, 4);
}

static void put_u64(sink *s, uint64_t v) {
    uint8_t b[8];
    dl_st_u64(b, v);
    put(s, b, 8);
}

static void put_str(sink *s, const char *str) {
    size_t n = strlen(str);
    put_u64(s, n);
    put(s, str, n);
}

static void pad_to(sink *s, uint32_t alignment) {
    static const uint8_t zeros[256];
    uint64_t n = (alignment - s->pos % alignment) % alignment;
    while (n > 0) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        put(s, zeros, k);
        n -= k;
    }
}

static uint64_t align_up(uint64_t x, uint32_t a) {
    return (x + a - 1) / a * a;
}

/* Sizes, in measuring mode, cannot overflow uint64 for anything that fits in memory:
 * every piece is backed by an allocation or a caller buffer. */
static void emit(const dl_gguf_writer *w, sink *s) {
    put(s, "GGUF", 4);
    put_u32(s, w->version);
    put_u64(s, w->n_t);
    put_u64(s, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        put_str(s, w->kv[i].key);
        put(s, w->kv[i].blob, w->kv[i].blob_n);
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        put_str(s, t->name);
        put_u32(s, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            put_u64(s, (uint64_t)t->ne[d]);
        put_u32(s, t->type);
        put_u64(s, offset);
        offset = align_up(offset + t->size, w->alignment);
    }
    pad_to(s, w->alignment);
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        if (t->fill && !s->failed) {
            /* one tensor's bytes at a time: streaming keeps memory flat */
            uint8_t *tmp = s->buf ? s->buf + s->pos : (s->f ? dl_malloc(t->size ? (size_t)t->size : 1) : NULL);
            if (s->buf || s->f) {
                if (!tmp || t->fill(t->fill_ctx, i, tmp, (size_t)t->size) != 0)
                    s->failed = 1;
                if (s->f && !s->failed)
                    put(s, tmp, (size_t)t->size);
                else
                    s->pos += t->size;
                if (s->f)
                    dl_free(tmp);
            } else {
                s->pos += t->size;
            }
        } else {
            put(s, t->data, (size_t)t->size);
        }
        pad_to(s, w->alignment);
    }
}

static int check_writable(const dl_gguf_writer *w, dl_err *err) {
    if (!w)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "GGUF writer is NULL");
    if (w->version != 2 && w->version != 3)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "cannot write GGUF version %u (only 2 or 3)",
                       w->version);
    return 0;
}

int dl_gguf_writer_to_buffer(const dl_gguf_writer *w, void **buf, size_t *n, dl_err *err) {
    int rc = check_writable(w, err);
    if (rc)
        return rc;
    sink measure = {0};
    emit(w, &measure);
    if (measure.pos > SIZE_MAX)
        return dl_fail(err, DIFFLM_E_NOMEM, "GGUF of %llu bytes does not fit in memory",
                       (unsigned long long)measure.pos);
    uint8_t *p = dl_malloc((size_t)measure.pos);
    if (!p)
        return dl_fail(err, DIFFLM_E_NOMEM, "no memory for a %llu-byte GGUF buffer",
                       (unsigned long long)measure.pos);
    sink fill = {.buf = p};
    emit(w, &fill);
    if (fill.failed) {
        dl_free(p);
        return dl_fail(err, DIFFLM_E_IO, "a tensor's bytes could not be produced");
    }
    *buf = p;
    *n = (size_t)fill.pos;
    return 0;
}

/* Writes next to path and renames over it, so readers never see a half-written file. */
int dl_gguf_writer_write(const dl_gguf_writer *w, const char *path, dl_err *err) {
    int rc = check_writable(w, err);
    if (rc)
        return rc;
    if (!path)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "no output path given");
    size_t plen = strlen(path);
    char *tmp = dl_malloc(plen + sizeof ".tmp.XXXXXX");
    if (!tmp)
        return dl_fail(err, DIFFLM_E_NOMEM, "no memory for a temporary file name");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = dl_fail(err, DIFFLM_E_IO, "cannot create a temporary file next to '%s': %s", path,
                     strerror(errno));
        dl_free(tmp);
        return rc;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        rc = dl_fail(err, DIFFLM_E_IO, "cannot open '%s' for writing: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        dl_free(tmp);
        return rc;
    }
    (void)fchmod(fd, 0644);     /* mkstemp creates 0600; a model file is meant to be shared */
    sink s = {.f = f};
    emit(w, &s);
    int failed = s.failed || fflush(f) != 0 || fsync(fd) != 0;
    int e = errno;
    if (fclose(f) != 0 && !failed) {
        failed = 1;
        e = errno;
    }
    if (!failed && rename(tmp, path) != 0) {
        failed = 1;
        e = errno;
    }
    if (failed) {
        rc = dl_fail(err, DIFFLM_E_IO, "cannot write '%s': %s", path, strerror(e));
        unlink(tmp);
    }
    dl_free(tmp);
    return rc;
}

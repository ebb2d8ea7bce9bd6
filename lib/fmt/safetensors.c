/* safetensors.c - parses and validates safetensors headers over mapped files, and the
 * shard index of a model folder (safetensors.h).
 *
 * The JSON is parsed by Jansson with duplicate keys rejected; everything the header
 * claims (lengths, offsets, shapes) is checked against the mapped bytes before a record
 * is made, so no pointer into the data region is ever formed from unchecked numbers. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fmt/le.h"
#include "fmt/mapped_file.h"
#include "fmt/name_index.h"
#include "fmt/safetensors.h"

/* The reference implementation's bound on the header (safetensors' MAX_HEADER_SIZE). */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)
#define ST_MAX_FILES 4096

struct dl_st {
    dl_mapped_file *maps;       /* [n_files]; data NULL for open_mem */
    char **paths;               /* [n_files] owned */
    size_t n_files;
    dl_st_tensor *tensors;
    size_t n_tensors, cap_tensors;
    dl_name_index index;
};

/* dtype strings of the format; esize 0 marks the sub-byte ones. type: the ggml id of
 * those difflm computes with, UINT32_MAX for the rest. */
typedef struct st_dtype {
    const char *name;
    uint32_t esize;
    uint32_t type;
} st_dtype;
static const st_dtype k_dtypes[] = {
    { "F32", 4, DL_TYPE_F32 }, { "F16", 2, DL_TYPE_F16 }, { "BF16", 2, DL_TYPE_BF16 },
    { "F64", 8, UINT32_MAX }, { "I64", 8, UINT32_MAX }, { "U64", 8, UINT32_MAX },
    { "I32", 4, UINT32_MAX }, { "U32", 4, UINT32_MAX }, { "I16", 2, UINT32_MAX },
    { "U16", 2, UINT32_MAX }, { "I8", 1, UINT32_MAX }, { "U8", 1, UINT32_MAX },
    { "BOOL", 1, UINT32_MAX }, { "F8_E4M3", 1, UINT32_MAX }, { "F8_E5M2", 1, UINT32_MAX },
    { "F8_E8M0", 1, UINT32_MAX }, { "E8M0", 1, UINT32_MAX },
    { "F4", 0, UINT32_MAX }, { "F6_E2M3", 0, UINT32_MAX }, { "F6_E3M2", 0, UINT32_MAX },
};

static const st_dtype *find_dtype(const char *s) {
    for (size_t i = 0; i < sizeof k_dtypes / sizeof k_dtypes[0]; i++)
        if (strcmp(k_dtypes[i].name, s) == 0)
            return &k_dtypes[i];
    return NULL;
}

/* --- building the set */

static dl_st *st_new(void) {
    return dl_calloc(1, sizeof(dl_st));
}

void dl_st_close(dl_st *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->n_tensors; i++)
        dl_free((void *)s->tensors[i].t.name);
    dl_free(s->tensors);
    for (size_t i = 0; i < s->n_files; i++) {
        if (s->maps)
            dl_unmap_file(&s->maps[i]);
        if (s->paths)
            dl_free(s->paths[i]);
    }
    dl_free(s->maps);
    dl_free(s->paths);
    dl_name_index_free(&s->index);
    dl_free(s);
}

/* Room for n files. */
static int st_files(dl_st *s, size_t n, dl_err *err) {
    s->maps = dl_calloc(n, sizeof *s->maps);
    s->paths = dl_calloc(n, sizeof *s->paths);
    if (!s->maps || !s->paths)
        return dl_fail(err, DIFFLM_E_NOMEM, "%zu safetensors files", n);
    return 0;
}

static dl_st_tensor *st_push(dl_st *s) {
    if (s->n_tensors == s->cap_tensors) {
        size_t cap = s->cap_tensors ? 2 * s->cap_tensors : 64;
        dl_st_tensor *nt = dl_realloc(s->tensors, cap * sizeof *nt);
        if (!nt)
            return NULL;
        s->tensors = nt;
        s->cap_tensors = cap;
    }
    dl_st_tensor *t = &s->tensors[s->n_tensors++];
    memset(t, 0, sizeof *t);
    return t;
}

/* A header integer: a JSON integer in [0, INT64_MAX]. */
static int get_u64(json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

typedef struct span {
    uint64_t begin, end;
    size_t tensor;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : x->end < y->end ? -1 : x->end > y->end;
}

/* One tensor entry of file `label`: checks it and appends its record. */
static int parse_entry(dl_st *s, uint32_t file, const char *label, const char *name, json_t *v,
                       const uint8_t *region, uint64_t region_size, dl_err *err) {
    if (!json_is_object(v))
        return dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': tensor '%s': the entry is not "
                       "a JSON object", label, name);
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
           *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd))
        return dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': tensor '%s': field 'dtype' is "
                       "%s", label, name, jd ? "not a string" : "missing");
    const st_dtype *dt = find_dtype(json_string_value(jd));
    if (!dt)
        return dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': tensor '%s': field 'dtype' is "
                       "'%.32s', not a safetensors dtype", label, name, json_string_value(jd));
    if (!json_is_array(js))
        return dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': tensor '%s': field 'shape' is "
                       "%s", label, name, js ? "not an array" : "missing");
    size_t rank = json_array_size(js);
    if (!json_is_array(jo) || json_array_size(jo) != 2)
        return dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': tensor '%s': field "
                       "'data_offsets' is %s", label, name,
                       jo ? "not an array of two integers" : "missing");
    uint64_t begin, end;
    if (get_u64(json_array_get(jo, 0), &begin) || get_u64(json_array_get(jo, 1), &end))
        return dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': tensor '%s': field "
                       "'data_offsets' holds something other than two non-negative integers",
                       label, name);
    if (begin > end || end > region_size)
        return dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': tensor '%s': field "
                       "'data_offsets' [%llu, %llu] is not a range inside the %llu-byte data "
                       "region", label, name, (unsigned long long)begin,
                       (unsigned long long)end, (unsigned long long)region_size);
    /* the byte size the shape and dtype claim, overflow-checked */
    uint64_t nelem = 1;
    int64_t shape[4] = { 1, 1, 1, 1 };
    for (size_t d = 0; d < rank; d++) {
        uint64_t n;
        if (get_u64(json_array_get(js, d), &n))
            return dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': tensor '%s': field 'shape' "
                           "entry %zu is not a non-negative integer", label, name, d);
        if (__builtin_mul_overflow(nelem, n, &nelem) || nelem > (uint64_t)INT64_MAX)
            return dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': tensor '%s': field 'shape' "
                           "has an element count beyond 2^63", label, name);
        if (d < 4)
            shape[d] = (int64_t)n;
    }
    uint64_t bytes;
    if (dt->esize == 0) {
        /* sub-byte dtypes: only the range is checked; difflm never reads them */
        bytes = end - begin;
    } else if (__builtin_mul_overflow(nelem, (uint64_t)dt->esize, &bytes)) {
        return dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': tensor '%s': field 'shape' "
                       "has a byte size beyond 2^64", label, name);
    }
    if (bytes != end - begin)
        return dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': tensor '%s': field "
                       "'data_offsets' spans %llu bytes but the shape and dtype %s need %llu",
                       label, name, (unsigned long long)(end - begin), dt->name,
                       (unsigned long long)bytes);
    dl_st_tensor *t = st_push(s);
    char *nm = dl_strdup(name);
    if (!t || !nm) {
        dl_free(nm);
        if (t)
            s->n_tensors--;
        return dl_fail(err, DIFFLM_E_NOMEM, "tensor record '%s'", name);
    }
    t->t.name = nm;
    t->dtype = dt->name;
    t->file = file;
    t->rank = (uint32_t)rank;
    t->usable = dt->type != UINT32_MAX && rank <= 4;
    t->t.type = dt->type == UINT32_MAX ? 0 : dt->type;
    t->t.n_dims = rank == 0 ? 1 : (uint32_t)(rank > 4 ? 4 : rank);
    for (int d = 0; d < 4; d++)
        t->t.ne[d] = 1;
    for (size_t d = 0; d < rank && d < 4; d++)
        t->shape[d] = shape[d];
    if (rank <= 4)   /* a higher rank is listed but unusable: no GGUF-order shape */
        for (size_t d = 0; d < rank; d++)
            t->t.ne[rank - 1 - d] = shape[d];   /* fastest first */
    t->t.offset = begin;
    t->t.size = bytes;
    t->t.data = region + begin;
    return 0;
}

/* The header of one file held in [data, data + size); appends its tensors. */
static int parse_file(dl_st *s, uint32_t file, const char *label, const uint8_t *data,
                      size_t size, dl_err *err) {
    if (size < 8)
        return dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': %zu bytes, too short for the "
                       "8-byte header length", label, size);
    uint64_t hlen = dl_ld_u64(data);
    if (hlen > ST_MAX_HEADER || hlen > size - 8)
        return dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': header length %llu exceeds %s "
                       "(%llu bytes)", label, (unsigned long long)hlen,
                       hlen > ST_MAX_HEADER ? "the 100 MB limit" : "the file",
                       (unsigned long long)(hlen > ST_MAX_HEADER ? ST_MAX_HEADER : size - 8));
    if (hlen < 2)
        return dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': header length %llu is too "
                       "short for a JSON object", label, (unsigned long long)hlen);
    json_error_t je;
    json_t *root = json_loadb((const char *)data + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': header JSON, line %d column "
                       "%d: %s", label, je.line, je.column, je.text);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': the header is not a JSON object",
                     label);
        goto done;
    }
    const uint8_t *region = data + 8 + hlen;
    uint64_t region_size = size - 8 - hlen;
    size_t first = s->n_tensors;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(v)) {
                rc = dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': field '__metadata__' is "
                             "not an object", label);
                goto done;
            }
            continue;
        }
        if ((rc = parse_entry(s, file, label, key, v, region, region_size, err)))
            goto done;
    }
    /* no two tensors share a byte: sorted by begin, each starts at or after the last end */
    size_t n = s->n_tensors - first;
    if (n > 1) {
        span *sp = dl_malloc(n * sizeof *sp);
        if (!sp) {
            rc = dl_fail(err, DIFFLM_E_NOMEM, "offset table of '%s'", label);
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            sp[i] = (span){ s->tensors[first + i].t.offset,
                            s->tensors[first + i].t.offset + s->tensors[first + i].t.size,
                            first + i };
        qsort(sp, n, sizeof *sp, span_cmp);
        for (size_t i = 1; i < n && !rc; i++)
            if (sp[i].begin < sp[i - 1].end)
                rc = dl_fail(err, DIFFLM_E_FORMAT, "safetensors '%s': tensor '%s': field "
                             "'data_offsets' [%llu, %llu] overlaps tensor '%s' [%llu, %llu]",
                             label, s->tensors[sp[i].tensor].t.name,
                             (unsigned long long)sp[i].begin, (unsigned long long)sp[i].end,
                             s->tensors[sp[i - 1].tensor].t.name,
                             (unsigned long long)sp[i - 1].begin, (unsigned long long)sp[i - 1].end);
        /* records in offset order: the order the file was written in */
        if (!rc) {
            dl_st_tensor *tmp = dl_malloc(n * sizeof *tmp);
            if (!tmp) {
                rc = dl_fail(err, DIFFLM_E_NOMEM, "tensor records of '%s'", label);
            } else {
                for (size_t i = 0; i < n; i++)
                    tmp[i] = s->tensors[sp[i].tensor];
                memcpy(s->tensors + first, tmp, n * sizeof *tmp);
                dl_free(tmp);
            }
        }
        dl_free(sp);
    }
done:
    json_decref(root);
    return rc;
}

/* Name index over every record; a name in two files is an error. */
static int st_index(dl_st *s, dl_err *err) {
    if (dl_name_index_init(&s->index, s->n_tensors ? s->n_tensors : 1))
        return dl_fail(err, DIFFLM_E_NOMEM, "tensor name index");
    for (size_t i = 0; i < s->n_tensors; i++) {
        size_t prev;
        if (dl_name_index_add(&s->index, s->tensors[i].t.name, i, &prev))
            return dl_fail(err, DIFFLM_E_FORMAT, "safetensors: tensor '%s' is in both '%s' and "
                           "'%s'", s->tensors[i].t.name, s->paths[s->tensors[prev].file],
                           s->paths[s->tensors[i].file]);
    }
    return 0;
}

/* Maps path as file `file` of s and parses it. */
static int add_file(dl_st *s, uint32_t file, const char *path, dl_err *err) {
    s->paths[file] = dl_strdup(path);
    if (!s->paths[file])
        return dl_fail(err, DIFFLM_E_NOMEM, "path");
    s->n_files = file + 1;
    int rc = dl_map_file(&s->maps[file], path, err);
    if (rc)
        return rc;
    return parse_file(s, file, path, s->maps[file].data, s->maps[file].size, err);
}

int dl_st_open_file(dl_st **out, const char *path, dl_err *err) {
    *out = NULL;
    dl_st *s = st_new();
    if (!s)
        return dl_fail(err, DIFFLM_E_NOMEM, "safetensors set");
    int rc = st_files(s, 1, err);
    if (!rc)
        rc = add_file(s, 0, path, err);
    if (!rc)
        rc = st_index(s, err);
    if (rc) {
        dl_st_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int dl_st_open_mem(dl_st **out, const void *data, size_t size, const char *label, dl_err *err) {
    *out = NULL;
    dl_st *s = st_new();
    if (!s)
        return dl_fail(err, DIFFLM_E_NOMEM, "safetensors set");
    int rc = st_files(s, 1, err);
    if (!rc) {
        s->paths[0] = dl_strdup(label ? label : "(memory)");
        s->n_files = 1;
        rc = s->paths[0] ? 0 : dl_fail(err, DIFFLM_E_NOMEM, "label");
    }
    if (!rc)
        rc = parse_file(s, 0, s->paths[0], data, size, err);
    if (!rc)
        rc = st_index(s, err);
    if (rc) {
        dl_st_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = dl_malloc(a + b + 2);
    if (p) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}

/* A shard name from the index: a plain file name inside the folder. */
static int shard_name_ok(const char *f) {
    return f[0] && !strchr(f, '/') && strcmp(f, ".") && strcmp(f, "..");
}

static int open_index(dl_st *s, const char *dir, const char *ipath, dl_err *err) {
    json_error_t je;
    json_t *root = json_load_file(ipath, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return dl_fail(err, DIFFLM_E_FORMAT, "'%s', line %d column %d: %s", ipath, je.line,
                       je.column, je.text);
    int rc = 0;
    const char **files = NULL;
    size_t n_files = 0;
    json_t *wm = json_is_object(root) ? json_object_get(root, "weight_map") : NULL;
    if (!json_is_object(wm)) {
        rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s': field 'weight_map' is %s", ipath,
                     !json_is_object(root) ? "absent (the file is not a JSON object)"
                     : wm ? "not an object" : "missing");
        goto done;
    }
    /* the distinct shard names, in first-seen order */
    files = dl_calloc(json_object_size(wm) + 1, sizeof *files);
    if (!files) {
        rc = dl_fail(err, DIFFLM_E_NOMEM, "shard list");
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(wm, key, v) {
        if (!json_is_string(v) || !shard_name_ok(json_string_value(v))) {
            rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s': weight_map entry '%s' is not a file name "
                         "in the folder", ipath, key);
            goto done;
        }
        const char *f = json_string_value(v);
        size_t i = 0;
        while (i < n_files && strcmp(files[i], f))
            i++;
        if (i == n_files) {
            if (n_files == ST_MAX_FILES) {
                rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s' lists more than %d shards", ipath,
                             ST_MAX_FILES);
                goto done;
            }
            files[n_files++] = f;
        }
    }
    if (n_files == 0) {
        rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s': weight_map is empty", ipath);
        goto done;
    }
    if ((rc = st_files(s, n_files, err)))
        goto done;
    for (size_t i = 0; i < n_files && !rc; i++) {
        char *p = join(dir, files[i]);
        if (!p) {
            rc = dl_fail(err, DIFFLM_E_NOMEM, "path");
            break;
        }
        rc = add_file(s, (uint32_t)i, p, err);
        dl_free(p);
    }
    if (!rc)
        rc = st_index(s, err);
    /* every tensor the index lists is in the shard it names */
    json_object_foreach(wm, key, v) {
        if (rc)
            break;
        const dl_st_tensor *t = dl_st_find(s, key);
        if (!t)
            rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s' puts tensor '%s' in '%s', which does not "
                         "hold it", ipath, key, json_string_value(v));
        else if (strcmp(strrchr(s->paths[t->file], '/') + 1, json_string_value(v)))
            rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s' puts tensor '%s' in '%s', but it is in "
                         "'%s'", ipath, key, json_string_value(v), s->paths[t->file]);
    }
done:
    dl_free(files);
    json_decref(root);
    return rc;
}

int dl_st_open_dir(dl_st **out, const char *dir, dl_err *err) {
    *out = NULL;
    dl_st *s = st_new();
    if (!s)
        return dl_fail(err, DIFFLM_E_NOMEM, "safetensors set");
    char *ipath = join(dir, "model.safetensors.index.json");
    char *single = join(dir, "model.safetensors");
    int rc = 0;
    struct stat st;
    if (!ipath || !single)
        rc = dl_fail(err, DIFFLM_E_NOMEM, "path");
    else if (stat(ipath, &st) == 0)
        rc = open_index(s, dir, ipath, err);
    else if (stat(single, &st) == 0) {
        rc = st_files(s, 1, err);
        if (!rc)
            rc = add_file(s, 0, single, err);
        if (!rc)
            rc = st_index(s, err);
    } else
        rc = dl_fail(err, DIFFLM_E_IO, "'%s' has neither model.safetensors.index.json nor "
                     "model.safetensors", dir);
    dl_free(ipath);
    dl_free(single);
    if (rc) {
        dl_st_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

size_t dl_st_n_tensors(const dl_st *s) {
    return s->n_tensors;
}

const dl_st_tensor *dl_st_tensor_at(const dl_st *s, size_t i) {
    return i < s->n_tensors ? &s->tensors[i] : NULL;
}

const dl_st_tensor *dl_st_find(const dl_st *s, const char *name) {
    int64_t i = dl_name_index_find(&s->index, name);
    return i < 0 ? NULL : &s->tensors[i];
}

const char *dl_st_file_path(const dl_st *s, uint32_t file) {
    return file < s->n_files ? s->paths[file] : "";
}

size_t dl_st_n_files(const dl_st *s) {
    return s->n_files;
}

int dl_st_get(const dl_st *s, const char *name, const dl_gguf_tensor **t, dl_err *err) {
    const dl_st_tensor *r = dl_st_find(s, name);
    *t = NULL;
    if (!r)
        return 0;
    if (!r->usable && r->rank > 4)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "safetensors '%s': tensor '%s' has rank %u; "
                       "difflm reads tensors of rank 1 to 4", dl_st_file_path(s, r->file), name,
                       r->rank);
    if (!r->usable)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "safetensors '%s': tensor '%s' has dtype %s; "
                       "difflm reads F32, F16 and BF16 tensors", dl_st_file_path(s, r->file),
                       name, r->dtype);
    *t = &r->t;
    return 0;
}

/* gguf_get.c - typed metadata getters over a parsed GGUF (values were bounds-checked at
 * open time, so these only check types, ranges and indices). */

#include "fmt/gguf_internal.h"
#include "fmt/le.h"

static const dl_gguf_kv *find(const dl_gguf *g, const char *key) {
    int64_t i = dl_name_index_find(&g->kv_index, key);
    return i < 0 ? NULL : &g->kv[i];
}

static int missing(dl_err *err, const char *key) {
    return dl_fail(err, DIFFLM_E_FORMAT, "required key '%s' is missing", key ? key : "(null)");
}

static int wrong_type(dl_err *err, const dl_gguf_kv *kv, const char *expected) {
    if (kv->type == DL_GGUF_ARRAY)
        return dl_fail(err, DIFFLM_E_FORMAT, "key '%s' is an array of %s, expected %s", kv->key,
                       dl_gguf_vtype_name(kv->elem_type), expected);
    return dl_fail(err, DIFFLM_E_FORMAT, "key '%s' has type %s, expected %s", kv->key,
                   dl_gguf_vtype_name(kv->type), expected);
}

/* An integer value of any width: *is_u says whether *u (unsigned types) or *s holds it.
 * Returns -1 for a non-integer type. */
static int load_int(uint32_t type, const uint8_t *p, int64_t *s, uint64_t *u, int *is_u) {
    *is_u = 0;
    switch (type) {
    case DL_GGUF_U8: *u = p[0]; *is_u = 1; return 0;
    case DL_GGUF_I8: *s = (int8_t)p[0]; return 0;
    case DL_GGUF_U16: *u = dl_ld_u16(p); *is_u = 1; return 0;
    case DL_GGUF_I16: *s = (int16_t)dl_ld_u16(p); return 0;
    case DL_GGUF_U32: *u = dl_ld_u32(p); *is_u = 1; return 0;
    case DL_GGUF_I32: *s = (int32_t)dl_ld_u32(p); return 0;
    case DL_GGUF_U64: *u = dl_ld_u64(p); *is_u = 1; return 0;
    case DL_GGUF_I64: *s = (int64_t)dl_ld_u64(p); return 0;
    default: return -1;
    }
}

static int load_float(uint32_t type, const uint8_t *p, double *d) {
    if (type == DL_GGUF_F32)
        *d = dl_ld_f32(p);
    else if (type == DL_GGUF_F64)
        *d = dl_ld_f64(p);
    else
        return -1;
    return 0;
}

int dl_gguf_get_u32(const dl_gguf *g, const char *key, uint32_t *out, dl_err *err) {
    const dl_gguf_kv *kv = find(g, key);
    if (!kv)
        return missing(err, key);
    int64_t s = 0;
    uint64_t u = 0;
    int is_u;
    if (kv->type == DL_GGUF_ARRAY || load_int(kv->type, kv->val, &s, &u, &is_u))
        return wrong_type(err, kv, "an integer");
    if (is_u ? u > UINT32_MAX : (s < 0 || s > (int64_t)UINT32_MAX))
        return dl_fail(err, DIFFLM_E_FORMAT, "key '%s' = %s%llu does not fit in u32", key,
                       !is_u && s < 0 ? "-" : "",
                       is_u ? (unsigned long long)u
                            : (unsigned long long)(s < 0 ? -(uint64_t)s : (uint64_t)s));
    *out = (uint32_t)(is_u ? u : (uint64_t)s);
    return 0;
}

int dl_gguf_get_u32_opt(const dl_gguf *g, const char *key, uint32_t def, uint32_t *out, dl_err *err) {
    if (!find(g, key)) {
        *out = def;
        return 0;
    }
    return dl_gguf_get_u32(g, key, out, err);
}

int dl_gguf_get_i64_opt(const dl_gguf *g, const char *key, int64_t def, int64_t *out, dl_err *err) {
    const dl_gguf_kv *kv = find(g, key);
    if (!kv) {
        *out = def;
        return 0;
    }
    int64_t s = 0;
    uint64_t u = 0;
    int is_u;
    if (kv->type == DL_GGUF_ARRAY || load_int(kv->type, kv->val, &s, &u, &is_u))
        return wrong_type(err, kv, "an integer");
    if (is_u && u > (uint64_t)INT64_MAX)
        return dl_fail(err, DIFFLM_E_FORMAT, "key '%s' = %llu does not fit in i64", key,
                       (unsigned long long)u);
    *out = is_u ? (int64_t)u : s;
    return 0;
}

int dl_gguf_get_f32(const dl_gguf *g, const char *key, float *out, dl_err *err) {
    const dl_gguf_kv *kv = find(g, key);
    if (!kv)
        return missing(err, key);
    double d;
    if (kv->type == DL_GGUF_ARRAY || load_float(kv->type, kv->val, &d))
        return wrong_type(err, kv, "f32 or f64");
    *out = (float)d;
    return 0;
}

int dl_gguf_get_f32_opt(const dl_gguf *g, const char *key, float def, float *out, dl_err *err) {
    if (!find(g, key)) {
        *out = def;
        return 0;
    }
    return dl_gguf_get_f32(g, key, out, err);
}

int dl_gguf_get_bool_opt(const dl_gguf *g, const char *key, int def, int *out, dl_err *err) {
    const dl_gguf_kv *kv = find(g, key);
    if (!kv) {
        *out = def;
        return 0;
    }
    if (kv->type == DL_GGUF_BOOL) {
        *out = kv->val[0] != 0;     /* open() checked it is 0 or 1 */
        return 0;
    }
    /* Some writers store flags as integers; 0 and 1 mean what they say. */
    int64_t s = 0;
    uint64_t u = 0;
    int is_u;
    if (kv->type == DL_GGUF_ARRAY || load_int(kv->type, kv->val, &s, &u, &is_u))
        return wrong_type(err, kv, "bool");
    if (is_u ? u > 1 : (s < 0 || s > 1))
        return dl_fail(err, DIFFLM_E_FORMAT, "key '%s' is an integer other than 0 or 1, expected bool",
                       key);
    *out = (int)(is_u ? u : (uint64_t)s);
    return 0;
}

int dl_gguf_get_str(const dl_gguf *g, const char *key, dl_str *out, dl_err *err) {
    const dl_gguf_kv *kv = find(g, key);
    if (!kv)
        return missing(err, key);
    if (kv->type != DL_GGUF_STRING)
        return wrong_type(err, kv, "string");
    out->p = (const char *)kv->val;
    out->n = kv->n;
    return 0;
}

int dl_gguf_get_str_opt(const dl_gguf *g, const char *key, dl_str *out, dl_err *err) {
    if (!find(g, key)) {
        out->p = NULL;
        out->n = 0;
        return 0;
    }
    return dl_gguf_get_str(g, key, out, err);
}

int dl_gguf_get_arr(const dl_gguf *g, const char *key, uint32_t *elem_type, uint64_t *n, dl_err *err) {
    const dl_gguf_kv *kv = find(g, key);
    if (!kv)
        return missing(err, key);
    if (kv->type != DL_GGUF_ARRAY)
        return wrong_type(err, kv, "an array");
    *elem_type = kv->elem_type;
    *n = kv->n;
    return 0;
}

/* The array kv for key with element i present, or a failure status. */
static int array_elem(const dl_gguf *g, const char *key, uint64_t i, const dl_gguf_kv **out,
                      dl_err *err) {
    const dl_gguf_kv *kv = find(g, key);
    if (!kv)
        return missing(err, key);
    if (kv->type != DL_GGUF_ARRAY)
        return wrong_type(err, kv, "an array");
    if (i >= kv->n)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "index %llu out of range for array key '%s' of %llu",
                       (unsigned long long)i, key, (unsigned long long)kv->n);
    *out = kv;
    return 0;
}

int dl_gguf_arr_str(const dl_gguf *g, const char *key, uint64_t i, dl_str *out, dl_err *err) {
    const dl_gguf_kv *kv = NULL;
    int rc = array_elem(g, key, i, &kv, err);
    if (rc)
        return rc;
    if (kv->elem_type != DL_GGUF_STRING)
        return wrong_type(err, kv, "an array of strings");
    const uint8_t *p = kv->val + kv->str_off[i];
    out->n = dl_ld_u64(p);
    out->p = (const char *)p + 8;
    return 0;
}

int dl_gguf_arr_i64(const dl_gguf *g, const char *key, uint64_t i, int64_t *out, dl_err *err) {
    const dl_gguf_kv *kv = NULL;
    int rc = array_elem(g, key, i, &kv, err);
    if (rc)
        return rc;
    int64_t s = 0;
    uint64_t u = 0;
    int is_u;
    int esize = dl_gguf_vtype_size(kv->elem_type);
    if (kv->elem_type == DL_GGUF_BOOL) {
        *out = kv->val[i];
        return 0;
    }
    if (load_int(kv->elem_type, kv->val + i * (uint64_t)esize, &s, &u, &is_u))
        return wrong_type(err, kv, "an array of integers");
    if (is_u && u > (uint64_t)INT64_MAX)
        return dl_fail(err, DIFFLM_E_FORMAT, "key '%s' element %llu = %llu does not fit in i64", key,
                       (unsigned long long)i, (unsigned long long)u);
    *out = is_u ? (int64_t)u : s;
    return 0;
}

int dl_gguf_arr_f64(const dl_gguf *g, const char *key, uint64_t i, double *out, dl_err *err) {
    const dl_gguf_kv *kv = NULL;
    int rc = array_elem(g, key, i, &kv, err);
    if (rc)
        return rc;
    int esize = dl_gguf_vtype_size(kv->elem_type);
    if (kv->elem_type == DL_GGUF_STRING || kv->elem_type == DL_GGUF_BOOL)
        return wrong_type(err, kv, "an array of numbers");
    const uint8_t *p = kv->val + i * (uint64_t)esize;
    if (load_float(kv->elem_type, p, out) == 0)
        return 0;
    int64_t s = 0;
    uint64_t u = 0;
    int is_u;
    load_int(kv->elem_type, p, &s, &u, &is_u);
    *out = is_u ? (double)u : (double)s;
    return 0;
}

/* jinja_eval.c - renders a compiled template: values, scopes, statements, expressions
 * and the builtins, with Jinja's semantics (Python's, for the operators) as Hugging Face
 * runs them: Undefined (not StrictUndefined) for missing names and keys, a fresh scope
 * per loop iteration, HF's tojson (json.dumps, ensure_ascii=False).
 *
 * Values are refcounted; eval returns an owned value (the caller releases it). Every
 * allocation counts against DL_JINJA_MAX_ALLOC, every node evaluation against
 * DL_JINJA_MAX_STEPS, every loop iteration against DL_JINJA_MAX_ITERS. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tok/jinja_internal.h"

enum jf { JF_TRIM, JF_LENGTH, JF_COUNT, JF_TOJSON, JF_UPPER, JF_LOWER, JF_DEFAULT, JF_D, JF_STRING };
enum jt { JTS_DEFINED, JTS_UNDEFINED, JTS_NONE, JTS_STRING, JTS_NUMBER, JTS_INTEGER, JTS_MAPPING,
          JTS_SEQUENCE, JTS_ITERABLE, JTS_BOOLEAN };
enum jm { JM_STRIP, JM_LSTRIP, JM_RSTRIP, JM_STARTSWITH, JM_ENDSWITH, JM_SPLIT, JM_UPPER, JM_LOWER, JM_GET };
enum jfn { JFN_RAISE, JFN_NAMESPACE, JFN_RANGE };

typedef struct jvar {
    const char *name;
    size_t n;
    jval v;
} jvar;

typedef struct jframe {
    jvar *v;
    size_t n, cap;
} jframe;

typedef struct jctx {
    dl_err *err;
    char *out;
    size_t cap, n;
    uint64_t steps, iters;
    uint64_t work;   /* bytes read by string operations (DL_JINJA_MAX_WORK) */
    size_t alloc;
    jframe frames[DL_JINJA_MAX_DEPTH + 2];
    int n_frames;
    int ctl;   /* 1 break, 2 continue */
    int line;
} jctx;

#define UNDEF ((jval){.t = JV_UNDEF})
#define NONE ((jval){.t = JV_NONE})
#define BOOLV(b) ((jval){.t = JV_BOOL, .u.i = (b) ? 1 : 0})
#define INTV(x) ((jval){.t = JV_INT, .u.i = (x)})

static int fail(jctx *x, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(jctx *x, int status, const char *fmt, ...) {
    char buf[DL_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return dl_fail(x->err, status, "chat template line %d: %s", x->line, buf);
}

#define SHOWN(p, n) (int)((n) > 64 ? 64 : (n)), (p)

static void *xalloc(jctx *x, size_t n) {
    if (n > DL_JINJA_MAX_ALLOC - x->alloc) return NULL;
    x->alloc += n;
    return dl_malloc(n);
}

/* Counts n bytes read by a string operation. The bound is checked here for the operations
 * that can fail and at every evaluation step for those that cannot (comparisons): one
 * operation overshoots by at most its own operands, which the allocation bound limits. */
static void walked(jctx *x, uint64_t n) {
    x->work = n > UINT64_MAX - x->work ? UINT64_MAX : x->work + n;
}

static int overworked(jctx *x) {
    return fail(x, DIFFLM_E_NOMEM, "more than %llu bytes of strings processed while rendering",
                (unsigned long long)DL_JINJA_MAX_WORK);
}

static int charge(jctx *x, uint64_t n) {
    walked(x, n);
    return x->work > DL_JINJA_MAX_WORK ? overworked(x) : 0;
}

/* charge() from a function returning a status */
#define CHARGE(x, n)                      \
    do {                                  \
        int rc_ = charge((x), (n));       \
        if (rc_) return rc_;              \
    } while (0)

static int too_long(jctx *x) {
    return fail(x, DIFFLM_E_NOMEM, "a string of more than %zu bytes", DL_JINJA_MAX_STRING);
}

static int nomem(jctx *x) {
    if (x->alloc >= DL_JINJA_MAX_ALLOC / 2)
        return fail(x, DIFFLM_E_NOMEM, "more than %zu bytes allocated while rendering", (size_t)DL_JINJA_MAX_ALLOC);
    return fail(x, DIFFLM_E_NOMEM, "out of memory");
}

/* ---- values */

static void retain(jval v) {
    int32_t *rc = NULL;
    if (v.t == JV_STR) rc = &v.u.s->rc;
    else if (v.t == JV_LIST) rc = &v.u.l->rc;
    else if (v.t == JV_DICT) rc = &v.u.d->rc;
    else if (v.t == JV_LOOP) rc = &v.u.loop->rc;
    if (rc && *rc >= 0) (*rc)++;
}

static void release(jval v) {
    switch (v.t) {
    case JV_STR:
        if (v.u.s->rc >= 0 && --v.u.s->rc == 0) dl_free(v.u.s);
        break;
    case JV_LIST:
        if (--v.u.l->rc == 0) {
            for (uint32_t k = 0; k < v.u.l->n; k++) release(v.u.l->v[k]);
            dl_free(v.u.l->v);
            dl_free(v.u.l);
        }
        break;
    case JV_DICT:
        if (--v.u.d->rc == 0) {
            for (uint32_t k = 0; k < v.u.d->n; k++) {
                release((jval){.t = JV_STR, .u.s = v.u.d->k[k]});
                release(v.u.d->v[k]);
            }
            dl_free(v.u.d->k);
            dl_free(v.u.d->v);
            dl_free(v.u.d);
        }
        break;
    case JV_LOOP:
        if (--v.u.loop->rc == 0) dl_free(v.u.loop);
        break;
    default: break;
    }
}

/* Releases a result that failed half-built and leaves UNDEF in its place: the callers
 * release their operands on every path, so a failed eval must not leave a freed value
 * behind (a list that failed on its second element was freed twice). */
static void discard(jval *out) {
    release(*out);
    *out = UNDEF;
}

static jstr *new_str(jctx *x, const char *p, size_t n) {
    if (n > DL_JINJA_MAX_STRING) return NULL;
    jstr *s = xalloc(x, sizeof *s + n + 1);
    if (!s) return NULL;
    s->rc = 1;
    s->n = (uint32_t)n;
    if (n) memcpy(s->p, p, n);
    s->p[n] = '\0';
    return s;
}

static int str_val(jctx *x, const char *p, size_t n, jval *out) {
    if (n > DL_JINJA_MAX_STRING) return too_long(x);
    jstr *s = new_str(x, p, n);
    if (!s) return nomem(x);
    *out = (jval){.t = JV_STR, .u.s = s};
    return 0;
}

static int cat_val(jctx *x, const jstr *a, const jstr *b, jval *out) {
    jstr *s = new_str(x, NULL, 0);
    if (!s) return nomem(x);
    if ((size_t)a->n + b->n > DL_JINJA_MAX_STRING) {
        dl_free(s);
        return too_long(x);
    }
    jstr *t = xalloc(x, sizeof *t + a->n + b->n + 1);
    dl_free(s);
    if (!t) return nomem(x);
    t->rc = 1;
    t->n = a->n + b->n;
    memcpy(t->p, a->p, a->n);
    memcpy(t->p + a->n, b->p, b->n);
    t->p[t->n] = '\0';
    *out = (jval){.t = JV_STR, .u.s = t};
    return 0;
}

static jlist *new_list(jctx *x) {
    jlist *l = xalloc(x, sizeof *l);
    if (l) *l = (jlist){.rc = 1};
    return l;
}

static int list_push(jctx *x, jlist *l, jval v) {   /* takes v */
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? 2 * l->cap : 4;
        jval *p = (size_t)cap * sizeof *p <= DL_JINJA_MAX_ALLOC - x->alloc ? dl_realloc(l->v, (size_t)cap * sizeof *p) : NULL;
        if (!p) {
            release(v);
            return nomem(x);
        }
        x->alloc += (size_t)(cap - l->cap) * sizeof *p;
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = v;
    return 0;
}

static jdict *new_dict(jctx *x, int is_ns) {
    jdict *d = xalloc(x, sizeof *d);
    if (d) *d = (jdict){.rc = 1, .is_ns = (uint8_t)is_ns};
    return d;
}

static jval *dict_find(const jdict *d, const char *k, size_t n) {
    for (uint32_t i = 0; i < d->n; i++)
        if (d->k[i]->n == n && memcmp(d->k[i]->p, k, n) == 0) return &d->v[i];
    return NULL;
}

static int dict_set(jctx *x, jdict *d, const char *k, size_t n, jval v) {   /* takes v */
    jval *slot = dict_find(d, k, n);
    if (slot) {
        release(*slot);
        *slot = v;
        return 0;
    }
    if (d->n == d->cap) {
        uint32_t cap = d->cap ? 2 * d->cap : 4;
        size_t need = (size_t)(cap - d->cap) * (sizeof *d->k + sizeof *d->v);
        jstr **kp = need <= DL_JINJA_MAX_ALLOC - x->alloc ? dl_realloc(d->k, cap * sizeof *kp) : NULL;
        if (kp) d->k = kp;
        jval *vp = kp ? dl_realloc(d->v, cap * sizeof *vp) : NULL;
        if (vp) d->v = vp;
        if (!kp || !vp) {
            release(v);
            return nomem(x);
        }
        x->alloc += need;
        d->cap = cap;
    }
    jstr *key = new_str(x, k, n);
    if (!key) {
        release(v);
        return nomem(x);
    }
    d->k[d->n] = key;
    d->v[d->n++] = v;
    return 0;
}

static int truthy(jval v) {
    switch (v.t) {
    case JV_BOOL: case JV_INT: return v.u.i != 0;
    case JV_STR: return v.u.s->n != 0;
    case JV_LIST: return v.u.l->n != 0;
    case JV_DICT: return v.u.d->is_ns || v.u.d->n != 0;
    case JV_LOOP: return 1;
    default: return 0;
    }
}

static int is_num(jval v) { return v.t == JV_INT || v.t == JV_BOOL; }

static int equal(jctx *x, jval a, jval b) {
    if (is_num(a) && is_num(b)) return a.u.i == b.u.i;
    if (a.t != b.t) return 0;
    switch (a.t) {
    case JV_UNDEF: case JV_NONE: return 1;
    case JV_STR:
        if (a.u.s->n != b.u.s->n) return 0;
        walked(x, a.u.s->n);
        return memcmp(a.u.s->p, b.u.s->p, a.u.s->n) == 0;
    case JV_LIST:
        if (a.u.l->n != b.u.l->n) return 0;
        for (uint32_t k = 0; k < a.u.l->n; k++)
            if (!equal(x, a.u.l->v[k], b.u.l->v[k])) return 0;
        return 1;
    case JV_DICT:
        if (a.u.d->is_ns || b.u.d->is_ns) return a.u.d == b.u.d;
        if (a.u.d->n != b.u.d->n) return 0;
        for (uint32_t k = 0; k < a.u.d->n; k++) {
            jval *o = dict_find(b.u.d, a.u.d->k[k]->p, a.u.d->k[k]->n);
            if (!o || !equal(x, a.u.d->v[k], *o)) return 0;
        }
        return 1;
    case JV_LOOP: return a.u.loop == b.u.loop;
    default: return 0;
    }
}

static const char *type_name(jval v) {
    static const char *const names[] = {"undefined", "none", "bool", "int", "str", "list", "dict", "loop"};
    if (v.t == JV_DICT && v.u.d->is_ns) return "namespace";
    return names[v.t];
}

/* str(v) as Python writes it; lists and dicts (Python's repr) are outside the subset. */
static int to_str(jctx *x, jval v, jval *out) {
    char buf[32];
    switch (v.t) {
    case JV_STR: retain(v); *out = v; return 0;
    case JV_UNDEF: return str_val(x, "", 0, out);
    case JV_NONE: return str_val(x, "None", 4, out);
    case JV_BOOL: return v.u.i ? str_val(x, "True", 4, out) : str_val(x, "False", 5, out);
    case JV_INT: return str_val(x, buf, (size_t)snprintf(buf, sizeof buf, "%lld", (long long)v.u.i), out);
    default: return fail(x, DIFFLM_E_UNSUPPORTED, "converting a %s to a string is not supported", type_name(v));
    }
}

/* ---- a growable byte buffer, for tojson and split */
typedef struct jbuf {
    char *p;
    size_t n, cap;
} jbuf;

static int buf_put(jctx *x, jbuf *b, const char *s, size_t n) {
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->n < n) {
            if (cap > DL_JINJA_MAX_STRING) return too_long(x);
            cap *= 2;
        }
        if (cap - b->cap > DL_JINJA_MAX_ALLOC - x->alloc) return nomem(x);
        char *p = dl_realloc(b->p, cap);
        if (!p) return nomem(x);
        x->alloc += cap - b->cap;
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

/* json.dumps(v, ensure_ascii=False): only ", \ and C0 controls are escaped. */
static int json_str(jctx *x, jbuf *b, const jstr *s) {
    CHARGE(x, s->n);
    int rc = buf_put(x, b, "\"", 1);
    for (uint32_t i = 0; !rc && i < s->n; i++) {
        unsigned char c = (unsigned char)s->p[i];
        char esc[8];
        const char *e = NULL;
        switch (c) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                e = esc;
            }
        }
        rc = e ? buf_put(x, b, e, strlen(e)) : buf_put(x, b, s->p + i, 1);
    }
    return rc ? rc : buf_put(x, b, "\"", 1);
}

static int json_val(jctx *x, jbuf *b, jval v, int depth) {
    char num[32];
    if (depth > DL_JINJA_MAX_DEPTH) return fail(x, DIFFLM_E_UNSUPPORTED, "tojson: nested deeper than %d", DL_JINJA_MAX_DEPTH);
    switch (v.t) {
    case JV_NONE: return buf_put(x, b, "null", 4);
    case JV_BOOL: return v.u.i ? buf_put(x, b, "true", 4) : buf_put(x, b, "false", 5);
    case JV_INT: return buf_put(x, b, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)v.u.i));
    case JV_STR: return json_str(x, b, v.u.s);
    case JV_LIST: {
        int rc = buf_put(x, b, "[", 1);
        for (uint32_t k = 0; !rc && k < v.u.l->n; k++)
            if (!(rc = k ? buf_put(x, b, ", ", 2) : 0)) rc = json_val(x, b, v.u.l->v[k], depth + 1);
        return rc ? rc : buf_put(x, b, "]", 1);
    }
    case JV_DICT:
        if (!v.u.d->is_ns) {
            int rc = buf_put(x, b, "{", 1);
            for (uint32_t k = 0; !rc && k < v.u.d->n; k++) {
                if (k) rc = buf_put(x, b, ", ", 2);
                if (!rc) rc = json_str(x, b, v.u.d->k[k]);
                if (!rc) rc = buf_put(x, b, ": ", 2);
                if (!rc) rc = json_val(x, b, v.u.d->v[k], depth + 1);
            }
            return rc ? rc : buf_put(x, b, "}", 1);
        }
        /* fall through */
    default:
        return fail(x, DIFFLM_E_INVALID_ARG, "tojson: a %s is not JSON serializable", type_name(v));
    }
}

/* ---- output */
static int emit(jctx *x, const char *s, size_t n) {
    if (n > DL_JINJA_MAX_OUTPUT - x->n)
        return fail(x, DIFFLM_E_NOMEM, "output longer than %zu bytes", (size_t)DL_JINJA_MAX_OUTPUT);
    if (x->n < x->cap) memcpy(x->out + x->n, s, DL_MIN(n, x->cap - x->n));
    x->n += n;
    return 0;
}

/* ---- scopes */
static jval *lookup(jctx *x, const char *name, size_t n) {
    for (int f = x->n_frames - 1; f >= 0; f--) {
        jframe *fr = &x->frames[f];
        for (size_t k = fr->n; k-- > 0;)
            if (fr->v[k].n == n && memcmp(fr->v[k].name, name, n) == 0) return &fr->v[k].v;
    }
    return NULL;
}

static int assign(jctx *x, const char *name, size_t n, jval v) {   /* takes v, innermost frame */
    jframe *fr = &x->frames[x->n_frames - 1];
    for (size_t k = 0; k < fr->n; k++)
        if (fr->v[k].n == n && memcmp(fr->v[k].name, name, n) == 0) {
            release(fr->v[k].v);
            fr->v[k].v = v;
            return 0;
        }
    if (fr->n == fr->cap) {
        size_t cap = fr->cap ? 2 * fr->cap : 8;
        jvar *p = cap * sizeof *p <= DL_JINJA_MAX_ALLOC - x->alloc ? dl_realloc(fr->v, cap * sizeof *p) : NULL;
        if (!p) {
            release(v);
            return nomem(x);
        }
        x->alloc += (cap - fr->cap) * sizeof *p;
        fr->v = p;
        fr->cap = cap;
    }
    fr->v[fr->n++] = (jvar){.name = name, .n = n, .v = v};
    return 0;
}

static void push_frame(jctx *x) { x->frames[x->n_frames++] = (jframe){0}; }

static void pop_frame(jctx *x) {
    jframe *fr = &x->frames[--x->n_frames];
    for (size_t k = 0; k < fr->n; k++) release(fr->v[k].v);
    dl_free(fr->v);
}

/* ---- expressions */
static int eval(jctx *x, const jnode *n, jval *out);

static int undefined_error(jctx *x, const jnode *n) {
    if (n->kind == JN_NAME) return fail(x, DIFFLM_E_INVALID_ARG, "'%.*s' is undefined", SHOWN(n->name, n->name_n));
    return fail(x, DIFFLM_E_INVALID_ARG, "an undefined value is used");
}

/* The code point offsets of s: the k-th character starts at off[k]; off[count] = n. */
static int char_offsets(jctx *x, const jstr *s, uint32_t **off, size_t *count) {
    CHARGE(x, s->n);
    uint32_t *o = xalloc(x, ((size_t)s->n + 1) * sizeof *o);
    if (!o) return nomem(x);
    size_t c = 0;
    for (uint32_t i = 0; i < s->n;) {
        uint32_t cp;
        o[c++] = i;
        i += (uint32_t)dl_jinja_utf8_char(s->p + i, s->n - i, &cp);
    }
    o[c] = s->n;
    *off = o;
    *count = c;
    return 0;
}

static int64_t char_count(const jstr *s) {
    int64_t c = 0;
    for (uint32_t i = 0; i < s->n;) {
        uint32_t cp;
        i += (uint32_t)dl_jinja_utf8_char(s->p + i, s->n - i, &cp);
        c++;
    }
    return c;
}

/* obj[idx] for an int index (negative from the end); Undefined when out of range. */
static int index_seq(jctx *x, jval obj, int64_t i, jval *out) {
    if (obj.t == JV_LIST) {
        int64_t n = obj.u.l->n;
        if (i < 0) i += n;
        if (i < 0 || i >= n) return *out = UNDEF, 0;
        *out = obj.u.l->v[i];
        retain(*out);
        return 0;
    }
    uint32_t *off = NULL;
    size_t c = 0;
    int rc = char_offsets(x, obj.u.s, &off, &c);
    if (rc) return rc;
    if (i < 0) i += (int64_t)c;
    if (i < 0 || i >= (int64_t)c) rc = (*out = UNDEF, 0);
    else rc = str_val(x, obj.u.s->p + off[i], off[i + 1] - off[i], out);
    dl_free(off);
    return rc;
}

static int is_dict_method(const char *s, size_t n) {
    static const char *const m[] = {"items", "keys", "values", "get", "pop", "popitem", "update", "copy",
                                    "setdefault", "clear", "fromkeys", NULL};
    for (int k = 0; m[k]; k++)
        if (strlen(m[k]) == n && memcmp(m[k], s, n) == 0) return 1;
    return 0;
}

static int is_str_method(const char *s, size_t n) {
    static const char *const m[] = {
        "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format",
        "format_map", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower",
        "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans",
        "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit",
        "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title", "translate", "upper", "zfill",
        NULL};
    for (int k = 0; m[k]; k++)
        if (strlen(m[k]) == n && memcmp(m[k], s, n) == 0) return 1;
    return 0;
}

/* Jinja's getattr(obj, name) then obj[name], for a name. */
static int get_attr(jctx *x, jval obj, const char *name, size_t n, jval *out) {
    switch (obj.t) {
    case JV_DICT: {
        if (!obj.u.d->is_ns && is_dict_method(name, n))
            return fail(x, DIFFLM_E_UNSUPPORTED, "dict method '%.*s' is not supported here", SHOWN(name, n));
        jval *v = dict_find(obj.u.d, name, n);
        *out = v ? *v : UNDEF;
        retain(*out);
        return 0;
    }
    case JV_LOOP: {
        const jloop *L = obj.u.loop;
        static const char *const names[] = {"index", "index0", "revindex", "revindex0", "first", "last", "length", NULL};
        int k = 0;
        for (; names[k]; k++)
            if (strlen(names[k]) == n && memcmp(names[k], name, n) == 0) break;
        switch (k) {
        case 0: *out = INTV(L->index0 + 1); return 0;
        case 1: *out = INTV(L->index0); return 0;
        case 2: *out = INTV(L->length - L->index0); return 0;
        case 3: *out = INTV(L->length - L->index0 - 1); return 0;
        case 4: *out = BOOLV(L->index0 == 0); return 0;
        case 5: *out = BOOLV(L->index0 == L->length - 1); return 0;
        case 6: *out = INTV(L->length); return 0;
        default: return fail(x, DIFFLM_E_UNSUPPORTED, "loop.%.*s is not supported", SHOWN(name, n));
        }
    }
    case JV_STR:
        if (is_str_method(name, n))
            return fail(x, DIFFLM_E_UNSUPPORTED, "str.%.*s used without a call is not supported", SHOWN(name, n));
        *out = UNDEF;
        return 0;
    case JV_LIST: case JV_NONE:
        *out = UNDEF;   /* no such attribute or item */
        return 0;
    default:
        return fail(x, DIFFLM_E_UNSUPPORTED, "attribute '%.*s' of a %s is not supported", SHOWN(name, n), type_name(obj));
    }
}

static int get_item(jctx *x, jval obj, jval key, jval *out) {
    if ((obj.t == JV_LIST || obj.t == JV_STR) && is_num(key)) return index_seq(x, obj, key.u.i, out);
    if (obj.t == JV_DICT && !obj.u.d->is_ns) {
        if (key.t != JV_STR) return *out = UNDEF, 0;
        jval *v = dict_find(obj.u.d, key.u.s->p, key.u.s->n);
        if (v) {
            *out = *v;
            retain(*out);
            return 0;
        }
        return get_attr(x, obj, key.u.s->p, key.u.s->n, out);
    }
    if (key.t == JV_STR && (obj.t == JV_LIST || obj.t == JV_STR || obj.t == JV_NONE || obj.t == JV_LOOP))
        return get_attr(x, obj, key.u.s->p, key.u.s->n, out);
    if (obj.t == JV_NONE || obj.t == JV_LIST || obj.t == JV_STR) return *out = UNDEF, 0;
    return fail(x, DIFFLM_E_UNSUPPORTED, "subscripting a %s with a %s is not supported", type_name(obj), type_name(key));
}

/* Python's slice.indices, then the selected elements. */
static int slice(jctx *x, jval obj, const jval *part, jval *out) {
    for (int k = 0; k < 3; k++)
        if (part[k].t != JV_NONE && !is_num(part[k]))
            return fail(x, DIFFLM_E_INVALID_ARG, "slice indices must be integers or none");
    int64_t step = part[2].t == JV_NONE ? 1 : part[2].u.i;
    if (step == 0) return fail(x, DIFFLM_E_INVALID_ARG, "slice step cannot be zero");
    if (step == INT64_MIN) return fail(x, DIFFLM_E_UNSUPPORTED, "slice step out of range");
    uint32_t *off = NULL;
    size_t count = 0;
    int rc;
    if (obj.t == JV_LIST) count = obj.u.l->n;
    else if ((rc = char_offsets(x, obj.u.s, &off, &count))) return rc;
    int64_t len = (int64_t)count, lo, hi;
    int64_t defs[2] = {step > 0 ? 0 : len - 1, step > 0 ? len : -1};
    for (int k = 0; k < 2; k++) {
        int64_t *dst = k ? &hi : &lo;
        if (part[k].t == JV_NONE) {
            *dst = defs[k];
            continue;
        }
        int64_t v = part[k].u.i;
        if (v < 0) {
            v = v < -len ? (step > 0 ? 0 : -1) : v + len;
            if (v < 0 && step > 0) v = 0;
        } else if (v >= len) {
            v = step > 0 ? len : len - 1;
        }
        *dst = v;
    }
    jlist *l = NULL;
    jbuf b = {0};
    rc = 0;
    if (obj.t == JV_LIST && !(l = new_list(x))) rc = nomem(x);
    for (int64_t i = lo; !rc && (step > 0 ? i < hi : i > hi); i += step) {
        if (obj.t == JV_LIST) {
            retain(obj.u.l->v[i]);
            rc = list_push(x, l, obj.u.l->v[i]);
        } else {
            rc = buf_put(x, &b, obj.u.s->p + off[i], off[i + 1] - off[i]);
        }
        if (step > 0 ? i > INT64_MAX - step : i < INT64_MIN - step) break;
    }
    dl_free(off);
    if (obj.t == JV_LIST) {
        if (rc) {
            if (l) release((jval){.t = JV_LIST, .u.l = l});
            return rc;
        }
        *out = (jval){.t = JV_LIST, .u.l = l};
        return 0;
    }
    if (!rc) rc = str_val(x, b.p, b.n, out);
    dl_free(b.p);
    return rc;
}

static int compare(jctx *x, int op, jval a, jval b, int *res);

static int order(jctx *x, jval a, jval b, int *cmp) {
    if (is_num(a) && is_num(b)) {
        *cmp = (a.u.i > b.u.i) - (a.u.i < b.u.i);
        return 0;
    }
    if (a.t == JV_STR && b.t == JV_STR) {
        size_t n = DL_MIN(a.u.s->n, b.u.s->n);
        CHARGE(x, n);
        int c = memcmp(a.u.s->p, b.u.s->p, n);   /* UTF-8 byte order is code point order */
        *cmp = c ? (c > 0) - (c < 0) : (a.u.s->n > b.u.s->n) - (a.u.s->n < b.u.s->n);
        return 0;
    }
    if (a.t == JV_LIST && b.t == JV_LIST) {
        for (uint32_t k = 0; k < a.u.l->n && k < b.u.l->n; k++) {
            if (equal(x, a.u.l->v[k], b.u.l->v[k])) continue;
            return order(x, a.u.l->v[k], b.u.l->v[k], cmp);
        }
        *cmp = (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
        return 0;
    }
    if (a.t == JV_UNDEF || b.t == JV_UNDEF) return fail(x, DIFFLM_E_INVALID_ARG, "an undefined value is compared");
    return fail(x, DIFFLM_E_INVALID_ARG, "'<' not supported between a %s and a %s", type_name(a), type_name(b));
}

static int contains(jctx *x, jval item, jval seq, int *res) {
    switch (seq.t) {
    case JV_STR:
        if (item.t != JV_STR) return fail(x, DIFFLM_E_INVALID_ARG, "'in <string>' needs a string on the left, not a %s", type_name(item));
        CHARGE(x, (uint64_t)seq.u.s->n + item.u.s->n);
        *res = item.u.s->n == 0 || memmem(seq.u.s->p, seq.u.s->n, item.u.s->p, item.u.s->n) != NULL;
        return 0;
    case JV_LIST:
        *res = 0;
        for (uint32_t k = 0; k < seq.u.l->n && !*res; k++) *res = equal(x, item, seq.u.l->v[k]);
        return 0;
    case JV_DICT:
        if (seq.u.d->is_ns) break;
        *res = item.t == JV_STR && dict_find(seq.u.d, item.u.s->p, item.u.s->n);
        return 0;
    case JV_UNDEF:
        *res = 0;
        return 0;
    default: break;
    }
    return fail(x, DIFFLM_E_INVALID_ARG, "'in' needs a container on the right, not a %s", type_name(seq));
}

static int compare(jctx *x, int op, jval a, jval b, int *res) {
    int c = 0, rc;
    *res = 0;
    switch (op) {
    case JOP_EQ: *res = equal(x, a, b); return 0;
    case JOP_NE: *res = !equal(x, a, b); return 0;
    case JOP_IN: return contains(x, a, b, res);
    case JOP_NOTIN:
        if ((rc = contains(x, a, b, res))) return rc;
        *res = !*res;
        return 0;
    default:
        if ((rc = order(x, a, b, &c))) return rc;
        *res = op == JOP_LT ? c < 0 : op == JOP_LE ? c <= 0 : op == JOP_GT ? c > 0 : c >= 0;
        return 0;
    }
}

static int arith(jctx *x, int op, jval a, jval b, jval *out) {
    if (a.t == JV_UNDEF || b.t == JV_UNDEF) return fail(x, DIFFLM_E_INVALID_ARG, "an undefined value is used in arithmetic");
    if (op == JOP_ADD && a.t == JV_STR && b.t == JV_STR) return cat_val(x, a.u.s, b.u.s, out);
    if (op == JOP_ADD && a.t == JV_LIST && b.t == JV_LIST) {
        jlist *l = new_list(x);
        if (!l) return nomem(x);
        int rc = 0;
        for (int s = 0; s < 2 && !rc; s++) {
            const jlist *src = s ? b.u.l : a.u.l;
            for (uint32_t k = 0; k < src->n && !rc; k++) {
                retain(src->v[k]);
                rc = list_push(x, l, src->v[k]);
            }
        }
        *out = (jval){.t = JV_LIST, .u.l = l};
        if (rc) discard(out);
        return rc;
    }
    if (op == JOP_MUL && ((a.t == JV_STR && is_num(b)) || (b.t == JV_STR && is_num(a)))) {
        const jstr *s = a.t == JV_STR ? a.u.s : b.u.s;
        int64_t times = a.t == JV_STR ? b.u.i : a.u.i;
        if (times <= 0 || !s->n) return str_val(x, "", 0, out);
        /* One block of the final size, filled by doubling copies: time in proportion to
         * the bytes, not to `times` (appending s `times` times made 'x' * 1000000000 a
         * billion calls, minutes, before the allocation bound stopped it). */
        if ((uint64_t)times > DL_JINJA_MAX_STRING / s->n) return too_long(x);
        if ((uint64_t)times > (DL_JINJA_MAX_ALLOC - x->alloc) / s->n ||
            (size_t)times * s->n > DL_JINJA_MAX_ALLOC - x->alloc - sizeof(jstr) - 1)
            return fail(x, DIFFLM_E_NOMEM, "more than %zu bytes allocated while rendering",
                        (size_t)DL_JINJA_MAX_ALLOC);
        size_t total = (size_t)times * s->n;
        jstr *r = xalloc(x, sizeof *r + total + 1);
        if (!r) return nomem(x);
        r->rc = 1;
        r->n = (uint32_t)total;
        memcpy(r->p, s->p, s->n);
        for (size_t done = s->n; done < total;) {
            size_t k = DL_MIN(done, total - done);
            memcpy(r->p + done, r->p, k);
            done += k;
        }
        r->p[total] = '\0';
        *out = (jval){.t = JV_STR, .u.s = r};
        return 0;
    }
    if (!is_num(a) || !is_num(b)) {
        if (op == JOP_MOD && a.t == JV_STR) return fail(x, DIFFLM_E_UNSUPPORTED, "string formatting with %% is not supported");
        return fail(x, DIFFLM_E_INVALID_ARG, "unsupported operand types for arithmetic: %s and %s", type_name(a), type_name(b));
    }
    int64_t p = a.u.i, q = b.u.i, r = 0;
    int ovf = 0;
    switch (op) {
    case JOP_ADD: ovf = __builtin_add_overflow(p, q, &r); break;
    case JOP_SUB: ovf = __builtin_sub_overflow(p, q, &r); break;
    case JOP_MUL: ovf = __builtin_mul_overflow(p, q, &r); break;
    case JOP_FLOORDIV: case JOP_MOD:
        if (q == 0) return fail(x, DIFFLM_E_INVALID_ARG, "integer division or modulo by zero");
        if (p == INT64_MIN && q == -1) { ovf = 1; break; }
        r = op == JOP_FLOORDIV ? p / q : p % q;
        if ((p % q != 0) && ((p < 0) != (q < 0))) r = op == JOP_FLOORDIV ? r - 1 : r + q;   /* Python floors */
        break;
    case JOP_POW:
        if (q < 0) return fail(x, DIFFLM_E_UNSUPPORTED, "a negative exponent (a float result) is not supported");
        if (p == 0 || p == 1) r = q == 0 ? 1 : p;
        else if (p == -1) r = q % 2 ? -1 : 1;
        else   /* |p| >= 2 overflows within 64 factors */
            for (r = 1; q-- > 0 && !ovf;) ovf = __builtin_mul_overflow(r, p, &r);
        break;
    default:
        return fail(x, DIFFLM_E_UNSUPPORTED, "'/' (a float result) is not supported");
    }
    if (ovf) return fail(x, DIFFLM_E_UNSUPPORTED, "integer overflow beyond 64 bits");
    *out = INTV(r);
    return 0;
}

/* ---- strip, split, case */

static int in_chars(uint32_t cp, const jstr *chars) {
    if (!chars) return dl_jinja_is_space(cp);
    for (uint32_t i = 0; i < chars->n;) {
        uint32_t c;
        i += (uint32_t)dl_jinja_utf8_char(chars->p + i, chars->n - i, &c);
        if (c == cp) return 1;
    }
    return 0;
}

/* which: 1 left, 2 right, 3 both; chars NULL: Python whitespace */
static int strip(jctx *x, const jstr *s, const jstr *chars, int which, jval *out) {
    size_t begin = s->n, end = 0, i = 0;
    int seen = 0;
    /* every character of s is looked up among chars */
    CHARGE(x, (uint64_t)s->n * (chars && chars->n ? chars->n : 1));
    while (i < s->n) {
        uint32_t cp;
        size_t k = dl_jinja_utf8_char(s->p + i, s->n - i, &cp);
        if (!in_chars(cp, chars)) {
            if (!seen) begin = i;
            seen = 1;
            end = i + k;
        }
        i += k;
    }
    if (!seen) begin = end = 0;
    else if (!(which & 1)) begin = 0;
    else if (!(which & 2)) end = s->n;
    return str_val(x, s->p + begin, end > begin ? end - begin : 0, out);
}

/* str.upper / str.lower on ASCII; Python's full Unicode case mapping is not copied. */
static int change_case(jctx *x, const jstr *s, int upper, jval *out) {
    CHARGE(x, s->n);
    for (uint32_t i = 0; i < s->n; i++)
        if ((unsigned char)s->p[i] >= 0x80)
            return fail(x, DIFFLM_E_UNSUPPORTED, "%s of non-ASCII text is not supported", upper ? "upper" : "lower");
    jstr *t = new_str(x, s->p, s->n);
    if (!t) return nomem(x);
    for (uint32_t i = 0; i < t->n; i++) {
        char c = t->p[i];
        if (upper && c >= 'a' && c <= 'z') t->p[i] = (char)(c - 32);
        if (!upper && c >= 'A' && c <= 'Z') t->p[i] = (char)(c + 32);
    }
    *out = (jval){.t = JV_STR, .u.s = t};
    return 0;
}

static int split(jctx *x, const jstr *s, const jstr *sep, jval *out) {
    CHARGE(x, s->n);
    jlist *l = new_list(x);
    if (!l) return nomem(x);
    int rc = 0;
    size_t i = 0;
    if (sep) {
        if (!sep->n) rc = fail(x, DIFFLM_E_INVALID_ARG, "split: empty separator");
        while (!rc) {
            const char *hit = memmem(s->p + i, s->n - i, sep->p, sep->n);
            size_t end = hit ? (size_t)(hit - s->p) : s->n;
            jval piece;
            if (!(rc = str_val(x, s->p + i, end - i, &piece))) rc = list_push(x, l, piece);
            if (!hit) break;
            i = end + sep->n;
        }
    } else {   /* runs of whitespace, none at either end */
        while (!rc && i < s->n) {
            uint32_t cp;
            size_t k = dl_jinja_utf8_char(s->p + i, s->n - i, &cp);
            if (dl_jinja_is_space(cp)) {
                i += k;
                continue;
            }
            size_t start = i;
            while (i < s->n) {
                k = dl_jinja_utf8_char(s->p + i, s->n - i, &cp);
                if (dl_jinja_is_space(cp)) break;
                i += k;
            }
            jval piece;
            if (!(rc = str_val(x, s->p + start, i - start, &piece))) rc = list_push(x, l, piece);
        }
    }
    *out = (jval){.t = JV_LIST, .u.l = l};
    if (rc) discard(out);
    return rc;
}

/* ---- arguments */

/* Evaluates n's positional arguments into args[0..max) (NONE-filled, *given set) and
 * checks the keyword names against kw_allowed (positional order of parameters after
 * the first `skip`). */
static int eval_args(jctx *x, const jnode *n, const char *what, const char *const *params, size_t max,
                     jval *args, size_t *given) {
    for (size_t k = 0; k < max; k++) args[k] = NONE;
    *given = 0;
    if (n->n_args > max) return fail(x, DIFFLM_E_INVALID_ARG, "%s: too many arguments", what);
    int rc = 0;
    for (size_t k = 0; k < n->n_args && !rc; k++) {
        rc = eval(x, n->args[k], &args[k]);
        *given = k + 1;
    }
    for (size_t k = 0; k < n->n_kw && !rc; k++) {
        size_t p = 0;
        for (; params && p < max && params[p]; p++)
            if (strlen(params[p]) == n->kw_n[k] && memcmp(params[p], n->kw_names[k], n->kw_n[k]) == 0) break;
        if (!params || p == max || !params[p]) {
            rc = fail(x, DIFFLM_E_UNSUPPORTED, "%s: keyword argument '%.*s' is not supported", what,
                      SHOWN(n->kw_names[k], n->kw_n[k]));
            break;
        }
        release(args[p]);
        if (!(rc = eval(x, n->kw_vals[k], &args[p]))) *given = DL_MAX(*given, p + 1);
    }
    if (rc)
        for (size_t k = 0; k < max; k++) release(args[k]);
    return rc;
}

static void release_all(jval *v, size_t n) {
    for (size_t k = 0; k < n; k++) release(v[k]);
}

static int need_str(jctx *x, jval v, const char *what) {
    if (v.t == JV_STR) return 0;
    if (v.t == JV_UNDEF) return fail(x, DIFFLM_E_INVALID_ARG, "%s: an undefined value is used", what);
    return fail(x, DIFFLM_E_INVALID_ARG, "%s: expects a string, not a %s", what, type_name(v));
}

/* ---- filters, tests, methods, functions */

static int length_of(jctx *x, jval v, jval *out) {
    switch (v.t) {
    case JV_STR:
        CHARGE(x, v.u.s->n);
        *out = INTV(char_count(v.u.s));
        return 0;
    case JV_LIST: *out = INTV(v.u.l->n); return 0;
    case JV_DICT: if (!v.u.d->is_ns) { *out = INTV(v.u.d->n); return 0; } break;
    case JV_UNDEF: *out = INTV(0); return 0;
    default: break;
    }
    return fail(x, DIFFLM_E_INVALID_ARG, "length: a %s has no length", type_name(v));
}

static int apply_filter(jctx *x, const jnode *n, jval v, jval *out) {   /* borrows v */
    jval args[2];
    size_t given;
    int rc;
    switch (n->builtin) {
    case JF_TRIM: {
        static const char *const params[] = {"chars", NULL};
        if ((rc = eval_args(x, n, "trim", params, 1, args, &given))) return rc;
        jval s;
        if (args[0].t != JV_NONE && (rc = need_str(x, args[0], "trim"))) break;
        if ((rc = to_str(x, v, &s))) break;
        rc = strip(x, s.u.s, args[0].t == JV_STR ? args[0].u.s : NULL, 3, out);
        release(s);
        break;
    }
    case JF_LENGTH: case JF_COUNT:
        if ((rc = eval_args(x, n, "length", NULL, 0, args, &given))) return rc;
        return length_of(x, v, out);
    case JF_TOJSON: {
        static const char *const params[] = {"ensure_ascii", "indent", "separators", "sort_keys", NULL};
        jval a4[4];
        if ((rc = eval_args(x, n, "tojson", params, 4, a4, &given))) return rc;
        int plain = (a4[0].t == JV_NONE || (a4[0].t == JV_BOOL && !a4[0].u.i)) && a4[1].t == JV_NONE &&
                    a4[2].t == JV_NONE && (a4[3].t == JV_NONE || (a4[3].t == JV_BOOL && !a4[3].u.i));
        release_all(a4, 4);
        if (!plain) return fail(x, DIFFLM_E_UNSUPPORTED, "tojson: only the default arguments are supported");
        jbuf b = {0};
        if (!(rc = json_val(x, &b, v, 0))) rc = str_val(x, b.p, b.n, out);
        dl_free(b.p);
        return rc;
    }
    case JF_UPPER: case JF_LOWER: case JF_STRING: {
        if ((rc = eval_args(x, n, "string", NULL, 0, args, &given))) return rc;
        jval s;
        if ((rc = to_str(x, v, &s))) return rc;
        if (n->builtin == JF_STRING) {
            *out = s;
            return 0;
        }
        rc = change_case(x, s.u.s, n->builtin == JF_UPPER, out);
        release(s);
        return rc;
    }
    case JF_DEFAULT: case JF_D: {
        static const char *const params[] = {"default_value", "boolean", NULL};
        if ((rc = eval_args(x, n, "default", params, 2, args, &given))) return rc;
        if (given < 1) {
            release(args[0]);
            if ((rc = str_val(x, "", 0, &args[0]))) return rc;
        }
        int use = v.t == JV_UNDEF || (truthy(args[1]) && !truthy(v));
        release(args[1]);
        if (use) {
            *out = args[0];
        } else {
            release(args[0]);
            *out = v;
            retain(v);
        }
        return 0;
    }
    default:
        return fail(x, DIFFLM_E_INTERNAL, "filter id %d", n->builtin);
    }
    release_all(args, 1);
    return rc;
}

static int apply_test(jctx *x, const jnode *n, jval v, int *res) {
    switch (n->builtin) {
    case JTS_DEFINED: *res = v.t != JV_UNDEF; break;
    case JTS_UNDEFINED: *res = v.t == JV_UNDEF; break;
    case JTS_NONE: *res = v.t == JV_NONE; break;
    case JTS_STRING: *res = v.t == JV_STR; break;
    case JTS_NUMBER: *res = is_num(v); break;
    case JTS_INTEGER: *res = v.t == JV_INT; break;
    case JTS_MAPPING: *res = v.t == JV_DICT && !v.u.d->is_ns; break;
    case JTS_SEQUENCE: *res = v.t == JV_STR || v.t == JV_LIST || (v.t == JV_DICT && !v.u.d->is_ns); break;
    case JTS_ITERABLE: *res = v.t == JV_STR || v.t == JV_LIST || v.t == JV_UNDEF || v.t == JV_LOOP ||
                              (v.t == JV_DICT && !v.u.d->is_ns); break;
    case JTS_BOOLEAN: *res = v.t == JV_BOOL; break;
    default: return fail(x, DIFFLM_E_INTERNAL, "test id %d", n->builtin);
    }
    if (n->op) *res = !*res;
    return 0;
}

static int call_method(jctx *x, const jnode *n, jval obj, jval *out) {   /* borrows obj */
    jval args[2];
    size_t given;
    int rc;
    if (obj.t == JV_UNDEF) return fail(x, DIFFLM_E_INVALID_ARG, "method '%.*s' called on an undefined value", SHOWN(n->name, n->name_n));
    if (obj.t == JV_DICT && !obj.u.d->is_ns && n->builtin == JM_GET) {
        if ((rc = eval_args(x, n, "get", NULL, 2, args, &given))) return rc;
        if (given < 1) rc = fail(x, DIFFLM_E_INVALID_ARG, "get: expects a key");
        else {
            jval *v = args[0].t == JV_STR ? dict_find(obj.u.d, args[0].u.s->p, args[0].u.s->n) : NULL;
            *out = v ? *v : args[1];
            retain(*out);
        }
        release_all(args, 2);
        return rc;
    }
    if (obj.t != JV_STR || n->builtin == JM_GET)
        return fail(x, DIFFLM_E_UNSUPPORTED, "method '%.*s' of a %s is not supported", SHOWN(n->name, n->name_n), type_name(obj));
    const jstr *s = obj.u.s;
    if ((rc = eval_args(x, n, "method", NULL, n->builtin == JM_SPLIT ? 2 : 1, args, &given))) return rc;
    switch (n->builtin) {
    case JM_STRIP: case JM_LSTRIP: case JM_RSTRIP:
        if (args[0].t != JV_NONE && (rc = need_str(x, args[0], "strip"))) break;
        rc = strip(x, s, args[0].t == JV_STR ? args[0].u.s : NULL,
                   n->builtin == JM_STRIP ? 3 : n->builtin == JM_LSTRIP ? 1 : 2, out);
        break;
    case JM_STARTSWITH: case JM_ENDSWITH:
        if ((rc = need_str(x, args[0], "startswith/endswith"))) break;
        {
            const jstr *p = args[0].u.s;
            if ((rc = charge(x, p->n))) break;
            int hit = p->n <= s->n &&
                      memcmp(n->builtin == JM_STARTSWITH ? s->p : s->p + s->n - p->n, p->p, p->n) == 0;
            *out = BOOLV(hit);
        }
        break;
    case JM_SPLIT:
        if (args[1].t != JV_NONE) {
            rc = fail(x, DIFFLM_E_UNSUPPORTED, "split: maxsplit is not supported");
            break;
        }
        if (args[0].t != JV_NONE && (rc = need_str(x, args[0], "split"))) break;
        rc = split(x, s, args[0].t == JV_STR ? args[0].u.s : NULL, out);
        break;
    case JM_UPPER: case JM_LOWER:
        if (given) {
            rc = fail(x, DIFFLM_E_INVALID_ARG, "upper/lower take no arguments");
            break;
        }
        rc = change_case(x, s, n->builtin == JM_UPPER, out);
        break;
    default:
        rc = fail(x, DIFFLM_E_INTERNAL, "method id %d", n->builtin);
    }
    release_all(args, n->builtin == JM_SPLIT ? 2 : 1);
    return rc;
}

static int call_func(jctx *x, const jnode *n, jval *out) {
    jval *v = lookup(x, n->name, n->name_n);
    if (v) return fail(x, DIFFLM_E_UNSUPPORTED, "calling the variable '%.*s' is not supported", SHOWN(n->name, n->name_n));
    jval args[3];
    size_t given;
    int rc;
    switch (n->builtin) {
    case JFN_RAISE:
        if ((rc = eval_args(x, n, "raise_exception", NULL, 1, args, &given))) return rc;
        if (args[0].t == JV_STR) rc = fail(x, DIFFLM_E_INVALID_ARG, "raise_exception: %s", args[0].u.s->p);
        else rc = fail(x, DIFFLM_E_INVALID_ARG, "raise_exception with a %s", type_name(args[0]));
        release(args[0]);
        return rc;
    case JFN_NAMESPACE: {
        if (n->n_args) return fail(x, DIFFLM_E_UNSUPPORTED, "namespace() with positional arguments is not supported");
        jdict *d = new_dict(x, 1);
        if (!d) return nomem(x);
        *out = (jval){.t = JV_DICT, .u.d = d};
        for (size_t k = 0; k < n->n_kw; k++) {
            jval val;
            if ((rc = eval(x, n->kw_vals[k], &val)) || (rc = dict_set(x, d, n->kw_names[k], n->kw_n[k], val))) {
                discard(out);
                return rc;
            }
        }
        return 0;
    }
    case JFN_RANGE: {
        if (n->n_kw) return fail(x, DIFFLM_E_INVALID_ARG, "range takes no keyword arguments");
        if ((rc = eval_args(x, n, "range", NULL, 3, args, &given))) return rc;
        for (size_t k = 0; k < given; k++)
            if (!is_num(args[k])) {
                release_all(args, 3);
                return fail(x, DIFFLM_E_INVALID_ARG, "range: arguments must be integers");
            }
        if (!given) return fail(x, DIFFLM_E_INVALID_ARG, "range expects at least 1 argument");
        int64_t lo = given >= 2 ? args[0].u.i : 0, hi = given >= 2 ? args[1].u.i : args[0].u.i;
        int64_t step = given == 3 ? args[2].u.i : 1;
        if (step == 0) return fail(x, DIFFLM_E_INVALID_ARG, "range: step must not be zero");
        jlist *l = new_list(x);
        if (!l) return nomem(x);
        *out = (jval){.t = JV_LIST, .u.l = l};
        for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step) {
            if (l->n >= DL_JINJA_MAX_ITERS) {
                discard(out);
                return fail(x, DIFFLM_E_NOMEM, "range longer than %u", DL_JINJA_MAX_ITERS);
            }
            if ((rc = list_push(x, l, INTV(i)))) {
                discard(out);
                return rc;
            }
            if (step > 0 ? i > INT64_MAX - step : i < INT64_MIN - step) break;
        }
        return 0;
    }
    default:
        return fail(x, DIFFLM_E_INTERNAL, "function id %d", n->builtin);
    }
}

static int eval(jctx *x, const jnode *n, jval *out) {
    if (++x->steps > DL_JINJA_MAX_STEPS)
        return fail(x, DIFFLM_E_NOMEM, "more than %u evaluation steps", DL_JINJA_MAX_STEPS);
    if (x->work > DL_JINJA_MAX_WORK)
        return overworked(x);
    x->line = n->line;
    jval a = UNDEF, b = UNDEF;
    int rc = 0;
    switch (n->kind) {
    case JN_CONST:
        *out = n->cval;
        return 0;
    case JN_NAME: {
        jval *v = lookup(x, n->name, n->name_n);
        *out = v ? *v : UNDEF;
        retain(*out);
        return 0;
    }
    case JN_ATTR:
        if ((rc = eval(x, n->a, &a))) return rc;
        x->line = n->line;
        rc = a.t == JV_UNDEF ? undefined_error(x, n->a) : get_attr(x, a, n->name, n->name_n, out);
        break;
    case JN_ITEM:
        if ((rc = eval(x, n->a, &a)) || (rc = eval(x, n->b, &b))) break;
        x->line = n->line;
        rc = a.t == JV_UNDEF ? undefined_error(x, n->a) : get_item(x, a, b, out);
        break;
    case JN_SLICE: {
        jval part[3] = {NONE, NONE, NONE};
        if ((rc = eval(x, n->a, &a))) return rc;
        for (int k = 0; k < 3 && !rc; k++) {
            const jnode *p = k == 0 ? n->b : k == 1 ? n->c : n->d;
            if (p) rc = eval(x, p, &part[k]);
        }
        x->line = n->line;
        if (!rc) {
            if (a.t == JV_UNDEF) rc = undefined_error(x, n->a);
            else if (a.t != JV_LIST && a.t != JV_STR) rc = fail(x, DIFFLM_E_UNSUPPORTED, "slicing a %s is not supported", type_name(a));
            else rc = slice(x, a, part, out);
        }
        release_all(part, 3);
        break;
    }
    case JN_CALL:
        return call_func(x, n, out);
    case JN_METHOD:
        if ((rc = eval(x, n->a, &a))) return rc;
        x->line = n->line;
        rc = call_method(x, n, a, out);
        break;
    case JN_FILTER:
        if ((rc = eval(x, n->a, &a))) return rc;
        x->line = n->line;
        rc = apply_filter(x, n, a, out);
        break;
    case JN_TEST: {
        int res = 0;
        if ((rc = eval(x, n->a, &a))) return rc;
        if (!(rc = apply_test(x, n, a, &res))) *out = BOOLV(res);
        break;
    }
    case JN_UNARY:
        if ((rc = eval(x, n->a, &a))) return rc;
        x->line = n->line;
        if (n->op == JOP_NOT) *out = BOOLV(!truthy(a));
        else if (!is_num(a)) rc = a.t == JV_UNDEF ? undefined_error(x, n->a)
                                                   : fail(x, DIFFLM_E_INVALID_ARG, "bad operand type for unary -/+: %s", type_name(a));
        else if (n->op == JOP_NEG && a.u.i == INT64_MIN) rc = fail(x, DIFFLM_E_UNSUPPORTED, "integer overflow beyond 64 bits");
        else *out = INTV(n->op == JOP_NEG ? -a.u.i : a.u.i);
        break;
    case JN_BINARY:
        if ((rc = eval(x, n->a, &a))) return rc;
        if (n->op == JOP_AND || n->op == JOP_OR) {   /* Python's: the deciding operand */
            if (truthy(a) == (n->op == JOP_OR)) {
                *out = a;
                return 0;
            }
            release(a);
            return eval(x, n->b, out);
        }
        if ((rc = eval(x, n->b, &b))) break;
        x->line = n->line;
        if (n->op == JOP_TILDE) {
            jval sa, sb;
            if ((rc = to_str(x, a, &sa))) break;
            if (!(rc = to_str(x, b, &sb))) {
                rc = cat_val(x, sa.u.s, sb.u.s, out);
                release(sb);
            }
            release(sa);
        } else if (n->op >= JOP_EQ && n->op <= JOP_GE) {
            int res = 0;
            if (!(rc = compare(x, n->op, a, b, &res))) *out = BOOLV(res);
        } else if (n->op == JOP_IN || n->op == JOP_NOTIN) {
            int res = 0;
            if (!(rc = compare(x, n->op, a, b, &res))) *out = BOOLV(res);
        } else {
            rc = arith(x, n->op, a, b, out);
        }
        break;
    case JN_COND:
        if ((rc = eval(x, n->a, &a))) return rc;
        if (truthy(a)) rc = eval(x, n->b, out);
        else if (n->c) rc = eval(x, n->c, out);
        else *out = UNDEF;
        break;
    case JN_LIST: {
        jlist *l = new_list(x);
        if (!l) return nomem(x);
        for (size_t k = 0; k < n->n_args && !rc; k++)
            if (!(rc = eval(x, n->args[k], &a))) rc = list_push(x, l, a);
        a = UNDEF;
        *out = (jval){.t = JV_LIST, .u.l = l};
        if (rc) discard(out);
        return rc;
    }
    case JN_DICT: {
        jdict *d = new_dict(x, 0);
        if (!d) return nomem(x);
        *out = (jval){.t = JV_DICT, .u.d = d};
        for (size_t k = 0; k < n->n_args && !rc; k++) {
            jval key, val;
            if ((rc = eval(x, n->args[k], &key))) break;
            if (key.t != JV_STR) {
                release(key);
                rc = fail(x, DIFFLM_E_UNSUPPORTED, "dict keys other than strings are not supported");
                break;
            }
            if (!(rc = eval(x, n->kw_vals[k], &val))) rc = dict_set(x, d, key.u.s->p, key.u.s->n, val);
            release(key);
        }
        if (rc) discard(out);
        return rc;
    }
    default:
        return fail(x, DIFFLM_E_INTERNAL, "node kind %d in an expression", n->kind);
    }
    release(a);
    release(b);
    return rc;
}

/* ---- statements */
static int exec_body(jctx *x, const jnode *body);

static int exec_for(jctx *x, const jnode *n) {
    jval seq;
    int rc = eval(x, n->a, &seq);
    if (rc) return rc;
    x->line = n->line;
    jlist *items = NULL;   /* what to iterate: a list (retained), or one built from a dict or string */
    if (seq.t == JV_LIST) {
        items = seq.u.l;
        retain(seq);
    } else if (seq.t == JV_DICT && !seq.u.d->is_ns) {
        if (!(items = new_list(x))) rc = nomem(x);
        for (uint32_t k = 0; !rc && k < seq.u.d->n; k++) {
            jval key = {.t = JV_STR, .u.s = seq.u.d->k[k]};
            retain(key);
            rc = list_push(x, items, key);
        }
    } else if (seq.t == JV_STR) {
        jval chars;
        jval part[3] = {NONE, NONE, NONE};
        if (!(rc = slice(x, seq, part, &chars))) {   /* a copy, then split by character */
            if (!(items = new_list(x))) rc = nomem(x);
            for (uint32_t i = 0; !rc && i < chars.u.s->n;) {
                uint32_t cp;
                size_t k = dl_jinja_utf8_char(chars.u.s->p + i, chars.u.s->n - i, &cp);
                jval c;
                if (!(rc = str_val(x, chars.u.s->p + i, k, &c))) rc = list_push(x, items, c);
                i += (uint32_t)k;
            }
            release(chars);
        }
    } else if (seq.t != JV_UNDEF) {
        rc = fail(x, DIFFLM_E_INVALID_ARG, "a %s is not iterable", type_name(seq));
    }
    release(seq);
    if (rc) {
        if (items) release((jval){.t = JV_LIST, .u.l = items});
        return rc;
    }
    uint32_t count = items ? items->n : 0;
    jloop *L = NULL;
    for (uint32_t i = 0; i < count && !rc; i++) {
        if (++x->iters > DL_JINJA_MAX_ITERS) {
            rc = fail(x, DIFFLM_E_NOMEM, "more than %u loop iterations", DL_JINJA_MAX_ITERS);
            break;
        }
        if (!(L = xalloc(x, sizeof *L))) {
            rc = nomem(x);
            break;
        }
        *L = (jloop){.rc = 1, .index0 = i, .length = count};
        push_frame(x);
        retain(items->v[i]);
        if (!(rc = assign(x, n->name, n->name_n, items->v[i])) &&
            !(rc = assign(x, "loop", 4, (jval){.t = JV_LOOP, .u.loop = L})))
            rc = exec_body(x, n->b);
        else if (rc && L) { /* assign took L on failure too */ }
        pop_frame(x);
        if (x->ctl == 1) {
            x->ctl = 0;
            break;
        }
        x->ctl = 0;
    }
    if (items) release((jval){.t = JV_LIST, .u.l = items});
    if (!rc && count == 0 && n->c) rc = exec_body(x, n->c);
    return rc;
}

static int exec_stmt(jctx *x, const jnode *n) {
    jval v;
    int rc;
    x->line = n->line;
    switch (n->kind) {
    case JN_TEXT: return emit(x, n->cval.u.s->p, n->cval.u.s->n);
    case JN_OUTPUT: {
        if ((rc = eval(x, n->a, &v))) return rc;
        jval s;
        rc = to_str(x, v, &s);
        release(v);
        if (rc) return rc;
        rc = emit(x, s.u.s->p, s.u.s->n);
        release(s);
        return rc;
    }
    case JN_IF:
        if ((rc = eval(x, n->a, &v))) return rc;
        {
            int t = truthy(v);
            release(v);
            if (t) return exec_body(x, n->b);
            return n->c ? exec_body(x, n->c) : 0;
        }
    case JN_FOR:
        if (x->n_frames >= DL_JINJA_MAX_DEPTH + 1) return fail(x, DIFFLM_E_UNSUPPORTED, "loops nested too deeply");
        return exec_for(x, n);
    case JN_SET:
        if ((rc = eval(x, n->a, &v))) return rc;
        return assign(x, n->name, n->name_n, v);
    case JN_SETATTR: {
        jval *ns = lookup(x, n->name, n->name_n);
        if (!ns || ns->t != JV_DICT || !ns->u.d->is_ns)
            return fail(x, DIFFLM_E_INVALID_ARG, "cannot assign attribute on a non-namespace object ('%.*s')",
                        SHOWN(n->name, n->name_n));
        jdict *d = ns->u.d;
        d->rc++;   /* the evaluation cannot drop it meanwhile */
        if (!(rc = eval(x, n->a, &v))) rc = dict_set(x, d, n->attr, n->attr_n, v);
        release((jval){.t = JV_DICT, .u.d = d});
        return rc;
    }
    case JN_BREAK: x->ctl = 1; return 0;
    case JN_CONTINUE: x->ctl = 2; return 0;
    case JN_BODY: return exec_body(x, n);
    default: return fail(x, DIFFLM_E_INTERNAL, "node kind %d as a statement", n->kind);
    }
}

static int exec_body(jctx *x, const jnode *body) {
    for (size_t k = 0; k < body->n_args; k++) {
        int rc = exec_stmt(x, body->args[k]);
        if (rc) return rc;
        if (x->ctl) return 0;
    }
    return 0;
}

/* ---- entry points */

static int set_str_var(jctx *x, const char *name, const char *s) {
    if (!s) return 0;   /* undefined */
    jval v;
    int rc = str_val(x, s, strlen(s), &v);
    return rc ? rc : assign(x, name, strlen(name), v);
}

static int build_globals(jctx *x, const dl_jinja_vars *vars) {
    jlist *msgs = new_list(x);
    if (!msgs) return nomem(x);
    int rc = assign(x, "messages", 8, (jval){.t = JV_LIST, .u.l = msgs});
    for (size_t i = 0; !rc && i < vars->n_msgs; i++) {
        jdict *d = new_dict(x, 0);
        if (!d) return nomem(x);
        jval role, content;
        if ((rc = list_push(x, msgs, (jval){.t = JV_DICT, .u.d = d}))) return rc;
        if ((rc = str_val(x, vars->msgs[i].role, strlen(vars->msgs[i].role), &role)) ||
            (rc = dict_set(x, d, "role", 4, role)) ||
            (rc = str_val(x, vars->msgs[i].content, strlen(vars->msgs[i].content), &content)) ||
            (rc = dict_set(x, d, "content", 7, content)))
            return rc;
    }
    if (!rc) rc = assign(x, "add_generation_prompt", 21, BOOLV(vars->add_generation_prompt));
    if (!rc) rc = assign(x, "tools", 5, NONE);
    if (!rc) rc = assign(x, "documents", 9, NONE);
    if (!rc) rc = set_str_var(x, "bos_token", vars->bos_token);
    if (!rc) rc = set_str_var(x, "eos_token", vars->eos_token);
    return rc;
}

int dl_jinja_render(const dl_jinja *j, const dl_jinja_vars *vars, char *out, size_t cap, size_t *n_out,
                    dl_err *err) {
    if (!j || !vars || !n_out || (!out && cap) || (!vars->msgs && vars->n_msgs))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_jinja_render: NULL argument");
    jctx *x = dl_calloc(1, sizeof *x);
    if (!x) return dl_fail(err, DIFFLM_E_NOMEM, "chat template: out of memory");
    x->err = err;
    x->out = out;
    x->cap = cap;
    push_frame(x);
    int rc = build_globals(x, vars);
    if (!rc) {
        push_frame(x);   /* the template's own top-level names */
        rc = exec_body(x, j->root);
    }
    while (x->n_frames) pop_frame(x);
    *n_out = x->n;
    dl_free(x);
    return rc;
}

int dl_jinja_compile(dl_jinja **out, const char *src, size_t n, dl_err *err) {
    if (!out || (!src && n)) return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_jinja_compile: NULL argument");
    *out = NULL;
    if (n > DL_JINJA_MAX_SOURCE)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "chat template: %zu bytes (at most %u)", n, DL_JINJA_MAX_SOURCE);
    dl_jinja *j = dl_calloc(1, sizeof *j);
    if (!j) return dl_fail(err, DIFFLM_E_NOMEM, "chat template: out of memory");
    jtokens tk = {0};
    int rc = dl_jinja_lex(&tk, &j->arena, src ? src : "", n, err);
    if (!rc) rc = dl_jinja_parse(&j->root, &j->arena, &tk, err);
    dl_free(tk.t);
    if (rc) {
        dl_jinja_free(j);
        return rc;
    }
    *out = j;
    return 0;
}

void dl_jinja_free(dl_jinja *j) {
    if (!j) return;
    ja_free(&j->arena);
    dl_free(j);
}

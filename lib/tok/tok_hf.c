/* tok_hf.c - builds a dl_tok from a Hugging Face model folder (doc/formats.md,
 * "Tokenizer files"): tokenizer.json, or the slow-tokenizer files vocab.json +
 * merges.txt + added_tokens.json; then tokenizer_config.json and
 * special_tokens_map.json for the special tokens. JSON is parsed by Jansson.
 *
 * Ids: the BPE vocabulary gives NORMAL tokens, added tokens are CONTROL (special) or
 * USER_DEFINED (not), with their lstrip / rstrip / single_word / normalized flags; ids
 * that neither names are UNUSED holes with no text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tok/tok_hf.h"

#define PATH_CAP 4096
#define DL_HF_MAX_HOLES 32768   /* ids without a token beyond one per named token */

typedef struct hf_src {
    char dir[PATH_CAP];
    const dl_tok_hf_file *mem;  /* non-NULL: the folder is these files (dl_tok_load_hf_mem) */
    size_t n_mem;
    json_t *tokenizer;          /* tokenizer.json, or NULL (slow files) */
    json_t *vocab;              /* the {"token": id} object */
    json_t *config;             /* tokenizer_config.json or NULL */
    json_t *special_map;        /* special_tokens_map.json or NULL */
    json_t *added_json;         /* added_tokens.json or NULL */
    char *merges_txt;           /* merges.txt, NUL-terminated (slow files) */
    size_t merges_n;
    const char **texts;         /* [n_vocab] */
    size_t *lens;
} hf_src;

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir is at most PATH_CAP - 64 bytes (dl_tok_load_hf checks), names are short */
static const char *join(char *buf, const hf_src *s, const char *name) {
    size_t nd = strlen(s->dir), nn = strlen(name);
    memcpy(buf, s->dir, nd);
    buf[nd] = '/';
    memcpy(buf + nd + 1, name, nn + 1);
    return buf;
}

/* The in-memory file called name, or NULL. */
static const dl_tok_hf_file *mem_file(const hf_src *s, const char *name) {
    for (size_t i = 0; i < s->n_mem; i++)
        if (s->mem[i].name && strcmp(s->mem[i].name, name) == 0) return &s->mem[i];
    return NULL;
}

static int has_file(const hf_src *s, const char *name) {
    char path[PATH_CAP];
    return s->mem ? mem_file(s, name) != NULL : file_exists(join(path, s, name));
}

/* Parses dir/name into *out; a missing file leaves *out NULL unless required. The
 * transformers-written files (tokenizer_config.json, special_tokens_map.json) are read
 * with every number as a double: LLaDA's model_max_length is the integer 10^30, which
 * does not fit Jansson's integers, and nothing read from them is a number. */
static int load_json(const hf_src *s, const char *name, int required, json_t **out, dl_err *err) {
    size_t flags = JSON_REJECT_DUPLICATES;
    if (strcmp(name, "tokenizer_config.json") == 0 || strcmp(name, "special_tokens_map.json") == 0)
        flags |= JSON_DECODE_INT_AS_REAL;
    char path[PATH_CAP];
    join(path, s, name);
    *out = NULL;
    if (!has_file(s, name)) {
        if (required) return dl_fail(err, DIFFLM_E_IO, "%s: no such file", path);
        return 0;
    }
    json_error_t je;
    const dl_tok_hf_file *m = s->mem ? mem_file(s, name) : NULL;
    json_t *root = m ? json_loadb(m->data, m->size, flags, &je) : json_load_file(path, flags, &je);
    if (!root) {
        if (je.line < 0 || strstr(je.text, "unable to open"))
            return dl_fail(err, DIFFLM_E_IO, "%s: %s", path, je.text);
        return dl_fail(err, DIFFLM_E_FORMAT, "%s: line %d column %d: %s", path, je.line, je.column, je.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return dl_fail(err, DIFFLM_E_FORMAT, "%s: not a JSON object", path);
    }
    *out = root;
    return 0;
}

static int read_text_file(const hf_src *s, const char *name, char **out, size_t *n, dl_err *err) {
    char path[PATH_CAP];
    join(path, s, name);
    if (s->mem) {
        const dl_tok_hf_file *m = mem_file(s, name);
        if (!m) return dl_fail(err, DIFFLM_E_IO, "%s: no such file", path);
        char *buf = dl_malloc(m->size + 1);
        if (!buf) return dl_fail(err, DIFFLM_E_NOMEM, "%s: out of memory", path);
        if (m->size) memcpy(buf, m->data, m->size);
        buf[m->size] = '\0';
        *out = buf;
        *n = m->size;
        return 0;
    }
    FILE *f = fopen(path, "rb");
    if (!f) return dl_fail(err, DIFFLM_E_IO, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (cap - len < 65536) {
            size_t nc = cap ? cap * 2 : 1 << 20;
            char *nb = dl_realloc(buf, nc + 1);
            if (!nb) {
                rc = dl_fail(err, DIFFLM_E_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
            cap = nc;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) rc = dl_fail(err, DIFFLM_E_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (rc) {
        dl_free(buf);
        return rc;
    }
    buf[len] = '\0';
    *out = buf;
    *n = len;
    return 0;
}

static void src_free(hf_src *s) {
    json_decref(s->tokenizer);
    if (!s->tokenizer) json_decref(s->vocab);
    json_decref(s->config);
    json_decref(s->special_map);
    json_decref(s->added_json);
    dl_free(s->merges_txt);
    dl_free(s->texts);
    dl_free(s->lens);
}

/* ---- vocabulary */

typedef struct added {
    int64_t id;
    const char *content;
    size_t len;
    int special;
    uint8_t attr;
} added;

typedef struct added_list {
    added *v;
    size_t n, cap;
} added_list;

static int added_push(added_list *l, added a, dl_err *err) {
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].id == a.id) {   /* a later source refines an earlier one (same id) */
            l->v[i] = a;
            return 0;
        }
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        added *nv = dl_realloc(l->v, nc * sizeof *nv);
        if (!nv) return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory");
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = a;
    return 0;
}

/* One AddedToken object: {"content", "special", "lstrip", "rstrip", "single_word", "normalized"}. */
static int parse_added_obj(json_t *o, int64_t id, const char *where, added *a, dl_err *err) {
    json_t *content = json_is_object(o) ? json_object_get(o, "content") : NULL;
    if (!json_is_string(content) || json_string_length(content) == 0)
        return dl_fail(err, DIFFLM_E_FORMAT, "%s: added token %lld has no \"content\"", where, (long long)id);
    int special, lstrip, rstrip, single, normalized, rc;
    if ((rc = dl_hf_bool(o, "special", 0, &special, where, err)) ||
        (rc = dl_hf_bool(o, "lstrip", 0, &lstrip, where, err)) ||
        (rc = dl_hf_bool(o, "rstrip", 0, &rstrip, where, err)) ||
        (rc = dl_hf_bool(o, "single_word", 0, &single, where, err)) ||
        /* tokenizers' default: special tokens are matched in the raw text */
        (rc = dl_hf_bool(o, "normalized", !special, &normalized, where, err)))
        return rc;
    *a = (added){.id = id, .content = json_string_value(content), .len = json_string_length(content),
                 .special = special,
                 .attr = (uint8_t)((lstrip ? DL_TOKA_LSTRIP : 0) | (rstrip ? DL_TOKA_RSTRIP : 0) |
                                   (single ? DL_TOKA_SINGLE_WORD : 0) | (normalized ? DL_TOKA_NORMALIZED : 0))};
    return 0;
}

static int collect_added(const hf_src *s, added_list *l, dl_err *err) {
    int rc;
    if (s->added_json) {   /* added_tokens.json: {"content": id}; special-ness from the config */
        const char *key;
        json_t *v;
        json_object_foreach(s->added_json, key, v) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= INT32_MAX)
                return dl_fail(err, DIFFLM_E_FORMAT, "added_tokens.json: '%.64s' has no valid id", key);
            if ((rc = added_push(l, (added){.id = json_integer_value(v), .content = key, .len = strlen(key),
                                            .attr = DL_TOKA_NORMALIZED}, err)))
                return rc;
        }
    }
    json_t *dec = s->config ? json_object_get(s->config, "added_tokens_decoder") : NULL;
    if (dec) {
        if (!json_is_object(dec))
            return dl_fail(err, DIFFLM_E_FORMAT, "tokenizer_config.json: added_tokens_decoder is not an object");
        const char *key;
        json_t *v;
        json_object_foreach(dec, key, v) {
            char *end;
            errno = 0;
            long long id = strtoll(key, &end, 10);
            if (*key == '\0' || *end || errno || id < 0 || id >= INT32_MAX)
                return dl_fail(err, DIFFLM_E_FORMAT, "tokenizer_config.json: added_tokens_decoder key '%.32s' "
                               "is not a token id", key);
            added a;
            if ((rc = parse_added_obj(v, id, "tokenizer_config.json", &a, err)) || (rc = added_push(l, a, err)))
                return rc;
        }
    }
    json_t *list = s->tokenizer ? json_object_get(s->tokenizer, "added_tokens") : NULL;
    if (list && !json_is_null(list)) {
        if (!json_is_array(list)) return dl_fail(err, DIFFLM_E_FORMAT, "tokenizer.json: added_tokens is not an array");
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) {
            json_t *id = json_object_get(v, "id");
            if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= INT32_MAX)
                return dl_fail(err, DIFFLM_E_FORMAT, "tokenizer.json: added_tokens[%zu] has no valid \"id\"", i);
            added a;
            if ((rc = parse_added_obj(v, json_integer_value(id), "tokenizer.json", &a, err)) ||
                (rc = added_push(l, a, err)))
                return rc;
        }
    }
    return 0;
}

static int build_vocab(dl_tok *t, hf_src *s, const char *vfile, dl_err *err) {
    if (!json_is_object(s->vocab)) return dl_fail(err, DIFFLM_E_FORMAT, "%s: the vocabulary is not an object", vfile);
    added_list al = {0};
    int rc = collect_added(s, &al, err);
    int64_t max_id = -1;
    const char *key;
    json_t *v;
    if (rc == 0) {
        json_object_foreach(s->vocab, key, v) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= INT32_MAX - 1) {
                rc = dl_fail(err, DIFFLM_E_FORMAT, "%s: token '%.64s' has no valid id", vfile, key);
                break;
            }
            if (json_integer_value(v) > max_id) max_id = json_integer_value(v);
        }
    }
    for (size_t i = 0; rc == 0 && i < al.n; i++)
        if (al.v[i].id > max_id) max_id = al.v[i].id;
    if (rc == 0 && max_id < 0) rc = dl_fail(err, DIFFLM_E_FORMAT, "%s: empty vocabulary", vfile);
    /* Ids no entry names become UNUSED holes, each with its records: bounded by what the
     * files hold, so a few bytes ({"a": 2000000000}) cannot ask for gigabytes. */
    size_t named = json_object_size(s->vocab) + al.n;
    if (rc == 0 && (uint64_t)max_id + 1 > 2 * (uint64_t)named + DL_HF_MAX_HOLES)
        rc = dl_fail(err, DIFFLM_E_FORMAT, "%s: id %lld leaves %lld ids without a token (at most %zu: "
                     "one per token + %d)", vfile, (long long)max_id, (long long)(max_id + 1 - (int64_t)named),
                     named + DL_HF_MAX_HOLES, DL_HF_MAX_HOLES);
    size_t n = (size_t)max_id + 1, total = 0;
    if (rc == 0) {
        s->texts = dl_calloc(n, sizeof *s->texts);
        s->lens = dl_calloc(n, sizeof *s->lens);
        if (!s->texts || !s->lens) rc = dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory for %zu tokens", n);
    }
    uint8_t *types = rc == 0 ? dl_malloc(n) : NULL;
    if (rc == 0 && !types) rc = dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory");
    if (rc == 0) {
        memset(types, DL_TOKT_UNUSED, n);
        json_object_foreach(s->vocab, key, v) {
            size_t id = (size_t)json_integer_value(v);
            if (s->texts[id]) {
                rc = dl_fail(err, DIFFLM_E_FORMAT, "%s: id %zu is both '%.64s' and '%.64s'", vfile, id, s->texts[id], key);
                break;
            }
            s->texts[id] = key;
            s->lens[id] = strlen(key);
            types[id] = DL_TOKT_NORMAL;
        }
    }
    for (size_t i = 0; rc == 0 && i < al.n; i++) {
        const added *a = &al.v[i];
        size_t id = (size_t)a->id;
        if (s->texts[id] && (s->lens[id] != a->len || memcmp(s->texts[id], a->content, a->len) != 0) &&
            types[id] == DL_TOKT_NORMAL) {
            rc = dl_fail(err, DIFFLM_E_FORMAT, "%s: id %zu is '%.64s' in the vocabulary but added token '%.64s'",
                         vfile, id, s->texts[id], a->content);
            break;
        }
        s->texts[id] = a->content;
        s->lens[id] = a->len;
        types[id] = a->special ? DL_TOKT_CONTROL : DL_TOKT_USER_DEFINED;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) total += s->lens[i];
    if (rc == 0 && (rc = dl_tok_alloc_vocab(t, (int32_t)n, total, err)) == 0) {
        dl_tok_fill_texts(t, s->texts, s->lens);
        memcpy(t->type, types, n);
        for (size_t i = 0; i < al.n; i++) t->attr[al.v[i].id] = al.v[i].attr;
        rc = dl_tok_build_text_map(t, vfile, err);
    }
    dl_free(types);
    dl_free(al.v);
    return rc;
}

/* merges: ["a b", ...] or [["a", "b"], ...] (tokenizer.json). */
static int build_merges_json(dl_tok *t, json_t *merges, dl_err *err) {
    if (!json_is_array(merges)) return dl_fail(err, DIFFLM_E_FORMAT, "tokenizer.json: model.merges is not an array");
    int rc = dl_tok_merges_begin(t, json_array_size(merges), err);
    char *joined = NULL;
    size_t cap = 0, i;
    json_t *m;
    json_array_foreach(merges, i, m) {
        if (rc) break;
        if (json_is_string(m)) {
            const char *p = json_string_value(m);
            size_t n = json_string_length(m);
            const char *sp = memchr(p, ' ', n);
            if (!sp || sp == p || sp == p + n - 1 || memchr(sp + 1, ' ', (size_t)(p + n - sp - 1))) {
                rc = dl_fail(err, DIFFLM_E_FORMAT, "tokenizer.json: model.merges[%zu] '%.64s' is not \"left right\"", i, p);
                break;
            }
            rc = dl_tok_add_merge(t, p, (size_t)(sp - p), sp + 1, (size_t)(p + n - sp - 1), (int32_t)i, &joined, &cap, err);
        } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) {
            json_t *l = json_array_get(m, 0), *r = json_array_get(m, 1);
            rc = dl_tok_add_merge(t, json_string_value(l), json_string_length(l), json_string_value(r),
                                  json_string_length(r), (int32_t)i, &joined, &cap, err);
        } else {
            rc = dl_fail(err, DIFFLM_E_FORMAT, "tokenizer.json: model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", i);
        }
    }
    dl_free(joined);
    return rc;
}

/* merges.txt: a "#version" line, then one "left right" a line. */
static int build_merges_txt(dl_tok *t, const hf_src *s, dl_err *err) {
    size_t n_lines = 0;
    for (size_t i = 0; i < s->merges_n; i++) n_lines += s->merges_txt[i] == '\n';
    int rc = dl_tok_merges_begin(t, n_lines + 1, err);
    char *joined = NULL;
    size_t cap = 0, line_no = 0;
    int32_t rank = 0;
    for (const char *p = s->merges_txt, *end = p + s->merges_n; rc == 0 && p < end; line_no++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t len = (size_t)(le - p);
        if (len && p[len - 1] == '\r') len--;
        if (len && !(line_no == 0 && len >= 8 && memcmp(p, "#version", 8) == 0)) {
            const char *sp = memchr(p, ' ', len);
            if (!sp || sp == p || sp == p + len - 1) {
                rc = dl_fail(err, DIFFLM_E_FORMAT, "merges.txt: line %zu '%.*s' is not \"left right\"", line_no + 1,
                             (int)(len > 64 ? 64 : len), p);
                break;
            }
            rc = dl_tok_add_merge(t, p, (size_t)(sp - p), sp + 1, (size_t)(p + len - sp - 1), rank++, &joined, &cap, err);
        }
        p = nl ? nl + 1 : end;
    }
    dl_free(joined);
    return rc;
}

static int check_bpe_model(dl_tok *t, json_t *model, dl_err *err) {
    json_t *ty = json_object_get(model, "type");
    if (ty && !json_is_string(ty)) return dl_fail(err, DIFFLM_E_FORMAT, "tokenizer.json: model.type is not a string");
    if (ty && strcmp(json_string_value(ty), "BPE") != 0)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "tokenizer.json: model type '%.64s' is not supported (BPE)",
                       json_string_value(ty));
    int fallback, rc;
    if ((rc = dl_hf_bool(model, "byte_fallback", 0, &fallback, "tokenizer.json model", err)) ||
        (rc = dl_hf_bool(model, "ignore_merges", 0, &t->ignore_merges, "tokenizer.json model", err)))
        return rc;
    if (fallback) return dl_fail(err, DIFFLM_E_UNSUPPORTED, "tokenizer.json: BPE byte_fallback is not supported");
    json_t *dropout = json_object_get(model, "dropout");
    if (dropout && !json_is_null(dropout))
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "tokenizer.json: BPE dropout is not supported");
    static const char *const empty_keys[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(model, empty_keys[i]);
        if (v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0))
            return dl_fail(err, DIFFLM_E_UNSUPPORTED, "tokenizer.json: BPE %s is not supported", empty_keys[i]);
    }
    return 0;
}

/* ---- special tokens */

/* The text of a special-token entry: "text", {"content": "text"}, or NULL (absent/null). */
static const char *special_text(json_t *o, const char *key, size_t *n) {
    json_t *v = o ? json_object_get(o, key) : NULL;
    if (json_is_object(v)) v = json_object_get(v, "content");
    if (!json_is_string(v)) return NULL;
    *n = json_string_length(v);
    return json_string_value(v);
}

static int32_t id_of_text(const dl_tok *t, const char *s, size_t n) {
    int32_t id = dl_tok_find_bpe(t, s, n);
    return id >= 0 ? id : dl_tok_find_text(t, s, n);
}

static int resolve_special(dl_tok *t, const hf_src *s, const char *key, int32_t *out, dl_err *err) {
    size_t n = 0;
    const char *txt = special_text(s->config, key, &n);
    const char *file = "tokenizer_config.json";
    if (!txt) {
        txt = special_text(s->special_map, key, &n);
        file = "special_tokens_map.json";
    }
    if (!txt) return 0;
    int32_t id = id_of_text(t, txt, n);
    if (id < 0)
        return dl_fail(err, DIFFLM_E_FORMAT, "%s: %s '%.64s' is not in the vocabulary", file, key, txt);
    *out = id;
    return 0;
}

static int load_specials(dl_tok *t, const hf_src *s, dl_err *err) {
    dl_tok_special *sp = &t->sp;
    *sp = (dl_tok_special){-1, -1, -1, -1, -1, 0};
    int32_t unk = -1;
    int rc;
    if ((rc = resolve_special(t, s, "bos_token", &sp->bos, err)) ||
        (rc = resolve_special(t, s, "eos_token", &sp->eos, err)) ||
        (rc = resolve_special(t, s, "pad_token", &sp->pad, err)) ||
        (rc = resolve_special(t, s, "mask_token", &sp->mask, err)) ||
        (rc = resolve_special(t, s, "unk_token", &unk, err)))
        return rc;
    int add_bos = t->n_tmpl_pre > 0;
    if (s->config && (rc = dl_hf_bool(s->config, "add_bos_token", add_bos, &add_bos, "tokenizer_config.json", err)))
        return rc;
    sp->add_bos = add_bos;
    return 0;
}

/* The slow tokenizer class decides the pipeline transformers' Python code hard-wires. */
static int slow_pipeline(dl_tok *t, const hf_src *s, dl_err *err) {
    json_t *cls = s->config ? json_object_get(s->config, "tokenizer_class") : NULL;
    const char *name = json_is_string(cls) ? json_string_value(cls) : "GPT2Tokenizer";
    int pre;
    if (strcmp(name, "Qwen2Tokenizer") == 0 || strcmp(name, "DreamTokenizer") == 0) pre = DL_PRE_QWEN2;
    else if (strcmp(name, "GPT2Tokenizer") == 0) pre = DL_PRE_GPT2;
    else
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "tokenizer_config.json: tokenizer_class '%.64s' without "
                       "tokenizer.json is not supported (Qwen2Tokenizer, DreamTokenizer, GPT2Tokenizer)", name);
    t->pre_type = pre;
    return dl_pretok_init(&t->pretok, pre, err);
}

/* tokenizer_config.json's chat_template: a string, or (transformers' multi-template form)
 * a list of {"name", "template"} of which apply_chat_template uses the one named
 * "default". A list without one, or a template that does not compile, makes dl_tok_chat
 * fail with that status and message (never render another format); only E_NOMEM and a
 * malformed field fail the load. */
static int load_chat_template(dl_tok *t, const hf_src *s, dl_err *err) {
    json_t *v = s->config ? json_object_get(s->config, "chat_template") : NULL;
    if (!v || json_is_null(v)) return 0;
    if (json_is_array(v)) {
        json_t *pick = NULL, *e;
        size_t i;
        json_array_foreach(v, i, e) {
            json_t *name = json_object_get(e, "name"), *tpl = json_object_get(e, "template");
            if (!json_is_object(e) || !json_is_string(name) || !json_is_string(tpl))
                return dl_fail(err, DIFFLM_E_FORMAT, "tokenizer_config.json: chat_template[%zu] is not "
                               "{\"name\": ..., \"template\": ...}", i);
            if (strcmp(json_string_value(name), "default") == 0) pick = tpl;
        }
        if (!pick) {
            t->chat_tpl_status = DIFFLM_E_UNSUPPORTED;
            t->chat_tpl_msg = dl_strdup("tokenizer_config.json: chat_template lists no template named "
                                        "\"default\"");
            return t->chat_tpl_msg ? 0 : dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory");
        }
        v = pick;
    } else if (!json_is_string(v)) {
        return dl_fail(err, DIFFLM_E_FORMAT, "tokenizer_config.json: chat_template is neither a string nor a "
                       "list of named templates");
    }
    dl_err e = {0};
    if (dl_tok_set_chat_template(t, json_string_value(v), json_string_length(v), &e) == DIFFLM_E_NOMEM)
        return dl_fail(err, DIFFLM_E_NOMEM, "%s", e.msg);
    return 0;
}

static int load_folder(dl_tok *t, hf_src *s, dl_err *err) {
    int rc;
    if ((rc = load_json(s, "tokenizer_config.json", 0, &s->config, err)) ||
        (rc = load_json(s, "special_tokens_map.json", 0, &s->special_map, err)))
        return rc;
    t->pre_type = -1;
    if (has_file(s, "tokenizer.json")) {
        if ((rc = load_json(s, "tokenizer.json", 1, &s->tokenizer, err))) return rc;
        json_t *model = json_object_get(s->tokenizer, "model");
        if (!json_is_object(model)) return dl_fail(err, DIFFLM_E_FORMAT, "tokenizer.json: no \"model\" object");
        if ((rc = check_bpe_model(t, model, err))) return rc;
        s->vocab = json_object_get(model, "vocab");
        if ((rc = build_vocab(t, s, "tokenizer.json model.vocab", err)) ||
            (rc = build_merges_json(t, json_object_get(model, "merges"), err)) ||
            (rc = dl_hf_pipeline(t, s->tokenizer, "tokenizer.json", err)))
            return rc;
    } else if (has_file(s, "vocab.json")) {
        if ((rc = load_json(s, "vocab.json", 1, &s->vocab, err)) ||
            (rc = load_json(s, "added_tokens.json", 0, &s->added_json, err)) ||
            (rc = read_text_file(s, "merges.txt", &s->merges_txt, &s->merges_n, err)) ||
            (rc = build_vocab(t, s, "vocab.json", err)) || (rc = build_merges_txt(t, s, err)) ||
            (rc = slow_pipeline(t, s, err)))
            return rc;
    } else {
        return dl_fail(err, DIFFLM_E_IO, "%s: neither tokenizer.json nor vocab.json", s->dir);
    }
    if ((rc = load_specials(t, s, err)) || (rc = dl_tok_finish(t, err))) return rc;
    return load_chat_template(t, s, err);
}

int dl_tok_load_hf(dl_tok **out, const char *dir, dl_err *err) {
    if (!out || !dir) return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_tok_load_hf: NULL argument");
    *out = NULL;
    hf_src *s = dl_calloc(1, sizeof *s);
    dl_tok *t = dl_calloc(1, sizeof *t);
    if (!s || !t) {
        dl_free(s);
        dl_free(t);
        return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory");
    }
    /* a file inside the folder (config.json, tokenizer.json) names its folder */
    size_t n = strlen(dir);
    int rc = 0;
    if (n >= PATH_CAP - 64) rc = dl_fail(err, DIFFLM_E_INVALID_ARG, "tokenizer folder path too long");
    if (rc == 0) {
        memcpy(s->dir, dir, n + 1);
        if (file_exists(s->dir)) {
            char *slash = strrchr(s->dir, '/');
            if (slash) *slash = '\0';
            else strcpy(s->dir, ".");
        }
        rc = load_folder(t, s, err);
    }
    src_free(s);
    dl_free(s);
    if (rc) {
        dl_tok_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int dl_tok_load_hf_mem(dl_tok **out, const dl_tok_hf_file *files, size_t n_files, dl_err *err) {
    if (!out || (!files && n_files)) return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_tok_load_hf_mem: NULL argument");
    *out = NULL;
    hf_src *s = dl_calloc(1, sizeof *s);
    dl_tok *t = dl_calloc(1, sizeof *t);
    if (!s || !t) {
        dl_free(s);
        dl_free(t);
        return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory");
    }
    /* messages name the files "<memory>/tokenizer.json", ... */
    memcpy(s->dir, "<memory>", sizeof "<memory>");
    static const dl_tok_hf_file none;
    s->mem = files ? files : &none;
    s->n_mem = n_files;
    int rc = load_folder(t, s, err);
    src_free(s);
    dl_free(s);
    if (rc) {
        dl_tok_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* tok_fixture.c - see tok_fixture.h. */
#include "tok_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt/gguf.h"

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    memset((char *)q + *cap * elem, 0, (c - *cap) * elem);
    *p = q;
    *cap = c;
    return 0;
}

int tf_vocab_set(tf_vocab *v, size_t id, const char *s, size_t n, int32_t type) {
    size_t cap = v->cap;
    if (id >= v->cap) {
        size_t c1 = cap, c2 = cap, c3 = cap;
        if (grow((void **)&v->tok, &c1, id + 1, sizeof *v->tok) ||
            grow((void **)&v->len, &c2, id + 1, sizeof *v->len) ||
            grow((void **)&v->type, &c3, id + 1, sizeof *v->type))
            return -1;
        v->cap = c1;
    }
    if (v->tok[id]) return -1;
    v->tok[id] = malloc(n + 1);
    if (!v->tok[id]) return -1;
    memcpy(v->tok[id], s, n);
    v->tok[id][n] = '\0';
    v->len[id] = n;
    v->type[id] = type;
    if (id >= v->n) v->n = id + 1;
    return 0;
}

int32_t tf_vocab_push(tf_vocab *v, const char *s, int32_t type) {
    size_t id = v->n;
    return tf_vocab_set(v, id, s, strlen(s), type) ? -1 : (int32_t)id;
}

int tf_vocab_merge(tf_vocab *v, const char *s, size_t n) {
    if (grow((void **)&v->merge, &v->merge_cap, v->n_merges + 1, sizeof *v->merge)) return -1;
    char *m = malloc(n + 1);
    if (!m) return -1;
    memcpy(m, s, n);
    m[n] = '\0';
    v->merge[v->n_merges++] = m;
    return 0;
}

void tf_vocab_free(tf_vocab *v) {
    for (size_t i = 0; i < v->n; i++) free(v->tok[i]);
    for (size_t i = 0; i < v->n_merges; i++) free(v->merge[i]);
    free(v->tok);
    free(v->len);
    free(v->type);
    free(v->merge);
    memset(v, 0, sizeof *v);
}

void tf_byte_char(uint8_t b, char out[3]) {
    /* printable Latin-1 keeps its code point; the rest count up from U+0100 */
    unsigned cp = b;
    int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    if (!printable) {
        cp = 256;
        for (unsigned c = 0; c < b; c++)
            cp += !((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE));
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = 0;
    }
}

tf_keys tf_keys_default(const char *pre) {
    return (tf_keys){.model = "gpt2", .pre = pre, .bos = -2, .eos = -2, .mask = -2, .pad = -2,
                     .eot = -2, .add_bos = -1, .with_types = 1, .with_merges = 1};
}

static int put_id(dl_gguf_writer *w, const char *key, int64_t v) {
    if (v == -2) return 0;
    return dl_gguf_w_u32(w, key, (uint32_t)v);
}

int tf_build_gguf(const tf_vocab *v, const tf_keys *k, void **buf, size_t *size, dl_err *err) {
    dl_gguf_writer *w = dl_gguf_writer_new();
    dl_str *toks = calloc(v->n ? v->n : 1, sizeof *toks);
    dl_str *merges = calloc(v->n_merges ? v->n_merges : 1, sizeof *merges);
    int32_t *types = calloc(v->n ? v->n : 1, sizeof *types);
    int rc = (!w || !toks || !merges || !types) ? DIFFLM_E_NOMEM : 0;
    for (size_t i = 0; rc == 0 && i < v->n; i++) {
        toks[i] = v->tok[i] ? (dl_str){v->tok[i], v->len[i]} : (dl_str){"", 0};
        types[i] = v->tok[i] ? v->type[i] : DL_TOKT_UNUSED;
    }
    for (size_t i = 0; rc == 0 && i < v->n_merges; i++) merges[i] = (dl_str){v->merge[i], strlen(v->merge[i])};
    if (rc == 0 && k->model) rc = dl_gguf_w_str(w, "tokenizer.ggml.model", k->model);
    if (rc == 0 && k->pre) rc = dl_gguf_w_str(w, "tokenizer.ggml.pre", k->pre);
    if (rc == 0) rc = dl_gguf_w_arr(w, "tokenizer.ggml.tokens", DL_GGUF_STRING, toks, v->n);
    if (rc == 0 && k->with_types) rc = dl_gguf_w_arr(w, "tokenizer.ggml.token_type", DL_GGUF_I32, types, v->n);
    if (rc == 0 && k->with_merges)
        rc = dl_gguf_w_arr(w, "tokenizer.ggml.merges", DL_GGUF_STRING, merges, v->n_merges);
    if (rc == 0) rc = put_id(w, "tokenizer.ggml.bos_token_id", k->bos);
    if (rc == 0) rc = put_id(w, "tokenizer.ggml.eos_token_id", k->eos);
    if (rc == 0) rc = put_id(w, "tokenizer.ggml.mask_token_id", k->mask);
    if (rc == 0) rc = put_id(w, "tokenizer.ggml.padding_token_id", k->pad);
    if (rc == 0) rc = put_id(w, "tokenizer.ggml.eot_token_id", k->eot);
    if (rc == 0 && k->add_bos >= 0) rc = dl_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", k->add_bos);
    free(toks);
    free(merges);
    free(types);
    if (rc == 0) rc = dl_gguf_writer_to_buffer(w, buf, size, err);
    dl_gguf_writer_free(w);
    return rc;
}

int tf_load(dl_tok **t, const tf_vocab *v, const tf_keys *k, dl_err *err) {
    void *buf = NULL;
    size_t size = 0;
    int rc = tf_build_gguf(v, k, &buf, &size, err);
    dl_gguf *g = NULL;
    if (rc == 0) rc = dl_gguf_open_mem(&g, buf, size, err);
    if (rc == 0) rc = dl_tok_load(t, g, err);
    dl_gguf_close(g);
    free(buf);
    return rc;
}

int tf_read_file(const char *path, char **data, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap) break;
        char *p = realloc(buf, cap * 2);
        if (!p) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = p;
        cap *= 2;
    }
    fclose(f);
    if (!buf) return -1;
    *data = buf;
    *n = len;
    return 0;
}

/* --- a minimal JSON reader: enough for tokenizer files (strings with every escape,
 * integers, booleans, nested objects and arrays skipped). */
typedef struct jcur {
    const char *p, *end;
} jcur;

static void jws(jcur *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++;
}

static int jeat(jcur *c, char ch) {
    jws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char h = p[i];
        v <<= 4;
        if (h >= '0' && h <= '9') v |= (unsigned)(h - '0');
        else if (h >= 'a' && h <= 'f') v |= (unsigned)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F') v |= (unsigned)(h - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes a string into buf (capacity: the raw length suffices; escapes only shrink). */
static int jstring(jcur *c, char **buf, size_t *cap, size_t *n) {
    if (!jeat(c, '"')) return -1;
    const char *start = c->p;
    while (c->p < c->end && *c->p != '"') c->p += (*c->p == '\\') ? 2 : 1;
    if (c->p >= c->end) return -1;
    size_t raw = (size_t)(c->p - start);
    c->p++;
    if (raw + 4 > *cap) {
        char *b = realloc(*buf, raw + 4);
        if (!b) return -1;
        *buf = b;
        *cap = raw + 4;
    }
    char *o = *buf;
    size_t k = 0;
    for (const char *s = start; s < start + raw;) {
        if (*s != '\\') { o[k++] = *s++; continue; }
        char e = s[1];
        s += 2;
        switch (e) {
        case '"': o[k++] = '"'; break;
        case '\\': o[k++] = '\\'; break;
        case '/': o[k++] = '/'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (start + raw - s < 4 || hex4(s, &cp)) return -1;
            s += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {   /* surrogate pair */
                if (start + raw - s < 6 || s[0] != '\\' || s[1] != 'u' || hex4(s + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                s += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            k += put_utf8(o + k, cp);
            break;
        }
        default: return -1;
        }
    }
    *n = k;
    return 0;
}

static int jint(jcur *c, int64_t *out) {
    jws(c);
    char *e;
    long long v = strtoll(c->p, &e, 10);
    if (e == c->p || e > c->end) return -1;
    c->p = e;
    *out = v;
    return 0;
}

static int jskip(jcur *c, int depth) {
    jws(c);
    if (c->p >= c->end || depth > 64) return -1;
    char ch = *c->p;
    if (ch == '"') {
        for (c->p++; c->p < c->end && *c->p != '"'; c->p += (*c->p == '\\') ? 2 : 1) {}
        if (c->p >= c->end) return -1;
        c->p++;
        return 0;
    }
    if (ch == '{' || ch == '[') {
        char close = ch == '{' ? '}' : ']';
        c->p++;
        if (jeat(c, close)) return 0;
        for (;;) {
            if (ch == '{' && (jskip(c, depth + 1) || !jeat(c, ':'))) return -1;
            if (jskip(c, depth + 1)) return -1;
            if (jeat(c, close)) return 0;
            if (!jeat(c, ',')) return -1;
        }
    }
    while (c->p < c->end && *c->p != ',' && *c->p != '}' && *c->p != ']' && *c->p != ' ' && *c->p != '\n')
        c->p++;   /* number or literal */
    return 0;
}

int tf_json_vocab(const char *json, size_t n, tf_vocab *v, int32_t type) {
    jcur c = {json, json + n};
    char *buf = NULL;
    size_t cap = 0, len;
    int rc = jeat(&c, '{') ? 0 : -1;
    if (rc == 0 && jeat(&c, '}')) goto done;
    while (rc == 0) {
        int64_t id;
        if (jstring(&c, &buf, &cap, &len) || !jeat(&c, ':') || jint(&c, &id) || id < 0 ||
            tf_vocab_set(v, (size_t)id, buf, len, type)) {
            rc = -1;
            break;
        }
        if (jeat(&c, '}')) break;
        if (!jeat(&c, ',')) rc = -1;
    }
done:
    free(buf);
    return rc;
}

/* One entry of added_tokens_decoder: {"content": ..., "special": true, ...}. */
static int added_token(jcur *c, tf_vocab *v, int64_t id, char **buf, size_t *cap) {
    char *content = NULL, *key = NULL;
    size_t content_n = 0, key_cap = 0, kn;
    int special = 0, rc = jeat(c, '{') ? 0 : -1;
    while (rc == 0 && !jeat(c, '}')) {
        if (jstring(c, &key, &key_cap, &kn) || !jeat(c, ':')) { rc = -1; break; }
        if (kn == 7 && memcmp(key, "content", 7) == 0) {
            if (jstring(c, buf, cap, &content_n)) { rc = -1; break; }
            free(content);
            content = malloc(content_n + 1);
            if (!content) { rc = -1; break; }
            memcpy(content, *buf, content_n);
        } else if (kn == 7 && memcmp(key, "special", 7) == 0) {
            jws(c);
            special = c->end - c->p >= 4 && memcmp(c->p, "true", 4) == 0;
            if (jskip(c, 0)) rc = -1;
        } else if (jskip(c, 0)) {
            rc = -1;
        }
        if (rc == 0 && !jeat(c, ',') && (jws(c), c->p < c->end && *c->p != '}')) rc = -1;
    }
    if (rc == 0 && (!content ||
                    tf_vocab_set(v, (size_t)id, content, content_n, special ? DL_TOKT_CONTROL : DL_TOKT_USER_DEFINED)))
        rc = -1;
    free(content);
    free(key);
    return rc;
}

int tf_json_added_tokens(const char *json, size_t n, tf_vocab *v) {
    jcur c = {json, json + n};
    char *buf = NULL;
    size_t cap = 0, len;
    int rc = jeat(&c, '{') ? 0 : -1, found = 0;
    while (rc == 0 && !jeat(&c, '}')) {
        if (jstring(&c, &buf, &cap, &len) || !jeat(&c, ':')) { rc = -1; break; }
        if (len == 20 && memcmp(buf, "added_tokens_decoder", 20) == 0) {
            found = 1;
            if (!jeat(&c, '{')) { rc = -1; break; }
            while (rc == 0 && !jeat(&c, '}')) {
                if (jstring(&c, &buf, &cap, &len)) { rc = -1; break; }
                buf[len] = '\0';
                int64_t id = strtoll(buf, NULL, 10);
                if (!jeat(&c, ':') || added_token(&c, v, id, &buf, &cap)) rc = -1;
                jeat(&c, ',');
            }
        } else if (jskip(&c, 0)) {
            rc = -1;
        }
        jeat(&c, ',');
    }
    free(buf);
    return rc == 0 && found ? 0 : -1;
}

int tf_merges_txt(const char *txt, size_t n, tf_vocab *v) {
    const char *p = txt, *end = txt + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t len = (size_t)(le - p);
        if (len && p[len - 1] == '\r') len--;
        if (len && !(p == txt && len >= 8 && memcmp(p, "#version", 8) == 0))
            if (tf_vocab_merge(v, p, len)) return -1;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

const char *tf_shared_path(char *buf, size_t cap, const char *rel) {
    const char *shared = getenv("DIFFLM_SHARED");
    const char *src = getenv("DIFFLM_SRCDIR");
    if (shared && *shared) snprintf(buf, cap, "%s/%s", shared, rel);
    else snprintf(buf, cap, "%s/tests/tok/%s", src && *src ? src : ".", rel);
    return buf;
}

int tf_parse_into(tf_vocab *v, const char *rel, int kind) {
    char path[4096], *data;
    size_t n;
    if (tf_read_file(tf_shared_path(path, sizeof path, rel), &data, &n)) {
        fprintf(stderr, "cannot read %s\n", path);
        return -1;
    }
    int rc = kind == 0 ? tf_json_vocab(data, n, v, DL_TOKT_NORMAL)
           : kind == 1 ? tf_merges_txt(data, n, v)
                       : tf_json_added_tokens(data, n, v);
    free(data);
    if (rc)
        fprintf(stderr, "cannot parse %s\n", path);
    return rc;
}

int tf_load_dream_vocab(tf_vocab *v) {
    return tf_parse_into(v, "data/tokenizers/dream-v0-instruct-7b/vocab.json", 0) ||
                   tf_parse_into(v, "data/tokenizers/dream-v0-instruct-7b/merges.txt", 1) ||
                   tf_parse_into(v, "data/tokenizers/dream-v0-instruct-7b/tokenizer_config.json", 2)
               ? -1
               : 0;
}

tf_keys tf_keys_dream(void) {
    tf_keys k = tf_keys_default("qwen2");
    k.bos = 151665;
    k.eos = 151643;
    k.pad = 151643;
    k.mask = 151666;
    k.add_bos = 0;
    return k;
}

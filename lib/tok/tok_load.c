/* tok_load.c - builds a dl_tok from a GGUF file's tokenizer.* keys (doc/formats.md, "Tokenizer metadata").
 *
 * Everything is copied out of the file, so the dl_gguf may be closed afterwards. Loading
 * is linear in vocabulary plus merges: one pass to copy texts, one to hash them, one
 * over the merges (three lookups each). */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

#define KEY_MODEL "tokenizer.ggml.model"
#define KEY_PRE "tokenizer.ggml.pre"
#define KEY_TOKENS "tokenizer.ggml.tokens"
#define KEY_TYPES "tokenizer.ggml.token_type"
#define KEY_MERGES "tokenizer.ggml.merges"

static int str_is(dl_str s, const char *lit) {
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* dl_str is not NUL-terminated: messages print at most this many bytes of it */
#define SHOW(s) (int)((s).n > 64 ? 64 : (s).n), (s).p

static int load_model_and_pre(dl_tok *t, const dl_gguf *g, dl_err *err) {
    dl_str model;
    int rc = dl_gguf_get_str(g, KEY_MODEL, &model, err);
    if (rc) return rc;
    if (!str_is(model, "gpt2"))
        return dl_fail(err, DIFFLM_E_UNSUPPORTED,
                       KEY_MODEL " '%.*s' is not supported (only byte-level BPE, 'gpt2')", SHOW(model));
    dl_str pre;
    if ((rc = dl_gguf_get_str_opt(g, KEY_PRE, &pre, err))) return rc;
    if (!pre.p) {
        t->pre_type = DL_PRE_DEFAULT;   /* llama.cpp's fallback too */
        return 0;
    }
    t->pre_type = dl_pretok_type_from_name(pre.p, pre.n, &t->ignore_merges);
    if (t->pre_type < 0)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, KEY_PRE " '%.*s' is not a known pre-tokenizer", SHOW(pre));
    return 0;
}

static int load_tokens(dl_tok *t, const dl_gguf *g, dl_err *err) {
    uint32_t et;
    uint64_t n;
    int rc = dl_gguf_get_arr(g, KEY_TOKENS, &et, &n, err);
    if (rc) return rc;
    if (et != DL_GGUF_STRING) return dl_fail(err, DIFFLM_E_FORMAT, KEY_TOKENS ": not an array of strings");
    if (n == 0 || n >= (uint64_t)INT32_MAX)
        return dl_fail(err, DIFFLM_E_FORMAT, KEY_TOKENS ": %llu tokens (want 1..%d)",
                       (unsigned long long)n, INT32_MAX - 1);
    t->n_vocab = (int32_t)n;

    uint64_t total = 0;
    dl_str s;
    for (uint64_t i = 0; i < n; i++) {
        if ((rc = dl_gguf_arr_str(g, KEY_TOKENS, i, &s, err))) return rc;
        total += s.n;
        if (total > UINT32_MAX)
            return dl_fail(err, DIFFLM_E_FORMAT, KEY_TOKENS ": token texts exceed 4 GiB at [%llu]",
                           (unsigned long long)i);
    }
    t->text = dl_malloc(total ? total : 1);
    t->dec = dl_malloc(total ? total : 1);   /* a decoded token is never longer than its text */
    t->text_off = dl_malloc((n + 1) * sizeof *t->text_off);
    t->dec_off = dl_malloc((n + 1) * sizeof *t->dec_off);
    t->type = dl_malloc(n);
    if (!t->text || !t->dec || !t->text_off || !t->dec_off || !t->type)
        return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory for %llu tokens", (unsigned long long)n);
    uint32_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        if ((rc = dl_gguf_arr_str(g, KEY_TOKENS, i, &s, err))) return rc;
        t->text_off[i] = off;
        if (s.n) memcpy(t->text + off, s.p, s.n);
        off += (uint32_t)s.n;
    }
    t->text_off[n] = off;
    return 0;
}

static int load_types(dl_tok *t, const dl_gguf *g, dl_err *err) {
    if (dl_gguf_find_key(g, KEY_TYPES) < 0) {
        memset(t->type, DL_TOKT_NORMAL, (size_t)t->n_vocab);   /* optional key */
        return 0;
    }
    uint32_t et;
    uint64_t n;
    int rc = dl_gguf_get_arr(g, KEY_TYPES, &et, &n, err);
    if (rc) return rc;
    if (n != (uint64_t)t->n_vocab)
        return dl_fail(err, DIFFLM_E_FORMAT, KEY_TYPES ": %llu entries for %d tokens",
                       (unsigned long long)n, t->n_vocab);
    for (uint64_t i = 0; i < n; i++) {
        int64_t v;
        if ((rc = dl_gguf_arr_i64(g, KEY_TYPES, i, &v, err))) return rc;
        if (v == 0) v = DL_TOKT_NORMAL;   /* llama.cpp's "undefined" */
        if (v < DL_TOKT_NORMAL || v > DL_TOKT_BYTE)
            return dl_fail(err, DIFFLM_E_FORMAT, KEY_TYPES "[%llu]: unknown token type %lld",
                           (unsigned long long)i, (long long)v);
        t->type[i] = (uint8_t)v;
    }
    return 0;
}

static int is_bpe_type(uint8_t type) {
    return type == DL_TOKT_NORMAL || type == DL_TOKT_BYTE;
}

static int build_text_map(dl_tok *t, dl_err *err) {
    if (dl_tok_table_size((size_t)t->n_vocab, &t->bpe_mask))
        return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: vocabulary too large");
    t->bpe_slots = dl_malloc(((size_t)t->bpe_mask + 1) * sizeof *t->bpe_slots);
    if (!t->bpe_slots) return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory for the token map");
    memset(t->bpe_slots, 0xFF, ((size_t)t->bpe_mask + 1) * sizeof *t->bpe_slots);   /* all -1 */
    for (int32_t id = 0; id < t->n_vocab; id++)
        if (is_bpe_type(t->type[id]) && t->text_off[id + 1] > t->text_off[id]) dl_tok_bpe_insert(t, id);
    for (int b = 0; b < 256; b++) {
        char u[2];
        int len = dl_byte_to_utf8(u, (uint8_t)b);
        t->byte_tok[b] = dl_tok_find_bpe(t, u, (size_t)len);
        if (t->byte_tok[b] < 0)
            return dl_fail(err, DIFFLM_E_FORMAT, KEY_TOKENS ": no token for byte 0x%02X ('%.*s'); "
                           "a gpt2 vocabulary needs all 256", b, len, u);
    }
    return 0;
}

static int load_merges(dl_tok *t, const dl_gguf *g, dl_err *err) {
    if (dl_gguf_find_key(g, KEY_MERGES) < 0)
        return dl_fail(err, DIFFLM_E_FORMAT, KEY_MERGES ": required for a gpt2 tokenizer, missing");
    uint32_t et;
    uint64_t n;
    int rc = dl_gguf_get_arr(g, KEY_MERGES, &et, &n, err);
    if (rc) return rc;
    if (et != DL_GGUF_STRING) return dl_fail(err, DIFFLM_E_FORMAT, KEY_MERGES ": not an array of strings");
    if (n >= (uint64_t)INT32_MAX) return dl_fail(err, DIFFLM_E_FORMAT, KEY_MERGES ": too many merges");
    if (dl_tok_table_size((size_t)n, &t->merge_mask))
        return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: merge table too large");
    size_t slots = (size_t)t->merge_mask + 1;
    t->merge_slots = dl_malloc(slots * sizeof *t->merge_slots);
    if (!t->merge_slots) return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory for the merge table");
    for (size_t i = 0; i < slots; i++) t->merge_slots[i].key = DL_MERGE_EMPTY;

    char *joined = NULL;   /* left + right, for the result lookup */
    size_t joined_cap = 0;
    for (uint64_t i = 0; i < n; i++) {
        dl_str s;
        if ((rc = dl_gguf_arr_str(g, KEY_MERGES, i, &s, err))) break;
        const char *sp = s.n ? memchr(s.p, ' ', s.n) : NULL;
        if (!sp || sp == s.p || sp == s.p + s.n - 1) {
            rc = dl_fail(err, DIFFLM_E_FORMAT, KEY_MERGES "[%llu]: '%.*s' is not \"left right\"",
                         (unsigned long long)i, SHOW(s));
            break;
        }
        size_t nl = (size_t)(sp - s.p), nr = s.n - nl - 1;
        /* a merge whose halves or result are not tokens can never fire on token ids */
        int32_t left = dl_tok_find_bpe(t, s.p, nl);
        int32_t right = dl_tok_find_bpe(t, sp + 1, nr);
        if (left < 0 || right < 0) continue;
        if (nl + nr > joined_cap) {
            char *p = dl_realloc(joined, nl + nr);
            if (!p) {
                rc = dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory");
                break;
            }
            joined = p;
            joined_cap = nl + nr;
        }
        memcpy(joined, s.p, nl);
        memcpy(joined + nl, sp + 1, nr);
        int32_t result = dl_tok_find_bpe(t, joined, nl + nr);
        if (result >= 0) dl_tok_merge_insert(t, left, right, (int32_t)i, result);
    }
    dl_free(joined);
    return rc;
}

/* Normal tokens decode through the byte alphabet; a character outside it (or a stray
 * invalid byte) is kept as written. Everything else decodes to its text verbatim. */
static void build_decode(dl_tok *t) {
    uint32_t off = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        size_t n;
        const uint8_t *s = (const uint8_t *)dl_tok_text(t, id, &n);
        t->dec_off[id] = off;
        if (!is_bpe_type(t->type[id])) {
            memcpy(t->dec + off, s, n);
            off += (uint32_t)n;
            continue;
        }
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            int len = dl_utf8_next(s + i, n - i, &cp);
            int b = len > 0 ? dl_unicode_to_byte(cp) : -1;
            if (b >= 0) {
                t->dec[off++] = (char)b;
            } else {
                size_t k = len > 0 ? (size_t)len : 1;
                memcpy(t->dec + off, s + i, k);
                off += (uint32_t)k;
            }
            i += len > 0 ? (size_t)len : 1;
        }
    }
    t->dec_off[t->n_vocab] = off;
}

typedef struct special_key {
    uint8_t first;
    uint32_t len;
    int32_t id;
} special_key;

static int special_key_cmp(const void *pa, const void *pb) {
    const special_key *a = pa, *b = pb;
    if (a->first != b->first) return a->first < b->first ? -1 : 1;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;   /* longest first */
    return a->id < b->id ? -1 : a->id > b->id;
}

static int build_specials(dl_tok *t, dl_err *err) {
    size_t n = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        uint8_t ty = t->type[id];
        n += (ty == DL_TOKT_CONTROL || ty == DL_TOKT_USER_DEFINED) && t->text_off[id + 1] > t->text_off[id];
    }
    special_key *keys = dl_malloc((n ? n : 1) * sizeof *keys);
    t->special_ids = dl_malloc((n ? n : 1) * sizeof *t->special_ids);
    if (!keys || !t->special_ids) {
        dl_free(keys);
        return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory for special tokens");
    }
    size_t k = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        uint8_t ty = t->type[id];
        size_t len;
        const char *s = dl_tok_text(t, id, &len);
        if ((ty == DL_TOKT_CONTROL || ty == DL_TOKT_USER_DEFINED) && len > 0)
            keys[k++] = (special_key){.first = (uint8_t)s[0], .len = (uint32_t)len, .id = id};
    }
    qsort(keys, n, sizeof *keys, special_key_cmp);
    memset(t->special_start, 0, sizeof t->special_start);
    for (size_t i = 0; i < n; i++) {
        t->special_ids[i] = keys[i].id;
        t->special_start[keys[i].first + 1]++;
    }
    for (int b = 0; b < 256; b++) t->special_start[b + 1] += t->special_start[b];
    dl_free(keys);
    return 0;
}

/* First id whose text is exactly `name`, or -1. */
static int32_t find_text(const dl_tok *t, const char *name) {
    size_t n = strlen(name);
    for (int32_t id = 0; id < t->n_vocab; id++) {
        size_t len;
        const char *s = dl_tok_text(t, id, &len);
        if (len == n && memcmp(s, name, n) == 0) return id;
    }
    return -1;
}

static int load_special_id(const dl_tok *t, const dl_gguf *g, const char *key, int32_t *out, dl_err *err) {
    int64_t v;
    int rc = dl_gguf_get_i64_opt(g, key, -1, &v, err);
    if (rc) return rc;
    if (v == -1) {   /* absent, or written as -1 meaning "none" */
        *out = -1;
        return 0;
    }
    if (v < 0 || v >= t->n_vocab)
        return dl_fail(err, DIFFLM_E_FORMAT, "%s: token id %lld is outside the vocabulary (%d tokens)",
                       key, (long long)v, t->n_vocab);
    *out = (int32_t)v;
    return 0;
}

static int load_special_ids(dl_tok *t, const dl_gguf *g, dl_err *err) {
    dl_tok_special *sp = &t->sp;
    int rc;
    if ((rc = load_special_id(t, g, "tokenizer.ggml.bos_token_id", &sp->bos, err)) ||
        (rc = load_special_id(t, g, "tokenizer.ggml.eos_token_id", &sp->eos, err)) ||
        (rc = load_special_id(t, g, "tokenizer.ggml.mask_token_id", &sp->mask, err)) ||
        (rc = load_special_id(t, g, "tokenizer.ggml.padding_token_id", &sp->pad, err)) ||
        (rc = load_special_id(t, g, "tokenizer.ggml.eot_token_id", &sp->eot, err)))
        return rc;
    if (sp->eot < 0) sp->eot = find_text(t, "<|eot_id|>");
    if (sp->eot < 0) sp->eot = find_text(t, "<|im_end|>");
    int add_bos;
    if ((rc = dl_gguf_get_bool_opt(g, "tokenizer.ggml.add_bos_token", 0, &add_bos, err))) return rc;
    sp->add_bos = add_bos != 0;
    return 0;
}

int dl_tok_load(dl_tok **out, const dl_gguf *g, dl_err *err) {
    if (!out || !g) return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_tok_load: NULL argument");
    *out = NULL;
    dl_tok *t = dl_calloc(1, sizeof *t);
    if (!t) return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory");
    int rc;
    if ((rc = load_model_and_pre(t, g, err)) || (rc = load_tokens(t, g, err)) ||
        (rc = load_types(t, g, err)) || (rc = build_text_map(t, err)) ||
        (rc = load_merges(t, g, err)) || (rc = build_specials(t, err)) ||
        (rc = load_special_ids(t, g, err))) {
        dl_tok_free(t);
        return rc;
    }
    build_decode(t);
    if (find_text(t, "<|start_header_id|>") >= 0) t->chat_style = DL_CHAT_LLAMA3;
    else if (find_text(t, "<|im_start|>") >= 0) t->chat_style = DL_CHAT_CHATML;
    else t->chat_style = DL_CHAT_NONE;
    if ((rc = dl_pretok_init(&t->pretok, t->pre_type, err))) {
        dl_tok_free(t);
        return rc;
    }
    dl_str tpl;   /* a template that does not compile fails dl_tok_chat, not the load */
    if ((rc = dl_gguf_get_str_opt(g, "tokenizer.chat_template", &tpl, err))) {
        dl_tok_free(t);
        return rc;
    }
    if (tpl.p && dl_tok_set_chat_template(t, tpl.p, tpl.n, err) == DIFFLM_E_NOMEM) {
        dl_tok_free(t);
        return DIFFLM_E_NOMEM;
    }
    dl_err_clear(err);
    *out = t;
    return 0;
}

void dl_tok_free(dl_tok *t) {
    if (!t) return;
    dl_pretok_free(&t->pretok);
    dl_free(t->text);
    dl_free(t->text_off);
    dl_free(t->type);
    dl_free(t->dec);
    dl_free(t->dec_off);
    dl_free(t->bpe_slots);
    dl_free(t->merge_slots);
    dl_free(t->special_ids);
    dl_tok_set_chat_template(t, NULL, 0, NULL);
    dl_free(t);
}

int32_t dl_tok_n_vocab(const dl_tok *t) { return t->n_vocab; }
const dl_tok_special *dl_tok_specials(const dl_tok *t) { return &t->sp; }
int dl_tok_chat_style(const dl_tok *t) { return t->chat_style; }

/* tok_load.c - builds a dl_tok from a GGUF file's tokenizer.* keys (doc/formats.md, "Tokenizer metadata").
 *
 * Everything is copied out of the file, so the dl_gguf may be closed afterwards. The
 * shared steps live in tok_build.c. */
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
    uint64_t total = 0;
    dl_str s;
    for (uint64_t i = 0; i < n; i++) {
        if ((rc = dl_gguf_arr_str(g, KEY_TOKENS, i, &s, err))) return rc;
        total += s.n;
        if (total > UINT32_MAX)
            return dl_fail(err, DIFFLM_E_FORMAT, KEY_TOKENS ": token texts exceed 4 GiB at [%llu]",
                           (unsigned long long)i);
    }
    if ((rc = dl_tok_alloc_vocab(t, (int32_t)n, (size_t)total, err))) return rc;
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

static int load_merges(dl_tok *t, const dl_gguf *g, dl_err *err) {
    if (dl_gguf_find_key(g, KEY_MERGES) < 0)
        return dl_fail(err, DIFFLM_E_FORMAT, KEY_MERGES ": required for a gpt2 tokenizer, missing");
    uint32_t et;
    uint64_t n;
    int rc = dl_gguf_get_arr(g, KEY_MERGES, &et, &n, err);
    if (rc) return rc;
    if (et != DL_GGUF_STRING) return dl_fail(err, DIFFLM_E_FORMAT, KEY_MERGES ": not an array of strings");
    if (n >= (uint64_t)INT32_MAX) return dl_fail(err, DIFFLM_E_FORMAT, KEY_MERGES ": too many merges");
    if ((rc = dl_tok_merges_begin(t, (size_t)n, err))) return rc;
    char *joined = NULL;   /* left + right, for the result lookup */
    size_t joined_cap = 0;
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        dl_str s;
        if ((rc = dl_gguf_arr_str(g, KEY_MERGES, i, &s, err))) break;
        const char *sp = s.n ? memchr(s.p, ' ', s.n) : NULL;
        if (!sp || sp == s.p || sp == s.p + s.n - 1) {
            rc = dl_fail(err, DIFFLM_E_FORMAT, KEY_MERGES "[%llu]: '%.*s' is not \"left right\"",
                         (unsigned long long)i, SHOW(s));
            break;
        }
        size_t nl = (size_t)(sp - s.p);
        rc = dl_tok_add_merge(t, s.p, nl, sp + 1, s.n - nl - 1, (int32_t)i, &joined, &joined_cap, err);
    }
    dl_free(joined);
    return rc;
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
        (rc = load_types(t, g, err)) || (rc = dl_tok_build_text_map(t, KEY_TOKENS, err)) ||
        (rc = load_merges(t, g, err)) || (rc = load_special_ids(t, g, err)) ||
        (rc = dl_tok_finish(t, err)) || (rc = dl_pretok_init(&t->pretok, t->pre_type, err))) {
        dl_tok_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

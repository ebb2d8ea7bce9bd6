/* tok_encode.c - text to ids: special tokens, then UTF-8 runs, then pre-token pieces,
 * then BPE on each piece.
 *
 * PCRE2 needs valid UTF-8, so a fragment is cut into maximal valid runs; every byte that
 * starts no valid character becomes a piece of its own (and so its byte token), which is
 * what keeps any byte string round-tripping. */
#include <string.h>

#include "tok/tok_internal.h"

typedef struct encode_ctx {
    const dl_tok *t;
    dl_idsink sink;
    dl_bpe_scratch scratch;
    dl_err *err;
} encode_ctx;

static int on_piece(void *user, const uint8_t *p, size_t n) {
    encode_ctx *c = user;
    return dl_bpe_piece(&c->sink, c->t, p, n, &c->scratch, c->err);
}

/* A byte that starts no valid character: its byte token. */
static int on_invalid_byte(void *user, const uint8_t *p, size_t n) {
    (void)n;
    encode_ctx *c = user;
    dl_idsink_put(&c->sink, c->t->byte_tok[p[0]]);
    return 0;
}

/* Plain text (no special tokens inside). */
static int encode_fragment(encode_ctx *c, const uint8_t *s, size_t n) {
    return dl_pretok_split_bytes(&c->t->pretok, s, n, on_piece, on_invalid_byte, c, c->err);
}

/* Longest special token starting at s[0..n), or -1. */
static int32_t special_at(const dl_tok *t, const uint8_t *s, size_t n) {
    for (uint32_t k = t->special_start[s[0]]; k < t->special_start[s[0] + 1]; k++) {
        int32_t id = t->special_ids[k];
        size_t len;
        const char *txt = dl_tok_text(t, id, &len);
        if (len <= n && memcmp(txt, s, len) == 0) return id;
    }
    return -1;
}

int dl_tok_encode(const dl_tok *t, const char *text, size_t len, uint32_t flags,
                  int32_t *out, size_t cap, size_t *n_out, dl_err *err) {
    if (!t || !n_out || (!text && len) || (!out && cap))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_tok_encode: NULL argument");
    encode_ctx c = {.t = t, .sink = {.out = out, .cap = cap, .n = 0}, .err = err};
    const uint8_t *s = (const uint8_t *)text;
    int rc = 0;
    if ((flags & DIFFLM_TOKENIZE_ADD_BOS) && t->sp.bos >= 0) dl_idsink_put(&c.sink, t->sp.bos);
    if (flags & DIFFLM_TOKENIZE_PARSE_SPECIAL) {
        size_t start = 0;
        for (size_t i = 0; i < len && rc == 0;) {
            int32_t id = special_at(t, s + i, len - i);
            if (id < 0) {
                i++;
                continue;
            }
            rc = encode_fragment(&c, s + start, i - start);
            dl_idsink_put(&c.sink, id);
            i += t->text_off[id + 1] - t->text_off[id];
            start = i;
        }
        if (rc == 0) rc = encode_fragment(&c, s + start, len - start);
    } else {
        rc = encode_fragment(&c, s, len);
    }
    dl_bpe_scratch_free(&c.scratch);
    if (rc) return rc;
    *n_out = c.sink.n;
    if (c.sink.n > cap)
        return dl_fail(err, DIFFLM_E_BUFFER_TOO_SMALL, "tokenizer: %zu ids do not fit in %zu", c.sink.n, cap);
    return 0;
}

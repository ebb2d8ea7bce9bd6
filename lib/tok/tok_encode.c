/* tok_encode.c - text to ids, in Hugging Face's order (doc/design.md, "Tokenizer"):
 *
 *   1. added tokens matched in the raw text (those not marked normalized: every added
 *      token of a GGUF file), leftmost-longest, with lstrip / rstrip / single_word;
 *   2. each stretch between them normalized (NFC ...), then the normalized added tokens
 *      matched in it the same way;
 *   3. each remaining stretch pre-tokenized (pretok.c) and each piece BPE-merged;
 *   4. the post-processor's tokens around it all (DIFFLM_TOKENIZE_ADD_BOS).
 *
 * Hugging Face text is always valid UTF-8; ours may not be. The normalizers and the
 * pre-tokenizer see maximal valid runs, and every byte that starts no valid character
 * becomes a piece of its own (so its byte token), which keeps any byte string
 * round-tripping. */
#include <string.h>

#include "tok/tok_internal.h"

typedef struct encode_ctx {
    const dl_tok *t;
    dl_idsink sink;
    dl_bpe_scratch scratch;
    uint32_t flags;
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

static int encode_pieces(encode_ctx *c, const uint8_t *s, size_t n) {
    return dl_pretok_split_bytes(&c->t->pretok, s, n, on_piece, on_invalid_byte, c, c->err);
}

typedef int (*gap_fn)(encode_ctx *c, const uint8_t *s, size_t n);

/* Longest added token of this stage (normalized or not) starting at s[0..n), or -1. */
static int32_t added_at(const dl_tok *t, const uint8_t *s, size_t n, int normalized) {
    for (uint32_t k = t->special_start[s[0]]; k < t->special_start[s[0] + 1]; k++) {
        int32_t id = t->special_ids[k];
        if (((t->attr[id] & DL_TOKA_NORMALIZED) != 0) != normalized) continue;
        size_t len;
        const char *txt = dl_tok_text(t, id, &len);
        if (len <= n && memcmp(txt, s, len) == 0) return id;
    }
    return -1;
}

/* The character ending at s[end] (searching back over continuation bytes). */
static int char_before(const uint8_t *s, size_t end, uint32_t *cp, size_t *start) {
    size_t i = end;
    while (i > 0 && end - i < 4) {
        i--;
        if ((s[i] & 0xC0) != 0x80) break;
    }
    int len = dl_utf8_next(s + i, end - i, cp);
    if (len <= 0 || i + (size_t)len != end) return 0;
    *start = i;
    return 1;
}

static int word_before(const uint8_t *s, size_t pos) {
    uint32_t cp;
    size_t st;
    return pos > 0 && char_before(s, pos, &cp, &st) && dl_uni_is_word(cp);
}

static int word_after(const uint8_t *s, size_t n, size_t pos) {
    uint32_t cp;
    return pos < n && dl_utf8_next(s + pos, n - pos, &cp) > 0 && dl_uni_is_word(cp);
}

/* tokenizers' AddedVocabulary::find_matches over s[0..n): a match that is special
 * while specials are not parsed, or single_word between word characters, is passed
 * over (and its text stays text); lstrip takes the whitespace before the match back to
 * the previous split, rstrip the whitespace after it. */
static int split_added(encode_ctx *c, const uint8_t *s, size_t n, int normalized, gap_fn gap) {
    const dl_tok *t = c->t;
    int parse_special = (c->flags & DIFFLM_TOKENIZE_PARSE_SPECIAL) != 0;
    size_t done = 0;   /* end of the last split */
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        int32_t id = added_at(t, s + i, n - i, normalized);
        if (id < 0) {
            i++;
            continue;
        }
        size_t start = i, stop = i + (t->text_off[id + 1] - t->text_off[id]);
        i = stop;
        uint8_t a = t->attr[id];
        if (t->type[id] == DL_TOKT_CONTROL && !parse_special) continue;
        if ((a & DL_TOKA_SINGLE_WORD) && (word_before(s, start) || word_after(s, n, stop))) continue;
        if (a & DL_TOKA_LSTRIP) {
            uint32_t cp;
            size_t st;
            while (start > done && char_before(s, start, &cp, &st) && dl_uni_is_space(cp)) start = st;
        }
        if (a & DL_TOKA_RSTRIP) {
            uint32_t cp;
            int len;
            while (stop < n && (len = dl_utf8_next(s + stop, n - stop, &cp)) > 0 && dl_uni_is_space(cp))
                stop += (size_t)len;
        }
        if (start > done) rc = gap(c, s + done, start - done);
        if (rc) break;
        dl_idsink_put(&c->sink, id);
        done = stop;
        if (i < stop) i = stop;
    }
    if (rc == 0 && done < n) rc = gap(c, s + done, n - done);
    return rc;
}

/* Text between raw-matched added tokens: normalize, then match the normalized ones. */
static int encode_gap(encode_ctx *c, const uint8_t *s, size_t n) {
    const dl_tok *t = c->t;
    if (t->pretok.n_norm == 0) return t->any_normalized ? split_added(c, s, n, 1, encode_pieces)
                                                        : encode_pieces(c, s, n);
    /* normalized text: each valid run normalized, invalid bytes kept in place */
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        size_t run = i;
        uint32_t cp;
        int l;
        while (run < n && (l = dl_utf8_next(s + run, n - run, &cp)) > 0) run += (size_t)l;
        uint8_t *norm = NULL;
        size_t nn = 0;
        if (run > i && (rc = dl_normalize(&t->pretok, s + i, run - i, &norm, &nn, c->err))) break;
        size_t extra = nn + (run < n ? 1 : 0);
        if (len + extra > cap) {
            size_t nc = cap ? cap : 64;
            while (nc < len + extra) nc *= 2;
            uint8_t *nb = dl_realloc(buf, nc);
            if (!nb) {
                dl_free(norm);
                rc = dl_fail(c->err, DIFFLM_E_NOMEM, "tokenizer: out of memory");
                break;
            }
            buf = nb;
            cap = nc;
        }
        if (nn) memcpy(buf + len, norm, nn);
        len += nn;
        dl_free(norm);
        if (run < n) buf[len++] = s[run++];
        i = run;
    }
    if (rc == 0) rc = t->any_normalized ? split_added(c, buf, len, 1, encode_pieces) : encode_pieces(c, buf, len);
    dl_free(buf);
    return rc;
}

int dl_tok_encode(const dl_tok *t, const char *text, size_t len, uint32_t flags,
                  int32_t *out, size_t cap, size_t *n_out, dl_err *err) {
    if (!t || !n_out || (!text && len) || (!out && cap))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_tok_encode: NULL argument");
    encode_ctx c = {.t = t, .sink = {.out = out, .cap = cap, .n = 0}, .flags = flags, .err = err};
    int add = (flags & DIFFLM_TOKENIZE_ADD_BOS) != 0;
    if (add && t->has_template) {
        for (int i = 0; i < t->n_tmpl_pre; i++) dl_idsink_put(&c.sink, t->tmpl_pre[i]);
    } else if (add && t->sp.bos >= 0) {
        dl_idsink_put(&c.sink, t->sp.bos);
    }
    int rc = len ? split_added(&c, (const uint8_t *)text, len, 0, encode_gap) : 0;
    if (add && t->has_template)
        for (int i = 0; i < t->n_tmpl_post; i++) dl_idsink_put(&c.sink, t->tmpl_post[i]);
    dl_bpe_scratch_free(&c.scratch);
    if (rc) return rc;
    *n_out = c.sink.n;
    if (c.sink.n > cap)
        return dl_fail(err, DIFFLM_E_BUFFER_TOO_SMALL, "tokenizer: %zu ids do not fit in %zu", c.sink.n, cap);
    return 0;
}

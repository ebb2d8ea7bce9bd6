/* pretok.c - the pre-tokenizer pipeline (Hugging Face's pre_tokenizer, doc/design.md
 * "Tokenizer"): a list of steps, each re-splitting every piece the step before it made.
 *
 * A Split step finds its pattern's matches (a built-in scanner for the regexes real
 * tokenizers use, PCRE2 for any other regex, or a literal), marks the text between them
 * as non-matches, flips the marks when inverted, and then groups the marked segments by
 * its delimiter behaviour, as tokenizers' NormalizedString::split does. Digits is a
 * Split whose matches are single numeric characters. Empty pieces are dropped. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#include "tok/tok_internal.h"

/* The GGUF "default" rule set (llama.cpp's fallback): isolate punctuation and the
 * symbols $ + < = > ^ ~ |, then the gpt-2 rules, then isolate number runs, then cut
 * ASCII digit runs into threes from the left. All but the gpt-2 rules run on PCRE2. */
static const char RE_PUNCT[] = "[\\p{P}\\$\\+<=>\\^~\\|]+";
static const char RE_GPT2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char RE_NUMBERS[] = "\\p{N}+";
static const char RE_DIGIT3[] = "[0-9]{3}";
/* The Ling / Bailing tokenizer.json Split regex (llama.cpp's bailingmoe, bailingmoe2 and
 * llada-moe pre-tokenizers): llama3's shape with single digits and one newline per
 * whitespace-newline run; PCRE2 keeps its possessive quantifiers. */
static const char RE_BAILING[] =
    "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*"
    "|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+";

int dl_pretok_type_from_name(const char *name, size_t n, int *ignore_merges) {
    static const struct { const char *name; int type; int ignore_merges; } names[] = {
        {"default", DL_PRE_DEFAULT, 0},
        {"gpt-2", DL_PRE_GPT2, 0},
        {"llama3", DL_PRE_LLAMA3, 1},
        {"llama-bpe", DL_PRE_LLAMA3, 1},
        {"llama-v3", DL_PRE_LLAMA3, 1},
        {"smaug-bpe", DL_PRE_LLAMA3, 0},   /* llama3's regex without its flags */
        {"qwen2", DL_PRE_QWEN2, 0},
        {"bailingmoe", DL_PRE_BAILING, 0},
        {"bailingmoe2", DL_PRE_BAILING, 0},
        {"llada-moe", DL_PRE_BAILING, 0},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) == n && memcmp(names[i].name, name, n) == 0) {
            *ignore_merges = names[i].ignore_merges;
            return names[i].type;
        }
    }
    return -1;
}

int dl_pretok_add_step(dl_pretok *p, const dl_pre_step *s, dl_err *err) {
    if (p->n_step >= DL_PRETOK_MAX_STEPS)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "tokenizer: more than %d pre-tokenizer steps", DL_PRETOK_MAX_STEPS);
    p->step[p->n_step++] = *s;
    return 0;
}

static int compile_regex(void **out, const char *pattern, size_t n, dl_err *err) {
    int ec;
    PCRE2_SIZE eoff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, n, PCRE2_UTF | PCRE2_UCP, &ec, &eoff, NULL);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        /* pcre2_compile reports a failed allocation as compile error HEAP_FAILED. */
        if (ec == PCRE2_ERROR_HEAP_FAILED || ec == PCRE2_ERROR_HEAPLIMIT || ec == PCRE2_ERROR_NOMEMORY)
            return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory compiling a regex");
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "tokenizer: pre-tokenizer regex '%.*s' at offset %zu: %s",
                       (int)(n > 80 ? 80 : n), pattern, (size_t)eoff, (const char *)msg);
    }
    /* JIT is an accelerator only: where it is unavailable the interpreter runs. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    *out = re;
    return 0;
}

int dl_pretok_add_split(dl_pretok *p, const char *pattern, size_t n, int is_regex, int behavior,
                        int invert, dl_err *err) {
    dl_pre_step s = {.kind = DL_PK_SPLIT, .behavior = (uint8_t)behavior, .invert = invert != 0};
    int rc;
    if (is_regex) {
        s.scan = (uint8_t)dl_scan_from_regex(pattern, n);
        if (s.scan == DL_SCAN_NONE && (rc = compile_regex(&s.re, pattern, n, err))) return rc;
    } else {
        if (n == 0) return dl_fail(err, DIFFLM_E_FORMAT, "tokenizer: empty Split pattern");
        s.lit = dl_malloc(n);
        if (!s.lit) return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory");
        memcpy(s.lit, pattern, n);
        s.lit_n = n;
    }
    if ((rc = dl_pretok_add_step(p, &s, err))) {
        if (s.re) pcre2_code_free(s.re);
        dl_free(s.lit);
    }
    return rc;
}

int dl_pretok_init(dl_pretok *p, int pre_type, dl_err *err) {
    memset(p, 0, sizeof *p);
    int rc = 0;
    switch (pre_type) {
    case DL_PRE_GPT2:
        rc = dl_pretok_add_split(p, RE_GPT2, strlen(RE_GPT2), 1, DL_SPLIT_ISOLATED, 0, err);
        break;
    case DL_PRE_LLAMA3:
        rc = dl_pretok_add_step(p, &(dl_pre_step){.kind = DL_PK_SPLIT, .scan = DL_SCAN_LLAMA3}, err);
        break;
    case DL_PRE_QWEN2:
        p->norm[p->n_norm++] = DL_UNORM_NFC;   /* Hugging Face's Qwen2 pipeline normalizes */
        rc = dl_pretok_add_step(p, &(dl_pre_step){.kind = DL_PK_SPLIT, .scan = DL_SCAN_QWEN2}, err);
        break;
    case DL_PRE_BAILING:
        rc = dl_pretok_add_split(p, RE_BAILING, strlen(RE_BAILING), 1, DL_SPLIT_ISOLATED, 0, err);
        break;
    case DL_PRE_DEFAULT: {
        const char *list[] = {RE_PUNCT, RE_GPT2, RE_NUMBERS, RE_DIGIT3};
        for (int i = 0; i < 4 && rc == 0; i++)
            rc = dl_pretok_add_split(p, list[i], strlen(list[i]), 1, DL_SPLIT_ISOLATED, 0, err);
        break;
    }
    default:
        return dl_fail(err, DIFFLM_E_INTERNAL, "tokenizer: bad pre-tokenizer type %d", pre_type);
    }
    if (rc) dl_pretok_free(p);
    return rc;
}

void dl_pretok_free(dl_pretok *p) {
    for (int i = 0; i < p->n_step; i++) {
        if (p->step[i].re) pcre2_code_free(p->step[i].re);
        dl_free(p->step[i].lit);
    }
    memset(p, 0, sizeof *p);
}

/* ---- splitting */

typedef struct seg {
    size_t a, b;
    int match;
} seg;

typedef struct seg_list {
    seg *v;
    size_t n, cap;
    seg inline_v[32];
} seg_list;

static int seg_push(seg_list *l, size_t a, size_t b, int match, dl_err *err) {
    if (l->n == l->cap) {
        size_t cap = l->cap * 2;
        seg *v = dl_malloc(cap * sizeof *v);
        if (!v) return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory splitting");
        memcpy(v, l->v, l->n * sizeof *v);
        if (l->v != l->inline_v) dl_free(l->v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (seg){a, b, match};
    return 0;
}

typedef struct split_ctx {
    const dl_pretok *p;
    pcre2_match_data *md[DL_PRETOK_MAX_STEPS];
    dl_piece_fn fn;
    void *user;
    dl_err *err;
} split_ctx;

static size_t char_len(const uint8_t *s, size_t n, size_t pos) {
    uint32_t cp;
    int len = dl_utf8_next(s + pos, n - pos, &cp);
    return len > 0 ? (size_t)len : 1;
}

/* One PCRE2 match at or after off; falls back to the interpreter when the JIT runs out
 * of stack. Returns 1 with [*a, *b), 0 for no match, or a status. */
static int regex_find(split_ctx *c, int level, const uint8_t *s, size_t n, size_t off, size_t *a, size_t *b) {
    const dl_pre_step *st = &c->p->step[level];
    int rc = pcre2_match(st->re, s, n, off, PCRE2_NO_UTF_CHECK, c->md[level], NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(st->re, s, n, off, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, c->md[level], NULL);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return -dl_fail(c->err, rc == PCRE2_ERROR_NOMEMORY || rc == PCRE2_ERROR_HEAPLIMIT
                                    ? DIFFLM_E_NOMEM : DIFFLM_E_INTERNAL,
                        "tokenizer: pre-tokenizer regex %d failed: %s", level, (const char *)msg);
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md[level]);
    *a = ov[0];
    *b = ov[1];
    if (*a < off || *b < *a || *b > n)
        return -dl_fail(c->err, DIFFLM_E_INTERNAL, "tokenizer: regex %d matched outside the piece", level);
    return 1;
}

/* The next match at or after pos: 1 with [*a, *b), 0 for none, or -status. */
static int find_next(split_ctx *c, int level, const uint8_t *s, size_t n, size_t pos, size_t *a, size_t *b) {
    const dl_pre_step *st = &c->p->step[level];
    if (st->kind == DL_PK_DIGITS) {
        for (size_t i = pos; i < n; i += char_len(s, n, i)) {
            uint32_t cp;
            int len = dl_utf8_next(s + i, n - i, &cp);
            if (len > 0 && dl_uni_is_number(cp)) {
                *a = i;
                *b = i + (size_t)len;
                return 1;
            }
        }
        return 0;
    }
    if (st->scan != DL_SCAN_NONE) {
        for (size_t i = pos; i < n; i += char_len(s, n, i)) {
            size_t len = dl_scan_match(st->scan, s, n, i);
            if (len) {
                *a = i;
                *b = i + len;
                return 1;
            }
        }
        return 0;
    }
    if (st->lit) {
        for (size_t i = pos; i + st->lit_n <= n; i++)
            if (memcmp(s + i, st->lit, st->lit_n) == 0) {
                *a = i;
                *b = i + st->lit_n;
                return 1;
            }
        return 0;
    }
    /* an empty regex match marks nothing: look again one character on */
    for (size_t off = pos; off <= n;) {
        int rc = regex_find(c, level, s, n, off, a, b);
        if (rc <= 0) return rc;
        if (*b > *a) return 1;
        if (*a >= n) return 0;
        off = *a + char_len(s, n, *a);
    }
    return 0;
}

static int split_level(split_ctx *c, int level, const uint8_t *s, size_t n);

static int emit(split_ctx *c, int level, const uint8_t *s, size_t a, size_t b) {
    return b > a ? split_level(c, level + 1, s + a, b - a) : 0;
}

static int split_level(split_ctx *c, int level, const uint8_t *s, size_t n) {
    if (n == 0) return 0;
    if (level == c->p->n_step) return c->fn(c->user, s, n);
    const dl_pre_step *st = &c->p->step[level];
    if (st->kind == DL_PK_PREFIX) {
        if (s[0] == ' ') return split_level(c, level + 1, s, n);
        uint8_t *buf = dl_malloc(n + 1);
        if (!buf) return dl_fail(c->err, DIFFLM_E_NOMEM, "tokenizer: out of memory");
        buf[0] = ' ';
        memcpy(buf + 1, s, n);
        int rc = split_level(c, level + 1, buf, n + 1);
        dl_free(buf);
        return rc;
    }
    /* marked segments covering s[0..n) */
    seg_list l = {.cap = 32};
    l.v = l.inline_v;
    int rc = 0;
    size_t pos = 0, a = 0, b = 0;
    int invert = st->invert;
    while (pos < n) {
        int f = find_next(c, level, s, n, pos, &a, &b);
        if (f < 0) {
            rc = -f;
            break;
        }
        if (f == 0) break;
        if (a > pos && (rc = seg_push(&l, pos, a, invert, c->err))) break;
        if ((rc = seg_push(&l, a, b, !invert, c->err))) break;
        pos = b;
    }
    if (rc == 0 && pos < n) rc = seg_push(&l, pos, n, invert, c->err);

    int beh = st->kind == DL_PK_DIGITS ? (st->individual ? DL_SPLIT_ISOLATED : DL_SPLIT_CONTIGUOUS)
                                       : st->behavior;
    /* group in place: out[k] are the pieces to pass on */
    size_t k = 0;
    if (rc == 0) {
        seg *v = l.v;
        switch (beh) {
        case DL_SPLIT_ISOLATED: k = l.n; break;
        case DL_SPLIT_REMOVED:
            for (size_t i = 0; i < l.n; i++)
                if (!v[i].match) v[k++] = v[i];
            break;
        case DL_SPLIT_MERGED_PREV: {   /* a match joins the piece before it */
            int prev_match = 0;
            for (size_t i = 0; i < l.n; i++) {
                if (v[i].match && !prev_match && k > 0) v[k - 1].b = v[i].b;
                else v[k++] = v[i];
                prev_match = v[i].match;
            }
            break;
        }
        case DL_SPLIT_MERGED_NEXT: {   /* a match joins the piece after it (scan backwards) */
            int prev_match = 0;
            size_t w = l.n;   /* pieces are built at the end, right to left */
            for (size_t i = l.n; i-- > 0;) {
                seg cur = v[i];
                if (cur.match && !prev_match && w < l.n) v[w].a = cur.a;
                else v[--w] = cur;
                prev_match = cur.match;
            }
            memmove(v, v + w, (l.n - w) * sizeof *v);
            k = l.n - w;
            break;
        }
        default: {   /* CONTIGUOUS: runs of equal marks join */
            int prev_match = 0;
            for (size_t i = 0; i < l.n; i++) {
                if (v[i].match == prev_match && k > 0) v[k - 1].b = v[i].b;
                else v[k++] = v[i];
                prev_match = v[i].match;
            }
            break;
        }
        }
        for (size_t i = 0; i < k && rc == 0; i++) rc = emit(c, level, s, v[i].a, v[i].b);
    }
    if (l.v != l.inline_v) dl_free(l.v);
    return rc;
}

int dl_pretok_split(const dl_pretok *p, const uint8_t *s, size_t n, dl_piece_fn fn, void *user,
                    dl_err *err) {
    split_ctx c = {.p = p, .fn = fn, .user = user, .err = err};
    int rc = 0;
    for (int i = 0; i < p->n_step; i++) {
        if (!p->step[i].re) continue;
        c.md[i] = pcre2_match_data_create(1, NULL);
        if (!c.md[i]) {
            rc = dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory for regex match data");
            break;
        }
    }
    if (rc == 0) rc = split_level(&c, 0, s, n);
    for (int i = 0; i < p->n_step; i++) pcre2_match_data_free(c.md[i]);
    return rc;
}

int dl_pretok_split_bytes(const dl_pretok *p, const uint8_t *s, size_t n, dl_piece_fn fn,
                          dl_piece_fn on_invalid, void *user, dl_err *err) {
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        uint32_t cp;
        int len;
        while (run < n && (len = dl_utf8_next(s + run, n - run, &cp)) > 0) run += (size_t)len;
        if (run > i) {
            int rc = dl_pretok_split(p, s + i, run - i, fn, user, err);
            if (rc) return rc;
        }
        if (run < n) {
            int rc = on_invalid ? on_invalid(user, s + run, 1) : 0;
            if (rc) return rc;
            run++;
        }
        i = run;
    }
    return 0;
}

/* pretok.c - pre-tokenizer split rules (doc/formats.md, "Pre-tokenizer rules") as PCRE2 regex lists.
 *
 * Each rule set is a list of regexes applied in sequence: every regex re-splits each
 * piece the previous one produced, and within a piece every match and every unmatched
 * gap between matches become pieces of their own, so no byte is ever dropped. Patterns
 * run with UTF + UCP, so \p{L}, \p{N} and \s are Unicode classes. Patterns have no
 * capture groups; only the whole match is read. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#include "tok/tok_internal.h"

/* gpt-2: lowercase contractions; a letter, number or other-symbol run with at most one
 * leading space; whitespace that leaves its last character to the next piece when text
 * follows; any remaining whitespace. */
static const char RE_GPT2[] =
    "'(?:s|t|re|ve|m|ll|d)"
    "| ?\\p{L}+"
    "| ?\\p{N}+"
    "| ?[^\\s\\p{L}\\p{N}]+"
    "|\\s+(?!\\S)"
    "|\\s+";

/* llama3 / qwen2 share everything but the number rule (%s). Contractions are
 * case-insensitive but ASCII-only (a caseless 's' in UCP mode would also match U+017F).
 * One non-letter, non-number, non-newline character may lead a letter run; a symbol run
 * takes the newlines after it; a whitespace run holding newlines ends at its last one. */
#define RE_LLAMA_LIKE(NUM)                                   \
    "'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])"    \
    "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"                         \
    "|" NUM                                                  \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"                        \
    "|\\s*[\\r\\n]+"                                         \
    "|\\s+(?!\\S)"                                           \
    "|\\s+"

static const char RE_LLAMA3[] = RE_LLAMA_LIKE("\\p{N}{1,3}");
static const char RE_QWEN2[] = RE_LLAMA_LIKE("\\p{N}");

/* default: isolate punctuation and the symbols $ + < = > ^ ~ |, then the gpt-2 rules,
 * then isolate number runs, then cut ASCII digit runs into threes from the left. */
static const char RE_PUNCT[] = "[\\p{P}\\$\\+<=>\\^~\\|]+";
static const char RE_NUMBERS[] = "\\p{N}+";
static const char RE_DIGIT3[] = "[0-9]{3}";

int dl_pretok_type_from_name(const char *name, size_t n, int *ignore_merges) {
    static const struct { const char *name; int type; int ignore_merges; } names[] = {
        {"default", DL_PRE_DEFAULT, 0},
        {"gpt-2", DL_PRE_GPT2, 0},
        {"llama3", DL_PRE_LLAMA3, 1},
        {"llama-bpe", DL_PRE_LLAMA3, 1},
        {"llama-v3", DL_PRE_LLAMA3, 1},
        {"smaug-bpe", DL_PRE_LLAMA3, 0},   /* llama3's regex without its flags */
        {"qwen2", DL_PRE_QWEN2, 0},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) == n && memcmp(names[i].name, name, n) == 0) {
            *ignore_merges = names[i].ignore_merges;
            return names[i].type;
        }
    }
    return -1;
}

static int compile_one(dl_pretok *p, const char *pattern, dl_err *err) {
    int ec;
    PCRE2_SIZE eoff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP, &ec, &eoff, NULL);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        /* pcre2_compile reports a failed allocation as compile error HEAP_FAILED. */
        return dl_fail(err, ec == PCRE2_ERROR_HEAP_FAILED || ec == PCRE2_ERROR_HEAPLIMIT ||
                                    ec == PCRE2_ERROR_NOMEMORY
                                ? DIFFLM_E_NOMEM : DIFFLM_E_INTERNAL,
                       "tokenizer: pre-tokenizer regex %d at offset %zu: %s", p->n_re,
                       (size_t)eoff, (const char *)msg);
    }
    /* JIT is an accelerator only: where it is unavailable the interpreter runs. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    p->re[p->n_re++] = re;
    return 0;
}

int dl_pretok_init(dl_pretok *p, int pre_type, dl_err *err) {
    memset(p, 0, sizeof *p);
    const char *list[DL_PRETOK_MAX_RE];
    int n = 0;
    switch (pre_type) {
    case DL_PRE_GPT2: list[n++] = RE_GPT2; break;
    case DL_PRE_LLAMA3: list[n++] = RE_LLAMA3; break;
    case DL_PRE_QWEN2: list[n++] = RE_QWEN2; break;
    case DL_PRE_DEFAULT:
        list[n++] = RE_PUNCT;
        list[n++] = RE_GPT2;
        list[n++] = RE_NUMBERS;
        list[n++] = RE_DIGIT3;
        break;
    default:
        return dl_fail(err, DIFFLM_E_INTERNAL, "tokenizer: bad pre-tokenizer type %d", pre_type);
    }
    for (int i = 0; i < n; i++) {
        int rc = compile_one(p, list[i], err);
        if (rc) {
            dl_pretok_free(p);
            return rc;
        }
    }
    return 0;
}

void dl_pretok_free(dl_pretok *p) {
    for (int i = 0; i < p->n_re; i++) pcre2_code_free(p->re[i]);
    memset(p, 0, sizeof *p);
}

typedef struct split_ctx {
    const dl_pretok *p;
    pcre2_match_data *md[DL_PRETOK_MAX_RE];
    dl_piece_fn fn;
    void *user;
    dl_err *err;
} split_ctx;

/* One match attempt; falls back to the interpreter when the JIT runs out of stack. */
static int match_at(split_ctx *c, int level, const uint8_t *s, size_t n, size_t off) {
    int rc = pcre2_match(c->p->re[level], s, n, off, PCRE2_NO_UTF_CHECK, c->md[level], NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(c->p->re[level], s, n, off, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                         c->md[level], NULL);
    return rc;
}

static int split_level(split_ctx *c, int level, const uint8_t *s, size_t n) {
    if (n == 0) return 0;
    if (level == c->p->n_re) return c->fn(c->user, s, n);
    size_t pos = 0, gap = 0;
    int rc;
    while (pos < n) {
        int m = match_at(c, level, s, n, pos);
        if (m == PCRE2_ERROR_NOMATCH) break;
        if (m < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(m, msg, sizeof msg);
            return dl_fail(c->err, m == PCRE2_ERROR_NOMEMORY || m == PCRE2_ERROR_HEAPLIMIT
                                       ? DIFFLM_E_NOMEM : DIFFLM_E_INTERNAL,
                           "tokenizer: pre-tokenizer regex %d failed: %s", level, (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md[level]);
        size_t a = ov[0], b = ov[1];
        if (a < pos || b < a || b > n)
            return dl_fail(c->err, DIFFLM_E_INTERNAL, "tokenizer: regex %d matched outside the piece", level);
        if (b == a) {
            /* no rule matches empty text; stepping one character keeps the loop finite */
            uint32_t cp;
            int len = dl_utf8_next(s + pos, n - pos, &cp);
            pos += len > 0 ? (size_t)len : 1;
            continue;
        }
        if (a > gap && (rc = split_level(c, level + 1, s + gap, a - gap))) return rc;
        if ((rc = split_level(c, level + 1, s + a, b - a))) return rc;
        pos = gap = b;
    }
    if (gap < n) return split_level(c, level + 1, s + gap, n - gap);
    return 0;
}

int dl_pretok_split(const dl_pretok *p, const uint8_t *s, size_t n, dl_piece_fn fn, void *user,
                    dl_err *err) {
    split_ctx c = {.p = p, .fn = fn, .user = user, .err = err};
    int rc = 0;
    for (int i = 0; i < p->n_re; i++) {
        c.md[i] = pcre2_match_data_create(1, NULL);
        if (!c.md[i]) {
            rc = dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory for regex match data");
            break;
        }
    }
    if (rc == 0) rc = split_level(&c, 0, s, n);
    for (int i = 0; i < p->n_re; i++) pcre2_match_data_free(c.md[i]);
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

/* pretok_scan.c - hand-written matchers for the three pre-tokenizer regexes real
 * byte-level tokenizers use (GPT-2's, Llama-3's, Qwen2's), over utf8proc's Unicode 15
 * classes instead of PCRE2 10.42's Unicode 14 tables (doc/design.md, "Tokenizer").
 *
 * Each returns what the backtracking regex engine (Oniguruma, in Hugging Face
 * tokenizers) matches at one position: the first alternative that matches wins, and
 * within it quantifiers are greedy with backtracking, worked out per alternative in the
 * comments below. The split driver (pretok.c) searches positions left to right. */
#include <string.h>

#include "tok/tok_internal.h"

/* The regex texts as they appear in tokenizer.json (after JSON unescaping). */
static const char RX_GPT2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char RX_LLAMA3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RX_QWEN2[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

int dl_scan_from_regex(const char *pattern, size_t n) {
    if (n == sizeof RX_GPT2 - 1 && memcmp(pattern, RX_GPT2, n) == 0) return DL_SCAN_GPT2;
    if (n == sizeof RX_LLAMA3 - 1 && memcmp(pattern, RX_LLAMA3, n) == 0) return DL_SCAN_LLAMA3;
    if (n == sizeof RX_QWEN2 - 1 && memcmp(pattern, RX_QWEN2, n) == 0) return DL_SCAN_QWEN2;
    return DL_SCAN_NONE;
}

enum { C_END = 0, C_LETTER, C_NUMBER, C_SPACE, C_OTHER };

typedef struct ch {
    uint32_t cp;
    size_t len;   /* 0 at the end of the text */
    int cls;
} ch;

static ch char_at(const uint8_t *s, size_t n, size_t pos) {
    ch c = {0, 0, C_END};
    if (pos >= n) return c;
    int len = dl_utf8_next(s + pos, n - pos, &c.cp);
    c.len = len > 0 ? (size_t)len : 1;   /* the caller passes valid UTF-8 */
    c.cls = dl_uni_is_letter(c.cp) ? C_LETTER : dl_uni_is_number(c.cp) ? C_NUMBER
          : dl_uni_is_space(c.cp) ? C_SPACE : C_OTHER;
    return c;
}

/* End of the run of class cls starting at pos (at most max characters; 0 = no limit). */
static size_t run_end(const uint8_t *s, size_t n, size_t pos, int cls, int max) {
    int k = 0;
    for (ch c = char_at(s, n, pos); c.cls == cls && (max == 0 || k < max); c = char_at(s, n, pos)) {
        pos += c.len;
        k++;
    }
    return pos;
}

static int is_crlf(uint32_t cp) { return cp == '\r' || cp == '\n'; }

/* 's|'t|'re|'ve|'m|'ll|'d, ASCII letters only, caseless when asked. */
static size_t contraction(const uint8_t *s, size_t n, size_t pos, int caseless) {
    if (s[pos] != '\'' || pos + 1 >= n) return 0;
    uint8_t a = s[pos + 1], b = pos + 2 < n ? s[pos + 2] : 0;
    if (caseless) {
        if (a >= 'A' && a <= 'Z') a = (uint8_t)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = (uint8_t)(b - 'A' + 'a');
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* \s*[\r\n]+ : greedy \s* backs off to the last CR or LF of the whitespace run, and
 * [\r\n]+ takes that one (the run holds no CR/LF after it): the run up to and
 * including its last CR/LF, or no match. */
static size_t space_to_last_newline(const uint8_t *s, size_t n, size_t pos) {
    size_t end = 0;
    for (ch c = char_at(s, n, pos); c.cls == C_SPACE; c = char_at(s, n, pos)) {
        pos += c.len;
        if (is_crlf(c.cp)) end = pos;
    }
    return end;
}

/* \s+(?!\S)|\s+ : the whole whitespace run when the text ends after it; else the run
 * less its last character when that leaves at least one (the lookahead then sees
 * whitespace); else, by the second alternative, the whole (one-character) run. */
static size_t space_run(const uint8_t *s, size_t n, size_t pos) {
    size_t end = pos, last = pos;
    for (ch c = char_at(s, n, end); c.cls == C_SPACE; c = char_at(s, n, end)) {
        last = end;
        end += c.len;
    }
    if (end == pos) return 0;
    if (end == n || last == pos) return end - pos;
    return last - pos;
}

static size_t scan_gpt2(const uint8_t *s, size_t n, size_t pos) {
    size_t m = contraction(s, n, pos, 0);
    if (m) return m;
    ch c = char_at(s, n, pos);
    /* ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': one optional space, then a run */
    if (c.cp == ' ') {
        ch d = char_at(s, n, pos + 1);
        if (d.cls == C_LETTER || d.cls == C_NUMBER || d.cls == C_OTHER)
            return run_end(s, n, pos + 1, d.cls, 0) - pos;
    }
    if (c.cls == C_LETTER || c.cls == C_NUMBER || c.cls == C_OTHER) return run_end(s, n, pos, c.cls, 0) - pos;
    return space_run(s, n, pos);
}

static size_t scan_llama_like(const uint8_t *s, size_t n, size_t pos, int max_digits) {
    size_t m = contraction(s, n, pos, 1);
    if (m) return m;
    ch c = char_at(s, n, pos);
    /* [^\r\n\p{L}\p{N}]?\p{L}+ : one leading character that is none of those, if a
     * letter follows it; else a letter run from here */
    if (c.cls != C_LETTER && c.cls != C_NUMBER && !is_crlf(c.cp)) {
        ch d = char_at(s, n, pos + c.len);
        if (d.cls == C_LETTER) return run_end(s, n, pos + c.len, C_LETTER, 0) - pos;
    }
    if (c.cls == C_LETTER) return run_end(s, n, pos, C_LETTER, 0) - pos;
    /* \p{N}{1,3} or \p{N} */
    if (c.cls == C_NUMBER) return run_end(s, n, pos, C_NUMBER, max_digits) - pos;
    /* ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
    size_t start = pos;
    if (c.cp == ' ' && char_at(s, n, pos + 1).cls == C_OTHER) start = pos + 1;
    if (char_at(s, n, start).cls == C_OTHER) {
        size_t end = run_end(s, n, start, C_OTHER, 0);
        while (end < n && is_crlf(s[end])) end++;
        return end - pos;
    }
    if (c.cls != C_SPACE) return 0;
    m = space_to_last_newline(s, n, pos);
    if (m) return m - pos;
    return space_run(s, n, pos);
}

size_t dl_scan_match(int kind, const uint8_t *s, size_t n, size_t pos) {
    if (pos >= n) return 0;
    switch (kind) {
    case DL_SCAN_GPT2: return scan_gpt2(s, n, pos);
    case DL_SCAN_LLAMA3: return scan_llama_like(s, n, pos, 3);
    case DL_SCAN_QWEN2: return scan_llama_like(s, n, pos, 1);
    default: return 0;
    }
}

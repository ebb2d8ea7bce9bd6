/* unicode.c - character classes and normalization from utf8proc (Unicode 15 in Debian 12).
 *
 * The pre-tokenizer regexes of Hugging Face tokenizers are Oniguruma regexes with current
 * Unicode tables; PCRE2 10.42's tables are Unicode 14, so the classes the built-in
 * scanners use come from here instead (doc/design.md, "Tokenizer"). */
#include <string.h>
#include <utf8proc.h>

#include "tok/tok_internal.h"

int dl_uni_is_letter(uint32_t cp) {
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}

int dl_uni_is_number(uint32_t cp) {
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO;
}

/* White_Space: the C0 controls TAB..CR, NEL, and the separators Zs, Zl, Zp. This is
 * Oniguruma's Unicode \s and Rust's char::is_whitespace alike. */
int dl_uni_is_space(uint32_t cp) {
    if (cp >= 0x09 && cp <= 0x0D) return 1;
    if (cp == 0x20 || cp == 0x85) return 1;
    if (cp < 0xA0) return 0;
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

/* Rust's is_alphanumeric (Alphabetic or Numeric) or '_', with Alphabetic approximated
 * by letters, letter numbers and marks: utf8proc has no Other_Alphabetic property. */
int dl_uni_is_word(uint32_t cp) {
    if (cp == '_') return 1;
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_NO);
}

static utf8proc_option_t norm_options(int kind) {
    switch (kind) {
    case DL_UNORM_NFC: return UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    case DL_UNORM_NFD: return UTF8PROC_STABLE | UTF8PROC_DECOMPOSE;
    case DL_UNORM_NFKC: return UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    default: return UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
    }
}

/* One normalization of valid UTF-8 s[0..n) into a fresh dl_malloc'd buffer. */
static int normalize_once(int kind, const uint8_t *s, size_t n, uint8_t **out, size_t *n_out, dl_err *err) {
    *out = NULL;
    *n_out = 0;
    utf8proc_option_t opt = norm_options(kind);
    utf8proc_ssize_t need = utf8proc_decompose(s, (utf8proc_ssize_t)n, NULL, 0, opt);
    if (need < 0)
        return dl_fail(err, DIFFLM_E_INTERNAL, "tokenizer: normalization failed: %s", utf8proc_errmsg(need));
    /* the composed text is never longer than the decomposed one: 4 bytes a code point */
    int32_t *buf = dl_malloc(((size_t)need + 1) * sizeof *buf);
    uint8_t *dst = dl_malloc((size_t)need * 4 + 1);
    if (!buf || !dst) {
        dl_free(buf);
        dl_free(dst);
        return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory normalizing %zu bytes", n);
    }
    utf8proc_ssize_t got = utf8proc_decompose(s, (utf8proc_ssize_t)n, buf, need, opt);
    if (got >= 0 && (opt & UTF8PROC_COMPOSE)) got = utf8proc_normalize_utf32(buf, got, opt);
    if (got < 0) {
        dl_free(buf);
        dl_free(dst);
        return dl_fail(err, DIFFLM_E_INTERNAL, "tokenizer: normalization failed: %s", utf8proc_errmsg(got));
    }
    size_t len = 0;
    for (utf8proc_ssize_t i = 0; i < got; i++) len += (size_t)utf8proc_encode_char(buf[i], dst + len);
    dl_free(buf);
    *out = dst;
    *n_out = len;
    return 0;
}

int dl_normalize(const dl_pretok *p, const uint8_t *s, size_t n, uint8_t **out, size_t *n_out, dl_err *err) {
    uint8_t *cur = NULL;
    size_t cur_n = n;
    for (int i = 0; i < p->n_norm; i++) {
        uint8_t *next;
        size_t next_n;
        int rc = normalize_once(p->norm[i], cur ? cur : s, cur_n, &next, &next_n, err);
        dl_free(cur);
        if (rc) return rc;
        cur = next;
        cur_n = next_n;
    }
    if (!cur) {   /* no normalizer: a copy, so that the caller always owns *out */
        cur = dl_malloc(n ? n : 1);
        if (!cur) return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory");
        if (n) memcpy(cur, s, n);
    }
    *out = cur;
    *n_out = cur_n;
    return 0;
}

/* text.c - byte buffers, UTF-8 validity (utf8proc decodes, the rules for what to hold
 * back are ours) and stop sequences. */
#include "text.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int sbuf_reserve(sbuf *b, size_t cap) {
    if (b->failed)
        return -1;
    if (cap + 1 <= b->cap)
        return 0;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < cap + 1)
        nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) {
        b->failed = 1;
        return -1;
    }
    b->p = np;
    b->cap = nc;
    return 0;
}

int sbuf_add(sbuf *b, const void *data, size_t n) {
    if (sbuf_reserve(b, b->len + n))
        return -1;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int sbuf_addf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sbuf_reserve(b, b->len + (size_t)n))
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void sbuf_clear(sbuf *b) {
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

void sbuf_free(sbuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* The bytes a sequence with this lead byte has (0: not a lead byte). */
static int seq_len(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 0;
}

/* Whether b may follow lead as the second byte (RFC 3629's table: no overlong forms,
 * no surrogates, nothing past U+10FFFF). */
static int second_ok(unsigned char lead, unsigned char b) {
    if ((b & 0xC0) != 0x80) return 0;
    switch (lead) {
    case 0xE0: return b >= 0xA0;
    case 0xED: return b <= 0x9F;
    case 0xF0: return b >= 0x90;
    case 0xF4: return b <= 0x8F;
    default: return 1;
    }
}

size_t utf8_complete_prefix(const char *s, size_t n) {
    /* Only the last three bytes can hold a sequence that more bytes would complete. */
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)s[n - back];
        if ((c & 0xC0) == 0x80)
            continue;               /* a continuation byte: its lead is further back */
        size_t need = (size_t)seq_len(c);
        if (need > back && (back < 2 || second_ok(c, (unsigned char)s[n - back + 1])))
            return n - back;        /* a valid beginning: wait for the rest */
        break;
    }
    return n;
}

int utf8_append_valid(sbuf *out, const char *s, size_t n) {
    static const char replacement[] = "\xEF\xBF\xBD";
    size_t i = 0, run = 0;   /* s[run .. i) is valid and not yet copied */
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(n - i), &cp);
        if (k > 0) {
            i += (size_t)k;
            continue;
        }
        if (sbuf_add(out, s + run, i - run) || sbuf_add(out, replacement, 3))
            return -1;
        i++;                 /* one replacement per bad byte */
        run = i;
    }
    return sbuf_add(out, s + run, i - run);
}

size_t stop_find(const char *s, size_t n, char *const *stops, const size_t *lens, int n_stops) {
    size_t best = n;
    for (int k = 0; k < n_stops; k++) {
        if (!lens[k] || lens[k] > n)
            continue;
        for (size_t i = 0; i + lens[k] <= n && i < best; i++)
            if (!memcmp(s + i, stops[k], lens[k])) {
                best = i;
                break;
            }
    }
    return best;
}

/* text.h - byte buffers and the text rules of a reply: UTF-8 made valid for JSON, a
 * character never split across two stream events, stop sequences. */
#ifndef SERVER_TEXT_H
#define SERVER_TEXT_H

#include <stddef.h>

/* A growable byte buffer, always NUL-terminated when p is not NULL. A failed allocation
 * sets failed and later appends do nothing. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int failed;
} sbuf;

int sbuf_add(sbuf *b, const void *data, size_t n);   /* 0, or -1 out of memory */
int sbuf_addf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sbuf_reserve(sbuf *b, size_t cap);
void sbuf_clear(sbuf *b);
void sbuf_free(sbuf *b);

/* The length of the longest prefix of s[0 .. n) that does not end inside a UTF-8
 * sequence which more bytes could still complete (an invalid one counts as complete:
 * it becomes U+FFFD either way). */
size_t utf8_complete_prefix(const char *s, size_t n);

/* Appends s[0 .. n) to out, each invalid UTF-8 sequence replaced by U+FFFD: a model
 * may put byte tokens together into anything, and JSON strings must be valid. */
int utf8_append_valid(sbuf *out, const char *s, size_t n);

/* The offset of the earliest occurrence of any of the n_stops strings in s[0 .. n),
 * or n when none occurs. */
size_t stop_find(const char *s, size_t n, char *const *stops, const size_t *lens, int n_stops);

#endif

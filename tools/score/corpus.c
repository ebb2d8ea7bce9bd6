/* corpus.c - text files to token streams and windows (see corpus.h). */
#include "corpus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int score_read_file(const char *path, char **text, size_t *len, score_err *err) {
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return score_fail(err, DIFFLM_E_IO, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return score_fail(err, DIFFLM_E_NOMEM, "out of memory reading %s", path);
    }
    for (;;) {
        if (cap - n < 2) {
            char *nb = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                fclose(f);
                return score_fail(err, DIFFLM_E_NOMEM, "out of memory reading %s", path);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return score_fail(err, DIFFLM_E_IO, "read error in %s", path);
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

void score_stream_free(score_stream *s) {
    free(s->ids);
    memset(s, 0, sizeof *s);
}

/* Makes room for `more` tokens after the current end. */
static int stream_reserve(score_stream *s, size_t *cap, size_t more, score_err *err) {
    size_t need;
    if (score_add_size(s->n, more, &need))
        return score_fail(err, DIFFLM_E_NOMEM, "token stream too long");
    if (need <= *cap)
        return 0;
    size_t nc = SCORE_MAX(need, *cap < SIZE_MAX / 4 ? *cap * 2 : need), bytes;
    if (score_mul_size(nc, sizeof *s->ids, &bytes))
        return score_fail(err, DIFFLM_E_NOMEM, "token stream too long");
    int32_t *ni = realloc(s->ids, bytes);
    if (!ni)
        return score_fail(err, DIFFLM_E_NOMEM, "out of memory for %zu tokens", nc);
    s->ids = ni;
    *cap = nc;
    return 0;
}

/* Appends the tokens of text[0..len). */
static int stream_append_text(score_stream *s, size_t *cap, const score_tokenizer *t, const char *text,
                              size_t len, score_err *err) {
    /* Every byte-level BPE token covers at least one byte; the retry is only a guard. */
    size_t want = len + 1;
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = stream_reserve(s, cap, want, err);
        if (rc != 0)
            return rc;
        size_t got = 0;
        rc = t->encode(t->user, text, len, s->ids + s->n, *cap - s->n, &got, err);
        if (rc == 0) {
            s->n += got;
            return 0;
        }
        if (rc != DIFFLM_E_BUFFER_TOO_SMALL)
            return rc;
        want = got;
    }
    return score_fail(err, DIFFLM_E_INTERNAL, "tokenizer asked for more room twice");
}

/* Empty, or carriage returns only (a CRLF file's empty line). */
static int is_blank_line(const char *p, const char *end) {
    for (; p < end; p++)
        if (*p != '\r')
            return 0;
    return 1;
}

int score_stream_build(score_stream *s, const score_tokenizer *t, const char *text, size_t len,
                       int split_docs, score_err *err) {
    memset(s, 0, sizeof *s);
    size_t cap = 0;
    int rc = 0;
    if (!split_docs) {
        rc = stream_append_text(s, &cap, t, text, len, err);
        s->n_docs = 1;
        goto done;
    }
    const int32_t eos = t->eos;
    const char *p = text, *end = text + len;
    const char *doc = NULL, *doc_end = NULL;   /* the open document, without its last newline */
    while (p < end || doc) {
        const char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        const char *line_end = nl ? nl : end;
        const int at_eof = p >= end;
        if (!at_eof && !is_blank_line(p, line_end)) {
            if (!doc)
                doc = p;
            doc_end = line_end;
        } else if (doc) {
            if (eos < 0) {
                rc = score_fail(err, DIFFLM_E_FORMAT, "the tokenizer has no EOS token to end "
                             "documents with (tokenizer.ggml.eos_token_id)");
                goto done;
            }
            while (doc_end > doc && doc_end[-1] == '\r')
                doc_end--;
            if ((rc = stream_append_text(s, &cap, t, doc, (size_t)(doc_end - doc), err)) != 0 ||
                (rc = stream_reserve(s, &cap, 1, err)) != 0)
                goto done;
            s->ids[s->n++] = eos;
            s->n_docs++;
            doc = NULL;
        }
        if (at_eof)
            break;
        p = nl ? nl + 1 : end;
    }
done:
    if (rc != 0)
        score_stream_free(s);
    return rc;
}

int score_token_bytes(uint32_t *lens, const score_tokenizer *t, score_err *err) {
    char buf[256];
    const int32_t n_vocab = t->n_vocab;
    for (int32_t v = 0; v < n_vocab; v++) {
        size_t n = 0;
        int rc = t->decode(t->user, v, buf, sizeof buf, &n, err);
        if (rc != 0 && rc != DIFFLM_E_BUFFER_TOO_SMALL)
            return rc;
        lens[v] = (uint32_t)n;
    }
    return 0;
}

void score_windows_plan(score_windows *w, size_t n, size_t body, int borrow_context) {
    w->n = n;
    w->first = borrow_context && n > 0 ? 1 : 0;
    w->body = body;
    const size_t scored = n - w->first;
    w->count = (scored + body - 1) / body;
}

void score_window_at(const score_windows *w, size_t j, size_t *start, size_t *len) {
    *start = w->first + j * w->body;
    *len = SCORE_MIN(w->body, w->n - *start);
}

size_t score_window_pick(const score_windows *w, size_t j, size_t take) {
    /* floor(j * count / take) without forming j * count: count = q*take + r. */
    const size_t q = w->count / take, r = w->count % take;
    return j * q + (j * r) / take;
}

size_t score_windows_take(const score_windows *w, int64_t max_windows) {
    return max_windows > 0 ? SCORE_MIN((size_t)max_windows, w->count) : w->count;
}

size_t score_span_bytes(const uint32_t *lens, const int32_t *ids, size_t start, size_t len) {
    size_t bytes = 0;
    for (size_t i = start; i < start + len; i++)
        bytes += lens[ids[i]];
    return bytes;
}

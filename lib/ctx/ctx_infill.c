/* ctx_infill.c - infilling: a generation over a canvas the host lays out, and the
 * template syntax that builds such a canvas from text ("The <mask:12> sat."). */
#include <string.h>

#include "ctx/ctx.h"

int dl_ctx_begin_canvas(struct difflm_ctx *c, const int32_t *canvas, int32_t n,
                        const difflm_gen_params *g) {
    c->have_canvas = 0;
    c->batch_n = 0;   // a context runs one generation at a time: this one ends a batch
    __atomic_store_n(&c->cancel, 0, __ATOMIC_SEQ_CST);
    if (n > c->max_canvas)   // the canvas bound first, as generate_begin
        return dl_fail(&c->err, DIFFLM_E_TOO_LONG, "canvas of %d tokens exceeds max_canvas %d",
                       n, c->max_canvas);
    int rc = dl_ctx_check_gen(c, g);
    if (rc != 0)
        return rc;
    dl_sched_params sp;
    dl_ctx_resolve_params(c, g, &sp);
    rc = dl_sched_begin_canvas(c->sched, &sp, canvas, n, &c->err);
    if (rc != 0)
        return rc;
    dl_ctx_set_gen(c, g);
    return DIFFLM_OK;
}

#define MARKER "<mask:"
#define MARKER_LEN (sizeof MARKER - 1)

/* Appends ids to out while they fit; *n counts them all. */
static int put_piece(struct difflm_ctx *c, const char *s, size_t len, uint32_t flags, int32_t *out,
                     size_t cap, size_t *n) {
    size_t got = 0, room = *n < cap ? cap - *n : 0;
    int rc = dl_tok_encode(c->tok, s, len, flags, room ? out + *n : NULL, room, &got, &c->err);
    if (rc != 0 && rc != DIFFLM_E_BUFFER_TOO_SMALL)
        return rc;
    *n += got;
    return 0;
}

/* A piece's text with the escapes resolved: the bytes s[0 .. len) where every run of
 * backslashes right before "<mask:" (or before the piece's end when a marker follows,
 * at_marker) is halved, an odd one's last backslash making that "<mask:" text. Writes
 * at most len bytes to dst; returns the bytes written. */
static size_t unescape(char *dst, const char *s, size_t len, int at_marker) {
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] != '\\') {
            dst[o++] = s[i++];
            continue;
        }
        size_t j = i;
        while (j < len && s[j] == '\\')
            j++;
        int before_marker = (j == len && at_marker) ||
                            (len - j >= MARKER_LEN && !memcmp(s + j, MARKER, MARKER_LEN));
        size_t keep = before_marker ? (j - i) / 2 : j - i;
        memset(dst + o, '\\', keep);
        o += keep;
        if (before_marker && (j - i) % 2 && j < len) {   // an escaped marker: literal text
            memcpy(dst + o, MARKER, MARKER_LEN);
            o += MARKER_LEN;
            j += MARKER_LEN;
        }
        i = j;
    }
    return o;
}

int dl_ctx_infill_canvas(struct difflm_ctx *c, const char *text, uint32_t flags, int32_t *out,
                         size_t cap, size_t *n_out) {
    size_t len = strlen(text), n = 0, start = 0;
    uint32_t piece_flags = flags;   // BOS only before the first piece
    // the pieces' unescaped text goes through a scratch the size of the text
    char *tmp = dl_malloc(len + 1);
    if (!tmp)
        return dl_fail(&c->err, DIFFLM_E_NOMEM, "infill: out of memory for %zu bytes", len);
    int rc = 0;
    size_t i = 0;
    while (rc == 0) {
        // the next unescaped marker at or after i (one preceded by an even run of '\')
        const char *m = NULL;
        for (size_t k = i; k + MARKER_LEN <= len; k++) {
            if (memcmp(text + k, MARKER, MARKER_LEN))
                continue;
            size_t bs = 0;
            while (bs < k - start && text[k - 1 - bs] == '\\')
                bs++;
            if (bs % 2 == 0) {
                m = text + k;
                break;
            }
        }
        size_t piece_end = m ? (size_t)(m - text) : len;
        size_t tl = unescape(tmp, text + start, piece_end - start, m != NULL);
        if (tl > 0 || (piece_flags & DIFFLM_TOKENIZE_ADD_BOS))
            rc = put_piece(c, tmp, tl, piece_flags, out, cap, &n);
        piece_flags &= ~DIFFLM_TOKENIZE_ADD_BOS;
        if (rc != 0 || !m)
            break;
        // <mask:N>: N decimal digits, 1 <= N <= max_canvas
        size_t k = piece_end + MARKER_LEN;
        long long holes = 0;
        size_t digits = 0;
        while (k < len && text[k] >= '0' && text[k] <= '9' && digits < 10) {
            holes = holes * 10 + (text[k] - '0');
            k++;
            digits++;
        }
        if (digits == 0 || k >= len || text[k] != '>' || holes < 1 || holes > c->max_canvas) {
            rc = dl_fail(&c->err, DIFFLM_E_INVALID_ARG,
                         "infill template: the marker at byte %zu is not <mask:N> with N from 1 "
                         "to max_canvas %d (write \\<mask: for the text itself)",
                         piece_end, c->max_canvas);
            break;
        }
        for (long long h = 0; h < holes; h++, n++)
            if (n < cap)
                out[n] = c->mask_id;
        i = start = k + 1;
    }
    dl_free(tmp);
    if (rc != 0)
        return rc;
    *n_out = n;
    if (n > cap)
        return dl_fail(&c->err, DIFFLM_E_BUFFER_TOO_SMALL, "infill: %zu ids do not fit in %zu", n,
                       cap);
    return 0;
}

/* sse.c - the event stream behind a libmicrohttpd callback response (chunked transfer). */
#include "sse.h"

#include <stdlib.h>
#include <string.h>

typedef struct sse_stream {
    sbuf pending;         /* produced, not yet handed to libmicrohttpd */
    size_t off;
    int more;             /* the producer has more to say */
    sse_produce_fn produce;
    sse_free_fn free_fn;
    void *state;
} sse_stream;

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max) {
    sse_stream *s = cls;
    (void)pos;
    while (s->off == s->pending.len) {
        if (!s->more)
            return MHD_CONTENT_READER_END_OF_STREAM;
        sbuf_clear(&s->pending);
        s->off = 0;
        int rc = s->produce(s->state, &s->pending);
        if (rc < 0 || s->pending.failed)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        s->more = rc > 0;
    }
    size_t n = s->pending.len - s->off;
    if (n > max)
        n = max;
    memcpy(buf, s->pending.p + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void release(void *cls) {
    sse_stream *s = cls;
    s->free_fn(s->state);
    sbuf_free(&s->pending);
    free(s);
}

struct MHD_Response *sse_response(sse_produce_fn produce, sse_free_fn free_fn, void *state) {
    sse_stream *s = calloc(1, sizeof *s);
    if (!s) {
        free_fn(state);
        return NULL;
    }
    s->more = 1;
    s->produce = produce;
    s->free_fn = free_fn;
    s->state = state;
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                                  reader, s, release);
    if (!resp) {
        release(s);
        return NULL;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return resp;
}

int sse_event(sbuf *out, json_t *ev) {
    if (!ev)
        return -1;
    char *text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (!text)
        return -1;
    int rc = sbuf_add(out, "data: ", 6) || sbuf_add(out, text, strlen(text)) ||
             sbuf_add(out, "\n\n", 2);
    free(text);
    return rc ? -1 : 0;
}

int sse_done(sbuf *out) {
    static const char done[] = "data: [DONE]\n\n";
    return sbuf_add(out, done, sizeof done - 1);
}

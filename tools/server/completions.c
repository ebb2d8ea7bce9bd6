/* completions.c - POST /v1/completions and /v1/chat/completions in OpenAI's shapes.
 *
 * Streaming a diffusion model's text: OpenAI's chunks only ever append, while a diffusion
 * step commits tokens anywhere on the canvas. A chunk therefore carries the text that
 * has become final: the run of committed tokens from the first generated position (which
 * no later step changes), short of a character still unfinished and of a tail that could
 * still become a stop sequence. With the default semi-autoregressive blocks that run
 * grows block by block. Once EOS or a stop sequence is inside it, the text is final and
 * the generation ends there: the steps left could not change it. */
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "server.h"
#include "sse.h"

typedef struct completion {
    server *srv;
    struct MHD_Connection *conn;   /* valid while the response is being sent */
    gen_request req;
    job job;
    int chat;
    char id[64];
    time_t created;
    size_t sent;            /* bytes of job.text streamed */
    int started;            /* the first chunk (chat: the role) is out */
    int ended;              /* the job reached its end (counted) */
    double t_queued;        /* when the request began waiting for a context */
} completion;

static json_t *usage_json(const completion *c) {
    size_t p = c->job.n_prompt, g = c->job.completion_tokens;
    return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)p, "completion_tokens",
                     (json_int_t)g, "total_tokens", (json_int_t)(p + g));
}

/* Non-standard, for the curious and the benchmark: where the time went. */
static json_t *timings_json(const completion *c) {
    return json_pack("{s:f, s:f, s:i}", "queue_ms", 1e3 * (c->job.t_begin - c->t_queued),
                     "generation_ms", 1e3 * (c->job.t_end - c->job.t_begin), "steps", c->job.step);
}

static const char *finish_reason(const completion *c) {
    return c->job.finish_stop ? "stop" : "length";
}

/* A choice of a chunk or of the whole reply. text: the content (NULL: none). */
static json_t *choice(const completion *c, const char *text, size_t len, int chunk,
                      const char *finish) {
    json_t *content = text ? json_stringn(text, len) : NULL;
    if (text && !content)
        return NULL;
    json_t *fin = finish ? json_string(finish) : json_null();
    if (!c->chat)
        return json_pack("{s:o?, s:i, s:n, s:o}", "text", content ? content : json_string(""),
                         "index", 0, "logprobs", "finish_reason", fin);
    json_t *msg = json_object();
    if (!chunk || !c->started)
        json_object_set_new(msg, "role", json_string("assistant"));
    if (content)
        json_object_set_new(msg, "content", content);
    return json_pack("{s:i, s:o, s:n, s:o}", "index", 0, chunk ? "delta" : "message", msg,
                     "logprobs", "finish_reason", fin);
}

static json_t *envelope(const completion *c, int chunk, json_t *choices) {
    const char *object = c->chat ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                 : "text_completion";
    return json_pack("{s:s, s:s, s:I, s:s, s:o}", "id", c->id, "object", object, "created",
                     (json_int_t)c->created, "model", c->srv->model_id, "choices", choices);
}

static void end_job(completion *c, int ok) {
    if (c->ended)
        return;
    c->ended = 1;
    atomic_fetch_add(ok ? &c->srv->n_completed : &c->srv->n_cancelled, 1);
}

static void completion_free(completion *c) {
    end_job(c, 0);   /* a stream cut short by a write that failed */
    if (c->job.ctx)
        pool_release(c->srv->pool, c->job.ctx);
    job_free(&c->job);
    request_free(&c->req);
    free(c);
}

/* One streamed chunk of text s[0 .. n) (made valid UTF-8), with finish_reason. */
static int chunk_event(completion *c, sbuf *out, const char *s, size_t n, const char *finish) {
    sbuf valid = {0};
    if (utf8_append_valid(&valid, s, n)) {
        sbuf_free(&valid);
        return -1;
    }
    json_t *ch = choice(c, (n || !finish) ? (valid.p ? valid.p : "") : NULL, valid.len, 1, finish);
    sbuf_free(&valid);
    c->started = 1;
    return ch ? sse_event(out, envelope(c, 1, json_pack("[o]", ch))) : -1;
}

static int stream_produce(void *state, sbuf *out) {
    completion *c = state;
    api_error e;
    if (c->chat && !c->started)   /* OpenAI's first chat chunk: the role, empty content */
        return chunk_event(c, out, "", 0, NULL) ? -1 : 1;
    for (;;) {
        int rc = job_advance(&c->job, &e);
        if (rc < 0) {
            end_job(c, 0);
            if (c->job.gone)
                return -1;   /* nobody is listening: cut the stream */
            stream_idle_timeout(c->srv, c->conn);
            return sse_event(out, api_error_json(&e)) || sse_done(out) ? -1 : 0;
        }
        size_t ready = job_sendable(&c->job);
        if (rc == 0) {
            end_job(c, 1);
            ready = c->job.text.len;
            if ((ready > c->sent && chunk_event(c, out, c->job.text.p + c->sent, ready - c->sent, NULL)) ||
                chunk_event(c, out, "", 0, finish_reason(c)))
                return -1;
            c->sent = ready;
            if (c->req.include_usage) {
                json_t *ev = envelope(c, 1, json_array());
                json_object_set_new(ev, "usage", usage_json(c));
                if (sse_event(out, ev))
                    return -1;
            }
            stream_idle_timeout(c->srv, c->conn);
            return sse_done(out) ? -1 : 0;
        }
        if (ready > c->sent) {
            if (chunk_event(c, out, c->job.text.p + c->sent, ready - c->sent, NULL))
                return -1;
            c->sent = ready;
            return 1;
        }
    }
}

static void stream_free(void *state) { completion_free(state); }

static enum MHD_Result reply_whole(http_req *r, completion *c) {
    api_error e;
    int rc;
    while ((rc = job_advance(&c->job, &e)) > 0)
        ;
    if (rc < 0) {
        end_job(c, 0);
        return reply_error(r, &e);
    }
    end_job(c, 1);
    sbuf valid = {0};
    json_t *ch = utf8_append_valid(&valid, c->job.text.p ? c->job.text.p : "", c->job.text.len)
                     ? NULL : choice(c, valid.p ? valid.p : "", valid.len, 0, finish_reason(c));
    sbuf_free(&valid);
    if (!ch)
        return MHD_NO;
    json_t *body = envelope(c, 0, json_pack("[o]", ch));
    if (body) {
        json_object_set_new(body, "usage", usage_json(c));
        json_object_set_new(body, "timings", timings_json(c));
    }
    return reply_json(r, 200, body);
}

enum MHD_Result handle_completion(http_req *r, req_kind kind) {
    server *s = r->srv;
    completion *c = calloc(1, sizeof *c);
    if (!c)
        return MHD_NO;
    c->srv = s;
    c->chat = kind == REQ_CHAT;
    c->created = time(NULL);
    server_new_id(s, c->chat ? "chatcmpl" : "cmpl", c->id, sizeof c->id);
    api_error e;
    if (request_parse(r->body, r->body_len, kind, &s->limits, &c->req, &e)) {
        free(c);
        return reply_error(r, &e);
    }
    c->t_queued = now_seconds();
    c->ended = 1;   /* nothing to count until the generation begins */
    enum MHD_Result result = MHD_NO;
    c->job.ctx = server_acquire(r, &result);
    if (!c->job.ctx) {
        completion_free(c);
        return result;
    }
    c->job.req = &c->req;
    c->job.client_fd = r->fd;
    c->job.stopping = &s->stopping;
    if (job_begin(&c->job, &e)) {
        result = reply_error(r, &e);
        completion_free(c);
        return result;
    }
    atomic_fetch_add(&s->n_generations, 1);
    c->ended = 0;
    if (!c->req.stream) {
        result = reply_whole(r, c);
        completion_free(c);
        return result;
    }
    c->conn = r->conn;
    stream_no_timeout(r->conn);
    return reply_response(r, 200, sse_response(stream_produce, stream_free, c));
}

/* diffusion.c - POST /v1/diffusion: what only a diffusion model can show. The request is
 * a completion's (prompt or messages, the same knobs); the reply is always an event
 * stream with every step's canvas:
 *   {"object": "diffusion.start", ...}   the prompt, the canvas's size, the mask id
 *   {"object": "diffusion.step", ...}    after each step: the generated region's ids and
 *                                        text pieces, its masked positions, the positions
 *                                        this step committed, the counts
 *   {"object": "diffusion.done", ...}    the text (as a completion's), finish_reason, usage
 *   [DONE]
 * Positions count from the first generated token. doc/server.md has the fields. */
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "server.h"
#include "sse.h"

typedef struct diffusion {
    server *srv;
    struct MHD_Connection *conn;   /* valid while the response is being sent */
    gen_request req;
    job job;
    char id[64];
    json_t *pieces;         /* per generated position: its token's text, null while masked */
    difflm_token *prev;     /* the generated region at the previous step */
    int started, ended;
    double t_queued;
} diffusion;

static void end_job(diffusion *d, int ok) {
    if (!d->ended) {
        d->ended = 1;
        atomic_fetch_add(ok ? &d->srv->n_completed : &d->srv->n_cancelled, 1);
    }
}

static void diffusion_free(void *state) {
    diffusion *d = state;
    end_job(d, 0);
    if (d->job.ctx)
        pool_release(d->srv->pool, d->job.ctx);
    job_free(&d->job);
    request_free(&d->req);
    json_decref(d->pieces);
    free(d->prev);
    free(d);
}

/* One token's text as the page shows it: control tokens rendered, invalid UTF-8 (a byte
 * token that is part of a character) replaced. */
static json_t *piece(diffusion *d, difflm_token t) {
    sbuf s = {0};
    json_t *v = job_detok(&d->job, &t, 1, DIFFLM_DETOKENIZE_SPECIAL, 0, &s) ? NULL
              : json_stringn(s.p ? s.p : "", s.len);
    sbuf_free(&s);
    return v;
}

static json_t *start_event(diffusion *d) {
    job *j = &d->job;
    sbuf prompt = {0};
    json_t *text = job_detok(j, j->canvas, j->n_prompt, DIFFLM_DETOKENIZE_SPECIAL, 0, &prompt)
                 ? NULL : json_stringn(prompt.p ? prompt.p : "", prompt.len);
    sbuf_free(&prompt);
    return json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:i, s:i}", "id", d->id, "object",
                     "diffusion.start", "model", d->srv->model_id, "prompt", text,
                     "prompt_tokens", (json_int_t)j->n_prompt, "gen_length",
                     (json_int_t)j->gen_length, "canvas_length",
                     (json_int_t)(j->n_prompt + j->gen_length), "mask_id", j->info.mask_id,
                     "total_steps", j->total_steps);
}

static json_t *step_event(diffusion *d) {
    job *j = &d->job;
    const difflm_token *gen = j->canvas + j->n_prompt;
    json_t *tokens = json_array(), *masked = json_array(), *fresh = json_array();
    int ok = tokens && masked && fresh;
    for (size_t i = 0; ok && i < j->gen_length; i++) {
        ok = !json_array_append_new(tokens, json_integer(gen[i]));
        if (gen[i] == j->info.mask_id) {
            ok = ok && !json_array_append_new(masked, json_integer((json_int_t)i)) &&
                 !json_array_set_new(d->pieces, i, json_null());
        } else if (gen[i] != d->prev[i]) {
            ok = ok && !json_array_append_new(fresh, json_integer((json_int_t)i)) &&
                 !json_array_set_new(d->pieces, i, piece(d, gen[i]));
        }
        d->prev[i] = gen[i];
    }
    if (!ok) {
        json_decref(tokens);
        json_decref(masked);
        json_decref(fresh);
        return NULL;
    }
    json_t *pieces = json_copy(d->pieces);   /* shallow: the strings are shared */
    return json_pack("{s:s, s:s, s:i, s:i, s:i, s:I, s:i, s:o, s:o?, s:o, s:o}", "id", d->id,
                     "object", "diffusion.step", "step", j->step, "total_steps", j->total_steps,
                     "committed", j->n_committed, "committed_total",
                     (json_int_t)(j->gen_length - json_array_size(masked)), "masked_count",
                     j->n_masked, "tokens", tokens, "pieces", pieces, "masked", masked, "new", fresh);
}

static json_t *done_event(diffusion *d) {
    job *j = &d->job;
    sbuf valid = {0};
    json_t *text = utf8_append_valid(&valid, j->text.p ? j->text.p : "", j->text.len) ? NULL
                 : json_stringn(valid.p ? valid.p : "", valid.len);
    sbuf_free(&valid);
    size_t p = j->n_prompt, g = j->completion_tokens;
    return json_pack("{s:s, s:s, s:o, s:s, s:i, s:{s:I, s:I, s:I}, s:{s:f, s:f}}", "id", d->id,
                     "object", "diffusion.done", "text", text, "finish_reason",
                     j->finish_stop ? "stop" : "length", "steps", j->step, "usage",
                     "prompt_tokens", (json_int_t)p, "completion_tokens", (json_int_t)g,
                     "total_tokens", (json_int_t)(p + g), "timings", "queue_ms",
                     1e3 * (j->t_begin - d->t_queued), "generation_ms",
                     1e3 * (j->t_end - j->t_begin));
}

static int produce(void *state, sbuf *out) {
    diffusion *d = state;
    if (!d->started) {
        d->started = 1;
        return sse_event(out, start_event(d)) ? -1 : 1;
    }
    api_error e;
    int rc = job_advance(&d->job, &e);
    if (rc < 0) {
        end_job(d, 0);
        if (d->job.gone)
            return -1;
        stream_idle_timeout(d->srv, d->conn);
        return sse_event(out, api_error_json(&e)) || sse_done(out) ? -1 : 0;
    }
    if (sse_event(out, step_event(d)))
        return -1;
    if (rc > 0)
        return 1;
    end_job(d, 1);
    stream_idle_timeout(d->srv, d->conn);
    return sse_event(out, done_event(d)) || sse_done(out) ? -1 : 0;
}

enum MHD_Result handle_diffusion(http_req *r) {
    server *s = r->srv;
    diffusion *d = calloc(1, sizeof *d);
    if (!d)
        return MHD_NO;
    d->srv = s;
    d->ended = 1;   /* nothing to count until the generation begins */
    server_new_id(s, "diff", d->id, sizeof d->id);
    api_error e;
    if (request_parse(r->body, r->body_len, REQ_DIFFUSION, &s->limits, &d->req, &e)) {
        free(d);
        return reply_error(r, &e);
    }
    size_t g = (size_t)d->req.g.gen_length;
    d->pieces = json_array();
    d->prev = malloc(g * sizeof *d->prev);
    for (size_t i = 0; d->pieces && i < g; i++)
        if (json_array_append_new(d->pieces, json_null()))
            break;
    if (!d->pieces || !d->prev || json_array_size(d->pieces) != g) {
        diffusion_free(d);
        return MHD_NO;
    }
    d->t_queued = now_seconds();
    enum MHD_Result result = MHD_NO;
    d->job.ctx = server_acquire(r, &result);
    if (!d->job.ctx) {
        diffusion_free(d);
        return result;
    }
    d->job.req = &d->req;
    d->job.client_fd = r->fd;
    d->job.stopping = &s->stopping;
    d->job.run_to_end = 1;
    if (job_begin(&d->job, &e)) {
        result = reply_error(r, &e);
        diffusion_free(d);
        return result;
    }
    for (size_t i = 0; i < g; i++)
        d->prev[i] = d->job.info.mask_id;
    atomic_fetch_add(&s->n_generations, 1);
    d->ended = 0;
    d->conn = r->conn;
    stream_no_timeout(r->conn);
    return reply_response(r, 200, sse_response(produce, diffusion_free, d));
}

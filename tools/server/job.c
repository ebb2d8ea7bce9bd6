/* job.c - a generation driven one step at a time through the public API. */
#include "job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int client_alive(int fd) {
    if (fd < 0)
        return 1;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0)
        return 1;                       /* bytes waiting (a pipelined request): still there */
    if (n == 0)
        return 0;                       /* orderly close */
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* After every step (on the thread that runs it): keep the numbers, and stop the
 * generation when the server shuts down or the client has gone. */
static int on_step(const difflm_step_info *info, void *user) {
    job *j = user;
    j->step = info->step;
    j->total_steps = info->total_steps;
    j->n_committed = info->n_committed;
    j->n_masked = info->n_masked;
    if (atomic_load(j->stopping))
        return 1;
    if (!client_alive(j->client_fd)) {
        j->gone = 1;
        return 1;
    }
    return 0;
}

static int lib_error(job *j, api_error *e, int st, const char *what) {
    const char *detail = difflm_last_error(j->ctx);
    if (st == DIFFLM_E_INVALID_ARG || st == DIFFLM_E_UNSUPPORTED)
        return api_bad(e, "invalid_value", NULL, "%s: %s", what, *detail ? detail : difflm_status_str(st));
    return api_fail(e, 500, "server_error", NULL, NULL, "%s: %s%s%s", what, difflm_status_str(st),
                    *detail ? ": " : "", detail);
}

int job_detok(job *j, const difflm_token *ids, size_t n, unsigned flags, int raw, sbuf *out) {
    size_t need = 0;
    int st;
    while ((st = difflm_detokenize(j->ctx, ids, n, flags, j->detok, j->detok_cap, &need)) ==
           DIFFLM_E_BUFFER_TOO_SMALL) {
        char *bigger = realloc(j->detok, need + 1);
        if (!bigger)
            return -1;
        j->detok = bigger;
        j->detok_cap = need + 1;
    }
    if (st != DIFFLM_OK)
        return -1;
    return raw ? sbuf_add(out, j->detok, need) : utf8_append_valid(out, j->detok, need);
}

/* The chat template's text for the request's messages. */
static int chat_text(job *j, sbuf *out, api_error *e) {
    size_t need = 0;
    int st = difflm_chat_format(j->ctx, j->req->msgs, j->req->n_msgs, 1, NULL, 0, &need);
    if (st == DIFFLM_E_BUFFER_TOO_SMALL) {
        if (sbuf_reserve(out, need + 1))
            return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        st = difflm_chat_format(j->ctx, j->req->msgs, j->req->n_msgs, 1, out->p, out->cap, &need);
        out->len = need;
    }
    if (st == DIFFLM_E_UNSUPPORTED)
        return api_bad(e, "unsupported_model", "messages",
                       "this model has no chat format: use /v1/completions");
    if (st != DIFFLM_OK)
        return lib_error(j, e, st, "chat format");
    return 0;
}

int job_begin(job *j, api_error *e) {
    const gen_request *r = j->req;
    j->t_begin = now_seconds();
    j->info.struct_size = sizeof j->info;
    difflm_model_info_get(j->ctx, &j->info);
    j->canvas_cap = (size_t)j->info.max_canvas;
    if (!(j->canvas = malloc(j->canvas_cap * sizeof *j->canvas)))
        return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    size_t n = 0;
    int st = DIFFLM_OK;
    if (r->ids) {
        n = r->n_ids;
        if (n <= j->canvas_cap)
            memcpy(j->canvas, r->ids, n * sizeof *r->ids);
    } else {
        sbuf chat = {0};
        const char *text = r->prompt;
        size_t len = r->prompt_len;
        /* As difflm_sample: BOS if the model wants one, special tokens parsed; a chat
         * template's text already starts with its BOS. */
        unsigned flags = DIFFLM_TOKENIZE_PARSE_SPECIAL;
        if (r->chat) {
            if (chat_text(j, &chat, e)) {
                sbuf_free(&chat);
                return -1;
            }
            text = chat.p;
            len = chat.len;
        } else if (j->info.add_bos) {
            flags |= DIFFLM_TOKENIZE_ADD_BOS;
        }
        st = difflm_tokenize(j->ctx, text, len, flags, j->canvas, j->canvas_cap, &n);
        sbuf_free(&chat);
        if (st != DIFFLM_OK && st != DIFFLM_E_BUFFER_TOO_SMALL)
            return lib_error(j, e, st, "tokenize");
    }
    j->n_prompt = n;
    j->gen_length = (size_t)r->g.gen_length;
    if (st == DIFFLM_E_BUFFER_TOO_SMALL || n + j->gen_length > j->canvas_cap)
        return api_bad(e, "context_length_exceeded", r->chat ? "messages" : "prompt",
                       "the prompt is %zu tokens and max_tokens asks %zu more, but this server's "
                       "canvas holds %zu tokens in all: shorten the prompt or lower max_tokens",
                       n, j->gen_length, j->canvas_cap);
    difflm_gen_params g = r->g;
    g.step_fn = on_step;
    g.step_user = j;
    st = difflm_generate_begin(j->ctx, j->canvas, n, &g);
    if (st == DIFFLM_E_TOO_LONG)
        return api_bad(e, "context_length_exceeded", "prompt", "%s", difflm_last_error(j->ctx));
    if (st != DIFFLM_OK)
        return lib_error(j, e, st, "generation parameters");
    size_t len = 0;
    st = difflm_canvas(j->ctx, j->canvas, j->canvas_cap, &len);
    if (st != DIFFLM_OK)
        return lib_error(j, e, st, "canvas");
    j->total_steps = g.steps;
    return 0;
}

/* Refreshes j->text from the canvas (see job.h). */
static int update_text(job *j) {
    const difflm_token *gen = j->canvas + j->n_prompt;
    size_t first_mask = j->gen_length, first_end = j->gen_length;
    for (size_t i = 0; i < j->gen_length; i++)
        if (gen[i] == j->info.mask_id) {
            first_mask = i;
            break;
        }
    for (size_t i = 0; i < first_mask; i++)
        if (gen[i] == j->info.eos_id || (j->info.eot_id >= 0 && gen[i] == j->info.eot_id)) {
            first_end = i;
            break;
        }
    size_t stable = first_mask < first_end ? first_mask : first_end;
    sbuf_clear(&j->text);
    if (job_detok(j, gen, stable, 0, 1, &j->text))
        return -1;
    size_t cut = stop_find(j->text.p, j->text.len, j->req->stop, j->req->stop_len, j->req->n_stop);
    j->completion_tokens = stable;
    if (cut < j->text.len) {
        j->text.len = cut;
        j->text.p[cut] = '\0';
        j->text_final = j->finish_stop = 1;
    } else if (first_end < j->gen_length) {
        j->text_final = j->finish_stop = 1;     /* EOS committed, everything before it too */
    } else if (first_mask == j->gen_length) {
        j->text_final = 1;                      /* the whole canvas, no EOS: "length" */
    }
    return 0;
}

int job_advance(job *j, api_error *e) {
    if (j->complete)
        return 0;
    int st = difflm_generate_step(j->ctx);
    if (st == DIFFLM_E_CANCELLED) {
        j->t_end = now_seconds();
        if (j->gone)
            return api_fail(e, 499, "invalid_request_error", "client_closed", NULL,
                            "the client closed the connection");
        return api_fail(e, 503, "server_error", "shutting_down", NULL,
                        "the server is shutting down");
    }
    if (st < 0)
        return lib_error(j, e, st, "generation step");
    size_t len = 0;
    if (difflm_canvas(j->ctx, j->canvas, j->canvas_cap, &len) != DIFFLM_OK ||
        ((!j->run_to_end || st == DIFFLM_DONE) && update_text(j)))
        return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    if (st == DIFFLM_DONE || (!j->run_to_end && j->text_final)) {
        j->complete = 1;
        j->t_end = now_seconds();
        return 0;
    }
    return 1;
}

size_t job_sendable(const job *j) {
    if (j->text_final)
        return j->text.len;
    size_t hold = 0;
    for (int k = 0; k < j->req->n_stop; k++)
        if (j->req->stop_len[k] - 1 > hold)
            hold = j->req->stop_len[k] - 1;
    size_t n = j->text.len > hold ? j->text.len - hold : 0;
    return utf8_complete_prefix(j->text.p, n);
}

void job_free(job *j) {
    free(j->canvas);
    free(j->detok);
    sbuf_free(&j->text);
    j->canvas = NULL;
    j->detok = NULL;
}

/* job.h - one generation on a lent context: the prompt tokenized and checked against the
 * canvas, the steps run one at a time (so that a stream can send each), the committed
 * text kept up to date, and the client watched so that one who left stops it. */
#ifndef SERVER_JOB_H
#define SERVER_JOB_H

#include <stdatomic.h>
#include <stddef.h>

#include "difflm.h"
#include "error.h"
#include "request.h"
#include "text.h"

typedef struct job {
    /* set by the caller before job_begin */
    const gen_request *req;
    difflm_ctx *ctx;
    int client_fd;               /* the client's socket (-1: not watched) */
    const atomic_int *stopping;  /* the server is shutting down */
    int run_to_end;              /* 1: every step (the diffusion view); 0: end as soon as
                                    the text is final (EOS or a stop sequence committed) */

    difflm_model_info info;
    difflm_token *canvas;        /* [prompt | generated], canvas_cap entries */
    size_t canvas_cap, n_prompt, gen_length;

    /* the last step, from the step callback */
    int step, total_steps, n_committed, n_masked;
    int gone;                    /* the client went away: the generation was cancelled */
    int complete;                /* the generation (or its text) is finished */

    /* the text: the detokenized run of committed tokens from the first generated one,
     * cut before EOS / end-of-turn and before the first stop sequence; raw bytes (a
     * character may still be unfinished), made valid UTF-8 where it is sent */
    sbuf text;
    int text_final;              /* no later step can change it */
    int finish_stop;             /* finish_reason "stop" (else "length") */
    size_t completion_tokens;
    char *detok;                 /* detokenize's buffer */
    size_t detok_cap;

    double t_begin, t_end;       /* seconds (CLOCK_MONOTONIC) */
} job;

/* Tokenizes the request's prompt (the chat template for messages), checks that it and
 * max_tokens fit the canvas, and begins the generation. Returns 0, or -1 with *e (400
 * for what the request asked, 500 otherwise). job_free afterwards either way. */
int job_begin(job *j, api_error *e);

/* Runs one step. Returns 1 while steps remain, 0 when the job is complete, -1 when it
 * stopped: e says why (the client left: j->gone; shutdown: 503; an error: 500). */
int job_advance(job *j, api_error *e);

/* How many bytes of j->text a stream may send now: all of a final text; otherwise the
 * text short of an unfinished UTF-8 character and of a tail that could still grow into a
 * stop sequence. */
size_t job_sendable(const job *j);

/* Detokenizes ids and appends the bytes to out: as they are (raw), or with invalid UTF-8
 * replaced. flags: DIFFLM_DETOKENIZE_*. */
int job_detok(job *j, const difflm_token *ids, size_t n, unsigned flags, int raw, sbuf *out);

void job_free(job *j);

/* 0 when the peer of socket fd has closed it (or it failed), 1 otherwise. */
int client_alive(int fd);

double now_seconds(void);

#endif

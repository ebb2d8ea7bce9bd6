/* request.h - a request body (JSON) checked and turned into what a generation needs.
 * Nothing here touches a context, so a bad request is refused before it waits for one. */
#ifndef SERVER_REQUEST_H
#define SERVER_REQUEST_H

#include <stddef.h>

#include "difflm.h"
#include "error.h"

typedef enum { REQ_COMPLETION, REQ_CHAT, REQ_DIFFUSION } req_kind;

#define REQ_MAX_STOP 4          /* OpenAI's limit */
#define REQ_MAX_STOP_BYTES 256
#define REQ_MAX_MESSAGES 1024

typedef struct req_limits {
    const char *model_id;       /* the one model served */
    int max_gen_length;
    int default_gen_length;
    int n_vocab;
} req_limits;

typedef struct gen_request {
    req_kind kind;
    int chat;                   /* the prompt is messages (chat template) */
    char *prompt;               /* a text prompt (NUL-terminated; its length below) */
    size_t prompt_len;
    difflm_token *ids;          /* or a prompt given as token ids */
    size_t n_ids;
    difflm_chat_message *msgs;  /* or messages (role and content owned) */
    size_t n_msgs;
    char *stop[REQ_MAX_STOP];
    size_t stop_len[REQ_MAX_STOP];
    int n_stop;
    int stream;
    int include_usage;          /* stream_options.include_usage */
    difflm_gen_params g;        /* step_fn left for the job */
} gen_request;

/* Parses body[0 .. len) for an endpoint. Returns 0, or -1 with *err filled (400 for a
 * bad body, 404 for an unknown model); *out then needs no request_free. */
int request_parse(const char *body, size_t len, req_kind kind, const req_limits *lim,
                  gen_request *out, api_error *err);

void request_free(gen_request *r);

#endif

/* sse.h - Server-Sent Events: a response whose body a producer writes event by event, each
 * "data: {json}\n\n", the last "data: [DONE]\n\n". The producer runs on the connection's
 * thread whenever the previous events have gone out, so a step runs only once the client
 * has taken the last one. */
#ifndef SERVER_SSE_H
#define SERVER_SSE_H

#include <jansson.h>
#include <microhttpd.h>

#include "text.h"

/* Appends the next events to out. Returns 1 while more will follow, 0 after the last,
 * -1 to cut the stream (out of memory). */
typedef int (*sse_produce_fn)(void *state, sbuf *out);
/* Called once when the response is done with, sent or not (the client may have left). */
typedef void (*sse_free_fn)(void *state);

/* A response streaming produce's events; NULL out of memory (free_fn is then called). */
struct MHD_Response *sse_response(sse_produce_fn produce, sse_free_fn free_fn, void *state);

/* Appends "data: <ev compact>\n\n" and drops the reference to ev. 0 or -1. */
int sse_event(sbuf *out, json_t *ev);
/* Appends "data: [DONE]\n\n". */
int sse_done(sbuf *out);

#endif

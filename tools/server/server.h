/* server.h - the state every request handler shares, and the handlers' entry points. */
#ifndef SERVER_SERVER_H
#define SERVER_SERVER_H

#include <stdatomic.h>
#include <time.h>

#include <microhttpd.h>

#include "config.h"
#include "difflm.h"
#include "error.h"
#include "pool.h"
#include "request.h"

typedef struct server {
    server_config cfg;
    difflm_model *model;
    difflm_model_info info;      /* the model's numbers; max_canvas is the contexts' */
    char model_id[256];
    pool *pool;
    req_limits limits;
    atomic_int stopping;         /* SIGINT / SIGTERM arrived */
    atomic_long n_requests;      /* HTTP requests answered or cut */
    atomic_long n_generations;   /* generations begun */
    atomic_long n_completed;     /* ... that ran to their end */
    atomic_long n_cancelled;     /* ... stopped: the client left, or shutdown */
    atomic_long n_rejected;      /* 503: the queue was full */
    atomic_long n_client_errors; /* 4xx */
    atomic_ulong next_id;
    time_t started;
} server;

/* One HTTP request as a handler sees it. */
typedef struct http_req {
    server *srv;
    struct MHD_Connection *conn;
    int fd;                      /* the client's socket */
    const char *body;
    size_t body_len;
} http_req;

/* Replies (http.c). Each takes ownership of body / response and returns what the MHD
 * access handler returns. */
enum MHD_Result reply_json(http_req *r, unsigned status, json_t *body);
enum MHD_Result reply_error(http_req *r, const api_error *e);
enum MHD_Result reply_bytes(http_req *r, unsigned status, const char *type, const void *data,
                            size_t len, int persistent);
enum MHD_Result reply_response(http_req *r, unsigned status, struct MHD_Response *resp);

/* Lends a context for a generation, waiting in the pool's queue; NULL after replying
 * (503, or nothing for a client that left: then *result is what to return). */
difflm_ctx *server_acquire(http_req *r, enum MHD_Result *result);

/* A stream's connection has no idle timeout while its generation runs (a step, or the
 * steps before a stream's next text, may take longer than --timeout; a client that
 * leaves is noticed by the step callback instead); stream_idle_timeout gives it back
 * when the stream has sent its last event. */
void stream_no_timeout(struct MHD_Connection *c);
void stream_idle_timeout(server *s, struct MHD_Connection *c);

/* A fresh response id, "<prefix>-<hex>". */
void server_new_id(server *s, const char *prefix, char *out, size_t cap);

/* The endpoints. */
enum MHD_Result handle_completion(http_req *r, req_kind kind);   /* completions.c */
enum MHD_Result handle_diffusion(http_req *r);                   /* diffusion.c */
enum MHD_Result handle_models(http_req *r, const char *id);      /* info.c */
enum MHD_Result handle_health(http_req *r);                      /* info.c */
enum MHD_Result handle_page(http_req *r, const char *url);       /* page.c; MHD_NO-free 404 */

/* The daemon (http.c): listens on cfg.host:cfg.port. Returns NULL after printing why. */
struct MHD_Daemon *http_start(server *s, unsigned *bound_port);

#endif

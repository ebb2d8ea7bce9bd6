/* http.c - libmicrohttpd's side: the daemon (a thread per connection, so that a
 * generation may block its own connection's thread and nothing else), the routes, the
 * request body (bounded), the bearer key, and the replies every handler uses. */
#include "server.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "job.h"
#include "text.h"

/* What a connection's request accumulates between libmicrohttpd's calls. */
typedef struct conn_state {
    sbuf body;
    int too_big;
} conn_state;

static unsigned counted(http_req *r, unsigned status) {
    if (status >= 400 && status < 500)
        atomic_fetch_add(&r->srv->n_client_errors, 1);
    return status;
}

enum MHD_Result reply_response(http_req *r, unsigned status, struct MHD_Response *resp) {
    if (!resp)
        return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(r->conn, counted(r, status), resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result reply_bytes(http_req *r, unsigned status, const char *type, const void *data,
                            size_t len, int persistent) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)data, persistent ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    return reply_response(r, status, resp);
}

enum MHD_Result reply_json(http_req *r, unsigned status, json_t *body) {
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return MHD_NO;
    size_t len = strlen(text);
    /* MHD frees the text with free() once sent */
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    return reply_response(r, status, resp);
}

enum MHD_Result reply_error(http_req *r, const api_error *e) {
    if (e->http == 499)
        return MHD_NO;   /* the client left: nobody to answer, close the connection */
    if (r->srv->cfg.verbose)
        fprintf(stderr, "difflm-server: %d %s\n", e->http, e->message);
    return reply_json(r, (unsigned)e->http, api_error_json(e));
}

static int still_there(void *user) { return client_alive(*(int *)user); }

difflm_ctx *server_acquire(http_req *r, enum MHD_Result *result) {
    int why = 0;
    difflm_ctx *ctx = pool_acquire(r->srv->pool, still_there, &r->fd, &why);
    if (ctx)
        return ctx;
    api_error e;
    if (why == POOL_GONE) {
        *result = MHD_NO;
        return NULL;
    }
    if (why == POOL_FULL) {
        atomic_fetch_add(&r->srv->n_rejected, 1);
        pool_stats st;
        pool_get_stats(r->srv->pool, &st);
        api_fail(&e, 503, "server_error", "server_overloaded", NULL,
                 "all %d contexts are busy and %d requests are waiting: try again later",
                 st.size, st.waiting);
    } else {
        api_fail(&e, 503, "server_error", "shutting_down", NULL, "the server is shutting down");
    }
    *result = reply_error(r, &e);
    return NULL;
}

void stream_no_timeout(struct MHD_Connection *c) {
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
}

void stream_idle_timeout(server *s, struct MHD_Connection *c) {
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)s->cfg.timeout);
}

void server_new_id(server *s, const char *prefix, char *out, size_t cap) {
    unsigned long n = atomic_fetch_add(&s->next_id, 1);
    snprintf(out, cap, "%s-%08lx%08lx", prefix, (unsigned long)s->started & 0xffffffffUL, n);
}

/* The routes. */
enum route { R_NONE, R_PAGE, R_HEALTH, R_MODELS, R_MODEL, R_COMPLETIONS, R_CHAT, R_DIFFUSION };

static enum route route_of(const char *url, const char **method_wanted) {
    *method_wanted = "GET";
    if (!strcmp(url, "/") || !strncmp(url, "/page.", 6))
        return R_PAGE;
    if (!strcmp(url, "/health"))
        return R_HEALTH;
    if (!strcmp(url, "/v1/models"))
        return R_MODELS;
    if (!strncmp(url, "/v1/models/", 11) && url[11])
        return R_MODEL;
    *method_wanted = "POST";
    if (!strcmp(url, "/v1/completions"))
        return R_COMPLETIONS;
    if (!strcmp(url, "/v1/chat/completions"))
        return R_CHAT;
    if (!strcmp(url, "/v1/diffusion"))
        return R_DIFFUSION;
    return R_NONE;
}

/* Compares in time independent of where the strings differ. */
static int same_secret(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

static int authorized(server *s, struct MHD_Connection *c) {
    if (!s->cfg.api_key)
        return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7))
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    return same_secret(h, s->cfg.api_key);
}

static enum MHD_Result dispatch(http_req *r, const char *url, const char *method) {
    api_error e;
    const char *wanted;
    enum route rt = route_of(url, &wanted);
    if (rt == R_NONE) {
        api_fail(&e, 404, "invalid_request_error", "not_found", NULL, "no endpoint %s %.200s",
                 method, url);
        return reply_error(r, &e);
    }
    int head = rt <= R_MODEL && !strcmp(method, "HEAD");
    if (strcmp(method, wanted) && !head) {
        api_fail(&e, 405, "invalid_request_error", "method_not_allowed", NULL,
                 "%.200s takes %s, not %s", url, wanted, method);
        return reply_error(r, &e);
    }
    if (!strncmp(url, "/v1/", 4) && !authorized(r->srv, r->conn)) {
        api_fail(&e, 401, "invalid_request_error", "invalid_api_key", NULL,
                 "a valid API key is required: 'Authorization: Bearer KEY'");
        return reply_error(r, &e);
    }
    switch (rt) {
    case R_PAGE: return handle_page(r, url);
    case R_HEALTH: return handle_health(r);
    case R_MODELS: return handle_models(r, NULL);
    case R_MODEL: return handle_models(r, url + 11);
    case R_COMPLETIONS: return handle_completion(r, REQ_COMPLETION);
    case R_CHAT: return handle_completion(r, REQ_CHAT);
    case R_DIFFUSION: return handle_diffusion(r);
    default: return MHD_NO;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls) {
    server *s = cls;
    http_req r = {.srv = s, .conn = conn, .fd = -1};
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci)
        r.fd = ci->connect_fd;
    conn_state *cs = *con_cls;
    if (!cs) {   /* the first call: headers only */
        if (!(cs = calloc(1, sizeof *cs)))
            return MHD_NO;
        *con_cls = cs;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body) {
            /* A client that waits for "100 Continue" is answered now and sends nothing;
             * one that is already sending would see its write fail, so its body is read
             * and dropped (the connection timeout bounds a slow one) and the 413 comes
             * after it. */
            const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                             MHD_HTTP_HEADER_EXPECT);
            if (expect && !strcasecmp(expect, "100-continue")) {
                api_error e;
                api_fail(&e, 413, "invalid_request_error", "request_too_large", NULL,
                         "the body is %s bytes; this server takes at most %zu", cl,
                         s->cfg.max_body);
                return reply_error(&r, &e);
            }
            cs->too_big = 1;
        }
        return MHD_YES;
    }
    if (*upload_size) {   /* a piece of the body */
        if (!cs->too_big && cs->body.len + *upload_size > s->cfg.max_body) {
            cs->too_big = 1;
            sbuf_free(&cs->body);
        }
        if (!cs->too_big && sbuf_add(&cs->body, upload_data, *upload_size))
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (cs->too_big) {
        api_error e;
        api_fail(&e, 413, "invalid_request_error", "request_too_large", NULL,
                 "the body is larger than this server's %zu bytes", s->cfg.max_body);
        return reply_error(&r, &e);
    }
    if (atomic_load(&s->stopping)) {
        api_error e;
        api_fail(&e, 503, "server_error", "shutting_down", NULL, "the server is shutting down");
        return reply_error(&r, &e);
    }
    r.body = cs->body.p ? cs->body.p : "";
    r.body_len = cs->body.len;
    return dispatch(&r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    server *s = cls;
    conn_state *cs = *con_cls;
    if (cs) {
        sbuf_free(&cs->body);
        free(cs);
        *con_cls = NULL;
        atomic_fetch_add(&s->n_requests, 1);
    }
}

struct MHD_Daemon *http_start(server *s, unsigned *bound_port) {
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof port, "%d", s->cfg.port);
    int rc = getaddrinfo(s->cfg.host, port, &hints, &ai);
    if (rc || !ai) {
        fprintf(stderr, "difflm-server: --host %s: %s\n", s->cfg.host, gai_strerror(rc));
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                     MHD_USE_ITC;   /* ITC: MHD_quiesce_daemon at shutdown */
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (s->cfg.verbose)
        flags |= MHD_USE_ERROR_LOG;
    /* Connections beyond the pool and its queue get only the cheap answers (health, the
     * page, 503); the extra room is for those and for idle keep-alive connections. */
    unsigned limit = (unsigned)(s->cfg.contexts + s->cfg.queue + 64);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)s->cfg.port, NULL, NULL, on_request, s,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_LIMIT, limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.timeout,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) {
        fprintf(stderr, "difflm-server: cannot listen on %s port %d (in use, or not an address "
                        "of this machine)\n", s->cfg.host, s->cfg.port);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *bound_port = di ? di->port : (unsigned)s->cfg.port;
    return d;
}

/* info.c - GET /v1/models (OpenAI's list, and one model by id) and GET /health (the
 * pool's state and the counters the tests and a load balancer read). */
#include <string.h>

#include "server.h"

static json_t *model_json(server *s) {
    return json_pack("{s:s, s:s, s:I, s:s, s:{s:i, s:i, s:I, s:i}}", "id", s->model_id, "object",
                     "model", "created", (json_int_t)s->started, "owned_by", "difflm",
                     "meta", "n_vocab", s->info.n_vocab, "n_ctx_train", s->info.n_ctx_train,
                     "n_params", (json_int_t)s->info.n_params, "max_canvas", s->info.max_canvas);
}

enum MHD_Result handle_models(http_req *r, const char *id) {
    server *s = r->srv;
    if (!id)
        return reply_json(r, 200, json_pack("{s:s, s:[o]}", "object", "list", "data", model_json(s)));
    if (strcmp(id, s->model_id)) {
        api_error e;
        api_fail(&e, 404, "invalid_request_error", "model_not_found", "model",
                 "the model '%.128s' does not exist; this server runs '%.128s'", id, s->model_id);
        return reply_error(r, &e);
    }
    return reply_json(r, 200, model_json(s));
}

enum MHD_Result handle_health(http_req *r) {
    server *s = r->srv;
    pool_stats st;
    pool_get_stats(s->pool, &st);
    int stopping = atomic_load(&s->stopping);
    json_t *b = json_pack(
        "{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I}",
        "status", stopping ? "shutting_down" : "ok", "model", s->model_id,
        "contexts", st.size, "busy", st.busy, "waiting", st.waiting, "queue_limit", st.queue_limit,
        "max_canvas", s->info.max_canvas, "max_gen_length", s->limits.max_gen_length,
        "requests", (json_int_t)atomic_load(&s->n_requests),
        "generations", (json_int_t)atomic_load(&s->n_generations),
        "completed", (json_int_t)atomic_load(&s->n_completed),
        "cancelled", (json_int_t)atomic_load(&s->n_cancelled),
        "rejected", (json_int_t)atomic_load(&s->n_rejected),
        "client_errors", (json_int_t)atomic_load(&s->n_client_errors));
    return reply_json(r, stopping ? 503 : 200, b);
}

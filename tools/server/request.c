/* request.c - the OpenAI request shapes (and the diffusion knobs, under their own names),
 * decoded by Jansson and checked field by field. A field that is present must have the
 * right type and range; null counts as absent (clients send it for "unset"); a field the
 * server does not know is refused, as OpenAI's API does, and so is one it knows but
 * cannot honour (n > 1, logprobs, echo). */
#include "request.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* The keys each endpoint reads. IGNORED keys are accepted when they ask for nothing
 * (checked in check_ignored). */
static const char *const common_keys[] = {
    "model", "max_tokens", "temperature", "top_p", "top_k", "seed", "stop", "stream",
    "stream_options", "steps", "block_length", "remasking", "schedule", "threshold", "cache",
    "early_stop", "n", "user", "presence_penalty", "frequency_penalty", "logit_bias",
    "logprobs", NULL};
static const char *const completion_keys[] = {"prompt", "echo", "suffix", "best_of", NULL};
static const char *const chat_keys[] = {"messages", "max_completion_tokens", "response_format",
                                        "top_logprobs", NULL};
static const char *const diffusion_keys[] = {"prompt", "messages", NULL};

static int in_list(const char *k, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(k, *list))
            return 1;
    return 0;
}

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* The field, or NULL when it is absent or null. */
static json_t *field(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return v && !json_is_null(v) ? v : NULL;
}

static int get_int(json_t *o, const char *k, long long lo, long long hi, long long *out, int *set,
                   api_error *e) {
    json_t *v = field(o, k);
    if (set)
        *set = v != NULL;
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return api_bad(e, "invalid_type", k, "'%s' must be an integer, not %s", k, type_name(v));
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return api_bad(e, "invalid_value", k, "'%s' must be in %lld .. %lld, not %lld", k, lo, hi, x);
    *out = x;
    return 0;
}

/* A finite number in [lo, hi] (lo_open: lo itself excluded). */
static int get_num(json_t *o, const char *k, double lo, int lo_open, double hi, float *out,
                   api_error *e) {
    json_t *v = field(o, k);
    if (!v)
        return 0;
    if (!json_is_number(v))
        return api_bad(e, "invalid_type", k, "'%s' must be a number, not %s", k, type_name(v));
    double x = json_number_value(v);
    if (!isfinite(x) || x < lo || (lo_open && x == lo) || x > hi)
        return api_bad(e, "invalid_value", k, "'%s' must be in %s%g, %g], not %g", k,
                       lo_open ? "(" : "[", lo, hi, x);
    *out = (float)x;
    return 0;
}

static int get_bool(json_t *o, const char *k, int *out, api_error *e) {
    json_t *v = field(o, k);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return api_bad(e, "invalid_type", k, "'%s' must be a boolean, not %s", k, type_name(v));
    *out = json_is_true(v);
    return 0;
}

/* A name from names (NULL-terminated); its index to *out. */
static int get_name(json_t *o, const char *k, const char *const *names, int32_t *out,
                    api_error *e) {
    json_t *v = field(o, k);
    if (!v)
        return 0;
    if (json_is_string(v))
        for (int i = 0; names[i]; i++)
            if (!strcmp(json_string_value(v), names[i])) {
                *out = i;
                return 0;
            }
    char list[256] = "";
    for (int i = 0; names[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    return api_bad(e, json_is_string(v) ? "invalid_value" : "invalid_type", k,
                   "'%s' must be one of %s", k, list);
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int oom(api_error *e) {
    return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
}

/* Keys that are accepted only while they ask for the default. */
static int check_ignored(json_t *o, api_error *e) {
    json_t *v;
    long long n;
    if (get_int(o, "n", 1, 1, &n, NULL, e) || get_int(o, "best_of", 1, 1, &n, NULL, e)) {
        snprintf(e->message, sizeof e->message,
                 "'%s' must be 1: one completion per request", e->param);
        return -1;
    }
    const char *zero[] = {"presence_penalty", "frequency_penalty"};
    for (int i = 0; i < 2; i++)
        if ((v = field(o, zero[i])) && (!json_is_number(v) || json_number_value(v) != 0))
            return api_bad(e, "unsupported_parameter", zero[i],
                           "'%s' is not supported (only 0)", zero[i]);
    const char *off[] = {"logprobs", "echo"};
    for (int i = 0; i < 2; i++)
        if ((v = field(o, off[i])) && !json_is_false(v) &&
            !(json_is_integer(v) && json_integer_value(v) == 0))
            return api_bad(e, "unsupported_parameter", off[i], "'%s' is not supported", off[i]);
    if ((v = field(o, "top_logprobs")) && !(json_is_integer(v) && json_integer_value(v) == 0))
        return api_bad(e, "unsupported_parameter", "top_logprobs", "'top_logprobs' is not supported");
    if ((v = field(o, "logit_bias")) && (!json_is_object(v) || json_object_size(v)))
        return api_bad(e, "unsupported_parameter", "logit_bias", "'logit_bias' is not supported");
    if ((v = field(o, "suffix")) && !(json_is_string(v) && !json_string_length(v)))
        return api_bad(e, "unsupported_parameter", "suffix", "'suffix' is not supported");
    if ((v = field(o, "user")) && !json_is_string(v))
        return api_bad(e, "invalid_type", "user", "'user' must be a string");
    if ((v = field(o, "response_format"))) {
        json_t *t = json_is_object(v) ? json_object_get(v, "type") : NULL;
        if (!json_is_string(t) || strcmp(json_string_value(t), "text"))
            return api_bad(e, "unsupported_parameter", "response_format",
                           "'response_format' supports only {\"type\": \"text\"}");
    }
    return 0;
}

static int parse_prompt(json_t *v, const req_limits *lim, gen_request *r, api_error *e) {
    if (json_is_array(v) && json_array_size(v) == 1 &&
        (json_is_string(json_array_get(v, 0)) || json_is_array(json_array_get(v, 0))))
        v = json_array_get(v, 0);   /* a batch of one */
    if (json_is_string(v)) {
        r->prompt_len = json_string_length(v);
        if (!(r->prompt = dup_n(json_string_value(v), r->prompt_len)))
            return oom(e);
        return 0;
    }
    size_t n = json_is_array(v) ? json_array_size(v) : 0, ints = 0;
    for (size_t i = 0; i < n; i++)
        ints += json_is_integer(json_array_get(v, i)) != 0;
    if (n && ints == n) {
        if (!(r->ids = malloc(n * sizeof *r->ids)))
            return oom(e);
        for (size_t i = 0; i < n; i++) {
            json_int_t t = json_integer_value(json_array_get(v, i));
            if (t < 0 || t >= lim->n_vocab)
                return api_bad(e, "invalid_value", "prompt",
                               "'prompt' token %zu must be an id in 0 .. %d, not %lld", i,
                               lim->n_vocab - 1, (long long)t);
            r->ids[i] = (difflm_token)t;
        }
        r->n_ids = n;
        return 0;
    }
    return api_bad(e, "invalid_type", "prompt",
                   "'prompt' must be a string, an array of token ids, or an array of one of "
                   "those (one completion per request)");
}

/* A message's content: a string, or an array of {"type": "text", "text": ...} parts
 * (joined). */
static int message_content(json_t *c, size_t i, char **out, api_error *e) {
    char param[48];
    snprintf(param, sizeof param, "messages[%zu].content", i);
    if (json_is_string(c)) {
        if (!(*out = dup_n(json_string_value(c), json_string_length(c))))
            return oom(e);
        return 0;
    }
    if (!json_is_array(c))
        return api_bad(e, "invalid_type", param, "'%s' must be a string or an array of text parts",
                       param);
    size_t total = 0, k;
    json_t *part;
    json_array_foreach(c, k, part) {
        json_t *type = json_object_get(part, "type"), *text = json_object_get(part, "text");
        if (!json_is_object(part) || !json_is_string(type) ||
            strcmp(json_string_value(type), "text") || !json_is_string(text))
            return api_bad(e, "invalid_value", param,
                           "'%s' part %zu must be {\"type\": \"text\", \"text\": \"...\"}", param, k);
        total += json_string_length(text);
    }
    if (!(*out = malloc(total + 1)))
        return oom(e);
    char *p = *out;
    json_array_foreach(c, k, part) {
        json_t *text = json_object_get(part, "text");
        memcpy(p, json_string_value(text), json_string_length(text));
        p += json_string_length(text);
    }
    *p = '\0';
    return 0;
}

static int parse_messages(json_t *v, gen_request *r, api_error *e) {
    if (!json_is_array(v) || !json_array_size(v))
        return api_bad(e, json_is_array(v) ? "invalid_value" : "invalid_type", "messages",
                       "'messages' must be a non-empty array");
    size_t n = json_array_size(v);
    if (n > REQ_MAX_MESSAGES)
        return api_bad(e, "invalid_value", "messages", "'messages' holds %zu messages; at most %d",
                       n, REQ_MAX_MESSAGES);
    if (!(r->msgs = calloc(n, sizeof *r->msgs)))
        return oom(e);
    r->n_msgs = n;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(v, i);
        char param[48];
        snprintf(param, sizeof param, "messages[%zu]", i);
        if (!json_is_object(m))
            return api_bad(e, "invalid_type", param, "'%s' must be an object", param);
        const char *k;
        json_t *x;
        json_object_foreach(m, k, x)
            if (strcmp(k, "role") && strcmp(k, "content") && strcmp(k, "name") && !json_is_null(x)) {
                snprintf(param, sizeof param, "messages[%zu].%.16s", i, k);
                return api_bad(e, "unknown_parameter", param, "unrecognized field '%s'", param);
            }
        json_t *role = json_object_get(m, "role");
        const char *rs = json_is_string(role) ? json_string_value(role) : "";
        /* static strings: the JSON goes before the generation; "developer" is OpenAI's
         * newer name for system */
        const char *mapped = !strcmp(rs, "system") || !strcmp(rs, "developer") ? "system"
                           : !strcmp(rs, "user") ? "user"
                           : !strcmp(rs, "assistant") ? "assistant" : NULL;
        if (!mapped) {
            snprintf(param, sizeof param, "messages[%zu].role", i);
            return api_bad(e, "invalid_value", param,
                           "'%s' must be \"system\", \"developer\", \"user\" or \"assistant\"", param);
        }
        r->msgs[i].role = mapped;
        char *content;
        if (message_content(json_object_get(m, "content"), i, &content, e))
            return -1;
        r->msgs[i].content = content;
    }
    return 0;
}

static int parse_stop(json_t *v, gen_request *r, api_error *e) {
    if (!v)
        return 0;
    json_t *one = json_is_string(v) ? v : NULL;
    size_t n = one ? 1 : json_is_array(v) ? json_array_size(v) : 0;
    if (!one && !json_is_array(v))
        return api_bad(e, "invalid_type", "stop", "'stop' must be a string or an array of strings");
    if (n > REQ_MAX_STOP)
        return api_bad(e, "invalid_value", "stop", "'stop' holds at most %d strings", REQ_MAX_STOP);
    for (size_t i = 0; i < n; i++) {
        json_t *s = one ? one : json_array_get(v, i);
        if (!json_is_string(s) || !json_string_length(s) ||
            json_string_length(s) > REQ_MAX_STOP_BYTES)
            return api_bad(e, "invalid_value", "stop",
                           "'stop' strings must be non-empty strings of at most %d bytes",
                           REQ_MAX_STOP_BYTES);
        r->stop_len[i] = json_string_length(s);
        if (!(r->stop[i] = dup_n(json_string_value(s), r->stop_len[i])))
            return oom(e);
        r->n_stop++;
    }
    return 0;
}

static const char *const schedule_names[] = {"auto", "blocks", "timesteps", NULL};
static const char *const remask_names[] = {"auto", "low_confidence", "random", "origin",
                                           "maskgit_plus", "topk_margin", "entropy", NULL};
static const char *const cache_names[] = {"none", "prefix", "dual", NULL};

static int parse_knobs(json_t *o, const req_limits *lim, gen_request *r, api_error *e) {
    difflm_gen_params *g = &r->g;
    long long x;
    int set;
    /* max_tokens: the generated length (the canvas's MASK tokens); chat's newer name too */
    const char *len_key = field(o, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    g->gen_length = lim->default_gen_length;
    if (get_int(o, len_key, 1, lim->max_gen_length, &x, &set, e))
        return -1;
    if (set)
        g->gen_length = (int32_t)x;
    g->steps = g->gen_length;   /* one token per step unless asked otherwise */
    if (get_int(o, "steps", 1, g->gen_length, &x, &set, e)) {
        snprintf(e->message + strlen(e->message), sizeof e->message - strlen(e->message),
                 " (steps beyond one per generated token would commit nothing)");
        return -1;
    }
    if (set)
        g->steps = (int32_t)x;
    if (get_int(o, "block_length", 0, INT32_MAX, &x, &set, e))
        return -1;
    if (set)
        g->block_length = (int32_t)x;
    if (get_num(o, "temperature", 0, 0, 100, &g->temperature, e) ||
        get_num(o, "top_p", 0, 1, 1, &g->top_p, e))
        return -1;
    if (get_int(o, "top_k", 0, INT32_MAX, &x, &set, e))
        return -1;
    if (set)
        g->top_k = (int32_t)x;
    if (get_int(o, "seed", 0, INT64_MAX, &x, &set, e))
        return -1;
    if (set)
        g->seed = (uint64_t)x;
    if (get_name(o, "schedule", schedule_names, &g->schedule, e) ||
        get_name(o, "remasking", remask_names, &g->remasking, e) ||
        get_name(o, "cache", cache_names, &g->cache, e))
        return -1;
    if (field(o, "threshold")) {
        if (get_num(o, "threshold", 0, 1, 1, &g->threshold, e))
            return -1;
        g->parallel = DIFFLM_PARALLEL_THRESHOLD;
    }
    int early = 0;
    if (get_bool(o, "early_stop", &early, e))
        return -1;
    if (early)
        g->flags |= DIFFLM_GEN_EARLY_STOP;
    if (get_bool(o, "stream", &r->stream, e))
        return -1;
    json_t *so = field(o, "stream_options");
    if (so) {
        if (!json_is_object(so))
            return api_bad(e, "invalid_type", "stream_options", "'stream_options' must be an object");
        json_t *u = field(so, "include_usage");
        if (u && !json_is_boolean(u))
            return api_bad(e, "invalid_type", "stream_options",
                           "'stream_options.include_usage' must be a boolean");
        r->include_usage = json_is_true(u);
    }
    return parse_stop(field(o, "stop"), r, e);
}

int request_parse(const char *body, size_t len, req_kind kind, const req_limits *lim,
                  gen_request *r, api_error *e) {
    memset(r, 0, sizeof *r);
    r->kind = kind;
    difflm_gen_params_init(&r->g);
    json_error_t je;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return api_bad(e, "invalid_json", NULL, "the body is not valid JSON: %s (line %d, column %d)",
                       je.text, je.line, je.column);
    int rc = -1;
    const char *k;
    json_t *v;
    if (!json_is_object(o)) {
        api_bad(e, "invalid_type", NULL, "the body must be a JSON object, not %s", type_name(o));
        goto out;
    }
    const char *const *own = kind == REQ_COMPLETION ? completion_keys
                           : kind == REQ_CHAT ? chat_keys : diffusion_keys;
    json_object_foreach(o, k, v)
        if (!in_list(k, common_keys) && !in_list(k, own)) {
            api_bad(e, "unknown_parameter", k, "unrecognized request argument '%.64s'", k);
            goto out;
        }
    if ((v = field(o, "model"))) {
        if (!json_is_string(v)) {
            api_bad(e, "invalid_type", "model", "'model' must be a string, not %s", type_name(v));
            goto out;
        }
        if (strcmp(json_string_value(v), lim->model_id)) {
            api_fail(e, 404, "invalid_request_error", "model_not_found", "model",
                     "the model '%.128s' does not exist; this server runs '%.128s'",
                     json_string_value(v), lim->model_id);
            goto out;
        }
    }
    if (check_ignored(o, e))
        goto out;
    json_t *prompt = field(o, "prompt"), *msgs = field(o, "messages");
    if (kind == REQ_COMPLETION || (kind == REQ_DIFFUSION && !msgs)) {
        if (!prompt) {
            api_bad(e, "missing_field", "prompt",
                    kind == REQ_DIFFUSION ? "'prompt' or 'messages' is required"
                                          : "'prompt' is required");
            goto out;
        }
        if (msgs) {
            api_bad(e, "invalid_value", "messages", "give 'prompt' or 'messages', not both");
            goto out;
        }
        if (parse_prompt(prompt, lim, r, e))
            goto out;
    } else {
        if (!msgs) {
            api_bad(e, "missing_field", "messages", "'messages' is required");
            goto out;
        }
        if (prompt) {
            api_bad(e, "invalid_value", "prompt", "give 'prompt' or 'messages', not both");
            goto out;
        }
        r->chat = 1;
        if (parse_messages(msgs, r, e))
            goto out;
    }
    rc = parse_knobs(o, lim, r, e);
out:
    json_decref(o);
    if (rc)
        request_free(r);
    return rc;
}

void request_free(gen_request *r) {
    free(r->prompt);
    free(r->ids);
    for (size_t i = 0; i < r->n_msgs; i++)
        free((char *)r->msgs[i].content);
    free(r->msgs);
    for (int i = 0; i < r->n_stop; i++)
        free(r->stop[i]);
    memset(r, 0, sizeof *r);
}

/* error.c - OpenAI-style error bodies. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void fill(api_error *e, int http, const char *type, const char *code, const char *param,
                 const char *fmt, va_list ap) {
    e->http = http;
    e->type = type;
    e->code = code;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    vsnprintf(e->message, sizeof e->message, fmt, ap);
}

int api_fail(api_error *e, int http, const char *type, const char *code, const char *param,
             const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fill(e, http, type, code, param, fmt, ap);
    va_end(ap);
    return -1;
}

int api_bad(api_error *e, const char *code, const char *param, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fill(e, 400, "invalid_request_error", code, param, fmt, ap);
    va_end(ap);
    return -1;
}

json_t *api_error_json(const api_error *e) {
    /* json_string refuses invalid UTF-8; a message quoting the request could hold a cut
     * character, so fall back to a fixed text rather than lose the error. */
    json_t *msg = json_string(e->message);
    if (!msg)
        msg = json_string("invalid request");
    return json_pack("{s:{s:o, s:s, s:o, s:o}}", "error",
                     "message", msg,
                     "type", e->type ? e->type : "invalid_request_error",
                     "param", e->param[0] ? json_string(e->param) : json_null(),
                     "code", e->code ? json_string(e->code) : json_null());
}

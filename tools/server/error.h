/* error.h - the OpenAI-style error a request gets: an HTTP status and
 * {"error": {"message", "type", "param", "code"}}. */
#ifndef SERVER_ERROR_H
#define SERVER_ERROR_H

#include <jansson.h>

typedef struct api_error {
    int http;               /* 400, 401, 404, 405, 413, 500, 503 */
    const char *type;       /* "invalid_request_error", "server_error", ... */
    const char *code;       /* a stable word ("context_length_exceeded") or NULL */
    char param[64];         /* the request field at fault, "" = null */
    char message[512];
} api_error;

/* Fills *e and returns -1 (so that a parser can `return api_fail(...)`). */
int api_fail(api_error *e, int http, const char *type, const char *code, const char *param,
             const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Shorthand for a 400 invalid_request_error. */
int api_bad(api_error *e, const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The error's JSON body (a new reference, NULL out of memory). */
json_t *api_error_json(const api_error *e);

#endif

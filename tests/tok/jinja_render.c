/* jinja_render.c - test helper: renders chat-template cases with lib/tok's interpreter.
 * Reads a JSON array of {"template", "messages": [{role, content}], "add_generation_prompt",
 * "bos_token", "eos_token"} (file argv[1]) and writes a JSON array of {"ok": text} or
 * {"status": code, "error": message} (file argv[2]). test_jinja_ref.py compares the
 * texts with Python's jinja2 rendering the same cases as Hugging Face does. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/jinja.h"

static const char *str_or_null(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    json_error_t je;
    json_t *cases = json_load_file(argv[1], 0, &je);
    if (!json_is_array(cases)) {
        fprintf(stderr, "%s: %s\n", argv[1], je.text);
        return 2;
    }
    json_t *results = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        json_t *tpl = json_object_get(c, "template"), *jm = json_object_get(c, "messages");
        size_t n = json_array_size(jm);
        difflm_chat_message *msgs = calloc(n ? n : 1, sizeof *msgs);
        for (size_t k = 0; k < n; k++) {
            msgs[k].role = str_or_null(json_array_get(jm, k), "role");
            msgs[k].content = str_or_null(json_array_get(jm, k), "content");
        }
        dl_err err = {0};
        dl_jinja *j = NULL;
        int rc = dl_jinja_compile(&j, json_string_value(tpl), json_string_length(tpl), &err);
        char *out = NULL;
        size_t len = 0;
        if (!rc) {
            dl_jinja_vars v = {.msgs = msgs, .n_msgs = n,
                               .add_generation_prompt = json_is_true(json_object_get(c, "add_generation_prompt")),
                               .bos_token = str_or_null(c, "bos_token"), .eos_token = str_or_null(c, "eos_token")};
            rc = dl_jinja_render(j, &v, NULL, 0, &len, &err);
            if (!rc) {
                out = malloc(len + 1);
                size_t len2 = 0;
                rc = dl_jinja_render(j, &v, out, len, &len2, &err);
                if (!rc && len2 != len) {
                    rc = -100;
                    snprintf(err.msg, sizeof err.msg, "second render gave %zu bytes, first %zu", len2, len);
                }
            }
        }
        json_t *r = rc ? json_pack("{s:i,s:s}", "status", rc, "error", err.msg)
                       : json_pack("{s:s%}", "ok", out, len);
        if (!r) r = json_pack("{s:i,s:s}", "status", -101, "error", "output is not valid UTF-8");
        json_array_append_new(results, r);
        free(out);
        free(msgs);
        dl_jinja_free(j);
    }
    int rc = json_dump_file(results, argv[2], JSON_ENSURE_ASCII) ? 2 : 0;
    json_decref(results);
    json_decref(cases);
    return rc;
}

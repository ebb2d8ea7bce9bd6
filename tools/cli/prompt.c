/* prompt.c - the CLI's prompt: read from an option, a file or standard input, and
 * tokenized. */
#include "prompt.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads all of f into a malloc'd, NUL-terminated buffer. */
static int read_all(FILE *f, const char *what, char **out, size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1)
            break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    if (!buf) {
        fprintf(stderr, "difflm: %s: out of memory\n", what);
        return -1;
    }
    if (ferror(f)) {
        fprintf(stderr, "difflm: cannot read %s: %s\n", what, strerror(errno));
        free(buf);
        return -1;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int read_path(const char *path, char **text, size_t *len) {
    if (!strcmp(path, "-"))
        return read_all(stdin, "standard input", text, len);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "difflm: -f: cannot open '%s': %s\n", path, strerror(errno));
        return -1;
    }
    int rc = read_all(f, path, text, len);
    fclose(f);
    return rc;
}

int cli_prompt_text(const cli_args *a, char **text, size_t *len) {
    *text = NULL;
    *len = 0;
    if (a->prompt_ids || cli_canvas_mode(a))
        return 0;
    if (a->prompt_file)
        return read_path(a->prompt_file, text, len);
    if (!a->prompt && !isatty(STDIN_FILENO))
        return read_all(stdin, "standard input", text, len);
    const char *p = a->prompt ? a->prompt : "";
    *len = strlen(p);
    *text = malloc(*len + 1);
    if (!*text) {
        fprintf(stderr, "difflm: out of memory\n");
        return -1;
    }
    memcpy(*text, p, *len + 1);
    return 0;
}

/* Parses "1,2,3" into a malloc'd array. */
static difflm_token *parse_ids(const char *s, size_t *n) {
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    difflm_token *ids = malloc(cap * sizeof *ids);
    if (!ids)
        return NULL;
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < 0 || v > INT32_MAX || (*end && *end != ',')) {
            fprintf(stderr, "difflm: --prompt-ids must be comma-separated ids >= 0, bad at '%s'\n",
                    p);
            free(ids);
            return NULL;
        }
        ids[(*n)++] = (difflm_token)v;
        p = *end ? end + 1 : end;
    }
    return ids;
}

/* The chat template around text, malloc'd and NUL-terminated. */
static char *chat_text(difflm_ctx *ctx, const char *text) {
    difflm_chat_message msg = {"user", text};
    size_t need = 0;
    char *out = NULL;
    int rc = difflm_chat_format(ctx, &msg, 1, 1, NULL, 0, &need);
    if (rc == DIFFLM_E_BUFFER_TOO_SMALL)
        rc = (out = malloc(need + 1)) ? difflm_chat_format(ctx, &msg, 1, 1, out, need + 1, &need)
                                      : DIFFLM_E_NOMEM;
    if (rc != DIFFLM_OK) {
        fprintf(stderr, "difflm: --chat: %s: %s\n", difflm_status_str(rc), difflm_last_error(ctx));
        free(out);
        return NULL;
    }
    return out;
}

static int tokenize(difflm_ctx *ctx, const char *text, size_t len, uint32_t flags,
                    difflm_token **ids, size_t *n) {
    size_t cap = len + 2;  /* byte-level BPE: at most one id per byte, plus BOS */
    *ids = malloc(cap * sizeof **ids);
    int rc = *ids ? difflm_tokenize(ctx, text, len, flags, *ids, cap, n) : DIFFLM_E_NOMEM;
    if (rc == DIFFLM_E_BUFFER_TOO_SMALL) {
        free(*ids);
        cap = *n;
        *ids = malloc(cap * sizeof **ids);
        rc = *ids ? difflm_tokenize(ctx, text, len, flags, *ids, cap, n) : DIFFLM_E_NOMEM;
    }
    if (rc != DIFFLM_OK) {
        fprintf(stderr, "difflm: tokenize: %s: %s\n", difflm_status_str(rc),
                difflm_last_error(ctx));
        free(*ids);
        *ids = NULL;
        return -1;
    }
    return 0;
}

int cli_prompt_tokens(difflm_ctx *ctx, const cli_args *a, const char *text, size_t len,
                      difflm_token **ids, size_t *n) {
    if (a->prompt_ids || a->canvas_ids) {
        *ids = parse_ids(a->prompt_ids ? a->prompt_ids : a->canvas_ids, n);
        return *ids ? 0 : -1;
    }
    if (a->infill) {
        difflm_model_info mi = {.struct_size = sizeof mi};
        difflm_model_info_get(ctx, &mi);
        uint32_t fl = DIFFLM_TOKENIZE_PARSE_SPECIAL | (mi.add_bos ? DIFFLM_TOKENIZE_ADD_BOS : 0u);
        size_t need = 0;
        int rc = difflm_infill_canvas(ctx, a->infill, fl, NULL, 0, &need);
        *ids = NULL;
        if (rc == DIFFLM_E_BUFFER_TOO_SMALL && (*ids = malloc((need ? need : 1) * sizeof **ids)))
            rc = difflm_infill_canvas(ctx, a->infill, fl, *ids, need, n);
        if (rc != DIFFLM_OK) {
            fprintf(stderr, "difflm: --infill: %s\n", rc == DIFFLM_OK ? "" : difflm_last_error(ctx));
            free(*ids);
            *ids = NULL;
            return -1;
        }
        return 0;
    }
    uint32_t flags = DIFFLM_TOKENIZE_PARSE_SPECIAL;
    if (a->chat) {
        char *templated = chat_text(ctx, text);
        if (!templated)
            return -1;
        int rc = tokenize(ctx, templated, strlen(templated), flags, ids, n);
        free(templated);
        return rc;
    }
    difflm_model_info mi = {.struct_size = sizeof mi};
    difflm_model_info_get(ctx, &mi);
    if (mi.add_bos)
        flags |= DIFFLM_TOKENIZE_ADD_BOS;
    return tokenize(ctx, text, len, flags, ids, n);
}

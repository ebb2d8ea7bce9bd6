/* args.c - option values and strict decimal parsing for the scoring tools (args.h). */
#include "args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int score_parse_i64(const char *tool, const char *opt, const char *s, int64_t min, int64_t max,
                    int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "%s: %s: '%s' is not an integer in [%lld, %lld]\n", tool, opt, s,
                (long long)min, (long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int score_parse_u64(const char *tool, const char *opt, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        fprintf(stderr, "%s: %s: '%s' is not an unsigned integer\n", tool, opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int score_option_value(const char *tool, int argc, char **argv, int *i,
                       const char *const *with_value, size_t n, void (*usage)(FILE *),
                       const char **value) {
    const char *a = argv[*i];
    int known = 0;
    for (size_t k = 0; k < n; k++)
        known |= !strcmp(a, with_value[k]);
    if (!known) {
        fprintf(stderr, "%s: unknown option %s\n", tool, a);
        usage(stderr);
        return -1;
    }
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", tool, a);
        return -1;
    }
    *value = argv[++*i];
    return 0;
}

int score_fail(score_err *e, int code, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->code = code;
    }
    return code;
}

/* args.c - strict decimal parsing for tool options (see args.h). */
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

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

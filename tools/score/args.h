/* args.h - number parsing for the scoring tools' command lines. Each prints its own
 * message ("TOOL: OPT: ...") on stderr and returns -1 on a bad value. */
#ifndef SCORE_ARGS_H
#define SCORE_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "score_err.h"

int score_parse_i64(const char *tool, const char *opt, const char *s, int64_t min, int64_t max,
                    int64_t *out);
int score_parse_u64(const char *tool, const char *opt, const char *s, uint64_t *out);

/* argv[*i] must be one of the n options of with_value, each followed by its value: sets
 * *value to it and moves *i past it. Otherwise prints "TOOL: unknown option OPT" and
 * usage on stderr, or "TOOL: OPT needs a value", and returns -1. */
int score_option_value(const char *tool, int argc, char **argv, int *i,
                       const char *const *with_value, size_t n, void (*usage)(FILE *),
                       const char **value);

#endif

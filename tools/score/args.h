/* args.h - number parsing for the scoring tools' command lines. Each prints its own
 * message ("TOOL: OPT: ...") on stderr and returns -1 on a bad value. */
#ifndef SCORE_ARGS_H
#define SCORE_ARGS_H

#include <stdint.h>

int score_parse_i64(const char *tool, const char *opt, const char *s, int64_t min, int64_t max,
                    int64_t *out);
int score_parse_u64(const char *tool, const char *opt, const char *s, uint64_t *out);

#endif

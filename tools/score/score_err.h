/* score_err.h - the scoring tools' error record and size arithmetic, on the public
 * status codes only (the tools are hosts of include/difflm.h). */
#ifndef SCORE_ERR_H
#define SCORE_ERR_H

#include <stddef.h>
#include <stdint.h>

#include "difflm_status.h"

#define SCORE_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SCORE_MAX(a, b) ((a) > (b) ? (a) : (b))

typedef struct score_err {
    int code;           /* DIFFLM_OK or a DIFFLM_E_* status */
    char msg[512];
} score_err;

/* Records code and the formatted message in *e (when non-NULL) and returns code. */
int score_fail(score_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* *out = a + b (a * b); non-zero when it overflows a size_t. */
static inline int score_add_size(size_t a, size_t b, size_t *out) {
    return __builtin_add_overflow(a, b, out);
}
static inline int score_mul_size(size_t a, size_t b, size_t *out) {
    return __builtin_mul_overflow(a, b, out);
}

#endif

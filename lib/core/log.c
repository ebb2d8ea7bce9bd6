/* log.c - the library prints nothing; messages go to the host's callback, if any. */
#include <stdio.h>

#include "core.h"

void dl_logf(const dl_log *lg, int32_t level, const char *fmt, ...) {
    if (!lg || !lg->fn || level > lg->level)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    lg->fn(level, buf, lg->user);
}

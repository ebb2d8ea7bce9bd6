/* err.c - error detail: the status and message of the last failure. */
#include <stdio.h>
#include <string.h>

#include "core.h"

int dl_fail(dl_err *e, int status, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->status = status;
    }
    return status;
}

void dl_err_clear(dl_err *e) {
    if (e) {
        e->status = 0;
        e->msg[0] = '\0';
    }
}

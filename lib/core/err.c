/* err.c - status strings (from the public X-macro list) and error detail. */
#include <stdio.h>
#include <string.h>

#include "core.h"

const char *difflm_status_str(int status) {
    switch (status) {
#define DL_STATUS_CASE_(name, value, text) \
    case value:                            \
        return text;
        DIFFLM_STATUS_LIST(DL_STATUS_CASE_)
#undef DL_STATUS_CASE_
    default:
        return "unknown status";
    }
}

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

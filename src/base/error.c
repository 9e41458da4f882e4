#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>

lam_status lam_fail(lam_error *e, lam_status s, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->status = s;
    }
    return s;
}

void lam_error_clear(lam_error *e) {
    if (e) {
        e->status = LAM_OK;
        e->msg[0] = '\0';
    }
}

const char *lam_status_name(lam_status s) {
    switch (s) {
    case LAM_OK: return "ok";
    case LAM_ERR_ARG: return "bad argument";
    case LAM_ERR_IO: return "I/O error";
    case LAM_ERR_FORMAT: return "bad format";
    case LAM_ERR_NOMEM: return "out of memory";
    case LAM_ERR_STATE: return "bad state";
    }
    return "unknown status";
}

/* Internal: filling a lam_error.  Used by every layer above the kernels. */
#ifndef LAMINA_BASE_ERROR_H
#define LAMINA_BASE_ERROR_H

#include "lamina.h"

/* Sets e (if non-NULL) to status s with a printf-style one-line message and
 * returns s, so callers can write `return lam_fail(e, LAM_ERR_ARG, "...")`. */
lam_status lam_fail(lam_error *e, lam_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears e to LAM_OK with an empty message. */
void lam_error_clear(lam_error *e);

#endif

/* Per-thread scratch; see workspace.h. */
#define _POSIX_C_SOURCE 200809L
#include "kernels/workspace.h"
#include "lamina.h"

#include <stdlib.h>

static _Thread_local float *ws_buf;
static _Thread_local size_t ws_cap;

float *lam_workspace(size_t n) {
    if (n <= ws_cap && ws_buf) return ws_buf;
    void *p = NULL;
    if (n > ((size_t)-1 - 63) / sizeof(float) || posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0) return NULL;
    free(ws_buf);
    ws_buf = p;
    ws_cap = n;
    return ws_buf;
}

void lam_release_workspace(void) {
    free(ws_buf);
    ws_buf = NULL;
    ws_cap = 0;
}

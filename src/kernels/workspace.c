/* Per-thread scratch; see workspace.h. */
#define _POSIX_C_SOURCE 200809L
#include "kernels/workspace.h"
#include "lamina.h"

#include <stdlib.h>

static _Thread_local float *ws_buf[LAM_WS_SLOTS];
static _Thread_local size_t ws_cap[LAM_WS_SLOTS];

float *lam_workspace(int slot, size_t n) {
    if (n <= ws_cap[slot] && ws_buf[slot]) return ws_buf[slot];
    void *p = NULL;
    if (n > ((size_t)-1 - 63) / sizeof(float) || posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0) return NULL;
    free(ws_buf[slot]);
    ws_buf[slot] = p;
    ws_cap[slot] = n;
    return ws_buf[slot];
}

void lam_release_workspace(void) {
    for (int k = 0; k < LAM_WS_SLOTS; k++) {
        free(ws_buf[k]);
        ws_buf[k] = NULL;
        ws_cap[k] = 0;
    }
}

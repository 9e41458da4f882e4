/* Per-thread scratch; see workspace.h. */
#define _POSIX_C_SOURCE 200809L
#include "kernels/workspace.h"
#include "kernels/memory.h"
#include "lamina.h"

#include <stdlib.h>

static _Thread_local float *ws_buf[LAM_WS_SLOTS];
static _Thread_local size_t ws_cap[LAM_WS_SLOTS];

/* LAMINA_TEST_WORKSPACE_MAX=N (tests only): a request for more than N floats
 * fails as if memory had run out. */
static size_t test_limit(void) {
    const char *v = getenv("LAMINA_TEST_WORKSPACE_MAX");
    return v && *v ? (size_t)strtoull(v, NULL, 10) : (size_t)-1;
}

float *lam_workspace(int slot, size_t n) {
    if (n > test_limit()) return NULL;
    if (n <= ws_cap[slot] && ws_buf[slot]) return ws_buf[slot];
    float *p = lam_alloc_floats(n, 0);
    if (!p) return NULL;
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

/* Internal: per-thread scratch buffers for kernels whose public form cannot
 * take one (lam_ffn_backward, the norms' backward).  Each slot grows to the
 * largest size asked for and is then reused; lam_release_workspace() frees
 * them.  One slot per kernel, so a kernel never loses its buffer to another
 * that it calls. */
#ifndef LAMINA_KERNELS_WORKSPACE_H
#define LAMINA_KERNELS_WORKSPACE_H

#include <stddef.h>

enum { LAM_WS_FFN = 0, LAM_WS_NORM = 1, LAM_WS_SLOTS = 2 };

/* At least n floats, 64-byte aligned, or NULL when out of memory. */
float *lam_workspace(int slot, size_t n);

#endif

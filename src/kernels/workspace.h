/* Internal: a per-thread scratch buffer for kernels whose public form
 * cannot take one (lam_ffn_backward).  It grows to the largest size asked
 * for and is then reused; lam_release_workspace() frees it. */
#ifndef LAMINA_KERNELS_WORKSPACE_H
#define LAMINA_KERNELS_WORKSPACE_H

#include <stddef.h>

/* At least n floats, 64-byte aligned, or NULL when out of memory. */
float *lam_workspace(size_t n);

#endif

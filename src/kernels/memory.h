/* Internal: allocation of the big float buffers (activations, gradients,
 * caches, workspaces).  Buffers of 4 MB or more are 2 MB-aligned and marked
 * for transparent huge pages (Linux's madvise MADV_HUGEPAGE; the common
 * "madvise" THP setting gives them only to buffers that ask), which spares
 * the streaming passes and the GEMMs a TLB miss every 4 KB.  Measured
 * (2 threads, Sapphire Rapids, 4 interleaved pairs of runs, all four the same
 * way): `lamina bench train` best step 203–206 ms instead of 210–212;
 * `lamina bench ffn` forward+backward 384–390 ms instead of 389–393, its bare
 * GEMMs 369–371 instead of 374–379. */
#ifndef LAMINA_KERNELS_MEMORY_H
#define LAMINA_KERNELS_MEMORY_H

#include <stddef.h>

/* n floats (at least one), 64-byte aligned, zero-filled when zero != 0;
 * NULL when out of memory or n·4 overflows.  Release with free(). */
float *lam_alloc_floats(size_t n, int zero);

#endif

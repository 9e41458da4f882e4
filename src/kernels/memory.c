/* Big float buffers; see memory.h. */
#define _DEFAULT_SOURCE
#include "kernels/memory.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_FROM ((size_t)4 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

float *lam_alloc_floats(size_t n, int zero) {
    if (n == 0) n = 1;
    if (n > (SIZE_MAX - HUGE_PAGE) / sizeof(float)) return NULL;
    size_t bytes = n * sizeof(float), align = 64;
    if (bytes >= HUGE_FROM) {
        align = HUGE_PAGE;
        bytes = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    }
    void *p = NULL;
    if (posix_memalign(&p, align, bytes) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    if (align == HUGE_PAGE) (void)madvise(p, bytes, MADV_HUGEPAGE);   /* advice only: failure changes nothing */
#endif
    if (zero) memset(p, 0, bytes);
    return p;
}

/* Internal to the kernel layer: run-time ISA choice and the fixed work
 * partitions that keep reductions independent of the thread count. */
#ifndef LAMINA_KERNELS_INTERNAL_H
#define LAMINA_KERNELS_INTERNAL_H

#include <stddef.h>

/* 1 when the AVX2+FMA micro-kernels are selected (see lam_isa); also true
 * under "avx512", which adds AVX-512 activation kernels to the AVX2 ones. */
int lam_use_avx2(void);
/* 1 when the AVX-512 activation micro-kernels are selected. */
int lam_use_avx512(void);

/* Below this many floats of work a kernel runs on one thread: a parallel
 * region costs more than it saves. */
#define LAM_PAR_MIN_FLOATS ((size_t)32768)

/* Columns are split between threads in blocks of LAM_COL_BLOCK so that a
 * column's arithmetic (vector body or tail) never depends on the partition. */
#define LAM_COL_BLOCK ((size_t)16)

/* [begin, end) of part `t` of `n` items split into `parts` nearly equal
 * contiguous ranges, each a multiple of `quantum` except the last. */
static inline void lam_split(size_t n, size_t quantum, int parts, int t, size_t *begin, size_t *end) {
    size_t blocks = (n + quantum - 1) / quantum;
    size_t per = blocks / (size_t)parts, rem = blocks % (size_t)parts;
    size_t tt = (size_t)t;
    size_t b0 = tt * per + (tt < rem ? tt : rem);
    size_t b1 = b0 + per + (tt < rem ? 1 : 0);
    *begin = b0 * quantum < n ? b0 * quantum : n;
    *end = b1 * quantum < n ? b1 * quantum : n;
}

/* Threads to use for `work` floats of streaming work. */
int lam_threads_for(size_t work);

#endif

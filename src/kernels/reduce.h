/* Internal: reductions over long float arrays whose result does not depend
 * on the thread count. */
#ifndef LAMINA_KERNELS_REDUCE_H
#define LAMINA_KERNELS_REDUCE_H

#include <stddef.h>

/* Σ x[i]² over x (n), in double. */
double lam_sum_squares(const float *x, size_t n);

#endif

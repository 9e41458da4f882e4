/* Internal: reductions over long float arrays whose result does not depend
 * on the thread count. */
#ifndef LAMINA_KERNELS_REDUCE_H
#define LAMINA_KERNELS_REDUCE_H

#include <stddef.h>

/* Σ x[i]·y[i] over n (y NULL: Σ x[i]), products and sums in double,
 * sequential: element i goes to partial i mod 16 (independent lanes for the
 * vector units, not one chain of dependent adds) and the partials are added
 * pairwise. */
double lam_dot_f64(const float *x, const float *y, size_t n);

/* The largest of x[0..n) (n ≥ 1, sequential); NaNs are skipped (callers
 * that exponentiate x − max get NaN from them anyway). */
float lam_max_f32(const float *x, size_t n);

/* Σ x[i]² over x (n), in double, threaded. */
double lam_sum_squares(const float *x, size_t n);

#endif

/* Reductions in a fixed order.  lam_dot_f64, lam_max_f32: element i goes to
 * partial i mod 16, so the loop runs as independent vector lanes instead of
 * one chain of dependent adds; the partials are combined in a fixed order
 * (reduce_ukr.h), the same in every micro-kernel family.  lam_sum_squares:
 * x is cut into REDUCE_CHUNKS chunks (multiples of PARTIALS elements)
 * whatever the thread count, each summed by lam_dot_f64, the chunks added in
 * order. */
#include "kernels/reduce.h"
#include "kernels/kernels_internal.h"
#include "kernels/reduce_ukr.h"

#include <omp.h>

#define REDUCE_CHUNKS 64
#define PARTIALS LAM_REDUCE_PARTIALS

const lam_reduce_ukr *lam_reduce_ukr_get(void) {
#ifdef LAM_REDUCE_HAVE_AVX2
    if (lam_use_avx512()) return &lam_reduce_ukr_avx512;
    if (lam_use_avx2()) return &lam_reduce_ukr_avx2;
#endif
    return &lam_reduce_ukr_generic;
}

double lam_dot_f64(const float *x, const float *y, size_t n) { return lam_reduce_ukr_get()->dot_f64(x, y, n); }

float lam_max_f32(const float *x, size_t n) { return lam_reduce_ukr_get()->max_f32(x, n); }

double lam_sum_squares(const float *x, size_t n) {
    double part[REDUCE_CHUNKS];
    int nt = lam_threads_for(n);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int k = 0; k < REDUCE_CHUNKS; k++) {
        size_t b, e;
        lam_split(n, PARTIALS, REDUCE_CHUNKS, k, &b, &e);
        part[k] = lam_dot_f64(x + b, x + b, e - b);
    }
    double s = 0;
    for (int k = 0; k < REDUCE_CHUNKS; k++) s += part[k];
    return s;
}

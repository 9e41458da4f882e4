/* Internal to the kernel layer: the fixed-order reduction micro-kernels
 * behind lam_dot_f64 and lam_max_f32 (reduce.h).
 *
 * Three families implement this table: portable C (generic/reduce_generic.c),
 * AVX2 (avx2/reduce_avx2.c) and AVX-512 (avx512/reduce_avx512.c).  All three
 * compute exactly the same sums in exactly the same order, so they give the
 * same bits and the choice of family changes no result:
 *   dot_f64: element i goes to partial i mod 16 (a double, starting at +0),
 *            as x[i]·y[i] (each widened to double, one rounded multiply, one
 *            rounded add; y NULL: x[i] alone); the 16 partials are then added
 *            pairwise: p[l] += p[l + w] for w = 8, 4, 2, 1.  A vector family
 *            holds the partials in lanes and gives a tail's missing elements
 *            the value 0, which adds nothing (a partial is never −0).
 *   max_f32: element i goes to partial i mod 16 (starting at −inf) as
 *            m = x > m ? x : m (a NaN x is skipped); the partials are then
 *            taken in lane order, mx = m[l] > mx ? m[l] : mx.
 * lam_reduce_ukr_get() returns the one selected by lam_use_avx512() /
 * lam_use_avx2(). */
#ifndef LAMINA_REDUCE_UKR_H
#define LAMINA_REDUCE_UKR_H

#include <stddef.h>

#define LAM_REDUCE_PARTIALS 16

typedef struct lam_reduce_ukr {
    /* x, y are (n); y may be NULL. */
    double (*dot_f64)(const float *x, const float *y, size_t n);
    /* x is (n), n >= 1. */
    float (*max_f32)(const float *x, size_t n);
} lam_reduce_ukr;

extern const lam_reduce_ukr lam_reduce_ukr_generic;
#if defined(__x86_64__) || defined(__i386__)
extern const lam_reduce_ukr lam_reduce_ukr_avx2;
extern const lam_reduce_ukr lam_reduce_ukr_avx512;
#define LAM_REDUCE_HAVE_AVX2 1
#endif
const lam_reduce_ukr *lam_reduce_ukr_get(void);

#endif

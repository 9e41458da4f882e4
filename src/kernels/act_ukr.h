/* Internal to the kernel layer: the activation micro-kernels.
 *
 * Three families implement this table: portable C (generic/act_generic.c,
 * which evaluates in double and rounds once), AVX2/FMA (avx2/act_avx2.c, 8
 * lanes) and AVX-512 (avx512/act_avx512.c, 16 lanes).  The two vector
 * families are one source, act_simd.h, over each ISA's vocabulary, and give
 * bit-identical results; their tails are masked, so an element's arithmetic
 * never depends on where a call's range starts or ends.  lam_act_ukr_get()
 * returns the one selected by lam_use_avx512() / lam_use_avx2().  The drivers (activation.c,
 * ffn.c, attention.c) own the threading; micro-kernels are sequential.
 *
 * Formulas (each chosen to stay accurate in float32 over the whole range):
 *   RELU       x > 0 ? x : 0 (NaN stays NaN);  derivative (x > 0), 0 at 0
 *   GELU       0.5·x·erfc(−x/√2)   (erfc keeps the negative tail; 1 + erf
 *              would cancel);  derivative Φ(x) + x·φ(x)
 *   GELU_TANH  x·σ(2u), u = √(2/π)·(x + 0.044715·x³)  (equal to
 *              0.5·x·(1 + tanh u) without its cancellation for x < 0);
 *              derivative s + x·s·(1 − s)·2u′, u′ = √(2/π)(1 + 3·0.044715·x²)
 *   SILU       x·σ(x);  derivative s·(1 + x·(1 − s))
 * σ(z) is formed from e = exp(−|z|): σ = 1/(1+e) for z ≥ 0, e/(1+e) below,
 * and 1 − σ likewise, so neither σ nor 1 − σ loses digits in a tail. */
#ifndef LAMINA_ACT_UKR_H
#define LAMINA_ACT_UKR_H

#include "lamina.h"

#include <stddef.h>

typedef struct lam_act_ukr {
    /* y, x are (n): y = act(x).  y may alias x. */
    void (*forward)(float *y, const float *x, size_t n, lam_act act);
    /* dx, dy, x are (n): dx = dy·act′(x).  dx may alias dy. */
    void (*backward)(float *dx, const float *dy, const float *x, size_t n, lam_act act);
    /* h, a, b are (n): with v = h + b (b may be NULL), a = act(v) and h is
     * overwritten with act′(v) — all that a backward needs of v. */
    void (*bias_act_deriv)(float *h, float *a, const float *b, size_t n, lam_act act);
    /* g, u, m, b1, b3 are (n): g += b1, u += b3 (either may be NULL), then
     * m = act(g)·u. */
    void (*gated_forward)(float *g, float *u, float *m, const float *b1, const float *b3, size_t n, lam_act act);
    /* dg, du, dm, g, u are (n), differentiating m = act(g)·u:
     * du = dm·act(g), dg = dm·u·act′(g).  dg may alias dm (du may not). */
    void (*gated_backward)(float *dg, float *du, const float *dm, const float *g, const float *u, size_t n,
                           lam_act act);
    /* y, x are (n): y = exp(x − shift), the softmax's exponential (the
     * vector families share it with σ).  y may alias x. */
    void (*exp_shift)(float *y, const float *x, float shift, size_t n);
} lam_act_ukr;

extern const lam_act_ukr lam_act_ukr_generic;
#if defined(__x86_64__) || defined(__i386__)
extern const lam_act_ukr lam_act_ukr_avx2;
extern const lam_act_ukr lam_act_ukr_avx512;
#define LAM_ACT_HAVE_AVX2 1
#endif
const lam_act_ukr *lam_act_ukr_get(void);

/* The activation and its derivative at one point, evaluated in double (the
 * generic family, and the AVX2 family's exact-GELU lanes). */
void lam_act_eval(double x, lam_act act, double *value, double *deriv);

#endif

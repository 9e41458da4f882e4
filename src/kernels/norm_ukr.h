/* Internal to the kernel layer: the normalization micro-kernels.
 *
 * Two families implement this table: portable C (generic/norm_generic.c) and
 * AVX2/FMA (avx2/norm_avx2.c).  lam_norm_ukr_get() returns the one selected by
 * lam_use_avx2().  The drivers (layernorm.c, rmsnorm.c, batchnorm.c) own the
 * threading; every micro-kernel is sequential and its reduction order depends
 * only on its arguments, never on the thread that runs it.
 *
 * Row kernels work on one row of n contiguous floats.  Column kernels work on
 * nc <= LAM_COL_BLOCK adjacent columns starting at x (the first column), over
 * `rows` rows of leading dimension ld; each column is summed in row order in
 * its own lane, and its arithmetic does not depend on where the block starts
 * or on nc (tails use masked loads or the same fused operations).
 *
 * s is an exact power of two that the drivers use to keep squares away from
 * overflow and underflow (1 for ordinary data).  gamma, beta may be NULL
 * (scale 1, shift 0).
 */
#ifndef LAMINA_NORM_UKR_H
#define LAMINA_NORM_UKR_H

#include <stddef.h>

/* Most rows norm_group_backward takes. */
#define LAM_NORM_GROUP_MAX ((size_t)16)

/* Widest column range col_dgamma_dbeta takes (a multiple of LAM_COL_BLOCK). */
#define LAM_NORM_COL_MAX ((size_t)512)

typedef struct lam_norm_ukr {
    /* x is (n).  *sum = Σ (x·s − k), *amax = max |x| (unscaled). */
    void (*row_sum_shift)(float *sum, float *amax, const float *x, size_t n, float s, float k);
    /* x is (n).  Returns Σ (x·s − m)². */
    float (*row_sum_sqdev)(const float *x, size_t n, float s, float m);
    /* x, y, gamma, beta are (n).  y = (x − m)·r·gamma + beta. */
    void (*row_apply)(float *y, const float *x, const float *gamma, const float *beta, size_t n, float m, float r);
    /* LayerNorm backward of one row; x, dy, dx, gamma are (n).
     * x̂ = (x − m)·r, g = dy·gamma, dx = r·(g − mean(g) − x̂·mean(g·x̂)). */
    void (*ln_row_backward)(float *dx, const float *dy, const float *x, const float *gamma, size_t n, float m,
                            float r);
    /* RMSNorm backward of one row: x̂ = x·r, g = dy·gamma, dx = r·(g − x̂·mean(g·x̂)). */
    void (*rms_row_backward)(float *dx, const float *dy, const float *x, const float *gamma, size_t n, float r);
    /* x, dy are (rows, ld) starting at column j0 of the caller's matrix (the
     * pointers are already offset); mean, rstd are (rows); dgamma, dbeta are
     * (nc), offset likewise; nc <= LAM_NORM_COL_MAX.  The kernel walks the
     * rows contiguously, keeping the nc column sums in a stack buffer.  For
     * every column j < nc, in row order:
     *   dgamma[j] += Σ_i dy[i][j]·(x[i][j] − mean[i])·rstd[i]   (mean NULL: 0)
     *   dbeta[j]  += Σ_i dy[i][j]
     * The column's sum is formed first, then added once.  dgamma or dbeta
     * may be NULL. */
    void (*col_dgamma_dbeta)(float *dgamma, float *dbeta, const float *dy, const float *x, const float *mean,
                             const float *rstd, size_t rows, size_t ld, size_t nc);
    /* BatchNorm column statistics; x is (rows, ld), s, k, m, sum, amax, out are (nc).
     * sum[j] = Σ_i (x[i][j]·s[j] − k[j]), amax[j] = max_i |x[i][j]|. */
    void (*col_sum_shift)(float *sum, float *amax, const float *x, size_t rows, size_t ld, size_t nc,
                          const float *s, const float *k);
    /* out[j] = Σ_i (x[i][j]·s[j] − m[j])². */
    void (*col_sum_sqdev)(float *out, const float *x, size_t rows, size_t ld, size_t nc, const float *s,
                          const float *m);
    /* y[i][j] = (x[i][j] − m[j])·a[j] + b[j]   (a = rstd·gamma, b = beta). */
    void (*col_apply)(float *y, const float *x, size_t rows, size_t ld, size_t nc, const float *m, const float *a,
                      const float *b);
    /* BatchNorm backward sums: sdy[j] = Σ_i dy, sdyxh[j] = Σ_i dy·(x − m[j])·r[j]. */
    void (*col_bn_sums)(float *sdy, float *sdyxh, const float *dy, const float *x, size_t rows, size_t ld,
                        size_t nc, const float *m, const float *r);
    /* dx[i][j] = a[j]·((dy − b[j]) − (x − m[j])·r[j]·c[j])
     * (a = rstd·gamma, b = mean(dy), c = mean(dy·x̂)). */
    void (*col_bn_dx)(float *dx, const float *dy, const float *x, size_t rows, size_t ld, size_t nc,
                      const float *m, const float *r, const float *a, const float *b, const float *c);
    /* The backward of rows <= LAM_NORM_GROUP_MAX consecutive rows: each row's
     * dx exactly as ln_row_backward (mean given) or rms_row_backward (mean
     * NULL) computes it, and the group's column partials SET (not added):
     * pg[j] = Σ_i dy·x̂ and, for LayerNorm, pb[j] = Σ_i dy, each summed from 0
     * in row order with one fused multiply-add (pg) or add (pb) per row,
     * x̂ as the row kernel forms it.  x, dy, dx are (rows, n); mean, rstd (rows). */
    void (*norm_group_backward)(float *dx, float *pg, float *pb, const float *dy, const float *x,
                                const float *gamma, size_t rows, size_t n, const float *mean, const float *rstd);
} lam_norm_ukr;

extern const lam_norm_ukr lam_norm_ukr_generic;
#if defined(__x86_64__) || defined(__i386__)
extern const lam_norm_ukr lam_norm_ukr_avx2;
#define LAM_NORM_HAVE_AVX2 1
#endif

/* The table selected by lam_use_avx2(). */
const lam_norm_ukr *lam_norm_ukr_get(void);

/* Power-of-two scale s for a row or column whose largest magnitude is amax:
 * 1 when squares of amax-sized values can neither overflow nor lose
 * precision to underflow (amax in [2^-40, 2^48]) or when amax is 0, Inf or
 * NaN (non-finite values must propagate, not be scaled); otherwise the s that
 * brings amax·s into [1, 4).  Defined in layernorm.c. */
float lam_norm_scale_for(float amax);

/* The row-wise backward shared by LayerNorm (mean given) and RMSNorm (mean
 * NULL): dx (may be NULL) written from ukr row kernels, one thread per row;
 * dgamma, dbeta (may be NULL) accumulated per column in a fixed order, rows
 * processed in chunks whose size depends only on dim.  Defined in layernorm.c.
 * x, dy, dx are (rows, dim); mean, rstd are (rows); gamma, dgamma, dbeta are (dim). */
void lam_norm_rows_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                            const float *gamma, const float *mean, const float *rstd, size_t rows, size_t dim);

#endif

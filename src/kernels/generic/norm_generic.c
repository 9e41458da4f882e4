/* Portable normalization micro-kernels (the table in norm_ukr.h).
 *
 * Row reductions keep 8 partial sums (lane j mod 8), combined in a fixed
 * tree at the end, so the order depends only on n.  Column kernels keep one
 * sum per column, rows in order.  No fmaf here: without hardware FMA it is a
 * slow library call; the AVX2 family fuses instead, so the two families may
 * differ in the last bits (each is deterministic). */
#include "kernels/norm_ukr.h"

#include <math.h>

#define NL 8 /* partial sums per row reduction */

static float sum8(const float *a) {
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* x is (n). */
static void g_row_sum_shift(float *sum, float *amax, const float *x, size_t n, float s, float k) {
    float acc[NL] = {0}, mx[NL] = {0};
    size_t j = 0;
    for (; j + NL <= n; j += NL)
        for (int l = 0; l < NL; l++) {
            acc[l] += x[j + (size_t)l] * s - k;
            float a = fabsf(x[j + (size_t)l]);
            mx[l] = a > mx[l] ? a : mx[l];
        }
    for (int l = 0; j < n; j++, l++) {
        acc[l] += x[j] * s - k;
        float a = fabsf(x[j]);
        mx[l] = a > mx[l] ? a : mx[l];
    }
    float m = mx[0];
    for (int l = 1; l < NL; l++) m = mx[l] > m ? mx[l] : m;
    *sum = sum8(acc);
    *amax = m;
}

/* x is (n). */
static float g_row_sum_sqdev(const float *x, size_t n, float s, float m) {
    float acc[NL] = {0};
    size_t j = 0;
    for (; j + NL <= n; j += NL)
        for (int l = 0; l < NL; l++) {
            float d = x[j + (size_t)l] * s - m;
            acc[l] += d * d;
        }
    for (int l = 0; j < n; j++, l++) {
        float d = x[j] * s - m;
        acc[l] += d * d;
    }
    return sum8(acc);
}

/* x, y, gamma, beta are (n). */
static void g_row_apply(float *y, const float *x, const float *gamma, const float *beta, size_t n, float m,
                        float r) {
    if (gamma && beta)
        for (size_t j = 0; j < n; j++) y[j] = (x[j] - m) * r * gamma[j] + beta[j];
    else if (gamma)
        for (size_t j = 0; j < n; j++) y[j] = (x[j] - m) * r * gamma[j];
    else if (beta)
        for (size_t j = 0; j < n; j++) y[j] = (x[j] - m) * r + beta[j];
    else
        for (size_t j = 0; j < n; j++) y[j] = (x[j] - m) * r;
}

/* dx, dy, x, gamma are (n).  Forward: y = (x − m)·r·gamma + beta.
 * pg, pb (both or neither) += dy·x̂, dy: the group kernel's partials. */
static void ln_row_backward_acc(float *dx, float *pg, float *pb, const float *dy, const float *x, const float *gamma,
                              size_t n, float m, float r) {
    float sg[NL] = {0}, sgx[NL] = {0};
    size_t j = 0;
    for (; j + NL <= n; j += NL)
        for (int l = 0; l < NL; l++) {
            size_t q = j + (size_t)l;
            float g = gamma ? dy[q] * gamma[q] : dy[q];
            float xh = (x[q] - m) * r;
            sg[l] += g;
            sgx[l] += g * xh;
        }
    for (int l = 0; j < n; j++, l++) {
        float g = gamma ? dy[j] * gamma[j] : dy[j];
        float xh = (x[j] - m) * r;
        sg[l] += g;
        sgx[l] += g * xh;
    }
    float inv = 1.0f / (float)n;
    float a = sum8(sg) * inv, b = sum8(sgx) * inv;
    for (j = 0; j < n; j++) {
        float g = gamma ? dy[j] * gamma[j] : dy[j];
        float xh = (x[j] - m) * r;
        dx[j] = r * ((g - a) - xh * b);
    }
    if (pg)
        for (j = 0; j < n; j++) {
            pg[j] += dy[j] * ((x[j] - m) * r);
            pb[j] += dy[j];
        }
}

/* dx, dy, x, gamma are (n).  Forward: y = x·r·gamma.  pg (may be NULL) += dy·x̂. */
static void rms_row_backward_acc(float *dx, float *pg, const float *dy, const float *x, const float *gamma, size_t n,
                               float r) {
    float sgx[NL] = {0};
    size_t j = 0;
    for (; j + NL <= n; j += NL)
        for (int l = 0; l < NL; l++) {
            size_t q = j + (size_t)l;
            float g = gamma ? dy[q] * gamma[q] : dy[q];
            sgx[l] += g * (x[q] * r);
        }
    for (int l = 0; j < n; j++, l++) {
        float g = gamma ? dy[j] * gamma[j] : dy[j];
        sgx[l] += g * (x[j] * r);
    }
    float b = sum8(sgx) / (float)n;
    for (j = 0; j < n; j++) {
        float g = gamma ? dy[j] * gamma[j] : dy[j];
        dx[j] = r * (g - (x[j] * r) * b);
    }
    if (pg)
        for (j = 0; j < n; j++) pg[j] += dy[j] * (x[j] * r);
}

/* x, dy are (rows, ld) from column 0 of the range; mean, rstd are (rows); dgamma, dbeta are (nc),
 * nc <= LAM_NORM_COL_MAX. */
static void g_col_dgamma_dbeta(float *dgamma, float *dbeta, const float *dy, const float *x, const float *mean,
                               const float *rstd, size_t rows, size_t ld, size_t nc) {
    float sg[LAM_NORM_COL_MAX], sb[LAM_NORM_COL_MAX];
    for (size_t j = 0; j < nc; j++) sg[j] = sb[j] = 0.0f;
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + i * ld, *dr = dy + i * ld;
        float m = mean ? mean[i] : 0.0f, r = rstd[i];
        for (size_t j = 0; j < nc; j++) {
            sg[j] += dr[j] * ((xr[j] - m) * r);
            sb[j] += dr[j];
        }
    }
    for (size_t j = 0; j < nc; j++) {
        if (dgamma) dgamma[j] += sg[j];
        if (dbeta) dbeta[j] += sb[j];
    }
}

/* x is (rows, ld); sum, amax, s, k are (nc). */
static void g_col_sum_shift(float *sum, float *amax, const float *x, size_t rows, size_t ld, size_t nc,
                            const float *s, const float *k) {
    float acc[16] = {0}, mx[16] = {0};
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + i * ld;
        for (size_t j = 0; j < nc; j++) {
            acc[j] += xr[j] * s[j] - k[j];
            float a = fabsf(xr[j]);
            mx[j] = a > mx[j] ? a : mx[j];
        }
    }
    for (size_t j = 0; j < nc; j++) {
        sum[j] = acc[j];
        amax[j] = mx[j];
    }
}

/* x is (rows, ld); out, s, m are (nc). */
static void g_col_sum_sqdev(float *out, const float *x, size_t rows, size_t ld, size_t nc, const float *s,
                            const float *m) {
    float acc[16] = {0};
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + i * ld;
        for (size_t j = 0; j < nc; j++) {
            float d = xr[j] * s[j] - m[j];
            acc[j] += d * d;
        }
    }
    for (size_t j = 0; j < nc; j++) out[j] = acc[j];
}

/* x, y are (rows, ld); m, a, b are (nc). */
static void g_col_apply(float *y, const float *x, size_t rows, size_t ld, size_t nc, const float *m, const float *a,
                        const float *b) {
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + i * ld;
        float *yr = y + i * ld;
        for (size_t j = 0; j < nc; j++) yr[j] = (xr[j] - m[j]) * a[j] + b[j];
    }
}

/* dy, x are (rows, ld); sdy, sdyxh, m, r are (nc). */
static void g_col_bn_sums(float *sdy, float *sdyxh, const float *dy, const float *x, size_t rows, size_t ld,
                          size_t nc, const float *m, const float *r) {
    float s1[16] = {0}, s2[16] = {0};
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + i * ld, *dr = dy + i * ld;
        for (size_t j = 0; j < nc; j++) {
            s1[j] += dr[j];
            s2[j] += dr[j] * ((xr[j] - m[j]) * r[j]);
        }
    }
    for (size_t j = 0; j < nc; j++) {
        sdy[j] = s1[j];
        sdyxh[j] = s2[j];
    }
}

/* dx, dy, x are (rows, ld); m, r, a, b, c are (nc). */
static void g_col_bn_dx(float *dx, const float *dy, const float *x, size_t rows, size_t ld, size_t nc,
                        const float *m, const float *r, const float *a, const float *b, const float *c) {
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + i * ld, *dr = dy + i * ld;
        float *dxr = dx + i * ld;
        for (size_t j = 0; j < nc; j++) dxr[j] = a[j] * ((dr[j] - b[j]) - ((xr[j] - m[j]) * r[j]) * c[j]);
    }
}

static void g_ln_row_backward(float *dx, const float *dy, const float *x, const float *gamma, size_t n, float m,
                              float r) {
    ln_row_backward_acc(dx, NULL, NULL, dy, x, gamma, n, m, r);
}

static void g_rms_row_backward(float *dx, const float *dy, const float *x, const float *gamma, size_t n, float r) {
    rms_row_backward_acc(dx, NULL, dy, x, gamma, n, r);
}

/* As the table says: zero the partials, then the row kernels in row order. */
static void g_norm_group_backward(float *dx, float *pg, float *pb, const float *dy, const float *x,
                                  const float *gamma, size_t rows, size_t n, const float *mean, const float *rstd) {
    for (size_t j = 0; j < n; j++) pg[j] = 0.0f;
    if (mean)
        for (size_t j = 0; j < n; j++) pb[j] = 0.0f;
    for (size_t i = 0; i < rows; i++) {
        size_t o = i * n;
        if (mean)
            ln_row_backward_acc(dx + o, pg, pb, dy + o, x + o, gamma, n, mean[i], rstd[i]);
        else
            rms_row_backward_acc(dx + o, pg, dy + o, x + o, gamma, n, rstd[i]);
    }
}

const lam_norm_ukr lam_norm_ukr_generic = {
    g_row_sum_shift, g_row_sum_sqdev, g_row_apply,     g_ln_row_backward, g_rms_row_backward, g_col_dgamma_dbeta,
    g_col_sum_shift, g_col_sum_sqdev, g_col_apply,     g_col_bn_sums,     g_col_bn_dx,        g_norm_group_backward,
};

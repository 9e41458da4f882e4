/* BatchNorm forward and backward (PyTorch nn.BatchNorm1d on (rows, dim)):
 * per-feature statistics over the rows.
 *
 * Threads split the columns in LAM_COL_BLOCK multiples; a block of columns is
 * handled by one thread from statistics to output, each column summed in row
 * order, so every result is the same for any thread count.  Per column:
 *   pass 1: S = Σ (x − K), K = x[0][j], and max |x|;  mean = K + S/rows;
 *   pass 2: Σ (x − mean)²  (two-pass, never E[x²] − E[x]²);
 *   y = (x − mean)·(rstd·gamma) + beta.
 * Columns beyond 2^48 or below 2^-40 in magnitude are scaled by an exact
 * power of two first, as in layernorm.c; the per-column scalar finish is in
 * double.  Training updates running_mean and running_var (unbiased variance;
 * left unchanged when rows == 1). */
#include "kernels/kernels_internal.h"
#include "kernels/norm_ukr.h"
#include "lamina.h"

#include <math.h>
#include <omp.h>

#define CB LAM_COL_BLOCK

/* y, x are (rows, dim); mean, rstd, running_mean, running_var, gamma, beta are (dim) or NULL. */
void lam_batchnorm_forward(float *y, float *mean, float *rstd, float *running_mean, float *running_var,
                           const float *x, const float *gamma, const float *beta, size_t rows, size_t dim,
                           float eps, float momentum, int training) {
    const lam_norm_ukr *u = lam_norm_ukr_get();
    int nt = lam_threads_for(rows * dim);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int T = omp_get_num_threads(), t = omp_get_thread_num();
        size_t j0, j1;
        lam_split(dim, CB, T, t, &j0, &j1);
        for (size_t j = j0; j < j1; j += CB) {
            size_t nc = j1 - j < CB ? j1 - j : CB;
            float s[CB], k[CB], sum[CB], amax[CB], ss[CB], mu[CB], rs[CB], a[CB], b[CB];
            const float *xj = x + j;
            if (training) {
                for (size_t c = 0; c < nc; c++) {
                    s[c] = 1.0f;
                    k[c] = xj[c];
                }
                u->col_sum_shift(sum, amax, xj, rows, dim, nc, s, k);
                int rescale = 0;
                for (size_t c = 0; c < nc; c++) {
                    s[c] = lam_norm_scale_for(amax[c]);
                    k[c] = xj[c] * s[c];
                    rescale |= s[c] != 1.0f;
                }
                if (rescale) u->col_sum_shift(sum, amax, xj, rows, dim, nc, s, k);
                float ms[CB];
                for (size_t c = 0; c < nc; c++) ms[c] = k[c] + sum[c] / (float)rows;
                u->col_sum_sqdev(ss, xj, rows, dim, nc, s, ms);
                for (size_t c = 0; c < nc; c++) {
                    double sd = (double)s[c], var = (double)ss[c] / (double)rows;
                    mu[c] = (float)((double)ms[c] / sd);
                    rs[c] = (float)(sd / sqrt(var + (double)eps * sd * sd));
                    double mom = (double)momentum;
                    if (running_mean)
                        running_mean[j + c] = (float)((1.0 - mom) * running_mean[j + c] + mom * (double)mu[c]);
                    if (running_var && rows > 1) {
                        double unbiased = (double)ss[c] / (sd * sd) / (double)(rows - 1);
                        running_var[j + c] = (float)((1.0 - mom) * running_var[j + c] + mom * unbiased);
                    }
                }
            } else {
                for (size_t c = 0; c < nc; c++) {
                    mu[c] = running_mean ? running_mean[j + c] : 0.0f;
                    double v = running_var ? (double)running_var[j + c] : 1.0;
                    rs[c] = (float)(1.0 / sqrt(v + (double)eps));
                }
            }
            for (size_t c = 0; c < nc; c++) {
                a[c] = gamma ? rs[c] * gamma[j + c] : rs[c];
                b[c] = beta ? beta[j + c] : 0.0f;
                if (mean) mean[j + c] = mu[c];
                if (rstd) rstd[j + c] = rs[c];
            }
            u->col_apply(y + j, xj, rows, dim, nc, mu, a, b);
        }
    }
}

/* dx, dy, x are (rows, dim); gamma, mean, rstd, dgamma, dbeta are (dim).
 * Differentiates the training forward y = x̂·gamma + beta, x̂ = (x − mean)·rstd
 * with batch statistics:  g = dy·gamma,
 *   dx = rstd·(g − mean_rows(g) − x̂·mean_rows(g·x̂))
 *      = rstd·gamma·((dy − mean_rows(dy)) − x̂·mean_rows(dy·x̂)),
 *   dgamma += Σ_rows dy·x̂, dbeta += Σ_rows dy. */
void lam_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                            const float *gamma, const float *mean, const float *rstd, size_t rows, size_t dim) {
    const lam_norm_ukr *u = lam_norm_ukr_get();
    int nt = lam_threads_for(2 * rows * dim);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int T = omp_get_num_threads(), t = omp_get_thread_num();
        size_t j0, j1;
        lam_split(dim, CB, T, t, &j0, &j1);
        for (size_t j = j0; j < j1; j += CB) {
            size_t nc = j1 - j < CB ? j1 - j : CB;
            float sdy[CB], sdx[CB], a[CB], b[CB], c3[CB];
            u->col_bn_sums(sdy, sdx, dy + j, x + j, rows, dim, nc, mean + j, rstd + j);
            for (size_t c = 0; c < nc; c++) {
                if (dgamma) dgamma[j + c] += sdx[c];
                if (dbeta) dbeta[j + c] += sdy[c];
                a[c] = gamma ? rstd[j + c] * gamma[j + c] : rstd[j + c];
                b[c] = sdy[c] / (float)rows;
                c3[c] = sdx[c] / (float)rows;
            }
            if (dx) u->col_bn_dx(dx + j, dy + j, x + j, rows, dim, nc, mean + j, rstd + j, a, b, c3);
        }
    }
}

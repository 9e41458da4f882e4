/* RMSNorm forward and backward: y = x·rstd·gamma, rstd = 1/sqrt(mean(x²) + eps)
 * (PyTorch's nn.RMSNorm over the last dim).
 *
 * One thread per row.  Σx² is formed in float; when it is not comfortably
 * inside float range (it overflowed, e.g. |x| near 1e20, or underflowed,
 * e.g. |x| near 1e-25) the row's max |x| is found and the sum is redone on
 * x·s for an exact power of two s (lam_norm_scale_for), and
 * rstd = s/sqrt(Σ(x·s)²/dim + eps·s²), finished in double like LayerNorm's.
 * NaN/Inf are not scaled away and stay in their row. */
#include "kernels/kernels_internal.h"
#include "kernels/norm_ukr.h"
#include "lamina.h"

#include <math.h>

/* x is (n). */
static float rms_row_rstd(const lam_norm_ukr *u, const float *x, size_t n, float eps) {
    float s = 1.0f;
    float ss = u->row_sum_sqdev(x, n, 1.0f, 0.0f);
    if (!(ss >= 0x1p-100f && ss <= 0x1p100f)) { /* also NaN, Inf, 0 */
        float sum, amax;
        u->row_sum_shift(&sum, &amax, x, n, 1.0f, 0.0f);
        s = lam_norm_scale_for(amax);
        if (s != 1.0f) ss = u->row_sum_sqdev(x, n, s, 0.0f);
    }
    double sd = (double)s;
    return (float)(sd / sqrt((double)ss / (double)n + (double)eps * sd * sd));
}

/* y, x are (rows, dim); rstd is (rows) or NULL; gamma is (dim) or NULL. */
void lam_rmsnorm_forward(float *y, float *rstd, const float *x, const float *gamma, size_t rows, size_t dim,
                         float eps) {
    const lam_norm_ukr *u = lam_norm_ukr_get();
    int nt = lam_threads_for(rows * dim);
    if ((size_t)nt > rows) nt = (int)rows;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + i * dim;
        float r = rms_row_rstd(u, xr, dim, eps);
        u->row_apply(y + i * dim, xr, gamma, NULL, dim, 0.0f, r);
        if (rstd) rstd[i] = r;
    }
}

/* dx, dy, x are (rows, dim); rstd is (rows) from the forward; gamma, dgamma are (dim).
 * Differentiates y = x·rstd·gamma (rstd depends on x):
 *   x̂ = x·rstd, g = dy·gamma, dx = rstd·(g − x̂·mean(g·x̂)), dgamma += Σ_rows dy·x̂. */
void lam_rmsnorm_backward(float *dx, float *dgamma, const float *dy, const float *x, const float *gamma,
                          const float *rstd, size_t rows, size_t dim) {
    lam_norm_rows_backward(dx, dgamma, NULL, dy, x, gamma, NULL, rstd, rows, dim);
}

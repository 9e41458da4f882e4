/* LayerNorm, RMSNorm, BatchNorm: forward and backward against float64
 * references written here, finite-difference checks of those references,
 * adversarial statistics, NaN/Inf containment, bit-identity across thread
 * counts, on both ISA paths. */
#include "check.h"
#include "lamina.h"

#include <float.h>
#include <stdint.h>

enum { LN = 0, RMS = 1, BN = 2 };
static const char *kind_name[] = {"layernorm", "rmsnorm", "batchnorm"};
static const char *isa_now = "generic";

/* ---------------------------------------------------------------- references (float64) */

/* Per-row (LN/RMS) or per-column (BN) statistics in double, plain two-pass.
 * x is (rows, dim); mean, rstd are (rows) for LN/RMS, (dim) for BN. */
static void ref_stats(double *mean, double *rstd, const double *x, size_t rows, size_t dim, double eps, int kind) {
    if (kind == BN) {
        for (size_t j = 0; j < dim; j++) {
            double s = 0, v = 0;
            for (size_t i = 0; i < rows; i++) s += x[i * dim + j];
            double m = s / (double)rows;
            for (size_t i = 0; i < rows; i++) v += (x[i * dim + j] - m) * (x[i * dim + j] - m);
            mean[j] = m;
            rstd[j] = 1.0 / sqrt(v / (double)rows + eps);
        }
        return;
    }
    for (size_t i = 0; i < rows; i++) {
        const double *r = x + i * dim;
        double s = 0, v = 0;
        if (kind == LN) {
            for (size_t j = 0; j < dim; j++) s += r[j];
            s /= (double)dim;
            for (size_t j = 0; j < dim; j++) v += (r[j] - s) * (r[j] - s);
        } else {
            for (size_t j = 0; j < dim; j++) v += r[j] * r[j];
            s = 0;
        }
        mean[i] = s;
        rstd[i] = 1.0 / sqrt(v / (double)dim + eps);
    }
}

/* y = normalize(x)·gamma + beta with batch/row statistics.  gamma, beta (dim) may be NULL. */
static void ref_forward(double *y, const double *x, const double *gamma, const double *beta, size_t rows,
                        size_t dim, double eps, int kind) {
    size_t ns = kind == BN ? dim : rows;
    double *mean = check_alloc(ns * sizeof(double)), *rstd = check_alloc(ns * sizeof(double));
    ref_stats(mean, rstd, x, rows, dim, eps, kind);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < dim; j++) {
            size_t s = kind == BN ? j : i;
            double h = (x[i * dim + j] - mean[s]) * rstd[s];
            y[i * dim + j] = h * (gamma ? gamma[j] : 1.0) + (beta && kind != RMS ? beta[j] : 0.0);
        }
    free(mean);
    free(rstd);
}

/* Analytic backward in double.  dx written; dgamma, dbeta written (not accumulated). */
static void ref_backward(double *dx, double *dgamma, double *dbeta, const double *dy, const double *x,
                         const double *gamma, size_t rows, size_t dim, double eps, int kind) {
    size_t ns = kind == BN ? dim : rows;
    double *mean = check_alloc(ns * sizeof(double)), *rstd = check_alloc(ns * sizeof(double));
    ref_stats(mean, rstd, x, rows, dim, eps, kind);
    for (size_t j = 0; j < dim; j++) dgamma[j] = dbeta[j] = 0;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < dim; j++) {
            size_t s = kind == BN ? j : i;
            dgamma[j] += dy[i * dim + j] * (x[i * dim + j] - mean[s]) * rstd[s];
            dbeta[j] += dy[i * dim + j];
        }
    if (kind == BN) {
        for (size_t j = 0; j < dim; j++) {
            double gm = gamma ? gamma[j] : 1.0, sg = 0, sgh = 0;
            for (size_t i = 0; i < rows; i++) {
                double h = (x[i * dim + j] - mean[j]) * rstd[j];
                sg += dy[i * dim + j] * gm;
                sgh += dy[i * dim + j] * gm * h;
            }
            for (size_t i = 0; i < rows; i++) {
                double h = (x[i * dim + j] - mean[j]) * rstd[j];
                dx[i * dim + j] = rstd[j] * (dy[i * dim + j] * gm - sg / (double)rows - h * sgh / (double)rows);
            }
        }
    } else {
        for (size_t i = 0; i < rows; i++) {
            double sg = 0, sgh = 0;
            for (size_t j = 0; j < dim; j++) {
                double g = dy[i * dim + j] * (gamma ? gamma[j] : 1.0);
                sg += g;
                sgh += g * (x[i * dim + j] - mean[i]) * rstd[i];
            }
            if (kind == RMS) sg = 0;
            for (size_t j = 0; j < dim; j++) {
                double g = dy[i * dim + j] * (gamma ? gamma[j] : 1.0);
                double h = (x[i * dim + j] - mean[i]) * rstd[i];
                dx[i * dim + j] = rstd[i] * (g - sg / (double)dim - h * sgh / (double)dim);
            }
        }
    }
    free(mean);
    free(rstd);
}

/* ---------------------------------------------------------------- helpers */

static double *to_f64(const float *a, size_t n) {
    double *d = check_alloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++) d[i] = a[i];
    return d;
}

static void run_forward(int kind, float *y, float *mean, float *rstd, float *rm, float *rv, const float *x,
                        const float *g, const float *b, size_t rows, size_t dim, float eps, int training) {
    if (kind == LN)
        lam_layernorm_forward(y, mean, rstd, x, g, b, rows, dim, eps);
    else if (kind == RMS)
        lam_rmsnorm_forward(y, rstd, x, g, rows, dim, eps);
    else
        lam_batchnorm_forward(y, mean, rstd, rm, rv, x, g, b, rows, dim, eps, 0.1f, training);
}

static void run_backward(int kind, float *dx, float *dg, float *db, const float *dy, const float *x, const float *g,
                         const float *mean, const float *rstd, size_t rows, size_t dim) {
    if (kind == LN)
        lam_layernorm_backward(dx, dg, db, dy, x, g, mean, rstd, rows, dim);
    else if (kind == RMS)
        lam_rmsnorm_backward(dx, dg, dy, x, g, rstd, rows, dim);
    else
        lam_batchnorm_backward(dx, dg, db, dy, x, g, mean, rstd, rows, dim);
}

/* max |a − b| over n, relative to max(max |b|, floor); NaN-propagating. */
static double rel_err(const float *a, const double *b, size_t n, double floor_) {
    return check_rel_err_f64(a, b, n, floor_);
}

/* ---------------------------------------------------------------- 1. forward + backward vs float64 */

/* Checks forward (y, mean, rstd) and backward (dx, dgamma, dbeta: accumulated onto
 * a non-zero start) of one kind on x against the float64 references.
 * tol_y: relative error allowed on y (relative to max |y|). */
static void check_against_ref(int kind, const float *x, size_t rows, size_t dim, int affine, float eps, double tol_y,
                              double tol_g, const char *what) {
    size_t n = rows * dim, ns = kind == BN ? dim : rows;
    float *gamma = NULL, *beta = NULL;
    if (affine) {
        gamma = check_alloc(dim * sizeof(float));
        beta = check_alloc(dim * sizeof(float));
        check_fill_normal(gamma, dim, 1.0, 0.5, 11 + dim);
        check_fill_normal(beta, dim, 0.0, 0.5, 12 + dim);
    }
    float *y = check_alloc(n * sizeof(float)), *mean = check_alloc(ns * sizeof(float));
    float *rstd = check_alloc(ns * sizeof(float)), *dy = check_alloc(n * sizeof(float));
    float *dx = check_alloc(n * sizeof(float)), *dg = check_alloc(dim * sizeof(float));
    float *db = check_alloc(dim * sizeof(float));
    check_fill_normal(dy, n, 0.0, 1.0, 99 + n);
    for (size_t j = 0; j < dim; j++) {
        dg[j] = 0.25f;
        db[j] = -0.5f;
    }
    run_forward(kind, y, mean, rstd, NULL, NULL, x, gamma, beta, rows, dim, eps, 1);

    double *xd = to_f64(x, n), *dyd = to_f64(dy, n), *gd = gamma ? to_f64(gamma, dim) : NULL;
    double *bd = beta ? to_f64(beta, dim) : NULL;
    double *yr = check_alloc(n * sizeof(double)), *mr = check_alloc(ns * sizeof(double));
    double *rr = check_alloc(ns * sizeof(double)), *dxr = check_alloc(n * sizeof(double));
    double *dgr = check_alloc(dim * sizeof(double)), *dbr = check_alloc(dim * sizeof(double));
    ref_forward(yr, xd, gd, bd, rows, dim, eps, kind);
    ref_stats(mr, rr, xd, rows, dim, eps, kind);
    /* Error allowances.  The kernels must round the mean to float, so x − mean
     * carries up to ~2^-24·|mean| of absolute error whatever the algorithm;
     * a_s = 2^-23·|mean_s|·rstd_s is that error in units of x̂ (0 for RMSNorm).
     * y:      |err| <= tol_y·max|y| + a_s·|gamma_j|
     * dx:     it is a difference of terms of size D_s = rstd_s·max|dy·gamma|
     *         (cancelling to ~0 e.g. for BatchNorm with 2 rows), so
     *         |err| <= tol_g·max(max|dx|, D_s) + a_s·D_s
     * dgamma: |err| <= tol_g·max|dgamma| + Σ_i |dy_ij|·a_s. */
    double *as = check_alloc(ns * sizeof(double)), *ds = check_alloc(ns * sizeof(double));
    for (size_t s = 0; s < ns; s++) {
        as[s] = kind == RMS ? 0.0 : 0x1p-23 * fabs(mr[s]) * rr[s];
        ds[s] = 0;
    }
    double ymax = 0, dxmax = 0, dgmax = 0, dbmax = 0;
    for (size_t i = 0; i < n; i++) ymax = fmax(ymax, fabs(yr[i]));
    double wy = 0;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < dim; j++) {
            size_t q = i * dim + j, s = kind == BN ? j : i;
            double ok = tol_y * ymax + as[s] * (gd ? fabs(gd[j]) : 1.0);
            double e = fabs((double)y[q] - yr[q]) / ok;
            if (!(e <= wy)) wy = e;
        }
    CHECK(wy <= 1.0, "%s %s %s y rows=%zu dim=%zu affine=%d: error %.3g x allowance (tol %.3g)", isa_now,
          kind_name[kind], what, rows, dim, affine, wy, tol_y);
    if (kind != RMS) {
        /* the mean cannot be better than the rounding of x's magnitude */
        double xs = 0;
        for (size_t i = 0; i < n; i++) xs = fmax(xs, fabs(xd[i]));
        double em = rel_err(mean, mr, ns, xs);
        CHECK(em <= 1e-6, "%s %s %s mean rows=%zu dim=%zu: rel err %.3g", isa_now, kind_name[kind], what, rows, dim,
              em);
    }
    double er = 0;
    for (size_t i = 0; i < ns; i++) {
        double e = fabs(rstd[i] - rr[i]) / rr[i];
        if (!(e <= er)) er = e;
    }
    CHECK(er <= tol_y, "%s %s %s rstd rows=%zu dim=%zu: rel err %.3g", isa_now, kind_name[kind], what, rows, dim, er);

    if (tol_g > 0) {
        run_backward(kind, dx, dg, db, dy, x, gamma, mean, rstd, rows, dim);
        ref_backward(dxr, dgr, dbr, dyd, xd, gd, rows, dim, eps, kind);
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < dim; j++) {
                size_t q = i * dim + j, s = kind == BN ? j : i;
                ds[s] = fmax(ds[s], rr[s] * fabs(dyd[q] * (gd ? gd[j] : 1.0)));
                dxmax = fmax(dxmax, fabs(dxr[q]));
            }
        for (size_t j = 0; j < dim; j++) {
            dgmax = fmax(dgmax, fabs(dgr[j]));
            dbmax = fmax(dbmax, fabs(dbr[j]));
            dgr[j] += 0.25;
            dbr[j] += -0.5;
        }
        double wx = 0, wg = 0, wb = 0;
        for (size_t j = 0; j < dim; j++) {
            double slack = 0;
            for (size_t i = 0; i < rows; i++) slack += fabs(dyd[i * dim + j]) * as[kind == BN ? j : i];
            double e = fabs((double)dg[j] - dgr[j]) / (tol_g * fmax(dgmax, 0.25) + slack);
            if (!(e <= wg)) wg = e;
            e = fabs((double)db[j] - dbr[j]) / (tol_g * fmax(dbmax, 0.5));
            if (!(e <= wb)) wb = e;
        }
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < dim; j++) {
                size_t q = i * dim + j, s = kind == BN ? j : i;
                double e = fabs((double)dx[q] - dxr[q]) / (tol_g * fmax(dxmax, ds[s]) + as[s] * ds[s]);
                if (!(e <= wx)) wx = e;
            }
        CHECK(wx <= 1.0, "%s %s %s dx rows=%zu dim=%zu affine=%d: error %.3g x allowance (tol %.3g)", isa_now,
              kind_name[kind], what, rows, dim, affine, wx, tol_g);
        CHECK(wg <= 1.0, "%s %s %s dgamma rows=%zu dim=%zu: error %.3g x allowance (tol %.3g)", isa_now,
              kind_name[kind], what, rows, dim, wg, tol_g);
        if (kind != RMS)
            CHECK(wb <= 1.0, "%s %s %s dbeta rows=%zu dim=%zu: error %.3g x allowance (tol %.3g)", isa_now,
                  kind_name[kind], what, rows, dim, wb, tol_g);
        else
            CHECK(db[0] == -0.5f, "rmsnorm must not touch anything like dbeta");
    }
    free(as), free(ds);
    free(gamma), free(beta), free(y), free(mean), free(rstd), free(dy), free(dx), free(dg), free(db);
    free(xd), free(dyd), free(gd), free(bd), free(yr), free(mr), free(rr), free(dxr), free(dgr), free(dbr);
}

static void test_shapes(void) {
    static const size_t dims[] = {1, 3, 7, 8, 13, 16, 17, 33, 127, 768, 1000};
    static const size_t rows_[] = {1, 5, 37};
    for (int kind = LN; kind <= RMS; kind++)
        for (size_t a = 0; a < sizeof dims / sizeof *dims; a++)
            for (size_t b = 0; b < sizeof rows_ / sizeof *rows_; b++)
                for (int affine = 0; affine < 2; affine++) {
                    size_t rows = rows_[b], dim = dims[a], n = rows * dim;
                    float *x = check_alloc(n * sizeof(float));
                    check_fill_normal(x, n, 0.3, 2.0, 1 + n + dim);
                    /* dim = 1 LayerNorm: y = beta and dx = 0 exactly; relative
                     * errors would divide by 0, covered in test_constant. */
                    if (!(kind == LN && dim == 1)) check_against_ref(kind, x, rows, dim, affine, 1e-5f, 2e-6, 3e-5, "random");
                    free(x);
                }
    static const size_t bdims[] = {1, 3, 16, 17, 33, 100};
    static const size_t brows[] = {2, 3, 64, 300};
    for (size_t a = 0; a < sizeof bdims / sizeof *bdims; a++)
        for (size_t b = 0; b < sizeof brows / sizeof *brows; b++)
            for (int affine = 0; affine < 2; affine++) {
                size_t rows = brows[b], dim = bdims[a], n = rows * dim;
                float *x = check_alloc(n * sizeof(float));
                check_fill_normal(x, n, -0.7, 1.5, 3 + n + dim);
                check_against_ref(BN, x, rows, dim, affine, 1e-5f, 2e-6, 3e-5, "random");
                free(x);
            }
}

/* ---------------------------------------------------------------- 2. adversarial statistics */

static void test_adversarial(void) {
    const size_t rows = 6, dim = 768, n = rows * dim;
    float *x = check_alloc(n * sizeof(float));
    for (int kind = LN; kind <= BN; kind++) {
        size_t r = kind == BN ? 300 : rows, d = kind == BN ? 33 : dim, m = r * d;
        float *xb = check_alloc(m * sizeof(float));
        /* large offset: 1e4 + N(0,1).  E[x²] − E[x]² would lose every digit of
         * the variance; the unavoidable rounding of the mean is allowed for in
         * check_against_ref. */
        check_fill_normal(xb, m, 1e4, 1.0, 21);
        if (kind != RMS) check_against_ref(kind, xb, r, d, 1, 1e-5f, 2e-6, 3e-5, "offset 1e4");
        /* tiny and huge scales, with and without eps */
        static const double scales[] = {1e-20, 1e-30, 1e18, 1e20, 1e30};
        for (size_t s = 0; s < sizeof scales / sizeof *scales; s++) {
            check_fill_normal(xb, m, 0.0, scales[s], 22 + s);
            char what[64];
            snprintf(what, sizeof what, "scale %g eps 1e-5", scales[s]);
            check_against_ref(kind, xb, r, d, 1, 1e-5f, 2e-6, 3e-5, what);
            snprintf(what, sizeof what, "scale %g eps 0", scales[s]);
            check_against_ref(kind, xb, r, d, 0, 0.0f, 2e-6, 3e-5, what);
        }
        /* |x| near 1e20 with an offset: x² overflows float */
        check_fill_normal(xb, m, 1e20, 1e19, 31);
        check_against_ref(kind, xb, r, d, 1, 1e-5f, 2e-6, 3e-5, "1e20 + N(0, 1e19)");
        free(xb);
    }
    /* dim = 65536, rows = 1 and 3 */
    for (size_t rr = 1; rr <= 3; rr += 2) {
        size_t d = 65536;
        float *xb = check_alloc(rr * d * sizeof(float));
        check_fill_normal(xb, rr * d, 5.0, 3.0, 41 + rr);
        check_against_ref(LN, xb, rr, d, 1, 1e-5f, 2e-6, 3e-5, "dim 65536");
        check_against_ref(RMS, xb, rr, d, 1, 1e-5f, 2e-6, 3e-5, "dim 65536");
        free(xb);
    }
    free(x);
}

/* Constant rows (LN/RMS) and columns (BN): y = beta (LN/BN) exactly enough, dx finite. */
static void test_constant(void) {
    static const size_t dims[] = {1, 3, 8, 33, 768};
    static const float vals[] = {0.0f, 1.0f, -3.25f, 10000.1f, 1e20f, 1e-20f};
    for (size_t a = 0; a < sizeof dims / sizeof *dims; a++)
        for (size_t v = 0; v < sizeof vals / sizeof *vals; v++) {
            size_t rows = 4, dim = dims[a], n = rows * dim;
            float *x = check_alloc(n * sizeof(float)), *y = check_alloc(n * sizeof(float));
            float *g = check_alloc(dim * sizeof(float)), *b = check_alloc(dim * sizeof(float));
            float *mean = check_alloc((rows + dim) * sizeof(float)), *rstd = check_alloc((rows + dim) * sizeof(float));
            float *dy = check_alloc(n * sizeof(float)), *dx = check_alloc(n * sizeof(float));
            float *dg = check_alloc(dim * sizeof(float)), *db = check_alloc(dim * sizeof(float));
            check_fill_normal(g, dim, 1.0, 0.5, 5);
            check_fill_normal(b, dim, 0.0, 1.0, 6);
            check_fill_normal(dy, n, 0.0, 1.0, 7);
            for (int kind = LN; kind <= BN; kind += 2) {
                for (size_t i = 0; i < n; i++) x[i] = vals[v];
                run_forward(kind, y, mean, rstd, NULL, NULL, x, g, b, rows, dim, 1e-5f, 1);
                double e = 0;
                for (size_t i = 0; i < n; i++) e = fmax(e, fabs((double)y[i] - b[i % dim]));
                CHECK(e <= 1e-3, "%s %s constant %g dim=%zu: |y - beta| = %g", isa_now, kind_name[kind], vals[v], dim, e);
                memset(dg, 0, dim * sizeof(float));
                memset(db, 0, dim * sizeof(float));
                run_backward(kind, dx, dg, db, dy, x, g, mean, rstd, rows, dim);
                int fin = 1;
                for (size_t i = 0; i < n; i++) fin &= isfinite(dx[i]) != 0;
                for (size_t j = 0; j < dim; j++) fin &= isfinite(dg[j]) && isfinite(db[j]);
                CHECK(fin, "%s %s constant %g dim=%zu: non-finite gradient", isa_now, kind_name[kind], vals[v], dim);
            }
            free(x), free(y), free(g), free(b), free(mean), free(rstd), free(dy), free(dx), free(dg), free(db);
        }
}

/* ---------------------------------------------------------------- 3. NaN / Inf containment */

static void test_nonfinite(void) {
    const size_t rows = 9, dim = 77, n = rows * dim, bad = 4;
    static const float poison[3] = {NAN, INFINITY, -INFINITY};
    float *x = check_alloc(n * sizeof(float)), *xp = check_alloc(n * sizeof(float));
    float *y0 = check_alloc(n * sizeof(float)), *y1 = check_alloc(n * sizeof(float));
    float *m0 = check_alloc(n * sizeof(float)), *r0 = check_alloc(n * sizeof(float));
    float *m1 = check_alloc(n * sizeof(float)), *r1 = check_alloc(n * sizeof(float));
    float *dy = check_alloc(n * sizeof(float)), *dyp = check_alloc(n * sizeof(float));
    float *dx0 = check_alloc(n * sizeof(float)), *dx1 = check_alloc(n * sizeof(float));
    float *g = check_alloc(dim * sizeof(float)), *b = check_alloc(dim * sizeof(float));
    check_fill_normal(x, n, 1.0, 2.0, 51);
    check_fill_normal(dy, n, 0.0, 1.0, 52);
    check_fill_normal(g, dim, 1.0, 0.3, 53);
    check_fill_normal(b, dim, 0.0, 0.3, 54);
    for (int kind = LN; kind <= BN; kind++)
        for (int p = 0; p < 3; p++)
            for (int where = 0; where < 2; where++) { /* poison in x, or in dy */
                memcpy(xp, x, n * sizeof(float));
                memcpy(dyp, dy, n * sizeof(float));
                size_t at = bad * dim + 13;
                if (where == 0)
                    xp[at] = poison[p];
                else
                    dyp[at] = poison[p];
                run_forward(kind, y0, m0, r0, NULL, NULL, x, g, b, rows, dim, 1e-5f, 1);
                run_forward(kind, y1, m1, r1, NULL, NULL, xp, g, b, rows, dim, 1e-5f, 1);
                run_backward(kind, dx0, NULL, NULL, dy, x, g, m0, r0, rows, dim);
                run_backward(kind, dx1, NULL, NULL, dyp, xp, g, m1, r1, rows, dim);
                int same = 1, shows = 0;
                for (size_t i = 0; i < rows; i++)
                    for (size_t j = 0; j < dim; j++) {
                        size_t q = i * dim + j;
                        /* LN/RMS: the poisoned row; BN: the poisoned column */
                        int in = kind == BN ? j == 13 : i == bad;
                        if (in) {
                            shows |= !isfinite(where == 0 ? y1[q] : dx1[q]);
                            shows |= where == 0 && !isfinite(dx1[q]);
                        } else {
                            same &= memcmp(&y0[q], &y1[q], sizeof(float)) == 0;
                            same &= memcmp(&dx0[q], &dx1[q], sizeof(float)) == 0;
                        }
                    }
                CHECK(shows, "%s %s poison %g in %s: does not show in its %s", isa_now, kind_name[kind], poison[p],
                      where ? "dy" : "x", kind == BN ? "column" : "row");
                CHECK(same, "%s %s poison %g in %s: leaked into other %s", isa_now, kind_name[kind], poison[p],
                      where ? "dy" : "x", kind == BN ? "columns" : "rows");
            }
    free(x), free(xp), free(y0), free(y1), free(m0), free(r0), free(m1), free(r1);
    free(dy), free(dyp), free(dx0), free(dx1), free(g), free(b);
}

/* ---------------------------------------------------------------- 4. thread-count bit identity */

static void test_threads(void) {
    /* 8492x1024: the fused backward keeps the partials of 8192 rows at a time
     * (layernorm.c, PHASE_MAX_FLOATS), so this shape takes two phases */
    static const size_t shapes[][2] = {{1000, 77}, {300, 1000}, {64, 4099}, {5000, 17}, {3, 65536}, {8492, 1024}};
    for (size_t sh = 0; sh < sizeof shapes / sizeof *shapes; sh++) {
        size_t rows = shapes[sh][0], dim = shapes[sh][1], n = rows * dim;
        float *x = check_alloc(n * sizeof(float)), *dy = check_alloc(n * sizeof(float));
        float *g = check_alloc(dim * sizeof(float)), *b = check_alloc(dim * sizeof(float));
        check_fill_normal(x, n, 0.5, 2.0, 61 + sh);
        check_fill_normal(dy, n, 0.0, 1.0, 62 + sh);
        check_fill_normal(g, dim, 1.0, 0.3, 63);
        check_fill_normal(b, dim, 0.0, 0.3, 64);
        size_t ns = rows > dim ? rows : dim;
        /* outputs for threads = 1, 2, 3: y, mean, rstd, dx, dgamma, dbeta, running mean/var */
        float *out[3][8];
        size_t len[8] = {n, ns, ns, n, dim, dim, dim, dim};
        for (int kind = LN; kind <= BN; kind++) {
            for (int t = 0; t < 3; t++) {
                for (int k = 0; k < 8; k++) {
                    out[t][k] = check_alloc(len[k] * sizeof(float));
                    for (size_t i = 0; i < len[k]; i++) out[t][k][i] = k >= 4 ? 0.125f : 0.0f;
                }
                lam_set_num_threads(t + 1);
                run_forward(kind, out[t][0], out[t][1], out[t][2], out[t][6], out[t][7], x, g, b, rows, dim, 1e-5f, 1);
                run_backward(kind, out[t][3], out[t][4], out[t][5], dy, x, g, out[t][1], out[t][2], rows, dim);
                run_backward(kind, NULL, out[t][4], out[t][5], dy, x, g, out[t][1], out[t][2], rows, dim);
            }
            lam_set_num_threads(2);
            for (int t = 1; t < 3; t++)
                for (int k = 0; k < 8; k++)
                    CHECK(memcmp(out[0][k], out[t][k], len[k] * sizeof(float)) == 0,
                          "%s %s %zux%zu output %d differs between 1 and %d threads", isa_now, kind_name[kind], rows,
                          dim, k, t + 1);
            for (int t = 0; t < 3; t++)
                for (int k = 0; k < 8; k++) free(out[t][k]);
        }
        free(x), free(dy), free(g), free(b);
    }
}

/* The backward's column sums are grouped by the row index from the start of
 * the call, 128-row chunks added to dgamma one after the other; so a call
 * split at a multiple of 128 rows gives the same bits as one call, whatever
 * the fused path keeps in its workspace at a time. */
static void test_split_calls(void) {
    const size_t rows = 8492, dim = 1024, n = rows * dim, cut = 4096 + 128;
    float *x = check_alloc(n * sizeof(float)), *dy = check_alloc(n * sizeof(float));
    float *g = check_alloc(dim * sizeof(float)), *mean = check_alloc(rows * sizeof(float)),
          *rstd = check_alloc(rows * sizeof(float)), *y = check_alloc(n * sizeof(float));
    float *dx[2], *dg[2], *db[2];
    check_fill_normal(x, n, 0.5, 2.0, 91);
    check_fill_normal(dy, n, 0.0, 1.0, 92);
    check_fill_normal(g, dim, 1.0, 0.3, 93);
    for (int kind = LN; kind <= RMS; kind++) {
        if (kind == LN)
            lam_layernorm_forward(y, mean, rstd, x, g, NULL, rows, dim, 1e-5f);
        else
            lam_rmsnorm_forward(y, rstd, x, g, rows, dim, 1e-5f);
        for (int k = 0; k < 2; k++) {
            dx[k] = check_alloc(n * sizeof(float));
            dg[k] = check_alloc(dim * sizeof(float));
            db[k] = check_alloc(dim * sizeof(float));
            for (size_t j = 0; j < dim; j++) dg[k][j] = db[k][j] = 0.25f;
        }
        run_backward(kind, dx[0], dg[0], db[0], dy, x, g, mean, rstd, rows, dim);
        run_backward(kind, dx[1], dg[1], db[1], dy, x, g, mean, rstd, cut, dim);
        run_backward(kind, dx[1] + cut * dim, dg[1], db[1], dy + cut * dim, x + cut * dim, g, mean + cut, rstd + cut,
                     rows - cut, dim);
        CHECK(memcmp(dx[0], dx[1], n * sizeof(float)) == 0, "%s %s: dx of a split call differs", isa_now,
              kind_name[kind]);
        CHECK(memcmp(dg[0], dg[1], dim * sizeof(float)) == 0, "%s %s: dgamma of a split call differs", isa_now,
              kind_name[kind]);
        CHECK(memcmp(db[0], db[1], dim * sizeof(float)) == 0, "%s %s: dbeta of a split call differs", isa_now,
              kind_name[kind]);
        for (int k = 0; k < 2; k++) free(dx[k]), free(dg[k]), free(db[k]);
    }
    free(x), free(dy), free(g), free(mean), free(rstd), free(y);
}

/* ---------------------------------------------------------------- 5. finite differences */

/* L = Σ w·y of the float64 reference forward. */
static double ref_loss(const double *x, const double *g, const double *b, const double *w, size_t rows, size_t dim,
                       double eps, int kind) {
    size_t n = rows * dim;
    double *y = check_alloc(n * sizeof(double)), l = 0;
    ref_forward(y, x, g, b, rows, dim, eps, kind);
    for (size_t i = 0; i < n; i++) l += w[i] * y[i];
    free(y);
    return l;
}

/* The float64 analytic gradient against central differences of the float64 forward. */
static void test_fd(void) {
    const size_t rows = 4, dim = 7, n = rows * dim;
    const double eps = 1e-5, h = 1e-6;
    float xf[28], wf[28], gf[7], bf[7];
    check_fill_normal(xf, n, 0.2, 1.3, 71);
    check_fill_normal(wf, n, 0.0, 1.0, 72);
    check_fill_normal(gf, dim, 1.0, 0.5, 73);
    check_fill_normal(bf, dim, 0.0, 0.5, 74);
    double *x = to_f64(xf, n), *w = to_f64(wf, n), *g = to_f64(gf, dim), *b = to_f64(bf, dim);
    double dx[28], dg[7], db[7];
    for (int kind = LN; kind <= BN; kind++) {
        ref_backward(dx, dg, db, w, x, g, rows, dim, eps, kind);
        double worst = 0, scale = 1e-12;
        for (size_t i = 0; i < n; i++) {
            double s = x[i];
            x[i] = s + h;
            double lp = ref_loss(x, g, b, w, rows, dim, eps, kind);
            x[i] = s - h;
            double lm = ref_loss(x, g, b, w, rows, dim, eps, kind);
            x[i] = s;
            worst = fmax(worst, fabs((lp - lm) / (2 * h) - dx[i]));
            scale = fmax(scale, fabs(dx[i]));
        }
        for (size_t j = 0; j < dim; j++) {
            double s = g[j];
            g[j] = s + h;
            double lp = ref_loss(x, g, b, w, rows, dim, eps, kind);
            g[j] = s - h;
            double lm = ref_loss(x, g, b, w, rows, dim, eps, kind);
            g[j] = s;
            worst = fmax(worst, fabs((lp - lm) / (2 * h) - dg[j]));
            scale = fmax(scale, fabs(dg[j]));
            if (kind != RMS) {
                s = b[j];
                b[j] = s + h;
                lp = ref_loss(x, g, b, w, rows, dim, eps, kind);
                b[j] = s - h;
                lm = ref_loss(x, g, b, w, rows, dim, eps, kind);
                b[j] = s;
                worst = fmax(worst, fabs((lp - lm) / (2 * h) - db[j]));
            }
        }
        CHECK(worst / scale <= 1e-6, "%s finite differences vs f64 analytic: rel err %.3g", kind_name[kind],
              worst / scale);
    }
    free(x), free(w), free(g), free(b);
}

/* ---------------------------------------------------------------- 6. BatchNorm running statistics */

static void test_bn_running(void) {
    const size_t rows = 50, dim = 19, n = rows * dim;
    const double mom = 0.1;
    float *x = check_alloc(n * sizeof(float)), *y = check_alloc(n * sizeof(float));
    float rm[19], rv[19], g[19], b[19];
    double rmd[19], rvd[19];
    for (size_t j = 0; j < dim; j++) rm[j] = 0, rv[j] = 1, rmd[j] = 0, rvd[j] = 1;
    check_fill_normal(g, dim, 1.0, 0.3, 81);
    check_fill_normal(b, dim, 0.0, 0.3, 82);
    for (int step = 0; step < 4; step++) {
        check_fill_normal(x, n, 3.0 + step, 2.0, 83 + step);
        lam_batchnorm_forward(y, NULL, NULL, rm, rv, x, g, b, rows, dim, 1e-5f, (float)mom, 1);
        for (size_t j = 0; j < dim; j++) {
            double s = 0, v = 0;
            for (size_t i = 0; i < rows; i++) s += x[i * dim + j];
            s /= (double)rows;
            for (size_t i = 0; i < rows; i++) v += (x[i * dim + j] - s) * (x[i * dim + j] - s);
            rmd[j] = (1 - mom) * rmd[j] + mom * s;
            rvd[j] = (1 - mom) * rvd[j] + mom * v / (double)(rows - 1);
        }
    }
    double em = 0, ev = 0;
    for (size_t j = 0; j < dim; j++) {
        em = fmax(em, fabs(rm[j] - rmd[j]) / fabs(rmd[j]));
        ev = fmax(ev, fabs(rv[j] - rvd[j]) / fabs(rvd[j]));
    }
    CHECK(em <= 1e-6 && ev <= 1e-6, "%s batchnorm running stats: rel err mean %.3g var %.3g", isa_now, em, ev);
    /* eval: uses the running statistics and leaves them untouched */
    float rm2[19], rv2[19];
    memcpy(rm2, rm, sizeof rm);
    memcpy(rv2, rv, sizeof rv);
    lam_batchnorm_forward(y, NULL, NULL, rm, rv, x, g, b, rows, dim, 1e-5f, (float)mom, 0);
    CHECK(!memcmp(rm, rm2, sizeof rm) && !memcmp(rv, rv2, sizeof rv), "eval changed the running stats");
    double e = 0, sc = 0;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < dim; j++) {
            double r = (x[i * dim + j] - (double)rm[j]) / sqrt((double)rv[j] + 1e-5) * g[j] + b[j];
            e = fmax(e, fabs(y[i * dim + j] - r));
            sc = fmax(sc, fabs(r));
        }
    CHECK(e / sc <= 2e-6, "%s batchnorm eval: rel err %.3g", isa_now, e / sc);
    /* rows == 1 in training: running_var unchanged, running_mean updated */
    lam_batchnorm_forward(y, NULL, NULL, rm, rv, x, g, b, 1, dim, 1e-5f, (float)mom, 1);
    CHECK(!memcmp(rv, rv2, sizeof rv), "rows == 1 changed running_var");
    CHECK(fabs(rm[0] - ((1 - mom) * rm2[0] + mom * x[0])) <= 1e-6 * fabs(rm[0]), "rows == 1 running_mean");
    free(x), free(y);
}

int main(void) {
    static const char *isas[] = {"generic", "avx2"};
    test_fd();
    for (int k = 0; k < 2; k++) {
        if (lam_set_isa(isas[k]) != 0) {
            CHECK(0, "cannot select isa %s on this machine", isas[k]);
            continue;
        }
        isa_now = isas[k];
        lam_set_num_threads(2);
        test_shapes();
        test_adversarial();
        test_constant();
        test_nonfinite();
        test_threads();
        test_split_calls();
        test_bn_running();
    }
    return check_done("test_norm");
}

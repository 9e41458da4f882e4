/* Summary statistics of a tensor for diagnostics: mean, standard deviation,
 * max |v| and L2 norm, optionally of an affine view (x − sub)·mul of it.
 *
 * Robust and reproducible: two passes in double (the deviations from the mean
 * are squared, never E[v²] − E[v]²); the rows are cut into LAM_SUMMARY_CHUNKS
 * fixed chunks whatever the thread count, each chunk summed in row order by
 * one thread and the chunk partials added in chunk order, so the result is
 * the same on any number of threads. */
#include "kernels/kernels_internal.h"
#include "lamina.h"

#include <math.h>
#include <omp.h>

#define LAM_SUMMARY_CHUNKS 64

static inline double view(const float *x, const float *sub, const float *mul, int by_col, size_t r, size_t c,
                          size_t dim) {
    double v = (double)x[r * dim + c];
    size_t k = by_col ? c : r;
    if (sub) v -= (double)sub[k];
    if (mul) v *= (double)mul[k];
    return v;
}

/* x is (rows, dim); sub and mul are (rows) when by_col == 0, (dim) when
 * by_col == 1, or NULL (0 and 1).  s receives the statistics of
 * v = (x − sub)·mul over all rows·dim values. */
void lam_summarize(lam_summary *s, const float *x, const float *sub, const float *mul, int by_col, size_t rows,
                   size_t dim) {
    double sum[LAM_SUMMARY_CHUNKS] = {0}, sq[LAM_SUMMARY_CHUNKS] = {0}, ss[LAM_SUMMARY_CHUNKS] = {0},
           mx[LAM_SUMMARY_CHUNKS] = {0};
    int nan[LAM_SUMMARY_CHUNKS] = {0};
    size_t n = rows * dim;
    if (n == 0) {
        s->mean = s->std = s->max_abs = s->l2 = NAN;
        return;
    }
    int nt = lam_threads_for(2 * n);
    /* pass 1: the sum */
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int k = 0; k < LAM_SUMMARY_CHUNKS; k++) {
        size_t r0, r1;
        lam_split(rows, 1, LAM_SUMMARY_CHUNKS, k, &r0, &r1);
        double a = 0;
        for (size_t r = r0; r < r1; r++)
            for (size_t c = 0; c < dim; c++) a += view(x, sub, mul, by_col, r, c, dim);
        sum[k] = a;
    }
    double total = 0;
    for (int k = 0; k < LAM_SUMMARY_CHUNKS; k++) total += sum[k];
    double mean = total / (double)n;
    /* pass 2: squared deviations, squares, max |v| */
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int k = 0; k < LAM_SUMMARY_CHUNKS; k++) {
        size_t r0, r1;
        lam_split(rows, 1, LAM_SUMMARY_CHUNKS, k, &r0, &r1);
        double d2 = 0, v2 = 0, m = 0;
        int bad = 0;
        for (size_t r = r0; r < r1; r++)
            for (size_t c = 0; c < dim; c++) {
                double v = view(x, sub, mul, by_col, r, c, dim), d = v - mean, a = fabs(v);
                d2 += d * d;
                v2 += v * v;
                if (a > m) m = a;
                bad |= isnan(v);
            }
        ss[k] = d2, sq[k] = v2, mx[k] = m, nan[k] = bad;
    }
    double dev = 0, squares = 0, m = 0;
    int bad = 0;
    for (int k = 0; k < LAM_SUMMARY_CHUNKS; k++) {
        dev += ss[k], squares += sq[k], bad |= nan[k];
        if (mx[k] > m) m = mx[k];
    }
    s->mean = mean;
    s->std = sqrt(dev / (double)n);
    s->max_abs = bad ? NAN : m;
    s->l2 = sqrt(squares);
}

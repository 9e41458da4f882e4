/* Linear layer, torch.nn.Linear layout: y = x·wᵀ + b. */
#include "kernels/gemm.h"
#include "lamina.h"

/* x is (rows, in), w is (out, in), b is (out) or NULL, res and y are
 * (rows, out), res may be NULL or y itself; y must not overlap x or w. */
void lam_linear_forward_residual(float *y, const float *x, const float *w, const float *b, const float *res,
                                 size_t rows, size_t in, size_t out) {
    int fill = b || res;
    if (fill) lam_prefill(y, res, b, rows, out);   /* y = res + b, then y += x·wᵀ */
    lam_gemm(LAM_NO_TRANS, LAM_TRANS, rows, out, in, 1.0f, x, in, w, in, fill ? 1.0f : 0.0f, y, out);
}

void lam_linear_forward(float *y, const float *x, const float *w, const float *b, size_t rows, size_t in,
                        size_t out) {
    lam_linear_forward_residual(y, x, w, b, NULL, rows, in, out);
}

/* dy is (rows, out); dx is (rows, in), written; dw (out, in) and db (out)
 * are accumulated.  Differentiates y = x·wᵀ + b:
 *   dx = dy·w,  dw += dyᵀ·x,  db += Σ_rows dy. */
void lam_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                         size_t rows, size_t in, size_t out) {
    if (dx) lam_gemm(LAM_NO_TRANS, LAM_NO_TRANS, rows, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
    if (dw) lam_gemm(LAM_TRANS, LAM_NO_TRANS, out, in, rows, 1.0f, dy, out, x, in, 1.0f, dw, in);
    if (db) lam_colsum_add(db, dy, rows, out, out);
}

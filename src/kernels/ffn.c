/* The feed-forward sublayer, dim -> hidden -> dim, plain or gated, with
 * every non-GEMM step on the hidden activations fused into one pass right
 * after the GEMM that produced them (rows split between threads).
 *
 * Forward:
 *   ungated  h = x·w1ᵀ;  a = act(h + b1), d = act′(h + b1) over h   [fused]
 *   gated    g = x·w1ᵀ, u = x·w3ᵀ;  g += b1, u += b3, m = act(g)·u   [fused]
 * then y = b2 + a·w2ᵀ (or m·w2ᵀ): y filled with b2 (plus the residual, in
 * lam_ffn_forward_residual), the GEMM adds to it.
 * No row blocks: the GEMM is OpenBLAS's (no epilogue to fuse into), and a
 * block big enough to keep its GEMM efficient does not fit in L2 (512 rows
 * of 3072 hidden floats = 6 MB), so blocking only re-packed w1 per block.
 * Measured at 4096×768→3072, GELU-tanh, 2 threads, Sapphire Rapids, blocks
 * of 512, 2048 and 4096 (= none) rows taking turns in one process, best of
 * 24 rounds, three runs: forward+backward 408–413, 402–407 and 396–406 ms.
 *
 * Backward (dh is the work buffer):
 *   dw2 += dyᵀ·a,  db2 += Σ dy
 *   ungated  dh = (dy·w2) ⊙ d   (d from the forward: no transcendental here)
 *   gated    dm = dy·w2;  du = dm ⊙ act(g),  dg = dm ⊙ u ⊙ act′(g)
 *   db1 += Σ dg  (db3 from du likewise), summed in the same pass: each
 *        group of GROUP_ROWS rows sums its columns while its rows are in
 *        L1, the group sums are added in group order (fixed groups, so the
 *        result does not depend on the thread count)
 *   dw1 += dgᵀ·x  (dw3 likewise),  dx = dg·w1 (+ du·w3) */
#include "kernels/act_ukr.h"
#include "kernels/gemm.h"
#include "kernels/kernels_internal.h"
#include "kernels/workspace.h"
#include "lamina.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

size_t lam_ffn_cache_floats(const lam_ffn *f, size_t rows) {
    return rows * f->hidden * (f->gated ? 3 : 2);
}

/* Rows per group of the fused bias-gradient sums. */
#define GROUP_ROWS ((size_t)32)

static size_t groups(size_t rows) { return (rows + GROUP_ROWS - 1) / GROUP_ROWS; }

/* dh (dg, du) and the group sums of db1 (db3) */
size_t lam_ffn_work_floats(const lam_ffn *f, size_t rows) {
    return (rows + groups(rows)) * f->hidden * (f->gated ? 2 : 1);
}

/* The fused elementwise pass over the hidden activations, rows split
 * between threads (each row's arithmetic is independent of the split). */
static void fused_forward(const lam_ffn *f, float *cache, size_t rows) {
    const lam_act_ukr *uk = lam_act_ukr_get();
    size_t H = f->hidden, n = rows * H;
    float *h = cache, *a = cache + rows * H, *m = cache + 2 * rows * H;
    int nt = lam_threads_for(n * 4);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        size_t b, e;
        lam_split(rows, 1, omp_get_num_threads(), omp_get_thread_num(), &b, &e);
        for (size_t i = b; i < e; i++) {
            if (f->gated) uk->gated_forward(h + i * H, a + i * H, m + i * H, f->b1, f->b3, H, f->act);
            else uk->bias_act_deriv(h + i * H, a + i * H, f->b1, H, f->act);
        }
    }
}

/* x, y, res are (rows, dim); cache is lam_ffn_cache_floats(f, rows). */
void lam_ffn_forward_residual(const lam_ffn *f, float *y, float *cache, const float *x, const float *res,
                              size_t rows) {
    size_t D = f->dim, H = f->hidden;
    float *h = cache, *u = cache + rows * H;   /* gated: g = h, u, m; ungated: act′ over h, a */
    lam_gemm(LAM_NO_TRANS, LAM_TRANS, rows, H, D, 1.0f, x, D, f->w1, D, 0.0f, h, H);
    if (f->gated) lam_gemm(LAM_NO_TRANS, LAM_TRANS, rows, H, D, 1.0f, x, D, f->w3, D, 0.0f, u, H);
    fused_forward(f, cache, rows);
    const float *act_out = cache + (f->gated ? 2 : 1) * rows * H;   /* a, or m */
    int fill = f->b2 || res;
    if (fill) lam_prefill(y, res, f->b2, rows, D);   /* y = res + b2 + a·w2ᵀ */
    lam_gemm(LAM_NO_TRANS, LAM_TRANS, rows, D, H, 1.0f, act_out, H, f->w2, H, fill ? 1.0f : 0.0f, y, D);
}

void lam_ffn_forward(const lam_ffn *f, float *y, float *cache, const float *x, size_t rows) {
    lam_ffn_forward_residual(f, y, cache, x, NULL, rows);
}

/* x is (rows, H): part[c] = Σ_i x[i][c] over the rows, from 0 in row order. */
static void column_sums(float *part, const float *x, size_t rows, size_t H) {
    for (size_t c = 0; c < H; c++) part[c] = 0.0f;
    for (size_t i = 0; i < rows; i++)
        for (size_t c = 0; c < H; c++) part[c] += x[i * H + c];
}

/* work holds dy·w2; turn it into dh (ungated) or dg, du, and when part1
 * (part3) is not NULL write each row group's column sums of dg (du) there.
 * h and u are the forward's act′ (or g) and u rows for these rows. */
static void fused_backward(const lam_ffn *f, const float *h, const float *u, float *work, float *part1,
                           float *part3, size_t rows) {
    const lam_act_ukr *uk = lam_act_ukr_get();
    size_t H = f->hidden, n = rows * H;
    float *dg = work, *du = work + rows * H;
    int nt = lam_threads_for(n * 4);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        size_t b, e;
        lam_split(rows, GROUP_ROWS, omp_get_num_threads(), omp_get_thread_num(), &b, &e);
        for (size_t g0 = b; g0 < e; g0 += GROUP_ROWS) {
            size_t g1 = e - g0 < GROUP_ROWS ? e : g0 + GROUP_ROWS;
            for (size_t i = g0; i < g1; i++) {
                if (f->gated) uk->gated_backward(dg + i * H, du + i * H, dg + i * H, h + i * H, u + i * H, H, f->act);
                else {
                    float *dgi = dg + i * H;
                    const float *di = h + i * H;   /* act′, stored by the forward */
                    for (size_t k = 0; k < H; k++) dgi[k] *= di[k];
                }
            }
            /* the group's rows are still in L1/L2 */
            size_t grp = g0 / GROUP_ROWS;
            if (part1) column_sums(part1 + grp * H, dg + g0 * H, g1 - g0, H);
            if (part3) column_sums(part3 + grp * H, du + g0 * H, g1 - g0, H);
        }
    }
}

/* The backward of rows r0 .. r0+rows−1 of a forward over cache_rows rows
 * (the cache's blocks are cache_rows long); dx, dy, x are those rows'. */
static void backward_rows(const lam_ffn *f, const lam_ffn *grad, float *dx, const float *dy, const float *x,
                          const float *cache, size_t cache_rows, size_t r0, size_t rows, float *work) {
    size_t D = f->dim, H = f->hidden;
    const float *h = cache + r0 * H, *u = cache + (cache_rows + r0) * H;
    const float *act_out = cache + ((f->gated ? 2 : 1) * cache_rows + r0) * H;   /* a, or m */
    float *dg = work, *du = work + rows * H;
    /* y = act_out·w2ᵀ + b2 */
    if (grad->w2) lam_gemm(LAM_TRANS, LAM_NO_TRANS, D, H, rows, 1.0f, dy, D, act_out, H, 1.0f, grad->w2, H);
    if (grad->b2 && f->b2) lam_colsum_add(grad->b2, dy, rows, D, D);
    /* dact = dy·w2, then through the activation (and the gate) */
    lam_gemm(LAM_NO_TRANS, LAM_NO_TRANS, rows, H, D, 1.0f, dy, D, f->w2, H, 0.0f, dg, H);
    /* h = x·w1ᵀ + b1 (and u = x·w3ᵀ + b3) */
    size_t ng = groups(rows);
    float *part1 = grad->b1 && f->b1 ? work + (f->gated ? 2 : 1) * rows * H : NULL;
    float *part3 = f->gated && grad->b3 && f->b3 ? work + 2 * rows * H + ng * H : NULL;
    fused_backward(f, h, u, work, part1, part3, rows);
    /* db += Σ over the group sums, in group order */
    if (part1) lam_colsum_add(grad->b1, part1, ng, H, H);
    if (part3) lam_colsum_add(grad->b3, part3, ng, H, H);
    if (grad->w1) lam_gemm(LAM_TRANS, LAM_NO_TRANS, H, D, rows, 1.0f, dg, H, x, D, 1.0f, grad->w1, D);
    if (f->gated && grad->w3) lam_gemm(LAM_TRANS, LAM_NO_TRANS, H, D, rows, 1.0f, du, H, x, D, 1.0f, grad->w3, D);
    if (dx) {
        lam_gemm(LAM_NO_TRANS, LAM_NO_TRANS, rows, D, H, 1.0f, dg, H, f->w1, D, 0.0f, dx, D);
        if (f->gated) lam_gemm(LAM_NO_TRANS, LAM_NO_TRANS, rows, D, H, 1.0f, du, H, f->w3, D, 1.0f, dx, D);
    }
}

void lam_ffn_backward_ws(const lam_ffn *f, const lam_ffn *grad, float *dx, const float *dy, const float *x,
                         const float *cache, size_t rows, float *work) {
    backward_rows(f, grad, dx, dy, x, cache, rows, 0, rows, work);
}

/* When the workspace for all rows cannot be had, the rows are taken in
 * halves, quarters, … (the weight and bias gradients accumulate over the
 * pieces: the same values up to the order of their sums).  Only when not
 * even GROUP_ROWS rows' worth can be had does it give up. */
void lam_ffn_backward(const lam_ffn *f, const lam_ffn *grad, float *dx, const float *dy, const float *x,
                      const float *cache, size_t rows) {
    size_t piece = rows, D = f->dim;
    float *work;
    while (!(work = lam_workspace(LAM_WS_FFN, lam_ffn_work_floats(f, piece)))) {
        if (piece <= GROUP_ROWS) {
            /* kernels cannot report; the caller who must not fail passes its own
             * buffer to lam_ffn_backward_ws */
            fprintf(stderr, "lamina: lam_ffn_backward: out of memory for %zu floats of workspace\n",
                    lam_ffn_work_floats(f, piece));
            abort();
        }
        piece = (piece + 1) / 2;
    }
    for (size_t r0 = 0; r0 < rows; r0 += piece) {
        size_t n = rows - r0 < piece ? rows - r0 : piece;
        backward_rows(f, grad, dx ? dx + r0 * D : NULL, dy + r0 * D, x + r0 * D, cache, rows, r0, n, work);
    }
}

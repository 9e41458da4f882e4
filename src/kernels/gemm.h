/* Internal: the one seam between lamina and a BLAS.  Every matrix product in
 * lamina goes through lam_gemm; gemm.c maps it to CBLAS (OpenBLAS by default,
 * any CBLAS at build time: cmake -DLAMINA_BLAS=<pkg-config module>).
 * Also the two non-GEMM helpers that sit beside every Linear: the bias (and
 * residual) prefill and the deterministic column sum that gives the bias
 * gradient. */
#ifndef LAMINA_KERNELS_GEMM_H
#define LAMINA_KERNELS_GEMM_H

#include <stddef.h>

typedef enum { LAM_NO_TRANS = 0, LAM_TRANS = 1 } lam_trans;

/* C = alpha·op(A)·op(B) + beta·C, row-major.
 * op(A) is (M, K): A is (M, K) with leading dimension lda, or (K, M) if ta;
 * op(B) is (K, N): B is (K, N) with leading dimension ldb, or (N, K) if tb;
 * C is (M, N) with leading dimension ldc.  With beta == 0, C is not read.
 * Sizes beyond the BLAS's int range are split into pieces.  On x86 the
 * product reads subnormal inputs (A, B, C) as zero and writes subnormal
 * results as zero (see gemm.c: they cost a microcode assist each). */
void lam_gemm(lam_trans ta, lam_trans tb, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
              const float *B, size_t ldb, float beta, float *C, size_t ldc);
/* The same product as one BLAS call on the calling thread: for callers that
 * are themselves one task of a parallel loop (the attention's per-head
 * products), where lam_gemm's tiles would only cut the product into smaller
 * calls run one after the other.  Its result, like lam_gemm's, depends only on
 * the shape, never on the thread count. */
void lam_gemm_seq(lam_trans ta, lam_trans tb, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                  const float *B, size_t ldb, float beta, float *C, size_t ldc);

/* db is (n); dy is (rows, n) with leading dimension ld.
 * db[j] += Σ_i dy[i·ld + j], each column summed over the rows in order, the
 * columns split between threads in LAM_COL_BLOCK multiples: the result is
 * bit-identical for any thread count. */
void lam_colsum_add(float *db, const float *dy, size_t rows, size_t n, size_t ld);

/* y and res are (rows, n), b is (n): y[i, :] = res[i, :] + b, either may be
 * NULL (zero) but not both; y may alias res.  A product with a bias or a
 * residual is this fill and then lam_gemm with beta = 1: the BLAS adds into
 * C instead of first zeroing it, and no pass over y is left for the bias or
 * the residual add. */
void lam_prefill(float *y, const float *res, const float *b, size_t rows, size_t n);

#endif

/* The GEMM seam: lam_gemm on top of CBLAS, plus bias add and column sums. */
#include "kernels/gemm.h"
#include "kernels/kernels_internal.h"

#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

/* The largest piece handed to the BLAS in one call (its sizes are int). */
#define PIECE ((size_t)1 << 30)

static void gemm_naive(lam_trans ta, lam_trans tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                       size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    /* Only for leading dimensions beyond int: correct, not fast. */
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            float s = 0.0f;
            for (size_t k = 0; k < K; k++) {
                float a = ta ? A[k * lda + i] : A[i * lda + k];
                float b = tb ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
            }
            float *c = &C[i * ldc + j];
            *c = beta == 0.0f ? alpha * s : alpha * s + beta * *c;
        }
}

/* One BLAS call per piece of at most PIECE in each dimension (the BLAS's
 * sizes are int); pieces of K after the first accumulate. */
static void gemm_call(lam_trans ta, lam_trans tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                      size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    for (size_t i0 = 0; i0 < M; i0 += PIECE) {
        size_t m = M - i0 < PIECE ? M - i0 : PIECE;
        const float *Ai = ta ? A + i0 : A + i0 * lda;
        for (size_t j0 = 0; j0 < N; j0 += PIECE) {
            size_t n = N - j0 < PIECE ? N - j0 : PIECE;
            const float *Bj = tb ? B + j0 * ldb : B + j0;
            float *Cij = C + i0 * ldc + j0;
            for (size_t k0 = 0; k0 < K; k0 += PIECE) {
                size_t k = K - k0 < PIECE ? K - k0 : PIECE;
                const float *Ak = ta ? Ai + k0 * lda : Ai + k0;
                const float *Bk = tb ? Bj + k0 : Bj + k0 * ldb;
                cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m,
                            (int)n, (int)k, alpha, Ak, (int)lda, Bk, (int)ldb, k0 == 0 ? beta : 1.0f, Cij, (int)ldc);
            }
        }
    }
}

/* Tiles of C along its longer side: about TILE wide, at least two, their
 * number rounded up to an even count (so two threads share them evenly);
 * sides shorter than 2·MIN_TILE are one tile.  Measured on the FFN's
 * 4096x768x3072 products on 2 threads: TILE 512 cost 7% against OpenBLAS's
 * own threading (re-packing the other operand per tile), TILE 2048 is within
 * noise of it.  The price: a product whose longer side is under 2·TILE uses
 * at most two threads. */
#ifndef TILE
#define TILE ((size_t)2048)
#endif
#define MIN_TILE ((size_t)64)

/* The BLAS always runs on the calling thread; lamina does the threading. */
void openblas_set_num_threads(int) __attribute__((weak));
static void blas_single_thread(void) {
    static int done;
    if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        /* OpenBLAS's OpenMP build also calls omp_set_num_threads: keep ours */
        int n = omp_get_max_threads();
        if (openblas_set_num_threads) openblas_set_num_threads(1);
        omp_set_num_threads(n);
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    }
}

/* Subnormal operands: x86 cores take a microcode assist (~100 cycles) for
 * each FMA that reads or yields a subnormal, and a run whose activations
 * collapse into the subnormal range (GELU/SiLU outputs of very negative
 * inputs, which lamina's activations compute exactly, as the issue asks)
 * measured 3.5× slower per step at learning rate 0.1.  So the BLAS runs with
 * DAZ and FTZ set in MXCSR — subnormal inputs read as zero, subnormal results
 * written as zero — on the calling thread, for the call only.  A product of
 * two values below 2^-126 is at most 2^-126 times the ulp of any normal term
 * it is summed with, so only sums made entirely of such products change, and
 * only by less than 2^-126 each.  Off x86 the products run as they are. */
#if defined(__x86_64__) || defined(__i386__)
#define MXCSR_DAZ_FTZ 0x8040u
#define SUBNORMALS_AS_ZERO_BEGIN                 \
    unsigned int mxcsr_saved_ = _mm_getcsr();    \
    _mm_setcsr(mxcsr_saved_ | MXCSR_DAZ_FTZ);
#define SUBNORMALS_AS_ZERO_END _mm_setcsr(mxcsr_saved_);
#else
#define SUBNORMALS_AS_ZERO_BEGIN
#define SUBNORMALS_AS_ZERO_END
#endif

/* Determinism: a multi-threaded BLAS splits a product between threads by the
 * thread count, and its edge micro-kernels then sum some elements in another
 * order — OpenBLAS's dW = dyᵀ·x differs in the last bits between 1 and 2
 * threads.  So lam_gemm splits C into tiles by a rule that depends only on
 * the shape, computes each tile with one single-threaded BLAS call (lamina
 * sets OpenBLAS to one thread and does the threading itself), and shares the tiles between the threads: every element is
 * computed by the same instructions whatever the thread count.  The cost is
 * packing the other operand once per tile (see TILE). */
/* The cases no BLAS call handles: an empty product, K = 0 (C = beta·C), and
 * leading dimensions beyond int.  Returns 1 when it did the product. */
static int gemm_special(lam_trans ta, lam_trans tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                        size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    if (M == 0 || N == 0) return 1;
    if (K == 0) {
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return 1;
    }
    if (lda > (size_t)INT_MAX || ldb > (size_t)INT_MAX || ldc > (size_t)INT_MAX) {
        gemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return 1;
    }
    return 0;
}

/* OpenBLAS's OpenMP build sizes its own team from omp_get_max_threads()
 * whenever it is not called inside an active parallel region, and its
 * threaded split (K included) changes the bits: outside a region, one thread
 * it is.  Returns the thread count to give back (0: nothing was changed). */
static int pin_blas_to_one(void) {
    int saved = omp_get_max_threads();
    if (saved <= 1 || omp_in_parallel()) return 0;
    omp_set_num_threads(1);
    return saved;
}

static void unpin_blas(int saved) {
    if (saved) omp_set_num_threads(saved);
}

/* One BLAS call on this thread, subnormals as zero (above). */
static void blas_call(lam_trans ta, lam_trans tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                      size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    SUBNORMALS_AS_ZERO_BEGIN
    gemm_call(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    SUBNORMALS_AS_ZERO_END
}

void lam_gemm_seq(lam_trans ta, lam_trans tb, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                  const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    if (gemm_special(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
    blas_single_thread();
    int saved = pin_blas_to_one();
    blas_call(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    unpin_blas(saved);
}

void lam_gemm(lam_trans ta, lam_trans tb, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
              const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    if (gemm_special(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
    blas_single_thread();
    const int along_m = M >= N;
    const size_t D = along_m ? M : N;
    size_t tiles = D / TILE;
    if (tiles < 2) tiles = 2;
    if (tiles % 2) tiles++;
    if (D < 2 * MIN_TILE) tiles = 1;
    int nt = omp_get_max_threads();
    if ((size_t)nt > tiles) nt = (int)tiles;
    int saved = nt <= 1 ? pin_blas_to_one() : 0;   /* with nt > 1 the tiles run inside our region */
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
    for (size_t t = 0; t < tiles; t++) {
        size_t d0 = D * t / tiles, d1 = D * (t + 1) / tiles;
        if (along_m)
            blas_call(ta, tb, d1 - d0, N, K, alpha, ta ? A + d0 : A + d0 * lda, lda, B, ldb, beta, C + d0 * ldc,
                      ldc);
        else
            blas_call(ta, tb, M, d1 - d0, K, alpha, A, lda, tb ? B + d0 * ldb : B + d0, ldb, beta, C + d0, ldc);
    }
    unpin_blas(saved);
}

/* Columns per strip: the strip's running sums stay in registers/L1. */
#define STRIP ((size_t)256)

void lam_colsum_add(float *db, const float *dy, size_t rows, size_t n, size_t ld) {
    int nt = lam_threads_for(rows * n);
    if ((size_t)nt > (n + LAM_COL_BLOCK - 1) / LAM_COL_BLOCK) nt = (int)((n + LAM_COL_BLOCK - 1) / LAM_COL_BLOCK);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        size_t j0, j1;
        lam_split(n, LAM_COL_BLOCK, omp_get_num_threads(), omp_get_thread_num(), &j0, &j1);
        for (size_t s0 = j0; s0 < j1; s0 += STRIP) {
            size_t w = j1 - s0 < STRIP ? j1 - s0 : STRIP;
            float acc[STRIP];
            for (size_t j = 0; j < w; j++) acc[j] = 0.0f;
            for (size_t i = 0; i < rows; i++) {
                const float *r = dy + i * ld + s0;
                for (size_t j = 0; j < w; j++) acc[j] += r[j];
            }
            for (size_t j = 0; j < w; j++) db[s0 + j] += acc[j];
        }
    }
}

void lam_prefill(float *y, const float *res, const float *b, size_t rows, size_t n) {
    if (res == y && !b) return;
    int nt = lam_threads_for(rows * n);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (size_t i = 0; i < rows; i++) {
        float *r = y + i * n;
        if (!res) memcpy(r, b, n * sizeof *b);
        else if (!b) memmove(r, res + i * n, n * sizeof *r);
        else
            for (size_t j = 0; j < n; j++) r[j] = res[i * n + j] + b[j];
    }
}

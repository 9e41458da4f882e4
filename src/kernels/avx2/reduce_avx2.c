/* Fixed-order reductions, AVX2: the 16 partials of reduce_ukr.h in four
 * registers of 4 doubles (dot) or two of 8 floats (max), a masked tail whose
 * missing lanes are 0 (dot) or left alone (max); same bits as the generic
 * family. */
#if defined(__x86_64__) || defined(__i386__)
#include "kernels/reduce_ukr.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>

static const int32_t mask_tab[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* lanes [0, k) set, k in [0, 8] */
static inline __m256i mask_n(size_t k) { return _mm256_loadu_si256((const __m256i *)(mask_tab + 8 - k)); }

/* Partials 8·h .. 8·h+7 of one 16-element step as two vectors of 4 doubles. */
static inline void widen(__m256 v, __m256d *lo, __m256d *hi) {
    *lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    *hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
}

static double a_dot_f64(const float *x, const float *y, size_t n) {
    __m256d p0 = _mm256_setzero_pd(), p1 = p0, p2 = p0, p3 = p0;   /* partials 0-3, 4-7, 8-11, 12-15 */
    for (size_t i = 0; i < n; i += 16) {
        size_t r = n - i < 16 ? n - i : 16;
        __m256i k0 = mask_n(r < 8 ? r : 8), k1 = mask_n(r > 8 ? r - 8 : 0);
        __m256d a0, a1, a2, a3;
        widen(_mm256_maskload_ps(x + i, k0), &a0, &a1);
        widen(_mm256_maskload_ps(x + i + 8, k1), &a2, &a3);
        if (y) {
            __m256d b0, b1, b2, b3;
            widen(_mm256_maskload_ps(y + i, k0), &b0, &b1);
            widen(_mm256_maskload_ps(y + i + 8, k1), &b2, &b3);
            a0 = _mm256_mul_pd(a0, b0), a1 = _mm256_mul_pd(a1, b1);
            a2 = _mm256_mul_pd(a2, b2), a3 = _mm256_mul_pd(a3, b3);
        }
        p0 = _mm256_add_pd(p0, a0), p1 = _mm256_add_pd(p1, a1);
        p2 = _mm256_add_pd(p2, a2), p3 = _mm256_add_pd(p3, a3);
    }
    /* w = 8: p[l] += p[l + 8];  w = 4: lanes 0-3 += 4-7;  w = 2, 1 */
    __m256d q = _mm256_add_pd(_mm256_add_pd(p0, p2), _mm256_add_pd(p1, p3));
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(q), _mm256_extractf128_pd(q, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

static float a_max_f32(const float *x, size_t n) {
    /* maxps returns its second operand when either is NaN or both are
     * zero: max(x, m) is exactly x > m ? x : m */
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    for (size_t i = 0; i < n; i += 16) {
        size_t r = n - i < 16 ? n - i : 16;
        __m256i k0 = mask_n(r < 8 ? r : 8), k1 = mask_n(r > 8 ? r - 8 : 0);
        __m256 t0 = _mm256_max_ps(_mm256_maskload_ps(x + i, k0), m0);
        __m256 t1 = _mm256_max_ps(_mm256_maskload_ps(x + i + 8, k1), m1);
        m0 = _mm256_blendv_ps(m0, t0, _mm256_castsi256_ps(k0));
        m1 = _mm256_blendv_ps(m1, t1, _mm256_castsi256_ps(k1));
    }
    float m[16];
    _mm256_storeu_ps(m, m0);
    _mm256_storeu_ps(m + 8, m1);
    float mx = m[0];
    for (int l = 1; l < 16; l++) mx = m[l] > mx ? m[l] : mx;
    return mx;
}

const lam_reduce_ukr lam_reduce_ukr_avx2 = {a_dot_f64, a_max_f32};
#else
typedef int lam_reduce_avx2_unused;
#endif

/* Fixed-order reductions, AVX-512 (F, DQ): the 16 partials of reduce_ukr.h
 * in two registers of 8 doubles (dot) or one of 16 floats (max), a masked
 * tail whose missing lanes are 0 (dot) or left alone (max); same bits as the
 * generic family. */
#include "kernels/reduce_ukr.h"

#include <immintrin.h>
#include <math.h>

static double x_dot_f64(const float *x, const float *y, size_t n) {
    __m512d p0 = _mm512_setzero_pd(), p1 = p0;   /* partials 0-7, 8-15 */
    for (size_t i = 0; i < n; i += 16) {
        size_t r = n - i < 16 ? n - i : 16;
        __mmask16 k = (__mmask16)((1u << r) - 1u);
        __m512 xv = _mm512_maskz_loadu_ps(k, x + i);
        __m512d a0 = _mm512_cvtps_pd(_mm512_castps512_ps256(xv)), a1 = _mm512_cvtps_pd(_mm512_extractf32x8_ps(xv, 1));
        if (y) {
            __m512 yv = _mm512_maskz_loadu_ps(k, y + i);
            a0 = _mm512_mul_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(yv)));
            a1 = _mm512_mul_pd(a1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(yv, 1)));
        }
        p0 = _mm512_add_pd(p0, a0), p1 = _mm512_add_pd(p1, a1);
    }
    /* w = 8: p[l] += p[l + 8];  w = 4: lanes 0-3 += 4-7;  w = 2, 1 */
    __m512d s8 = _mm512_add_pd(p0, p1);
    __m256d s4 = _mm256_add_pd(_mm512_castpd512_pd256(s8), _mm512_extractf64x4_pd(s8, 1));
    __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
}

static float x_max_f32(const float *x, size_t n) {
    /* maxps returns its second operand when either is NaN or both are
     * zero: max(x, m) is exactly x > m ? x : m; lanes outside k keep m */
    __m512 m = _mm512_set1_ps(-INFINITY);
    for (size_t i = 0; i < n; i += 16) {
        size_t r = n - i < 16 ? n - i : 16;
        __mmask16 k = (__mmask16)((1u << r) - 1u);
        m = _mm512_mask_max_ps(m, k, _mm512_maskz_loadu_ps(k, x + i), m);
    }
    float p[16];
    _mm512_storeu_ps(p, m);
    float mx = p[0];
    for (int l = 1; l < 16; l++) mx = p[l] > mx ? p[l] : mx;
    return mx;
}

const lam_reduce_ukr lam_reduce_ukr_avx512 = {x_dot_f64, x_max_f32};

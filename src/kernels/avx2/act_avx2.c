/* Activation micro-kernels, AVX2/FMA: 8 float lanes (4 double), masked
 * tails, so a lane's arithmetic is the same wherever it falls.  The
 * formulas are in act_simd.h, shared with the AVX-512 family. */
#include <immintrin.h>

#define VF __m256
#define VD __m256d
#define VM __m256
#define VMD __m256d
#define VF_LANES 8

#define F_SET1 _mm256_set1_ps
#define F_ZERO _mm256_setzero_ps
#define F_ADD _mm256_add_ps
#define F_SUB _mm256_sub_ps
#define F_MUL _mm256_mul_ps
#define F_DIV _mm256_div_ps
#define F_FMA _mm256_fmadd_ps
#define F_FNMA _mm256_fnmadd_ps
#define F_MAX _mm256_max_ps
#define F_MIN _mm256_min_ps
#define F_OR _mm256_or_ps
#define F_ANDNOT _mm256_andnot_ps
#define F_ROUND(a) _mm256_round_ps((a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define F_LT(a, b) _mm256_cmp_ps((a), (b), _CMP_LT_OQ)
#define F_GT(a, b) _mm256_cmp_ps((a), (b), _CMP_GT_OQ)
#define F_EQ(a, b) _mm256_cmp_ps((a), (b), _CMP_EQ_OQ)
#define F_BLEND(m, a, b) _mm256_blendv_ps((a), (b), (m))
#define F_MASKZ(m, a) _mm256_and_ps((m), (a))
#define F_ANY(m) (_mm256_movemask_ps(m) != 0)

#define D_SET1 _mm256_set1_pd
#define D_ZERO _mm256_setzero_pd
#define D_ADD _mm256_add_pd
#define D_SUB _mm256_sub_pd
#define D_MUL _mm256_mul_pd
#define D_DIV _mm256_div_pd
#define D_FMA _mm256_fmadd_pd
#define D_FNMA _mm256_fnmadd_pd
#define D_MAX _mm256_max_pd
#define D_OR _mm256_or_pd
#define D_ANDNOT _mm256_andnot_pd
#define D_ROUND(a) _mm256_round_pd((a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define D_LT(a, b) _mm256_cmp_pd((a), (b), _CMP_LT_OQ)
#define D_UNORD(a, b) _mm256_cmp_pd((a), (b), _CMP_UNORD_Q)
#define D_BLEND(m, a, b) _mm256_blendv_pd((a), (b), (m))
#define D_MASKZ(m, a) _mm256_and_pd((m), (a))
#define D_MASKZ_NOT(m, a) _mm256_andnot_pd((m), (a))

#define F_LO_D(v) _mm256_cvtps_pd(_mm256_castps256_ps128(v))
#define F_HI_D(v) _mm256_cvtps_pd(_mm256_extractf128_ps((v), 1))
#define D2_F(lo, hi) _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo))

/* p·2^n, n integral: 2^n as two powers (n1 + n2 = n) so that a subnormal
 * result is rounded once, by the last multiply */
static inline __m256 f_exp2i(__m256 p, __m256 n) {
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}
#define F_EXP2I f_exp2i

/* p·2^n, n integral and in the normal range: n added to the exponent field */
static inline __m256d d_exp2i(__m256d p, __m256d n) {
    const __m256d magic = _mm256_set1_pd(6755399441055744.0);   /* 2^52 + 2^51 */
    __m256i ni = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(n, magic)), _mm256_castpd_si256(magic));
    return _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(p), _mm256_slli_epi64(ni, 52)));
}
#define D_EXP2I d_exp2i

#define TAIL_T __m256i
#define TAIL(rem) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(rem)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define LD(p) _mm256_maskload_ps((p) + i, m)
#define ST(p, v) _mm256_maskstore_ps((p) + i, m, (v))

#define ACT_UKR_NAME lam_act_ukr_avx2
#include "kernels/act_simd.h"

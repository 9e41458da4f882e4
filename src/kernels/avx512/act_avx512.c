/* Activation micro-kernels, AVX-512 (F, DQ): 16 float lanes (8 double),
 * k-register masks and masked tails.  The formulas are in act_simd.h,
 * shared with the AVX2 family: the same operations in the same order, so
 * the results are bit-identical to it, twice as many lanes per instruction. */
#include <immintrin.h>

#define VF __m512
#define VD __m512d
#define VM __mmask16
#define VMD __mmask8
#define VF_LANES 16

#define F_SET1 _mm512_set1_ps
#define F_ZERO _mm512_setzero_ps
#define F_ADD _mm512_add_ps
#define F_SUB _mm512_sub_ps
#define F_MUL _mm512_mul_ps
#define F_DIV _mm512_div_ps
#define F_FMA _mm512_fmadd_ps
#define F_FNMA _mm512_fnmadd_ps
#define F_MAX _mm512_max_ps
#define F_MIN _mm512_min_ps
#define F_OR _mm512_or_ps
#define F_ANDNOT _mm512_andnot_ps
#define F_ROUND(a) _mm512_roundscale_ps((a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define F_LT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_LT_OQ)
#define F_GT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_GT_OQ)
#define F_EQ(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_EQ_OQ)
#define F_BLEND(m, a, b) _mm512_mask_blend_ps((m), (a), (b))
#define F_MASKZ(m, a) _mm512_maskz_mov_ps((m), (a))
#define F_ANY(m) ((m) != 0)

#define D_SET1 _mm512_set1_pd
#define D_ZERO _mm512_setzero_pd
#define D_ADD _mm512_add_pd
#define D_SUB _mm512_sub_pd
#define D_MUL _mm512_mul_pd
#define D_DIV _mm512_div_pd
#define D_FMA _mm512_fmadd_pd
#define D_FNMA _mm512_fnmadd_pd
#define D_MAX _mm512_max_pd
#define D_OR _mm512_or_pd
#define D_ANDNOT _mm512_andnot_pd
#define D_ROUND(a) _mm512_roundscale_pd((a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define D_LT(a, b) _mm512_cmp_pd_mask((a), (b), _CMP_LT_OQ)
#define D_UNORD(a, b) _mm512_cmp_pd_mask((a), (b), _CMP_UNORD_Q)
#define D_BLEND(m, a, b) _mm512_mask_blend_pd((m), (a), (b))
#define D_MASKZ(m, a) _mm512_maskz_mov_pd((m), (a))
#define D_MASKZ_NOT(m, a) _mm512_maskz_mov_pd((__mmask8)~(m), (a))

#define F_LO_D(v) _mm512_cvtps_pd(_mm512_castps512_ps256(v))
#define F_HI_D(v) _mm512_cvtps_pd(_mm512_extractf32x8_ps((v), 1))
#define D2_F(lo, hi) _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1)

/* p·2^n, n integral: 2^n as two powers (n1 + n2 = n) so that a subnormal
 * result is rounded once, by the last multiply */
static inline __m512 f_exp2i(__m512 p, __m512 n) {
    __m512i ni = _mm512_cvtps_epi32(n);
    __m512i n1 = _mm512_srai_epi32(ni, 1), n2 = _mm512_sub_epi32(ni, n1);
    __m512i bias = _mm512_set1_epi32(127);
    __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
    __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
    return _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
}
#define F_EXP2I f_exp2i

/* p·2^n, n integral and in the normal range: n added to the exponent field */
static inline __m512d d_exp2i(__m512d p, __m512d n) {
    const __m512d magic = _mm512_set1_pd(6755399441055744.0);   /* 2^52 + 2^51 */
    __m512i ni = _mm512_sub_epi64(_mm512_castpd_si512(_mm512_add_pd(n, magic)), _mm512_castpd_si512(magic));
    return _mm512_castsi512_pd(_mm512_add_epi64(_mm512_castpd_si512(p), _mm512_slli_epi64(ni, 52)));
}
#define D_EXP2I d_exp2i

#define TAIL_T __mmask16
#define TAIL(rem) ((__mmask16)((1u << (rem)) - 1u))
#define LD(p) _mm512_maskz_loadu_ps(m, (p) + i)
#define ST(p, v) _mm512_mask_storeu_ps((p) + i, m, (v))

#define ACT_UKR_NAME lam_act_ukr_avx512
#include "kernels/act_simd.h"

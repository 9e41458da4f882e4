/* Activation micro-kernels, AVX2/FMA: 8 lanes, masked tails (a lane's
 * arithmetic is the same wherever it falls).  See act_ukr.h for the
 * formulas.  exp is Cody–Waite reduction + Cephes' degree-6 polynomial
 * (≈1 ulp), scaled by 2^n in two steps so subnormal results are rounded once.
 * Exact GELU is evaluated in double, 4 lanes at a time (gelu4). */
#include "kernels/act_ukr.h"

#include <immintrin.h>
#include <math.h>

/* exp(x + lo), lo a small correction below x's last bit (0 for plain exp). */
static inline __m256 exp8x(__m256 x, __m256 lo) {
    /* max/min return their second operand when either is NaN: NaN passes */
    x = _mm256_max_ps(_mm256_set1_ps(-104.0f), x);
    x = _mm256_min_ps(_mm256_set1_ps(88.8f), x);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    r = _mm256_add_ps(r, lo);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* s = σ(z + zlo), t = 1 − σ(z + zlo), from e = exp(−|z + zlo|); zlo is a
 * correction below z's last bit (0 when z is exact). */
static inline void sigmoid8(__m256 z, __m256 zlo, __m256 *s, __m256 *t) {
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    /* −|z + zlo| = (−|z|) + (−sign(z)·zlo) */
    __m256 flip = _mm256_andnot_ps(_mm256_and_ps(z, sign), sign);   /* sign bit set where z ≥ 0 */
    __m256 e = exp8x(_mm256_or_ps(z, sign), _mm256_xor_ps(zlo, flip));
    __m256 d = _mm256_div_ps(one, _mm256_add_ps(one, e));
    __m256 ed = _mm256_mul_ps(e, d);
    __m256 neg = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
    *s = _mm256_blendv_ps(d, ed, neg);
    *t = _mm256_blendv_ps(ed, d, neg);
}

/* ---- exact GELU in double, 4 lanes: Φ(x) from erfc, with a = |x|/√2:
 *   q = ½·erfc(a) = ½·e^(−a²)·erfcx(a) = Φ(−|x|),  Φ(x) = q for x < 0, 1 − q otherwise,
 *   φ(x) = e^(−a²)/√(2π),  y = x·Φ(x),  y′ = Φ(x) + x·φ(x).
 * −a² = −x²/2 is exact in double (a float squared has 48 bits), so the
 * exponential carries no argument error even deep in the tail, where a float
 * evaluation would lose |x|²·2^−24 of relative accuracy; erfcx(a), smooth
 * and slowly varying, is a Chebyshev series in t = (a − 3)/(a + 3). */
/* erfcx in t = (a - 3)/(a + 3): 18 Chebyshev terms, largest relative error 5.20e-12 for a in [0, 22] (scripts/fit_erfcx.py) */
static const double erfcx_cheb[18] = {
    3.29862774753036769e-01, -4.53661520537802010e-01, 1.60398340821562901e-01,
    -4.49081211511227416e-02, 9.64142865069565758e-03, -1.44250807774433387e-03,
    1.00994367353722178e-04, 1.20850245345291429e-05, -3.62542060283093173e-06,
    7.18681074582394608e-08, 8.91423585572259647e-08, -7.42156630595403044e-09,
    -2.38933662286867909e-09, 3.06223525703419597e-10, 7.78893963215843144e-11,
    -1.09735016212697545e-11, -3.09154481528683966e-12, 3.52520963808888865e-13,
};

/* e^s for s <= 0 (NaN passes): Cody–Waite reduction by ln 2 (n·ln2_hi is
 * exact for these n), Taylor to r^11 (|r| <= ln2/2: 7e-15), 2^n added to the
 * exponent field; 0 below −707, where the float results no longer need it. */
static inline __m256d exp4_neg(__m256d s) {
    const __m256d lim = _mm256_set1_pd(-707.0), magic = _mm256_set1_pd(6755399441055744.0);   /* 2^52 + 2^51 */
    __m256d under = _mm256_cmp_pd(s, lim, _CMP_LT_OQ), nan = _mm256_cmp_pd(s, s, _CMP_UNORD_Q);
    __m256d v = _mm256_max_pd(lim, s);
    __m256d n = _mm256_round_pd(_mm256_mul_pd(v, _mm256_set1_pd(1.44269504088896338700)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93147180369123816490e-01), v);
    r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.90821492927058770002e-10), r);
    static const double inv_fact[12] = {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040,
                                        1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800};
    __m256d p = _mm256_set1_pd(inv_fact[11]);
    for (int k = 10; k >= 0; k--) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(inv_fact[k]));
    __m256i ni = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(n, magic)), _mm256_castpd_si256(magic));
    __m256d e = _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(p), _mm256_slli_epi64(ni, 52)));
    e = _mm256_andnot_pd(under, e);
    return _mm256_blendv_pd(e, s, nan);
}

static inline void gelu4(__m256d x, __m256d *y, __m256d *d) {
    const __m256d zero = _mm256_setzero_pd(), k = _mm256_set1_pd(3.0);
    __m256d e = exp4_neg(_mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(-0.5), x), x));
    __m256d a = _mm256_mul_pd(_mm256_andnot_pd(_mm256_set1_pd(-0.0), x), _mm256_set1_pd(0.70710678118654752440));
    __m256d t = _mm256_div_pd(_mm256_sub_pd(a, k), _mm256_add_pd(a, k)), t2 = _mm256_add_pd(t, t);
    /* Clenshaw: b_j = c_j + 2t·b_(j+1) − b_(j+2);  erfcx = c_0 + t·b_1 − b_2 */
    __m256d b1 = zero, b2 = zero;
    for (int j = (int)(sizeof erfcx_cheb / sizeof erfcx_cheb[0]) - 1; j >= 1; j--) {
        __m256d b0 = _mm256_fmadd_pd(t2, b1, _mm256_sub_pd(_mm256_set1_pd(erfcx_cheb[j]), b2));
        b2 = b1, b1 = b0;
    }
    __m256d f = _mm256_fmadd_pd(t, b1, _mm256_sub_pd(_mm256_set1_pd(erfcx_cheb[0]), b2));
    __m256d q = _mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(0.5), e), f);
    __m256d neg = _mm256_cmp_pd(x, zero, _CMP_LT_OQ);
    __m256d cdf = _mm256_blendv_pd(_mm256_sub_pd(_mm256_set1_pd(1.0), q), q, neg);
    *y = _mm256_mul_pd(x, cdf);
    *d = _mm256_fmadd_pd(x, _mm256_mul_pd(e, _mm256_set1_pd(0.39894228040143267794)), cdf);
}

/* y = act(x) and, when d is not NULL, *d = act′(x). */
static inline __m256 act8(__m256 x, lam_act act, __m256 *d) {
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    __m256 y, s, t;
    switch (act) {
    case LAM_ACT_RELU:
        if (d) *d = _mm256_and_ps(_mm256_cmp_ps(x, zero, _CMP_GT_OQ), one);
        return _mm256_max_ps(zero, x);
    case LAM_ACT_GELU: {
        __m256d ylo, dlo, yhi, dhi;
        gelu4(_mm256_cvtps_pd(_mm256_castps256_ps128(x)), &ylo, &dlo);
        gelu4(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)), &yhi, &dhi);
        y = _mm256_set_m128(_mm256_cvtpd_ps(yhi), _mm256_cvtpd_ps(ylo));
        if (d) *d = _mm256_set_m128(_mm256_cvtpd_ps(dhi), _mm256_cvtpd_ps(dlo));
        break;
    }
    case LAM_ACT_GELU_TANH: {
        const __m256 k2 = _mm256_set1_ps(1.5957691216057308f);
        /* x² capped so the factors stay finite for |x| > 1e15 (where σ is exactly 0 or 1) */
        __m256 x2 = _mm256_min_ps(_mm256_set1_ps(1e30f), _mm256_mul_ps(x, x));
        /* a = −|2u|, plus 32·ln2 where u < 0 so that σ(2u) — tiny in the
         * negative tail — is carried scaled by 2^32, clear of the subnormals;
         * formed in double and split into float hi + lo, since a float 2u's
         * rounding (|2u|·2^-24) alone would cost 100+ ulp of e^(2u). */
        __m256d xl = _mm256_cvtps_pd(_mm256_castps256_ps128(x)), xh = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
        const __m256d k2d = _mm256_set1_pd(1.5957691216057308), cd = _mm256_set1_pd(0.044715),
                      oned = _mm256_set1_pd(1.0), sgn = _mm256_set1_pd(-0.0), shift = _mm256_set1_pd(22.18070977791825),
                      zerod = _mm256_setzero_pd();
        __m256d zl = _mm256_mul_pd(_mm256_mul_pd(_mm256_fmadd_pd(_mm256_mul_pd(cd, xl), xl, oned), xl), k2d);
        __m256d zh = _mm256_mul_pd(_mm256_mul_pd(_mm256_fmadd_pd(_mm256_mul_pd(cd, xh), xh, oned), xh), k2d);
        __m256d nl = _mm256_cmp_pd(zl, zerod, _CMP_LT_OQ), nh = _mm256_cmp_pd(zh, zerod, _CMP_LT_OQ);
        __m256d al = _mm256_add_pd(_mm256_or_pd(zl, sgn), _mm256_and_pd(nl, shift));
        __m256d ah = _mm256_add_pd(_mm256_or_pd(zh, sgn), _mm256_and_pd(nh, shift));
        __m128 al_f = _mm256_cvtpd_ps(al), ah_f = _mm256_cvtpd_ps(ah);
        __m128 ll = _mm256_cvtpd_ps(_mm256_sub_pd(al, _mm256_cvtps_pd(al_f)));
        __m128 lh = _mm256_cvtpd_ps(_mm256_sub_pd(ah, _mm256_cvtps_pd(ah_f)));
        __m256 hi = _mm256_set_m128(ah_f, al_f), lo = _mm256_set_m128(lh, ll);
        __m256 neg = _mm256_cmp_ps(x, zero, _CMP_LT_OQ);   /* u < 0 exactly where x < 0 */
        /* where a saturates the exponential (or overflowed to −inf) the correction is moot (or NaN) */
        lo = _mm256_and_ps(lo, _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), hi), _mm256_set1_ps(200.0f),
                                             _CMP_LT_OQ));
        __m256 e = exp8x(hi, lo);                                       /* e^(−|2u|), ·2^32 where u < 0 */
        __m256 down = _mm256_blendv_ps(one, _mm256_set1_ps(0x1p-32f), neg);
        __m256 dd = _mm256_div_ps(one, _mm256_add_ps(one, _mm256_mul_ps(e, down)));
        __m256 ss = _mm256_blendv_ps(dd, _mm256_mul_ps(e, dd), neg);   /* σ(2u), ·2^32 where u < 0 */
        t = _mm256_blendv_ps(_mm256_mul_ps(e, dd), dd, neg);           /* 1 − σ(2u) */
        y = _mm256_mul_ps(_mm256_mul_ps(x, ss), down);
        if (d) {
            __m256 du = _mm256_mul_ps(k2, _mm256_fmadd_ps(_mm256_set1_ps(3.0f * 0.044715f), x2, one));
            *d = _mm256_mul_ps(_mm256_fmadd_ps(_mm256_mul_ps(_mm256_mul_ps(x, ss), t), du, ss), down);
        }
        break;
    }
    case LAM_ACT_SILU:
    default:
        sigmoid8(x, _mm256_setzero_ps(), &s, &t);
        y = _mm256_mul_ps(x, s);
        if (d) *d = _mm256_fmadd_ps(s, _mm256_mul_ps(x, t), s);
        break;
    }
    /* ±∞: the limits (the formulas give ∞·0) */
    __m256 inf = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), _mm256_set1_ps(INFINITY), _CMP_EQ_OQ);
    if (_mm256_movemask_ps(inf)) {
        __m256 pos = _mm256_cmp_ps(x, zero, _CMP_GT_OQ);
        y = _mm256_blendv_ps(y, _mm256_and_ps(pos, x), inf);
        if (d) *d = _mm256_blendv_ps(*d, _mm256_and_ps(pos, one), inf);
    }
    return y;
}

static inline __m256i tail_mask(size_t rem) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Loop over n in blocks of 8 with a masked last block; BODY sees i and mask m. */
#define FOR8(n, ...)                                                  \
    for (size_t i = 0; i < (n); i += 8) {                             \
        __m256i m = tail_mask((n) - i < 8 ? (n) - i : 8);             \
        __VA_ARGS__                                                   \
    }
#define LD(p) _mm256_maskload_ps((p) + i, m)
#define ST(p, v) _mm256_maskstore_ps((p) + i, m, (v))

static void fwd(float *y, const float *x, size_t n, lam_act act) {
    FOR8(n, { ST(y, act8(LD(x), act, NULL)); })
}

static void bwd(float *dx, const float *dy, const float *x, size_t n, lam_act act) {
    FOR8(n, {
        __m256 d;
        act8(LD(x), act, &d);
        ST(dx, _mm256_mul_ps(LD(dy), d));
    })
}

static void bias_act_deriv(float *h, float *a, const float *b, size_t n, lam_act act) {
    FOR8(n, {
        __m256 v = LD(h), d;
        if (b) v = _mm256_add_ps(v, LD(b));
        ST(a, act8(v, act, &d));
        ST(h, d);
    })
}

static void gated_fwd(float *g, float *u, float *mo, const float *b1, const float *b3, size_t n, lam_act act) {
    FOR8(n, {
        __m256 gv = LD(g), uv = LD(u);
        if (b1) {
            gv = _mm256_add_ps(gv, LD(b1));
            ST(g, gv);
        }
        if (b3) {
            uv = _mm256_add_ps(uv, LD(b3));
            ST(u, uv);
        }
        ST(mo, _mm256_mul_ps(act8(gv, act, NULL), uv));
    })
}

static void gated_bwd(float *dg, float *du, const float *dm, const float *g, const float *u, size_t n, lam_act act) {
    FOR8(n, {
        __m256 d, dmv = LD(dm);
        __m256 a = act8(LD(g), act, &d);
        ST(du, _mm256_mul_ps(dmv, a));
        ST(dg, _mm256_mul_ps(_mm256_mul_ps(dmv, LD(u)), d));
    })
}

const lam_act_ukr lam_act_ukr_avx2 = {fwd, bwd, bias_act_deriv, gated_fwd, gated_bwd};

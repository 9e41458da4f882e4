/* Activation micro-kernels, written once for every vector width.
 *
 * Included by avx2/act_avx2.c (8 float lanes) and avx512/act_avx512.c (16),
 * each of which first defines the vocabulary below for its instruction set;
 * the formulas (act_ukr.h) and the order of every rounding are here, so both
 * families give bit-identical results (tests/c/test_activation.c checks it)
 * and a model trains the same on a CPU with or without AVX-512.
 *
 *   VF                a float vector of VF_LANES lanes
 *   VD                a double vector of VF_LANES / 2 lanes
 *   VM, VMD           a lane mask for VF / VD (a vector of all-ones lanes on
 *                     AVX2, a k-register on AVX-512)
 *   F_SET1 F_ZERO F_ADD F_SUB F_MUL F_DIV F_FMA(a,b,c)=a·b+c F_FNMA=c−a·b
 *   F_MAX F_MIN (second operand when either is NaN) F_OR
 *   F_ANDNOT(a,b)=~a&b F_ROUND (to nearest) F_LT F_GT F_EQ (ordered) -> VM
 *   F_BLEND(m,a,b) (b where m) F_MASKZ(m,a) (a where m, else 0) F_ANY(m)
 *   F_EXP2I(p, n): p·2^n for an integral-valued VF n, in two steps
 *   D_... likewise for VD (D_UNORD: either NaN), D_EXP2I(p, n): p·2^n
 *   F_LO_D(v) F_HI_D(v): the lower / upper half of v widened to VD
 *   D2_F(lo, hi): two VD narrowed (rounded) and joined into one VF
 *   TAIL, LD(p), ST(p, v): a loop's lane mask (rem lanes of VF_LANES), and
 *                     the masked load and store with it
 *   ACT_UKR_NAME      the table this file defines
 */
#include "kernels/act_ukr.h"

#include <math.h>

/* Every helper is inlined into the loops, and each loop is compiled once per
 * activation (FOR_ACT), so the activation's switch, its constants and the
 * derivative's pointer resolve at compile time instead of once per vector. */
#define ACT_INLINE static inline __attribute__((always_inline))

/* exp(x + lo), lo a small correction below x's last bit (0 for plain exp):
 * Cody–Waite reduction + Cephes' degree-6 polynomial (≈1 ulp), scaled by
 * 2^n in two steps so subnormal results are rounded once. */
ACT_INLINE VF exp_v(VF x, VF lo) {
    /* max/min return their second operand when either is NaN: NaN passes */
    x = F_MAX(F_SET1(-104.0f), x);
    x = F_MIN(F_SET1(88.8f), x);
    VF n = F_ROUND(F_MUL(x, F_SET1(1.44269504088896341f)));
    VF r = F_FNMA(n, F_SET1(0.693359375f), x);
    r = F_FNMA(n, F_SET1(-2.12194440e-4f), r);
    r = F_ADD(r, lo);
    VF p = F_SET1(1.9875691500e-4f);
    p = F_FMA(p, r, F_SET1(1.3981999507e-3f));
    p = F_FMA(p, r, F_SET1(8.3334519073e-3f));
    p = F_FMA(p, r, F_SET1(4.1665795894e-2f));
    p = F_FMA(p, r, F_SET1(1.6666665459e-1f));
    p = F_FMA(p, r, F_SET1(5.0000001201e-1f));
    p = F_FMA(p, F_MUL(r, r), r);
    p = F_ADD(p, F_SET1(1.0f));
    return F_EXP2I(p, n);
}

/* s = σ(z), t = 1 − σ(z), from e = exp(−|z|). */
ACT_INLINE void sigmoid_v(VF z, VF *s, VF *t) {
    const VF one = F_SET1(1.0f), sign = F_SET1(-0.0f);
    VF e = exp_v(F_OR(z, sign), F_ZERO());
    VF d = F_DIV(one, F_ADD(one, e));
    VF ed = F_MUL(e, d);
    VM neg = F_LT(z, F_ZERO());
    *s = F_BLEND(neg, d, ed);
    *t = F_BLEND(neg, ed, d);
}

/* ---- exact GELU in double, VF_LANES / 2 lanes: Φ(x) from erfc, with a = |x|/√2:
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
ACT_INLINE VD exp_neg_d(VD s) {
    const VD lim = D_SET1(-707.0);
    VMD under = D_LT(s, lim), nan = D_UNORD(s, s);
    VD v = D_MAX(lim, s);
    VD n = D_ROUND(D_MUL(v, D_SET1(1.44269504088896338700)));
    VD r = D_FNMA(n, D_SET1(6.93147180369123816490e-01), v);
    r = D_FNMA(n, D_SET1(1.90821492927058770002e-10), r);
    static const double inv_fact[12] = {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040,
                                        1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800};
    VD p = D_SET1(inv_fact[11]);
    for (int k = 10; k >= 0; k--) p = D_FMA(p, r, D_SET1(inv_fact[k]));
    VD e = D_MASKZ_NOT(under, D_EXP2I(p, n));
    return D_BLEND(nan, e, s);
}

ACT_INLINE void gelu_d(VD x, VD *y, VD *d) {
    const VD zero = D_ZERO(), k = D_SET1(3.0);
    VD e = exp_neg_d(D_MUL(D_MUL(D_SET1(-0.5), x), x));
    VD a = D_MUL(D_ANDNOT(D_SET1(-0.0), x), D_SET1(0.70710678118654752440));
    VD t = D_DIV(D_SUB(a, k), D_ADD(a, k)), t2 = D_ADD(t, t);
    /* Clenshaw: b_j = c_j + 2t·b_(j+1) − b_(j+2);  erfcx = c_0 + t·b_1 − b_2 */
    VD b1 = zero, b2 = zero;
    for (int j = (int)(sizeof erfcx_cheb / sizeof erfcx_cheb[0]) - 1; j >= 1; j--) {
        VD b0 = D_FMA(t2, b1, D_SUB(D_SET1(erfcx_cheb[j]), b2));
        b2 = b1, b1 = b0;
    }
    VD f = D_FMA(t, b1, D_SUB(D_SET1(erfcx_cheb[0]), b2));
    VD q = D_MUL(D_MUL(D_SET1(0.5), e), f);
    VD cdf = D_BLEND(D_LT(x, zero), D_SUB(D_SET1(1.0), q), q);
    *y = D_MUL(x, cdf);
    *d = D_FMA(x, D_MUL(e, D_SET1(0.39894228040143267794)), cdf);
}

/* GELU-tanh's a = −|2u| (+ 32·ln2 where u < 0), in double, from x widened;
 * see act_v. */
ACT_INLINE VD gelu_tanh_arg_d(VD x) {
    const VD k2 = D_SET1(1.5957691216057308), c = D_SET1(0.044715), one = D_SET1(1.0);
    VD z = D_MUL(D_MUL(D_FMA(D_MUL(c, x), x, one), x), k2);
    return D_ADD(D_OR(z, D_SET1(-0.0)), D_MASKZ(D_LT(z, D_ZERO()), D_SET1(22.18070977791825)));
}

/* y = act(x) and, when d is not NULL, *d = act′(x). */
ACT_INLINE VF act_v(VF x, lam_act act, VF *d) {
    const VF zero = F_ZERO(), one = F_SET1(1.0f);
    VF y, s, t;
    switch (act) {
    case LAM_ACT_RELU:
        if (d) *d = F_MASKZ(F_GT(x, zero), one);
        return F_MAX(zero, x);
    case LAM_ACT_GELU: {
        VD ylo, dlo, yhi, dhi;
        gelu_d(F_LO_D(x), &ylo, &dlo);
        gelu_d(F_HI_D(x), &yhi, &dhi);
        y = D2_F(ylo, yhi);
        if (d) *d = D2_F(dlo, dhi);
        break;
    }
    case LAM_ACT_GELU_TANH: {
        const VF k2 = F_SET1(1.5957691216057308f);
        /* x² capped so the factors stay finite for |x| > 1e15 (where σ is exactly 0 or 1) */
        VF x2 = F_MIN(F_SET1(1e30f), F_MUL(x, x));
        /* a = −|2u|, plus 32·ln2 where u < 0 so that σ(2u) — tiny in the
         * negative tail — is carried scaled by 2^32, clear of the subnormals;
         * formed in double and split into float hi + lo, since a float 2u's
         * rounding (|2u|·2^-24) alone would cost 100+ ulp of e^(2u). */
        VD al = gelu_tanh_arg_d(F_LO_D(x)), ah = gelu_tanh_arg_d(F_HI_D(x));
        VF hi = D2_F(al, ah);
        VF lo = D2_F(D_SUB(al, F_LO_D(hi)), D_SUB(ah, F_HI_D(hi)));
        VM neg = F_LT(x, zero);   /* u < 0 exactly where x < 0 */
        /* where a saturates the exponential (or overflowed to −inf) the correction is moot (or NaN) */
        lo = F_MASKZ(F_LT(F_ANDNOT(F_SET1(-0.0f), hi), F_SET1(200.0f)), lo);
        VF e = exp_v(hi, lo);                                 /* e^(−|2u|), ·2^32 where u < 0 */
        VF down = F_BLEND(neg, one, F_SET1(0x1p-32f));
        VF dd = F_DIV(one, F_ADD(one, F_MUL(e, down)));
        VF ss = F_BLEND(neg, dd, F_MUL(e, dd));               /* σ(2u), ·2^32 where u < 0 */
        t = F_BLEND(neg, F_MUL(e, dd), dd);                   /* 1 − σ(2u) */
        y = F_MUL(F_MUL(x, ss), down);
        if (d) {
            VF du = F_MUL(k2, F_FMA(F_SET1(3.0f * 0.044715f), x2, one));
            *d = F_MUL(F_FMA(F_MUL(F_MUL(x, ss), t), du, ss), down);
        }
        break;
    }
    case LAM_ACT_SILU:
    default:
        sigmoid_v(x, &s, &t);
        y = F_MUL(x, s);
        if (d) *d = F_FMA(s, F_MUL(x, t), s);
        break;
    }
    /* ±∞: the limits (the formulas give ∞·0) */
    VM inf = F_EQ(F_ANDNOT(F_SET1(-0.0f), x), F_SET1(INFINITY));
    if (F_ANY(inf)) {
        VM pos = F_GT(x, zero);
        y = F_BLEND(inf, y, F_MASKZ(pos, x));
        if (d) *d = F_BLEND(inf, *d, F_MASKZ(pos, one));
    }
    return y;
}

/* Loop over n in blocks of VF_LANES with a masked last block; BODY sees i
 * and the mask m (TAIL). */
#define FORV(n, ...)                                                          \
    for (size_t i = 0; i < (n); i += VF_LANES) {                              \
        TAIL_T m = TAIL((n) - i < VF_LANES ? (n) - i : VF_LANES);             \
        __VA_ARGS__                                                           \
    }

/* BODY with A a compile-time copy of act (one loop per activation). */
#define FOR_ACT(act, ...)                                          \
    switch (act) {                                                 \
    case LAM_ACT_RELU: {                                           \
        const lam_act A = LAM_ACT_RELU;                            \
        __VA_ARGS__                                                \
        break;                                                     \
    }                                                              \
    case LAM_ACT_GELU: {                                           \
        const lam_act A = LAM_ACT_GELU;                            \
        __VA_ARGS__                                                \
        break;                                                     \
    }                                                              \
    case LAM_ACT_GELU_TANH: {                                      \
        const lam_act A = LAM_ACT_GELU_TANH;                       \
        __VA_ARGS__                                                \
        break;                                                     \
    }                                                              \
    case LAM_ACT_SILU:                                             \
    default: {                                                     \
        const lam_act A = LAM_ACT_SILU;                            \
        __VA_ARGS__                                                \
        break;                                                     \
    }                                                              \
    }

static void fwd(float *y, const float *x, size_t n, lam_act act) {
    FOR_ACT(act, FORV(n, { ST(y, act_v(LD(x), A, NULL)); }))
}

static void bwd(float *dx, const float *dy, const float *x, size_t n, lam_act act) {
    FOR_ACT(act, FORV(n, {
                VF d;
                act_v(LD(x), A, &d);
                ST(dx, F_MUL(LD(dy), d));
            }))
}

static void bias_act_deriv(float *h, float *a, const float *b, size_t n, lam_act act) {
    FOR_ACT(act, FORV(n, {
                VF v = LD(h), d;
                if (b) v = F_ADD(v, LD(b));
                ST(a, act_v(v, A, &d));
                ST(h, d);
            }))
}

static void gated_fwd(float *g, float *u, float *mo, const float *b1, const float *b3, size_t n, lam_act act) {
    FOR_ACT(act, FORV(n, {
                VF gv = LD(g), uv = LD(u);
                if (b1) {
                    gv = F_ADD(gv, LD(b1));
                    ST(g, gv);
                }
                if (b3) {
                    uv = F_ADD(uv, LD(b3));
                    ST(u, uv);
                }
                ST(mo, F_MUL(act_v(gv, A, NULL), uv));
            }))
}

static void gated_bwd(float *dg, float *du, const float *dm, const float *g, const float *u, size_t n, lam_act act) {
    FOR_ACT(act, FORV(n, {
                VF d, dmv = LD(dm);
                VF a = act_v(LD(g), A, &d);
                ST(du, F_MUL(dmv, a));
                ST(dg, F_MUL(F_MUL(dmv, LD(u)), d));
            }))
}

static void exp_shift(float *y, const float *x, float shift, size_t n) {
    const VF s = F_SET1(shift);
    FORV(n, { ST(y, exp_v(F_SUB(LD(x), s), F_ZERO())); })
}

const lam_act_ukr ACT_UKR_NAME = {fwd, bwd, bias_act_deriv, gated_fwd, gated_bwd, exp_shift};

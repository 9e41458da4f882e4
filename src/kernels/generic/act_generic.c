/* Activation micro-kernels, portable C: each value is evaluated in double
 * and rounded once to float.  See act_ukr.h for the formulas. */
#include "kernels/act_ukr.h"

#include <math.h>

/* σ(z) and 1 − σ(z), both without cancellation. */
static inline void sigmoid_pair(double z, double *s, double *one_minus_s) {
    double e = exp(-fabs(z)), d = 1.0 / (1.0 + e);
    if (z >= 0) {
        *s = d;
        *one_minus_s = e * d;
    } else {
        *s = e * d;
        *one_minus_s = d;
    }
    if (z != z) *s = *one_minus_s = z;
}

void lam_act_eval(double x, lam_act act, double *value, double *deriv) {
    static const double k = 0.7978845608028654;   /* √(2/π) */
    static const double c = 0.044715;
    double s, t;
    switch (act) {
    case LAM_ACT_RELU:
        *value = x > 0 ? x : (x != x ? x : 0.0);
        *deriv = x > 0 ? 1.0 : 0.0;
        break;
    case LAM_ACT_GELU: {
        double cdf = 0.5 * erfc(-x * 0.7071067811865476);
        *value = x * cdf;
        *deriv = cdf + x * exp(-0.5 * x * x) * 0.3989422804014327;
        if (x != x) *deriv = x;
        break;
    }
    case LAM_ACT_GELU_TANH: {
        double u = k * (x + c * x * x * x);
        sigmoid_pair(2.0 * u, &s, &t);
        *value = x * s;
        *deriv = s + x * s * t * 2.0 * k * (1.0 + 3.0 * c * x * x);
        break;
    }
    case LAM_ACT_SILU:
    default:
        sigmoid_pair(x, &s, &t);
        *value = x * s;
        *deriv = s * (1.0 + x * t);
        break;
    }
    if (isinf(x) && act != LAM_ACT_RELU) {   /* the limits (the formulas give ∞·0) */
        *value = x > 0 ? x : 0.0;
        *deriv = x > 0 ? 1.0 : 0.0;
    }
}

static void fwd(float *y, const float *x, size_t n, lam_act act) {
    double v, d;
    for (size_t i = 0; i < n; i++) {
        lam_act_eval(x[i], act, &v, &d);
        y[i] = (float)v;
    }
}

static void bwd(float *dx, const float *dy, const float *x, size_t n, lam_act act) {
    double v, d;
    for (size_t i = 0; i < n; i++) {
        lam_act_eval(x[i], act, &v, &d);
        dx[i] = (float)((double)dy[i] * d);
    }
}

static void bias_act_deriv(float *h, float *a, const float *b, size_t n, lam_act act) {
    double v, d;
    for (size_t i = 0; i < n; i++) {
        float x = b ? h[i] + b[i] : h[i];
        lam_act_eval(x, act, &v, &d);
        a[i] = (float)v;
        h[i] = (float)d;
    }
}

static void gated_fwd(float *g, float *u, float *m, const float *b1, const float *b3, size_t n, lam_act act) {
    double v, d;
    for (size_t i = 0; i < n; i++) {
        if (b1) g[i] += b1[i];
        if (b3) u[i] += b3[i];
        lam_act_eval(g[i], act, &v, &d);
        m[i] = (float)v * u[i];
    }
}

static void gated_bwd(float *dg, float *du, const float *dm, const float *g, const float *u, size_t n, lam_act act) {
    double v, d;
    for (size_t i = 0; i < n; i++) {
        lam_act_eval(g[i], act, &v, &d);
        float dmi = dm[i];
        du[i] = dmi * (float)v;
        dg[i] = (float)((double)(dmi * u[i]) * d);
    }
}

static void exp_shift(float *y, const float *x, float shift, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (float)exp((double)x[i] - shift);
}

const lam_act_ukr lam_act_ukr_generic = {fwd, bwd, bias_act_deriv, gated_fwd, gated_bwd, exp_shift};

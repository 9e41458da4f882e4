/* Activations against long-double references written independently here
 * (tanh/erfc/exp forms, not the kernels' σ forms), over a dense grid with the
 * tails at ±30, special values, both ISA paths, in place, and thread-count
 * bit identity. */
#include "check.h"
#include "lamina.h"

#include <float.h>
#include <stdint.h>

static const char *act_name[] = {"relu", "gelu", "gelu_tanh", "silu"};

/* value, derivative, and the magnitude of the derivative's leading term (the
 * scale its rounding error is measured against near its root). */
static void ref(long double x, int act, long double *v, long double *d, long double *scale) {
    const long double k = 0.797884560802865355879892119868763737L, c = 0.044715L;
    switch (act) {
    case LAM_ACT_RELU:
        *v = x > 0 ? x : 0;
        *d = x > 0 ? 1 : 0;
        *scale = 1;
        break;
    case LAM_ACT_GELU: {
        long double cdf = 0.5L * erfcl(-x / sqrtl(2.0L));
        *v = x * cdf;
        *d = cdf + x * expl(-0.5L * x * x) / sqrtl(2.0L * 3.14159265358979323846264338327950288L);
        *scale = cdf > fabsl(*d) ? cdf : fabsl(*d);
        break;
    }
    case LAM_ACT_GELU_TANH: {
        long double u = k * (x + c * x * x * x), half;   /* half = 0.5·(1 + tanh u) */
        if (u > -5) half = 0.5L * (1 + tanhl(u));
        else half = expl(2 * u) / (1 + expl(2 * u));
        long double ch = coshl(u);
        *v = x * half;
        *d = half + 0.5L * x * k * (1 + 3 * c * x * x) / (ch * ch);
        *scale = half > fabsl(*d) ? half : fabsl(*d);
        break;
    }
    default: {
        long double s = 1 / (1 + expl(-x));
        *v = x * s;
        *d = s + x * s * (1 - s);
        *scale = s > fabsl(*d) ? s : fabsl(*d);
        break;
    }
    }
}

static void check_grid(const char *isa) {
    const size_t n = 120001;
    float *x = check_alloc(n * 4), *y = check_alloc(n * 4), *dy = check_alloc(n * 4), *dx = check_alloc(n * 4);
    for (size_t i = 0; i < n; i++) x[i] = (float)(-30.0 + 60.0 * (double)i / (double)(n - 1));
    x[n / 2] = 0.0f;
    for (size_t i = 0; i < n; i++) dy[i] = 1.0f;
    for (int act = 0; act < 4; act++) {
        lam_act_forward(y, x, n, (lam_act)act);
        lam_act_backward(dx, dy, x, n, (lam_act)act);
        double worst_f = 0, worst_b = 0;
        size_t at_f = 0, at_b = 0;
        for (size_t i = 0; i < n; i++) {
            long double v, d, sc;
            ref(x[i], act, &v, &d, &sc);
            /* forward: ulps of the correctly rounded value (subnormals: absolute FLT_MIN·2^-23) */
            double ef = fabs((double)y[i] - (double)v) / check_ulp_of((double)v);
            double eb = fabs((double)dx[i] - (double)d) / check_ulp_of((double)sc);
            /* Derivatives below FLT_MIN (GELU-tanh for x < −10.3): σ itself is
             * subnormal there, with few significant bits, and the derivative
             * is σ times a factor up to ~10^3; judge them by absolute error,
             * at most 2^-141 (far below any normal float). */
            if (fabsl(d) < FLT_MIN && fabs((double)dx[i] - (double)d) <= ldexp(1.0, -141)) eb = 0;
            if (!(ef <= worst_f)) { worst_f = ef; at_f = i; }
            if (!(eb <= worst_b)) { worst_b = eb; at_b = i; }
        }
        CHECK(worst_f <= 8.0, "%s %s forward: %.1f ulp at x = %.9g", isa, act_name[act], worst_f, (double)x[at_f]);
        CHECK(worst_b <= 16.0, "%s %s backward: %.1f ulp (of the leading term) at x = %.9g", isa, act_name[act],
              worst_b, (double)x[at_b]);
    }
    free(x); free(y); free(dy); free(dx);
}

/* The negative tails, where 0.5·x·(1 + erf) or (1 + tanh) would cancel to 0. */
static void check_tails(const char *isa) {
    float x[4] = {-10.0f, -8.5f, -5.0f, -12.0f}, y[4], dx[4], one[4] = {1, 1, 1, 1};
    lam_act_forward(y, x, 4, LAM_ACT_GELU);
    lam_act_backward(dx, one, x, 4, LAM_ACT_GELU);
    for (int i = 0; i < 4; i++) {
        long double v, d, sc;
        ref(x[i], LAM_ACT_GELU, &v, &d, &sc);
        CHECK(v != 0 && fabs((double)y[i] / (double)v - 1) < 1e-6, "%s gelu(%g) = %g, want %Lg", isa, (double)x[i],
              (double)y[i], v);
        CHECK(d != 0 && fabs((double)dx[i] / (double)d - 1) < 1e-5, "%s gelu'(%g) = %g, want %Lg", isa, (double)x[i],
              (double)dx[i], d);
    }
    float xs[2] = {-60.0f, -80.0f}, ys[2];
    lam_act_forward(ys, xs, 2, LAM_ACT_SILU);   /* x·e^x: 5e-25, 1.4e-33 */
    for (int i = 0; i < 2; i++) {
        long double v, d, sc;
        ref(xs[i], LAM_ACT_SILU, &v, &d, &sc);
        CHECK(fabs((double)ys[i] / (double)v - 1) < 1e-6, "%s silu(%g) = %g, want %Lg", isa, (double)xs[i],
              (double)ys[i], v);
    }
}

static void check_specials(const char *isa) {
    float x[6] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 1e30f}, y[6], dx[6], one[6] = {1, 1, 1, 1, 1, 1};
    for (int act = 0; act < 4; act++) {
        lam_act_forward(y, x, 6, (lam_act)act);
        lam_act_backward(dx, one, x, 6, (lam_act)act);
        CHECK(y[0] == 0 && y[1] == 0, "%s %s(±0) = %g, %g", isa, act_name[act], y[0], y[1]);
        CHECK(isnan(y[2]), "%s %s(NaN) = %g", isa, act_name[act], y[2]);
        CHECK(y[3] == INFINITY && y[4] == 0, "%s %s(±inf) = %g, %g", isa, act_name[act], y[3], y[4]);
        CHECK(y[5] == 1e30f && dx[5] == 1.0f, "%s %s(1e30) = %g, slope %g", isa, act_name[act], y[5], dx[5]);
        CHECK(dx[3] == 1 && dx[4] == 0, "%s %s'(±inf) = %g, %g", isa, act_name[act], dx[3], dx[4]);
        if (act != LAM_ACT_RELU) CHECK(isnan(dx[2]), "%s %s'(NaN) = %g", isa, act_name[act], dx[2]);
    }
    lam_act_backward(dx, one, x, 2, LAM_ACT_RELU);
    CHECK(dx[0] == 0 && dx[1] == 0, "%s relu'(0) must be 0 (as PyTorch)", isa);
    /* dx = dy·act'(x): a NaN upstream gradient stays where it is */
    float dyn[3] = {NAN, 1, 1}, xs[3] = {0.5f, 0.5f, 0.5f}, d3[3];
    lam_act_backward(d3, dyn, xs, 3, LAM_ACT_GELU_TANH);
    CHECK(isnan(d3[0]) && !isnan(d3[1]) && !isnan(d3[2]), "%s NaN gradient must stay in its element", isa);
}

/* In place (y == x, dx == dy), every length 1..40 (masked tails), and bit
 * identity for 1, 2, 3 threads. */
static void check_inplace_threads(const char *isa) {
    const size_t n = 200003;
    float *x = check_alloc(n * 4), *y[3], *dx[3], *dy = check_alloc(n * 4), *w = check_alloc(n * 4);
    check_fill_normal(x, n, 0, 3, 5);
    check_fill_normal(dy, n, 0, 1, 6);
    for (int act = 0; act < 4; act++) {
        for (int t = 0; t < 3; t++) {
            y[t] = check_alloc(n * 4);
            dx[t] = check_alloc(n * 4);
            lam_set_num_threads(t + 1);
            lam_act_forward(y[t], x, n, (lam_act)act);
            lam_act_backward(dx[t], dy, x, n, (lam_act)act);
        }
        for (int t = 1; t < 3; t++) {
            CHECK(!memcmp(y[0], y[t], n * 4), "%s %s forward differs on %d threads", isa, act_name[act], t + 1);
            CHECK(!memcmp(dx[0], dx[t], n * 4), "%s %s backward differs on %d threads", isa, act_name[act], t + 1);
        }
        memcpy(w, x, n * 4);
        lam_act_forward(w, w, n, (lam_act)act);
        CHECK(!memcmp(w, y[0], n * 4), "%s %s forward in place differs", isa, act_name[act]);
        memcpy(w, dy, n * 4);
        lam_act_backward(w, w, x, n, (lam_act)act);
        CHECK(!memcmp(w, dx[0], n * 4), "%s %s backward in place differs", isa, act_name[act]);
        int tails_ok = 1;
        for (size_t len = 1; len <= 40; len++) {   /* any sub-range gives the same elements */
            float part[40];
            lam_act_forward(part, x + 3, len, (lam_act)act);
            if (memcmp(part, y[0] + 3, len * 4)) tails_ok = 0;
        }
        CHECK(tails_ok, "%s %s: a short range differs from the same elements in a long one", isa, act_name[act]);
        for (int t = 0; t < 3; t++) { free(y[t]); free(dx[t]); }
    }
    lam_set_num_threads(2);
    free(x); free(dy); free(w);
}

/* Identical bits, or both NaN: which NaN's payload an operation passes on
 * depends on its operand order, which the compiler may choose per ISA. */
static int same_bits_or_nans(float a, float b) { return (isnan(a) && isnan(b)) || !memcmp(&a, &b, 4); }

/* The AVX-512 family is the AVX2 family's source at twice the width: every
 * result must be bit-identical, over a sweep of the whole float range (every
 * 65521st bit pattern: both signs, subnormals, ±inf, NaNs), a dense grid
 * over [-40, 40], at every length 1..40 (masked tails), and through the
 * fused FFN (bias + activation + derivative, the gated kernels). */
static void check_families_agree(void) {
    if (lam_set_isa("avx512") != 0 || lam_set_isa("avx2") != 0) {
        printf("avx512 or avx2 not available here: family agreement skipped\n");
        return;
    }
    const size_t sweep = 65554, grid = 160001, n = sweep + grid;
    float *x = check_alloc(n * 4), *dy = check_alloc(n * 4), *out[2][2];
    for (size_t i = 0; i < sweep; i++) {
        uint32_t bits = (uint32_t)(i * 65521u);
        memcpy(&x[i], &bits, 4);
    }
    for (size_t i = 0; i < grid; i++) x[sweep + i] = -40.0f + 80.0f * (float)i / (float)(grid - 1);
    check_fill_normal(dy, n, 0, 1, 9);
    const char *isas[2] = {"avx2", "avx512"};
    for (int act = 0; act < 4; act++) {
        for (int k = 0; k < 2; k++) {
            lam_set_isa(isas[k]);
            out[k][0] = check_alloc(n * 4);
            out[k][1] = check_alloc(n * 4);
            lam_act_forward(out[k][0], x, n, (lam_act)act);
            lam_act_backward(out[k][1], dy, x, n, (lam_act)act);
        }
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += !same_bits_or_nans(out[0][0][i], out[1][0][i]);
        CHECK(bad == 0, "%s forward: avx512 differs from avx2 at %zu of %zu points", act_name[act], bad, n);
        bad = 0;
        for (size_t i = 0; i < n; i++) bad += !same_bits_or_nans(out[0][1][i], out[1][1][i]);
        CHECK(bad == 0, "%s backward: avx512 differs from avx2 at %zu of %zu points", act_name[act], bad, n);
        int tails_ok = 1;
        for (size_t len = 1; len <= 40; len++) {
            float part[40];
            lam_act_forward(part, x + sweep + 7, len, (lam_act)act);   /* avx512 is selected */
            if (memcmp(part, out[0][0] + sweep + 7, len * 4)) tails_ok = 0;
        }
        CHECK(tails_ok, "%s: avx512 on a short range differs from avx2", act_name[act]);
        for (int k = 0; k < 2; k++) { free(out[k][0]); free(out[k][1]); }
    }
    /* the fused FFN's micro-kernels: 37 rows, 11 -> 45, every activation, plain and gated, with biases */
    const size_t R = 37, D = 11, H = 45;
    for (int act = 0; act < 4; act++)
        for (int gated = 0; gated < 2; gated++) {
            float *res[2];
            size_t wl = H * D, np = 3 * wl + 2 * H + D;   /* w1 b1 w3 b3 w2 b2 */
            size_t total = R * D + R * D + np;             /* y, dx, the gradients */
            float *p = check_alloc(np * 4), *cache = check_alloc(3 * R * H * 4);
            check_fill_normal(p, np, 0, 0.4, 11);
            lam_ffn f = {D, H, (lam_act)act, gated, p, p + wl, gated ? p + wl + H : NULL, gated ? p + 2 * wl + H : NULL,
                         p + 2 * wl + 2 * H, p + 3 * wl + 2 * H};
            for (int k = 0; k < 2; k++) {
                lam_set_isa(isas[k]);
                res[k] = check_alloc(total * 4);
                memset(res[k], 0, total * 4);
                float *y = res[k], *dxo = y + R * D, *g = dxo + R * D;
                lam_ffn grad = {D, H, (lam_act)act, gated, g, g + wl, gated ? g + wl + H : NULL,
                                gated ? g + 2 * wl + H : NULL, g + 2 * wl + 2 * H, g + 3 * wl + 2 * H};
                lam_ffn_forward(&f, y, cache, dy, R);   /* input: normal(0, 1) */
                lam_ffn_backward(&f, &grad, dxo, y, dy, cache, R);
            }
            CHECK(!memcmp(res[0], res[1], total * 4), "ffn %s%s: avx512 differs from avx2", act_name[act],
                  gated ? " gated" : "");
            free(res[0]); free(res[1]); free(p); free(cache);
        }
    free(x); free(dy);
}

int main(void) {
    lam_set_num_threads(2);
    check_families_agree();
    const char *isas[3] = {"generic", "avx2", "avx512"};
    for (int k = 0; k < 3; k++) {
        if (!check_isa(isas[k])) continue;
        check_grid(isas[k]);
        check_tails(isas[k]);
        check_specials(isas[k]);
        check_inplace_threads(isas[k]);
    }
    return check_done("activation");
}

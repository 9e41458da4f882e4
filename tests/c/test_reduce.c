/* The fixed-order reductions (kernels/reduce_ukr.h) behind the attention's
 * softmax, the cross-entropy and the gradient norm: every micro-kernel
 * family against a reference written here from the documented order (the
 * same bits: a family choice must change no result), at every length up to
 * 300 and a few beyond, from unaligned starts, with −0, subnormals, huge
 * values, NaN and ±inf; and the sums against long double. */
#include "check.h"
#include "kernels/reduce.h"
#include "kernels/reduce_ukr.h"

#include <math.h>
#include <string.h>

/* The order of reduce_ukr.h, element by element. */
static double ref_dot(const float *x, const float *y, size_t n) {
    double p[16];
    for (int l = 0; l < 16; l++) p[l] = 0.0;
    for (size_t i = 0; i < n; i++) p[i % 16] += y ? (double)x[i] * (double)y[i] : (double)x[i];
    for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) p[l] += p[l + w];
    return p[0];
}

static float ref_max(const float *x, size_t n) {
    float m[16];
    for (int l = 0; l < 16; l++) m[l] = -INFINITY;
    for (size_t i = 0; i < n; i++) m[i % 16] = x[i] > m[i % 16] ? x[i] : m[i % 16];
    float mx = m[0];
    for (int l = 1; l < 16; l++) mx = m[l] > mx ? m[l] : mx;
    return mx;
}

static int same_d(double a, double b) { return !memcmp(&a, &b, sizeof a) || (isnan(a) && isnan(b)); }
static int same_f(float a, float b) { return !memcmp(&a, &b, sizeof a) || (isnan(a) && isnan(b)); }

#define NMAX 4200
static const size_t extra_lens[] = {511, 512, 513, 1000, 4097};

/* Runs every length and offset through family u; kind names the data. */
static void sweep(const lam_reduce_ukr *u, const char *fam, const char *kind, const float *x, const float *y) {
    int bad_dot = 0, bad_sum = 0, bad_max = 0, runs = 0;
    for (size_t k = 0; k <= 300 + sizeof extra_lens / sizeof extra_lens[0]; k++) {
        size_t n = k <= 300 ? k : extra_lens[k - 301];
        for (size_t o = 0; o < 4; o++, runs++) {
            if (!same_d(u->dot_f64(x + o, y + o, n), ref_dot(x + o, y + o, n))) bad_dot++;
            if (!same_d(u->dot_f64(x + o, NULL, n), ref_dot(x + o, NULL, n))) bad_sum++;
            if (n && !same_f(u->max_f32(x + o, n), ref_max(x + o, n))) bad_max++;
        }
    }
    CHECK(!bad_dot, "%s, %s data: dot differs from the documented order in %d of %d runs", fam, kind, bad_dot, runs);
    CHECK(!bad_sum, "%s, %s data: sum differs from the documented order in %d of %d runs", fam, kind, bad_sum, runs);
    CHECK(!bad_max, "%s, %s data: max differs from the documented order in %d of %d runs", fam, kind, bad_max, runs);
}

static void test_family(const char *fam) {
    if (!check_isa(fam)) return;
    const lam_reduce_ukr *u = lam_reduce_ukr_get();
    float *x = check_alloc((NMAX + 8) * sizeof(float)), *y = check_alloc((NMAX + 8) * sizeof(float));
    /* ordinary values of both signs */
    check_fill_normal(x, NMAX + 8, 0.1, 2.0, 11);
    check_fill_normal(y, NMAX + 8, -0.3, 1.5, 12);
    sweep(u, fam, "normal", x, y);
    /* wide magnitudes (1e-30 .. 1e30), −0, subnormals, all-negative stretches for max */
    unsigned long long s = 99;
    for (size_t i = 0; i < NMAX + 8; i++) {
        double e = -30.0 + 60.0 * check_uniform(&s);
        x[i] = (float)((check_uniform(&s) < 0.5 ? -1 : 1) * pow(10.0, e));
        y[i] = (float)(check_uniform(&s) - 0.5);
        if (i % 7 == 3) x[i] = -0.0f;
        if (i % 11 == 5) y[i] = 0x1p-140f;
        if (i % 13 == 0) x[i] = -(float)(i + 1);
    }
    sweep(u, fam, "wide", x, y);
    /* zeros of both signs only: the max's zero keeps the documented sign */
    for (size_t i = 0; i < NMAX + 8; i++) x[i] = (i * 2654435761u) % 3 ? -0.0f : 0.0f;
    sweep(u, fam, "signed-zero", x, y);
    /* a NaN or an inf in the data */
    check_fill_normal(x, NMAX + 8, 0.0, 1.0, 13);
    x[37] = NAN;
    x[300] = INFINITY;
    sweep(u, fam, "nan-inf", x, y);
    CHECK(isnan(u->dot_f64(x, y, 64)) && isnan(u->dot_f64(x, NULL, 64)), "%s: NaN lost", fam);
    CHECK(isinf(u->dot_f64(x + 40, NULL, 300)), "%s: inf lost", fam);
    CHECK(u->max_f32(x + 36, 3) == (x[36] > x[38] ? x[36] : x[38]), "%s: max does not skip a NaN", fam);
    for (size_t i = 0; i < 40; i++) x[i] = -INFINITY;
    CHECK(u->max_f32(x, 40) == -INFINITY, "%s: max of -inf", fam);
    /* accuracy: against long double, positive data (no cancellation) */
    check_fill_normal(x, NMAX + 8, 3.0, 1.0, 14);
    for (size_t i = 0; i < NMAX + 8; i++) x[i] = fabsf(x[i]), y[i] = fabsf(y[i]);
    double worst = 0;
    for (size_t n = 1; n <= NMAX; n += 37) {
        long double r = 0;
        for (size_t i = 0; i < n; i++) r += (long double)x[i] * y[i];
        double e = fabs(u->dot_f64(x, y, n) - (double)r) / (double)r;
        if (e > worst) worst = e;
    }
    CHECK(worst <= 1e-14, "%s: dot relative error %.3g against long double", fam, worst);
    free(x), free(y);
}

int main(void) {
    test_family("generic");
    test_family("avx2");
    test_family("avx512");
    /* the entry points use the selected family */
    float v[5] = {1, 2, 3, 4, 5};
    CHECK(lam_dot_f64(v, v, 5) == 55.0 && lam_dot_f64(v, NULL, 5) == 15.0 && lam_max_f32(v, 5) == 5.0f,
          "entry points");
    return check_done("reduce");
}

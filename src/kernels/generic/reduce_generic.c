/* Fixed-order reductions, portable C (the order is in reduce_ukr.h). */
#include "kernels/reduce_ukr.h"

#include <math.h>

#define P LAM_REDUCE_PARTIALS

static double g_dot_f64(const float *x, const float *y, size_t n) {
    double p[P] = {0};
    size_t i = 0;
    if (y) {
        for (; i + P <= n; i += P)
            for (int l = 0; l < P; l++) p[l] += (double)x[i + l] * (double)y[i + l];
        for (; i < n; i++) p[i % P] += (double)x[i] * (double)y[i];
    } else {
        for (; i + P <= n; i += P)
            for (int l = 0; l < P; l++) p[l] += (double)x[i + l];
        for (; i < n; i++) p[i % P] += (double)x[i];
    }
    for (int w = P / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) p[l] += p[l + w];
    return p[0];
}

static float g_max_f32(const float *x, size_t n) {
    float m[P];
    for (int l = 0; l < P; l++) m[l] = -INFINITY;
    size_t i = 0;
    for (; i + P <= n; i += P)
        for (int l = 0; l < P; l++) m[l] = x[i + l] > m[l] ? x[i + l] : m[l];
    for (; i < n; i++) m[i % P] = x[i] > m[i % P] ? x[i] : m[i % P];
    float mx = m[0];
    for (int l = 1; l < P; l++) mx = m[l] > mx ? m[l] : mx;
    return mx;
}

const lam_reduce_ukr lam_reduce_ukr_generic = {g_dot_f64, g_max_f32};

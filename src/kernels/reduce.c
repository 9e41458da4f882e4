/* Reductions in a fixed order.  lam_dot_f64: element i goes to partial
 * i mod PARTIALS, so the loop runs as independent vector lanes instead of one
 * chain of dependent adds; the partials are added pairwise.  lam_sum_squares:
 * x is cut into REDUCE_CHUNKS chunks (multiples of PARTIALS elements)
 * whatever the thread count, each summed by lam_dot_f64, the chunks added in
 * order. */
#include "kernels/reduce.h"
#include "kernels/kernels_internal.h"

#include <math.h>
#include <omp.h>

#define REDUCE_CHUNKS 64
#define PARTIALS 16

double lam_dot_f64(const float *x, const float *y, size_t n) {
    double p[PARTIALS] = {0};
    size_t i = 0;
    if (y) {
        for (; i + PARTIALS <= n; i += PARTIALS)
            for (int l = 0; l < PARTIALS; l++) p[l] += (double)x[i + l] * (double)y[i + l];
        for (; i < n; i++) p[i % PARTIALS] += (double)x[i] * (double)y[i];
    } else {
        for (; i + PARTIALS <= n; i += PARTIALS)
            for (int l = 0; l < PARTIALS; l++) p[l] += (double)x[i + l];
        for (; i < n; i++) p[i % PARTIALS] += (double)x[i];
    }
    for (int w = PARTIALS / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) p[l] += p[l + w];
    return p[0];
}

float lam_max_f32(const float *x, size_t n) {
    float m[PARTIALS];
    for (int l = 0; l < PARTIALS; l++) m[l] = -INFINITY;
    size_t i = 0;
    for (; i + PARTIALS <= n; i += PARTIALS)
        for (int l = 0; l < PARTIALS; l++) m[l] = x[i + l] > m[l] ? x[i + l] : m[l];
    for (; i < n; i++) m[i % PARTIALS] = x[i] > m[i % PARTIALS] ? x[i] : m[i % PARTIALS];
    float mx = m[0];
    for (int l = 1; l < PARTIALS; l++) mx = m[l] > mx ? m[l] : mx;
    return mx;
}

double lam_sum_squares(const float *x, size_t n) {
    double part[REDUCE_CHUNKS];
    int nt = lam_threads_for(n);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int k = 0; k < REDUCE_CHUNKS; k++) {
        size_t b, e;
        lam_split(n, PARTIALS, REDUCE_CHUNKS, k, &b, &e);
        part[k] = lam_dot_f64(x + b, x + b, e - b);
    }
    double s = 0;
    for (int k = 0; k < REDUCE_CHUNKS; k++) s += part[k];
    return s;
}

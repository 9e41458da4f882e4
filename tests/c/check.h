/* A minimal test harness: CHECK records a failure with its place and goes
 * on; check_done() prints "N passed, N failed" and gives the exit status. */
#ifndef LAMINA_CHECK_H
#define LAMINA_CHECK_H

#include "lamina.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_pass_count, check_fail_count;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (cond) {                                                          \
            check_pass_count++;                                              \
        } else {                                                             \
            check_fail_count++;                                              \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

/* Selects the kernel family `isa` ("generic", "avx2", "avx512"); 0, with a
 * line saying so, when this CPU lacks it. */
static inline int check_isa(const char *isa) {
    if (lam_set_isa(isa) == 0) return 1;
    printf("isa %s not available here: skipped\n", isa);
    return 0;
}

/* The float32 ulp at a (subnormals: that of FLT_MIN, 2^-149). */
static inline double check_ulp_of(double a) {
    double m = fabs(a) < FLT_MIN ? FLT_MIN : fabs(a);
    int e;
    frexp(m, &e);
    return ldexp(1.0, e - 24);
}

static inline int check_done(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, check_pass_count, check_fail_count);
    return check_fail_count ? 1 : 0;
}

/* Deterministic test data: splitmix64 and Box-Muller. */
static inline unsigned long long check_rng_next(unsigned long long *s) {
    unsigned long long z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static inline double check_uniform(unsigned long long *s) {   /* (0, 1) */
    return ((double)(check_rng_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static inline double check_normal(unsigned long long *s) {
    double u = check_uniform(s), v = check_uniform(s);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}
static inline void check_fill_normal(float *x, size_t n, double mean, double std, unsigned long long seed) {
    unsigned long long s = seed;
    for (size_t i = 0; i < n; i++) x[i] = (float)(mean + std * check_normal(&s));
}
static inline void *check_alloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) { fprintf(stderr, "out of memory (%zu bytes)\n", bytes); exit(2); }
    return p;
}

/* max |a - b| / max(max |b|, floor): error relative to the tensor's scale. */
static inline double check_rel_err_f64(const float *a, const double *b, size_t n, double floor_) {
    double scale = floor_, err = 0;
    for (size_t i = 0; i < n; i++) if (fabs(b[i]) > scale) scale = fabs(b[i]);
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= err)) err = e;   /* NaN propagates */
    }
    return err / scale;
}

#endif

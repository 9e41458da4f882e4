/* Timing helpers shared by the benchmarks. */
#define _POSIX_C_SOURCE 200809L
#include "cli/cli.h"
#include "lamina.h"

#include <errno.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void *bench_alloc(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) {
        fprintf(stderr, "lamina: out of memory allocating %zu bytes\n", bytes);
        exit(1);
    }
    return p;
}

void bench_touch(float *p, size_t n, float value) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) p[i] = value;
}

double bench_copy_bandwidth(size_t bytes, int reps) {
    size_t n = bytes / sizeof(float);
    float *a = bench_alloc(n * sizeof(float)), *b = bench_alloc(n * sizeof(float));
    bench_touch(a, n, 1.0f);
    bench_touch(b, n, 0.0f);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
#pragma omp parallel
        {
            int nt = omp_get_num_threads(), t = omp_get_thread_num();
            size_t lo = n * (size_t)t / (size_t)nt, hi = n * (size_t)(t + 1) / (size_t)nt;
            memcpy(b + lo, a + lo, (hi - lo) * sizeof(float));
        }
        double dt = bench_now() - t0;
        if (dt < best) best = dt;
    }
    volatile float sink = b[n / 2];
    (void)sink;
    free(a);
    free(b);
    return 2.0 * (double)(n * sizeof(float)) / best;
}

static int parse_int(const char *flag, const char *s, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "lamina bench: %s expects an integer in [%ld, %ld], got '%s'\n", flag, lo, hi, s);
        return 2;
    }
    *out = (int)v;
    return 0;
}

int bench_parse_common(int argc, char **argv, int *threads, int *reps, int *json) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            *json = 1;
        } else if (!strcmp(a, "--threads") || !strcmp(a, "--reps")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "lamina bench: %s needs a value\n", a);
                return 2;
            }
            int rc = !strcmp(a, "--threads") ? parse_int(a, argv[++i], 1, 1024, threads)
                                             : parse_int(a, argv[++i], 1, 100000, reps);
            if (rc) return rc;
        } else {
            fprintf(stderr, "lamina bench: unknown option '%s'\n", a);
            return 2;
        }
    }
    return 0;
}

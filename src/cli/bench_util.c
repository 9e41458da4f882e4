/* Timing helpers shared by the benchmarks. */
#define _POSIX_C_SOURCE 200809L
#include "cli/args.h"
#include "cli/cli.h"
#include "kernels/memory.h"
#include "lamina.h"

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
    void *p = lam_alloc_floats((bytes + sizeof(float) - 1) / sizeof(float), 0);   /* as the library's own buffers */
    if (!p) {
        fprintf(stderr, "lamina: out of memory allocating %zu bytes\n", bytes);
        exit(1);
    }
    return p;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bench_sort(double *t, size_t n) { qsort(t, n, sizeof(double), cmp_double); }

double bench_median(double *t, size_t n) {
    bench_sort(t, n);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
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

int bench_parse_common(int argc, char **argv, int *threads, int *reps, int *json) {
    long long t = *threads, r = *reps;
    cli_flag flags[] = {
        CLI_FLAG_INT("--threads", &t, 1, 1024, "N", "threads (default: all cores)"),
        CLI_FLAG_INT("--reps", &r, 1, 100000, "N", "repetitions; best and median are reported"),
        CLI_FLAG_SWITCH("--json", json, "one JSON object instead of the table"),
    };
    int rc = cli_parse("bench", flags, sizeof flags / sizeof flags[0], argc, argv, NULL, 0, NULL);
    if (rc == CLI_HELP) {
        printf("usage: lamina bench WHAT [options]\n");
        cli_print_flags(stdout, flags, sizeof flags / sizeof flags[0]);
        return CLI_HELP;
    }
    *threads = (int)t;
    *reps = (int)r;
    return rc;
}

/* lamina bench norm [--threads N] [--reps N] [--json]
 *
 * LayerNorm and RMSNorm, forward and forward+backward, at 4096x768 and
 * 16384x1024: best and median time over the reps, bytes moved per second and
 * the ratio to the memory-copy bandwidth measured in the same run over
 * buffers of the same size as x.
 * Bytes counted (fp32, n = rows·dim; per-row mean/rstd and the per-column
 * gamma/beta/dgamma/dbeta are ignored):
 *   forward           read x, write y                          = 2·4n
 *   forward+backward  the forward, then read x, dy, write dx   = 5·4n
 * The backward also accumulates dgamma (and dbeta for LayerNorm). */
#include "cli/cli.h"
#include "lamina.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *op, *pass;
    size_t rows, dim;
    double best, median, bytes, copy_bw;
} bench_row;

int cli_bench_norm(int argc, char **argv) {
    int threads = omp_get_num_procs(), reps = 20, json = 0;
    if (argc > 0 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        printf("usage: lamina bench norm [--threads N] [--reps N] [--json]\n");
        return 0;
    }
    int rc = bench_parse_common(argc, argv, &threads, &reps, &json);
    if (rc) return rc < 0 ? 0 : rc; /* CLI_HELP: usage printed */
    lam_set_num_threads(threads);

    static const size_t shapes[2][2] = {{4096, 768}, {16384, 1024}};
    bench_row res[8];
    int nres = 0;
    double *times = bench_alloc((size_t)reps * sizeof(double));
    for (int s = 0; s < 2; s++) {
        size_t rows = shapes[s][0], dim = shapes[s][1], n = rows * dim;
        float *x = bench_alloc(n * sizeof(float)), *y = bench_alloc(n * sizeof(float));
        float *dy = bench_alloc(n * sizeof(float)), *dx = bench_alloc(n * sizeof(float));
        float *g = bench_alloc(dim * sizeof(float)), *b = bench_alloc(dim * sizeof(float));
        float *dg = bench_alloc(dim * sizeof(float)), *db = bench_alloc(dim * sizeof(float));
        float *mean = bench_alloc(rows * sizeof(float)), *rstd = bench_alloc(rows * sizeof(float));
        bench_touch(y, n, 0.0f);
        bench_touch(dx, n, 0.0f);
        bench_touch(mean, rows, 0.0f);
        bench_touch(rstd, rows, 0.0f);
        /* varied data (the kernels' speed does not depend on values, but keep them realistic) */
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            unsigned h = (unsigned)(i * 2654435761u);
            x[i] = (float)((h >> 8) & 0xffff) * (1.0f / 32768.0f) - 1.0f + 0.001f * (float)(i % dim);
            dy[i] = (float)((h >> 4) & 0xfff) * (1.0f / 2048.0f) - 1.0f;
        }
        for (size_t j = 0; j < dim; j++) g[j] = 1.0f + 0.01f * (float)(j % 7), b[j] = 0.1f, dg[j] = db[j] = 0.0f;
        double copy_bw = bench_copy_bandwidth(n * sizeof(float), reps > 5 ? reps : 5);
        for (int op = 0; op < 2; op++)
            for (int pass = 0; pass < 2; pass++) {
                for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
                    double t0 = bench_now();
                    if (op == 0) {
                        lam_layernorm_forward(y, mean, rstd, x, g, b, rows, dim, 1e-5f);
                        if (pass) lam_layernorm_backward(dx, dg, db, dy, x, g, mean, rstd, rows, dim);
                    } else {
                        lam_rmsnorm_forward(y, rstd, x, g, rows, dim, 1e-5f);
                        if (pass) lam_rmsnorm_backward(dx, dg, dy, x, g, rstd, rows, dim);
                    }
                    double dt = bench_now() - t0;
                    if (r >= 0) times[r] = dt;
                }
                double median = bench_median(times, (size_t)reps);
                bench_row *o = &res[nres++];
                o->op = op ? "rmsnorm" : "layernorm";
                o->pass = pass ? "forward+backward" : "forward";
                o->rows = rows, o->dim = dim;
                o->best = times[0];
                o->median = median;
                o->bytes = (pass ? 5.0 : 2.0) * 4.0 * (double)n;
                o->copy_bw = copy_bw;
            }
        volatile float sink = y[n / 2] + dx[n / 2] + dg[0];
        (void)sink;
        free(x), free(y), free(dy), free(dx), free(g), free(b), free(dg), free(db), free(mean), free(rstd);
    }
    free(times);

    if (json) {
        printf("{\"bench\": \"norm\", \"threads\": %d, \"reps\": %d, \"isa\": \"%s\", \"results\": [", threads, reps,
               lam_isa());
        for (int i = 0; i < nres; i++) {
            bench_row *o = &res[i];
            double bw = o->bytes / o->best;
            printf("%s\n  {\"op\": \"%s\", \"pass\": \"%s\", \"rows\": %zu, \"dim\": %zu, \"best_ms\": %.4f, "
                   "\"median_ms\": %.4f, \"bytes\": %.0f, \"gbytes_per_s\": %.3f, \"copy_gbytes_per_s\": %.3f, "
                   "\"ratio_to_copy\": %.3f}",
                   i ? "," : "", o->op, o->pass, o->rows, o->dim, 1e3 * o->best, 1e3 * o->median, o->bytes, bw / 1e9,
                   o->copy_bw / 1e9, bw / o->copy_bw);
        }
        printf("\n]}\n");
    } else {
        printf("lamina bench norm: threads %d, reps %d, isa %s\n", threads, reps, lam_isa());
        printf("bytes counted: forward = read x + write y (8 B/elem); forward+backward = that + read x, dy + "
               "write dx (20 B/elem)\n");
        printf("copy = memcpy bandwidth over buffers the size of x, same run; GB/s at the best time\n");
        printf("%-10s %-17s %12s %10s %10s %8s %8s %7s\n", "op", "pass", "shape", "best ms", "median ms", "GB/s",
               "copy", "ratio");
        for (int i = 0; i < nres; i++) {
            bench_row *o = &res[i];
            char shape[32];
            snprintf(shape, sizeof shape, "%zux%zu", o->rows, o->dim);
            double bw = o->bytes / o->best;
            printf("%-10s %-17s %12s %10.3f %10.3f %8.1f %8.1f %7.2f\n", o->op, o->pass, shape, 1e3 * o->best,
                   1e3 * o->median, bw / 1e9, o->copy_bw / 1e9, bw / o->copy_bw);
        }
    }
    return 0;
}

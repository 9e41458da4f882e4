/* lamina bench act [--threads N] [--reps N] [--n N] [--json]
 *
 * The activations (lam_act_forward, lam_act_backward) over n elements
 * (default 12,582,912 = 4096 rows × 3072, the FFN benchmark's hidden layer)
 * with every micro-kernel family this CPU has (generic, avx2, avx512),
 * the families taking turns within each repetition so that a noisy machine
 * slows them alike; best and median times, and the time of a parallel
 * memcpy of the same bytes in the same run (forward reads x and writes y:
 * 2·4n bytes; backward reads dy, x and writes dx: 3·4n) — the memory roof
 * an elementwise pass cannot beat. */
#include "cli/args.h"
#include "cli/cli.h"
#include "lamina.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_bench_act(int argc, char **argv) {
    static const char *const isas[] = {"generic", "avx2", "avx512"};
    static const char *const acts[] = {"relu", "gelu", "gelu_tanh", "silu"};
    long long threads = omp_get_num_procs(), reps = 5, n_ll = 4096LL * 3072;
    int json = 0;
    cli_flag flags[] = {
        CLI_FLAG_INT("--threads", &threads, 1, 1024, "N", "threads (all cores)"),
        CLI_FLAG_INT("--reps", &reps, 1, 100000, "N", "timed repetitions after one warm-up (5)"),
        CLI_FLAG_INT("--n", &n_ll, 1, 1LL << 31, "N", "elements (12582912 = 4096 x 3072)"),
        CLI_FLAG_SWITCH("--json", &json, "print one JSON object"),
    };
    size_t nflags = sizeof flags / sizeof flags[0];
    int rc = cli_parse("bench act", flags, nflags, argc, argv, NULL, 0, NULL);
    if (rc == CLI_HELP) {
        printf("usage: lamina bench act [options]\n\nActivations forward and backward with every micro-kernel "
               "family this CPU has, beside memcpy of the same bytes, same run.\n\n");
        cli_print_flags(stdout, flags, nflags);
        return 0;
    }
    if (rc) return rc;
    lam_set_num_threads((int)threads);
    size_t n = (size_t)n_ll;
    char in_use[16];
    snprintf(in_use, sizeof in_use, "%s", lam_isa());
    int have[3];
    for (int k = 0; k < 3; k++) have[k] = lam_set_isa(isas[k]) == 0;

    float *x = bench_alloc(n * sizeof(float)), *y = bench_alloc(n * sizeof(float));
    float *dy = bench_alloc(n * sizeof(float)), *dx = bench_alloc(n * sizeof(float));
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {   /* spread over [-8, 8): both tails and the curved middle */
        unsigned h = (unsigned)(i * 2654435761u);
        x[i] = (float)((h >> 8) & 0xffff) * (16.0f / 65536.0f) - 8.0f;
        dy[i] = (float)((h >> 4) & 0xff) * (1.0f / 128.0f) - 1.0f;
    }
    bench_touch(y, n, 0.0f);
    bench_touch(dx, n, 0.0f);
    double copy_fwd = 2.0 * 4.0 * (double)n / bench_copy_bandwidth(n * sizeof(float), 5);
    double copy_bwd = 1.5 * copy_fwd;

    int R = (int)reps;
    double *t = bench_alloc((size_t)R * 3 * 4 * 2 * sizeof(double));   /* [act][isa][pass][rep] */
#define T(a, k, p, r) t[((((size_t)(a) * 3 + (size_t)(k)) * 2 + (size_t)(p)) * (size_t)R) + (size_t)(r)]
    for (int a = 0; a < 4; a++)
        for (int r = -1; r < R; r++)
            for (int k = 0; k < 3; k++) {
                if (!have[k]) continue;
                lam_set_isa(isas[k]);
                double t0 = bench_now();
                lam_act_forward(y, x, n, (lam_act)a);
                double t1 = bench_now();
                lam_act_backward(dx, dy, x, n, (lam_act)a);
                double t2 = bench_now();
                if (r >= 0) T(a, k, 0, r) = t1 - t0, T(a, k, 1, r) = t2 - t1;
            }
    lam_set_isa(in_use);

    double best[4][3][2] = {{{0}}}, med[4][3][2] = {{{0}}};
    for (int a = 0; a < 4; a++)
        for (int k = 0; k < 3; k++)
            for (int p = 0; p < 2 && have[k]; p++) {
                med[a][k][p] = bench_median(&T(a, k, p, 0), (size_t)R);
                best[a][k][p] = T(a, k, p, 0);
            }
#undef T
    if (json) {
        printf("{\"bench\": \"act\", \"threads\": %lld, \"reps\": %d, \"n\": %zu, \"isa\": \"%s\", "
               "\"copy_forward_ms\": %.3f, \"copy_backward_ms\": %.3f, \"results\": [",
               threads, R, n, in_use, 1e3 * copy_fwd, 1e3 * copy_bwd);
        int first = 1;
        for (int a = 0; a < 4; a++)
            for (int k = 0; k < 3; k++)
                for (int p = 0; p < 2 && have[k]; p++) {
                    printf("%s\n  {\"act\": \"%s\", \"isa\": \"%s\", \"pass\": \"%s\", \"best_ms\": %.3f, "
                           "\"median_ms\": %.3f}",
                           first ? "" : ",", acts[a], isas[k], p ? "backward" : "forward", 1e3 * best[a][k][p],
                           1e3 * med[a][k][p]);
                    first = 0;
                }
        printf("\n]}\n");
    } else {
        printf("lamina bench act: %zu elements, threads %lld, reps %d, families taking turns (in use: %s)\n", n,
               threads, R, in_use);
        printf("best ms (median); memcpy of the same bytes: forward %.2f ms, backward %.2f ms\n", 1e3 * copy_fwd,
               1e3 * copy_bwd);
        printf("%-10s %-9s", "act", "pass");
        for (int k = 0; k < 3; k++)
            if (have[k]) printf(" %17s", isas[k]);
        printf("\n");
        for (int a = 0; a < 4; a++)
            for (int p = 0; p < 2; p++) {
                printf("%-10s %-9s", acts[a], p ? "backward" : "forward");
                for (int k = 0; k < 3; k++) {
                    if (!have[k]) continue;
                    char cell[40];
                    snprintf(cell, sizeof cell, "%.2f (%.2f)", 1e3 * best[a][k][p], 1e3 * med[a][k][p]);
                    printf(" %17s", cell);
                }
                printf("\n");
            }
    }
    free(t);
    free(x);
    free(y);
    free(dy);
    free(dx);
    return 0;
}

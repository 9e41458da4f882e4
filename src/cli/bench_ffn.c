/* lamina bench ffn [--threads N] [--reps N] [--json] [--rows N] [--dim N] [--hidden N] [--act NAME] [--gated]
 *
 * The fused feed-forward layer, forward and forward+backward, beside the
 * same GEMMs called bare through lam_gemm in the same run (six for the plain
 * layer: x·w1ᵀ, a·w2ᵀ; dyᵀ·a, dy·w2, dhᵀ·x, dh·w1; nine gated), with the
 * best and median times, GFLOP/s (2·rows·dim·hidden per GEMM) and the ratio
 * FFN / bare GEMMs (1.0 = everything but the GEMMs is free).  Default:
 * 4096 rows, 768 -> 3072 -> 768, GELU-tanh. */
#include "cli/args.h"
#include "cli/cli.h"
#include "kernels/gemm.h"
#include "lamina.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill(float *p, size_t n, float scale, unsigned seed) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        unsigned h = (unsigned)(i * 2654435761u) ^ (seed * 0x9E3779B9u);
        h ^= h >> 15;
        h *= 0x2C1B3C6Du;
        h ^= h >> 12;
        p[i] = scale * ((float)(h & 0xffff) * (1.0f / 32768.0f) - 1.0f);
    }
}

int cli_bench_ffn(int argc, char **argv) {
    static const char *const acts[] = {"relu", "gelu", "gelu_tanh", "silu", NULL};
    long long threads = omp_get_num_procs(), reps = 5, rows = 4096, dim = 768, hidden = 3072;
    int json = 0, act = LAM_ACT_GELU_TANH, gated = 0;
    cli_flag flags[] = {
        CLI_FLAG_INT("--threads", &threads, 1, 1024, "N", "threads (all cores)"),
        CLI_FLAG_INT("--reps", &reps, 1, 100000, "N", "timed repetitions after one warm-up (5)"),
        CLI_FLAG_SWITCH("--json", &json, "print one JSON object"),
        CLI_FLAG_INT("--rows", &rows, 1, 1 << 24, "N", "rows (tokens) (4096)"),
        CLI_FLAG_INT("--dim", &dim, 1, 1 << 16, "N", "model width (768)"),
        CLI_FLAG_INT("--hidden", &hidden, 1, 1 << 18, "N", "hidden width (3072)"),
        CLI_FLAG_CHOICE("--act", &act, acts, "NAME", "relu|gelu|gelu_tanh|silu (gelu_tanh)"),
        CLI_FLAG_SWITCH("--gated", &gated, "gated layer (act(x·w1ᵀ) ⊙ x·w3ᵀ)"),
    };
    size_t nflags = sizeof flags / sizeof flags[0], npos;
    const char *pos[1];
    int rc = cli_parse("bench ffn", flags, nflags, argc, argv, pos, 0, &npos);
    if (rc == CLI_HELP) {
        printf("usage: lamina bench ffn [options]\n\nThe fused FFN beside its bare GEMMs, same run.\n\n");
        cli_print_flags(stdout, flags, nflags);
        return 0;
    }
    if (rc) return rc;
    lam_set_num_threads((int)threads);
    size_t R = (size_t)rows, D = (size_t)dim, H = (size_t)hidden;
    if ((double)R * (double)H * (gated ? 5.0 : 3.0) * 4.0 > 16e9) {
        fprintf(stderr, "lamina bench ffn: rows x hidden too large for a benchmark (> 16 GB of buffers)\n");
        return 2;
    }
    float *x = bench_alloc(R * D * 4), *y = bench_alloc(R * D * 4), *dy = bench_alloc(R * D * 4),
          *dx = bench_alloc(R * D * 4);
    float *w1 = bench_alloc(H * D * 4), *w3 = bench_alloc(H * D * 4), *w2 = bench_alloc(D * H * 4);
    float *b1 = bench_alloc(H * 4), *b3 = bench_alloc(H * 4), *b2 = bench_alloc(D * 4);
    float *gw1 = bench_alloc(H * D * 4), *gw3 = bench_alloc(H * D * 4), *gw2 = bench_alloc(D * H * 4);
    float *gb1 = bench_alloc(H * 4), *gb3 = bench_alloc(H * 4), *gb2 = bench_alloc(D * 4);
    lam_ffn f = {D, H, (lam_act)act, gated, w1, b1, gated ? w3 : NULL, gated ? b3 : NULL, w2, b2};
    lam_ffn g = {D, H, (lam_act)act, gated, gw1, gb1, gated ? gw3 : NULL, gated ? gb3 : NULL, gw2, gb2};
    size_t nc = lam_ffn_cache_floats(&f, R), nw = lam_ffn_work_floats(&f, R);
    float *cache = bench_alloc(nc * 4), *work = bench_alloc(nw * 4);
    /* buffers for the bare GEMMs: the same shapes, separate memory */
    float *h1 = bench_alloc(R * H * 4), *h3 = bench_alloc(R * H * 4);
    fill(x, R * D, 1.0f, 1), fill(dy, R * D, 1.0f, 2), fill(w1, H * D, 0.04f, 3), fill(w3, H * D, 0.04f, 4);
    fill(w2, D * H, 0.02f, 5), fill(b1, H, 0.1f, 6), fill(b3, H, 0.1f, 7), fill(b2, D, 0.1f, 8);
    bench_touch(y, R * D, 0), bench_touch(dx, R * D, 0), bench_touch(cache, nc, 0), bench_touch(work, nw, 0);
    bench_touch(gw1, H * D, 0), bench_touch(gw3, H * D, 0), bench_touch(gw2, D * H, 0);
    bench_touch(gb1, H, 0), bench_touch(gb3, H, 0), bench_touch(gb2, D, 0), bench_touch(h1, R * H, 0), bench_touch(h3, R * H, 0);

    int n = (int)reps;
    double *tf = bench_alloc((size_t)n * 8), *tb = bench_alloc((size_t)n * 8), *gf = bench_alloc((size_t)n * 8),
           *gb = bench_alloc((size_t)n * 8), *gt = bench_alloc((size_t)n * 8);
    /* interleaved, so that a noisy moment hits both alike */
    for (int r = -1; r < n; r++) {
        double t0 = bench_now();
        lam_ffn_forward(&f, y, cache, x, R);
        double t1 = bench_now();
        lam_ffn_backward_ws(&f, &g, dx, dy, x, cache, R, work);
        double t2 = bench_now();
        /* forward GEMMs */
        lam_gemm(LAM_NO_TRANS, LAM_TRANS, R, H, D, 1.0f, x, D, w1, D, 0.0f, h1, H);
        if (gated) lam_gemm(LAM_NO_TRANS, LAM_TRANS, R, H, D, 1.0f, x, D, w3, D, 0.0f, h3, H);
        lam_gemm(LAM_NO_TRANS, LAM_TRANS, R, D, H, 1.0f, h1, H, w2, H, 0.0f, y, D);
        double t3 = bench_now();
        /* backward GEMMs */
        lam_gemm(LAM_TRANS, LAM_NO_TRANS, D, H, R, 1.0f, dy, D, h1, H, 1.0f, gw2, H);
        lam_gemm(LAM_NO_TRANS, LAM_NO_TRANS, R, H, D, 1.0f, dy, D, w2, H, 0.0f, h1, H);
        lam_gemm(LAM_TRANS, LAM_NO_TRANS, H, D, R, 1.0f, h1, H, x, D, 1.0f, gw1, D);
        if (gated) lam_gemm(LAM_TRANS, LAM_NO_TRANS, H, D, R, 1.0f, h3, H, x, D, 1.0f, gw3, D);
        lam_gemm(LAM_NO_TRANS, LAM_NO_TRANS, R, D, H, 1.0f, h1, H, w1, D, 0.0f, dx, D);
        if (gated) lam_gemm(LAM_NO_TRANS, LAM_NO_TRANS, R, D, H, 1.0f, h3, H, w3, D, 1.0f, dx, D);
        double t4 = bench_now();
        if (r >= 0) tf[r] = t1 - t0, tb[r] = t2 - t0, gf[r] = t3 - t2, gb[r] = t4 - t3, gt[r] = t4 - t2;
    }
    double flop_gemm = 2.0 * (double)R * (double)D * (double)H;
    double nf = gated ? 3 : 2, nb = gated ? 9 : 6;
    size_t nr = (size_t)n;
    double mf = bench_median(tf, nr), mb = bench_median(tb, nr), mgf = bench_median(gf, nr), mgt = bench_median(gt, nr);
    double bf = tf[0], bb = tb[0], bgf = gf[0], bgt = gt[0];   /* sorted by bench_median() */
    const char *an = acts[act];
    if (json) {
        printf("{\"bench\": \"ffn\", \"threads\": %lld, \"reps\": %d, \"isa\": \"%s\", \"rows\": %zu, \"dim\": %zu, "
               "\"hidden\": %zu, \"act\": \"%s\", \"gated\": %d, \"results\": [\n",
               threads, n, lam_isa(), R, D, H, an, gated);
        printf("  {\"pass\": \"forward\", \"ffn_best_ms\": %.3f, \"ffn_median_ms\": %.3f, \"gemm_best_ms\": %.3f, "
               "\"gemm_median_ms\": %.3f, \"gflops\": %.2f, \"ratio\": %.4f},\n",
               1e3 * bf, 1e3 * mf, 1e3 * bgf, 1e3 * mgf, nf * flop_gemm / mf / 1e9, mf / mgf);
        printf("  {\"pass\": \"forward+backward\", \"ffn_best_ms\": %.3f, \"ffn_median_ms\": %.3f, \"gemm_best_ms\": %.3f, "
               "\"gemm_median_ms\": %.3f, \"gflops\": %.2f, \"ratio\": %.4f}\n]}\n",
               1e3 * bb, 1e3 * mb, 1e3 * bgt, 1e3 * mgt, nb * flop_gemm / mb / 1e9, mb / mgt);
    } else {
        printf("lamina bench ffn: %zu rows, %zu -> %zu -> %zu, %s%s, threads %lld, reps %d, isa %s\n", R, D, H, D, an,
               gated ? " gated" : "", threads, n, lam_isa());
        cli_print_blas_core_note(stdout);
        printf("bare = the same %d GEMMs through lam_gemm, same run; ratio = FFN / bare (medians)\n", (int)nb);
        printf("%-17s %9s %9s %9s %9s %9s %7s\n", "pass", "ffn best", "ffn med", "bare best", "bare med", "GFLOP/s",
               "ratio");
        printf("%-17s %9.1f %9.1f %9.1f %9.1f %9.1f %7.3f\n", "forward", 1e3 * bf, 1e3 * mf, 1e3 * bgf, 1e3 * mgf,
               nf * flop_gemm / mf / 1e9, mf / mgf);
        printf("%-17s %9.1f %9.1f %9.1f %9.1f %9.1f %7.3f\n", "forward+backward", 1e3 * bb, 1e3 * mb,
               1e3 * bgt, 1e3 * mgt, nb * flop_gemm / mb / 1e9, mb / mgt);
        printf("(times in ms)\n");
    }
    free(x), free(y), free(dy), free(dx), free(w1), free(w3), free(w2), free(b1), free(b3), free(b2);
    free(gw1), free(gw3), free(gw2), free(gb1), free(gb3), free(gb2), free(cache), free(work), free(h1), free(h3);
    free(tf), free(tb), free(gf), free(gb), free(gt);
    return 0;
}

/* lamina bench train [--threads N] [--steps N] [--json] [model flags]
 *
 * Times optimizer steps (forward, backward, clipping, AdamW) of the model
 * on random bytes, after one warm-up step, and prints tokens/s, the
 * achieved GFLOP/s and their fraction of the FMA peak measured in the same
 * run.  FLOPs counted per trained token (multiply-add = 2):
 *   6·P + 12·L·T·C
 * with P the weights of the matrix products (attention, MLP and the tied
 * head; not the embeddings' lookups): forward 2·P, backward 4·P; and the
 * attention scores and their mixing, 2·2·T·C per token per layer forward
 * (full T×T, as computed), twice that backward.
 *
 * Beside each step, taking turns with it, the same run times the step's
 * linear-layer products called bare through lam_gemm (forward y = x·wᵀ,
 * backward dx = dy·w and dw += dyᵀ·x for the attention's qkv and output
 * projections, the MLP's and the tied head): the floor that the rest of the
 * step (attention, norms, activations, the loss, AdamW) sits on.  The
 * attention's per-head products are not among them. */
#include "cli/args.h"
#include "cli/cli.h"
#include "kernels/gemm.h"
#include "lamina.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
/* Ten independent FMA chains in registers: the core's FMA throughput, with
 * 8-wide (AVX2) and 16-wide (AVX-512) vectors.  Returns a value that depends
 * on every chain, so the loop is not removed. */
__attribute__((target("avx2,fma"))) static double fma_loop8(long iters) {
    __m256 a[10], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int k = 0; k < 10; k++) a[k] = _mm256_set1_ps((float)k);
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < 10; k++) a[k] = _mm256_fmadd_ps(a[k], m, c);
    float out[8];
    __m256 s = a[0];
    for (int k = 1; k < 10; k++) s = _mm256_add_ps(s, a[k]);
    _mm256_storeu_ps(out, s);
    return out[0];
}
__attribute__((target("avx512f"))) static double fma_loop16(long iters) {
    __m512 a[10], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int k = 0; k < 10; k++) a[k] = _mm512_set1_ps((float)k);
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < 10; k++) a[k] = _mm512_fmadd_ps(a[k], m, c);
    __m512 s = a[0];
    for (int k = 1; k < 10; k++) s = _mm512_add_ps(s, a[k]);
    return _mm512_reduce_add_ps(s);
}

static double fma_rate(int threads, int width) {
    const long iters = 20000000;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = bench_now(), sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += width == 16 ? fma_loop16(iters) : fma_loop8(iters);
        double dt = bench_now() - t0;
        double g = (double)threads * (double)iters * 10 * width * 2 / dt / 1e9;
        if (sink != sink) g = 0;
        if (g > best) best = g;
    }
    return best;
}
#endif

/* The machine's fp32 FMA peak in GFLOP/s over all threads: the faster of the
 * AVX2 and (where the CPU has it) AVX-512 loops, since the BLAS uses the
 * widest vectors it has; 0 off x86 or without AVX2. *width says which. */
static double fma_peak(int threads, int *width) {
    *width = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
    double best = fma_rate(threads, 8);
    *width = 256;
    if (__builtin_cpu_supports("avx512f")) {
        double g = fma_rate(threads, 16);
        if (g > best) best = g, *width = 512;
    }
    return best;
#else
    (void)threads;
    return 0;
#endif
}

/* One step's linear-layer products, bare: N rows, layers of in -> out. */
typedef struct {
    size_t n, lin[8][2], nlin, layers;
    float *x, *w, *y, *g, *dx;
} bare_gemms;

static void bare_add(bare_gemms *b, size_t in, size_t out) {
    b->lin[b->nlin][0] = in, b->lin[b->nlin][1] = out, b->nlin++;
}

/* Returns the FLOPs of one call of bare_run. */
static double bare_init(bare_gemms *b, const lam_model_config *mc, size_t rows) {
    size_t C = mc->dim, H = mc->hidden;
    int gated = mc->act == LAM_MLP_SWIGLU || mc->act == LAM_MLP_GEGLU;
    b->n = rows, b->nlin = 0, b->layers = mc->layers;
    bare_add(b, C, 3 * C);   /* c_attn */
    bare_add(b, C, C);       /* attn.c_proj */
    bare_add(b, C, H);       /* c_fc */
    if (gated) bare_add(b, C, H);   /* c_fc2 */
    bare_add(b, H, C);       /* mlp.c_proj */
    /* the widest output (3C, H or the head's 256) and the largest weight */
    size_t wide = 3 * C > H ? 3 * C : H;
    if (wide < 256) wide = 256;
    size_t wmax = wide * (C > H ? C : H);
    b->x = bench_alloc(rows * wide * sizeof(float));
    b->y = bench_alloc(rows * wide * sizeof(float));
    b->dx = bench_alloc(rows * wide * sizeof(float));
    b->w = bench_alloc(wmax * sizeof(float));
    b->g = bench_alloc(wmax * sizeof(float));
    for (size_t i = 0; i < rows * wide; i++) b->x[i] = (float)(i % 97) * 0.01f, b->y[i] = b->dx[i] = 0.0f;
    for (size_t i = 0; i < wmax; i++) b->w[i] = (float)(i % 89) * 0.001f, b->g[i] = 0.0f;
    double per_layer = 0;
    for (size_t k = 0; k < b->nlin; k++) per_layer += (double)b->lin[k][0] * (double)b->lin[k][1];
    return 6.0 * (double)rows * (per_layer * (double)b->layers + 256.0 * (double)C);
}

static void bare_product(const bare_gemms *b, size_t in, size_t out) {
    size_t N = b->n;
    lam_gemm(LAM_NO_TRANS, LAM_TRANS, N, out, in, 1.0f, b->x, in, b->w, in, 0.0f, b->y, out);      /* y = x·wᵀ */
    lam_gemm(LAM_NO_TRANS, LAM_NO_TRANS, N, in, out, 1.0f, b->y, out, b->w, in, 0.0f, b->dx, in);   /* dx = dy·w */
    lam_gemm(LAM_TRANS, LAM_NO_TRANS, out, in, N, 1.0f, b->y, out, b->x, in, 1.0f, b->g, in);      /* dw += dyᵀ·x */
}

static void bare_run(const bare_gemms *b, size_t C) {
    for (size_t l = 0; l < b->layers; l++)
        for (size_t k = 0; k < b->nlin; k++) bare_product(b, b->lin[k][0], b->lin[k][1]);
    bare_product(b, C, 256);   /* the tied head */
}

static void bare_free(bare_gemms *b) {
    free(b->x);
    free(b->y);
    free(b->w);
    free(b->g);
    free(b->dx);
}

int cli_bench_train(int argc, char **argv) {
    static const char *const norms[] = {"layernorm", "rmsnorm", "batchnorm", "none", NULL};
    static const char *const places[] = {"pre", "post", NULL};
    static const char *const acts[] = {"relu", "gelu", "gelu_tanh", "silu", "swiglu", "geglu", NULL};
    long long threads = omp_get_num_procs(), steps = 5, layers = 4, heads = 4, dim = 256, ctx = 128, batch = 16;
    int json = 0, norm = 0, place = 0, act = 2;
    cli_flag flags[] = {
        CLI_FLAG_INT("--threads", &threads, 1, 1024, "N", "threads (all cores)"),
        CLI_FLAG_INT("--steps", &steps, 1, 100000, "N", "timed steps after one warm-up (5)"),
        CLI_FLAG_SWITCH("--json", &json, "print one JSON object"),
        CLI_FLAG_INT("--layers", &layers, 1, 256, "N", "(4)"),
        CLI_FLAG_INT("--heads", &heads, 1, 1024, "N", "(4)"),
        CLI_FLAG_INT("--dim", &dim, 1, 65536, "N", "(256)"),
        CLI_FLAG_INT("--ctx", &ctx, 1, LAM_MAX_CTX, "N", "(128)"),
        CLI_FLAG_INT("--batch", &batch, 1, 1 << 20, "N", "(16)"),
        CLI_FLAG_CHOICE("--norm", &norm, norms, "NAME", "(layernorm)"),
        CLI_FLAG_CHOICE("--placement", &place, places, "NAME", "(pre)"),
        CLI_FLAG_CHOICE("--act", &act, acts, "NAME", "(gelu_tanh)"),
    };
    size_t nflags = sizeof flags / sizeof flags[0], npos;
    const char *pos[1];
    int rc = cli_parse("bench train", flags, nflags, argc, argv, pos, 0, &npos);
    if (rc == CLI_HELP) {
        printf("usage: lamina bench train [options]\n\nTraining steps: tokens/s, GFLOP/s, fraction of the FMA peak.\n\n");
        cli_print_flags(stdout, flags, nflags);
        return 0;
    }
    if (rc) return rc;
    lam_set_num_threads((int)threads);
    lam_model_config mc;
    lam_model_config_default(&mc);
    mc.layers = (size_t)layers, mc.heads = (size_t)heads, mc.dim = (size_t)dim, mc.ctx = (size_t)ctx;
    mc.norm = (lam_norm)norm, mc.placement = (lam_placement)place, mc.act = (lam_mlp)act;
    lam_train_config tc;
    lam_train_config_default(&tc);
    tc.batch = (size_t)batch, tc.steps = (size_t)steps + 1, tc.warmup = 1;
    lam_error e;
    if (lam_model_config_check(&mc, &e) || lam_train_config_check(&tc, &e)) {
        fprintf(stderr, "lamina bench train: %s\n", e.msg);
        return 2;
    }
    size_t len = (size_t)1 << 20;
    unsigned char *data = bench_alloc(len);
    unsigned long long s = 42;
    for (size_t i = 0; i < len; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        data[i] = (unsigned char)(s >> 56);
    }
    lam_model *m;
    lam_trainer *tr;
    lam_status st = lam_model_create(&m, &mc, tc.batch, 1, &e);
    if (!st) st = lam_trainer_create(&tr, m, &tc, data, len, &e);
    if (st) {
        fprintf(stderr, "lamina bench train: %s\n", e.msg);
        return st == LAM_ERR_ARG ? 2 : 1;
    }
    int peak_width;
    double peak = fma_peak((int)threads, &peak_width);
    double *t = bench_alloc((size_t)steps * sizeof(double));
    bare_gemms bare;
    double bare_flop = bare_init(&bare, &mc, tc.batch * mc.ctx), bare_best = 0;
    lam_step_stats ss;
    for (long long k = -1; k < steps; k++) {
        double t0 = bench_now();
        if (lam_trainer_step(tr, &ss, &e)) {
            fprintf(stderr, "lamina bench train: %s\n", e.msg);
            return 1;
        }
        if (k >= 0) t[k] = bench_now() - t0;
        t0 = bench_now();
        bare_run(&bare, mc.dim);
        double tb = bench_now() - t0;
        if (k >= 0 && (k == 0 || tb < bare_best)) bare_best = tb;
    }
    bare_free(&bare);
    double best = t[0], sum = 0;
    for (long long k = 0; k < steps; k++) {
        sum += t[k];
        if (t[k] < best) best = t[k];
    }
    double mean = sum / (double)steps;
    size_t C = mc.dim, L = mc.layers, T = mc.ctx, H = mc.hidden;
    int gated = mc.act == LAM_MLP_SWIGLU || mc.act == LAM_MLP_GEGLU;
    double P = (double)L * (4.0 * C * C + (gated ? 3.0 : 2.0) * C * H) + 256.0 * C;
    double flop_token = 6.0 * P + 12.0 * L * T * C, tokens = (double)tc.batch * T;
    double tps = tokens / mean, gflops = tps * flop_token / 1e9;
    if (json) {
        printf("{\"bench\": \"train\", \"threads\": %lld, \"isa\": \"%s\", \"layers\": %zu, \"heads\": %zu, \"dim\": %zu, "
               "\"ctx\": %zu, \"batch\": %zu, \"steps\": %lld, \"params\": %zu, \"step_mean_ms\": %.2f, "
               "\"step_best_ms\": %.2f, \"tokens_per_s\": %.1f, \"gflops\": %.2f, \"fma_peak_gflops\": %.2f, "
               "\"fma_peak_width\": %d, \"fraction_of_peak\": %.4f, \"blas_core\": \"%s\", "
               "\"linear_gemms_best_ms\": %.2f, \"linear_gemms_gflops\": %.2f, \"step_over_linear_gemms\": %.3f}\n",
               threads, lam_isa(), L, mc.heads, C, T, tc.batch, steps, lam_model_param_count(m), 1e3 * mean, 1e3 * best,
               tps, gflops, peak, peak_width, peak > 0 ? gflops / peak : 0, lam_blas_core(), 1e3 * bare_best,
               bare_flop / bare_best / 1e9, best / bare_best);
    } else {
        printf("lamina bench train: layers %zu, heads %zu, dim %zu, ctx %zu, batch %zu, %s/%s/%s, %zu parameters, "
               "threads %lld, isa %s, blas core %s\n",
               L, mc.heads, C, T, tc.batch, lam_norm_name(mc.norm), lam_placement_name(mc.placement),
               lam_mlp_name(mc.act), lam_model_param_count(m), threads, lam_isa(), lam_blas_core());
        cli_print_blas_core_note(stdout);
        printf("step: mean %.1f ms, best %.1f ms over %lld steps (one warm-up step excluded)\n", 1e3 * mean, 1e3 * best,
               steps);
        printf("tokens/s: %.0f\n", tps);
        printf("achieved: %.1f GFLOP/s (%.1f MFLOP per token: 6 x %.0f matrix weights + 12 L T C)\n", gflops,
               flop_token / 1e6, P);
        if (peak > 0)
            printf("FMA peak (same run, %lld threads, %d-bit vectors): %.1f GFLOP/s -> %.1f%% of peak\n", threads,
                   peak_width, peak, 100 * gflops / peak);
        printf("the step's linear-layer GEMMs called bare (same run, taking turns with the steps): best %.1f ms, "
               "%.1f GFLOP/s; best step / bare = %.2f\n",
               1e3 * bare_best, bare_flop / bare_best / 1e9, best / bare_best);
    }
    free(t);
    free(data);
    lam_trainer_free(tr);
    lam_model_free(m);
    return 0;
}

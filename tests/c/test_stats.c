/* Diagnostics against values computed directly: lam_summarize against a
 * float64 reference; the model's stream, xhat and norm_out statistics at the
 * embedding against LayerNorm/RMSNorm/BatchNorm recomputed here from the
 * parameters; the properties of normalized values (mean 0, std 1 before
 * gamma and beta) everywhere; the stream gradient against the position-
 * embedding gradient; the trainer's per-tensor gradient norms and
 * update-to-weight ratios against copies taken around the update; the
 * fixed-order sum of squares behind the gradient norm (lam_sum_squares); and
 * independence from the thread count. */
#include "check.h"
#include "kernels/reduce.h"
#include "lamina.h"

#include <math.h>
#include <string.h>

/* float64 reference: v = (x − sub)·mul */
static void ref_summary(lam_summary *s, const double *v, size_t n) {
    double sum = 0, dev = 0, sq = 0, mx = 0;
    for (size_t i = 0; i < n; i++) sum += v[i];
    double mean = sum / (double)n;
    for (size_t i = 0; i < n; i++) {
        dev += (v[i] - mean) * (v[i] - mean);
        sq += v[i] * v[i];
        if (fabs(v[i]) > mx) mx = fabs(v[i]);
    }
    s->mean = mean, s->std = sqrt(dev / (double)n), s->max_abs = mx, s->l2 = sqrt(sq);
}

static double rel(double a, double b, double scale) { return fabs(a - b) / (scale > 0 ? scale : 1); }

/* a and b agree: mean to tol·(std + |mean|), the others to tol relative */
static int close_summary(const lam_summary *a, const lam_summary *b, double tol) {
    double sc = b->std + fabs(b->mean);
    return rel(a->mean, b->mean, sc) <= tol && rel(a->std, b->std, b->std) <= tol &&
           rel(a->max_abs, b->max_abs, b->max_abs) <= tol && rel(a->l2, b->l2, b->l2) <= tol;
}

static void test_summarize(void) {
    size_t rows = 37, dim = 53, n = rows * dim;
    float *x = check_alloc(n * sizeof(float)), sub_r[37], mul_r[37], sub_c[53], mul_c[53];
    double *v = check_alloc(n * sizeof(double));
    check_fill_normal(x, n, 3.0, 2.0, 11);
    check_fill_normal(sub_r, rows, 3.0, 0.1, 12);
    check_fill_normal(mul_r, rows, 1.0, 0.3, 13);
    check_fill_normal(sub_c, dim, 3.0, 0.1, 14);
    check_fill_normal(mul_c, dim, 1.0, 0.3, 15);
    for (int mode = 0; mode < 4; mode++) {
        int by_col = mode >= 2, with = mode % 2;
        const float *sub = with ? (by_col ? sub_c : sub_r) : NULL, *mul = with ? (by_col ? mul_c : mul_r) : NULL;
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < dim; c++) {
                size_t k = by_col ? c : r;
                v[r * dim + c] = ((double)x[r * dim + c] - (sub ? sub[k] : 0.0)) * (mul ? mul[k] : 1.0);
            }
        lam_summary got, want, got1, got3;
        ref_summary(&want, v, n);
        lam_set_num_threads(2);
        lam_summarize(&got, x, sub, mul, by_col, rows, dim);
        CHECK(close_summary(&got, &want, 1e-12), "mode %d: mean %g/%g std %g/%g max %g/%g l2 %g/%g", mode, got.mean,
              want.mean, got.std, want.std, got.max_abs, want.max_abs, got.l2, want.l2);
        lam_set_num_threads(1);
        lam_summarize(&got1, x, sub, mul, by_col, rows, dim);
        lam_set_num_threads(3);
        lam_summarize(&got3, x, sub, mul, by_col, rows, dim);
        CHECK(!memcmp(&got, &got1, sizeof got) && !memcmp(&got, &got3, sizeof got),
              "mode %d: 1, 2, 3 threads differ", mode);
    }
    /* a large offset: two passes keep the std (E[x²] − E[x]² would lose it in float or lose digits) */
    for (size_t i = 0; i < n; i++) x[i] = 1e4f + (float)(i % 7) * 0.25f - 0.75f;
    for (size_t i = 0; i < n; i++) v[i] = x[i];
    lam_summary got, want;
    ref_summary(&want, v, n);
    lam_summarize(&got, x, NULL, NULL, 0, rows, dim);
    CHECK(rel(got.std, want.std, want.std) < 1e-12, "offset: std %.17g vs %.17g", got.std, want.std);
    /* NaN stays visible */
    x[5 * dim + 7] = NAN;
    lam_summarize(&got, x, NULL, NULL, 0, rows, dim);
    CHECK(isnan(got.mean) && isnan(got.std) && isnan(got.max_abs) && isnan(got.l2), "NaN: %g %g %g %g", got.mean,
          got.std, got.max_abs, got.l2);
    free(x), free(v);
}

/* The embedding's output (B, T, C), recomputed from wte and wpe (a float sum, as the model does). */
static void embedding(const lam_model *m, const unsigned char *tok, size_t B, size_t T, double *out) {
    size_t C = lam_model_get_config(m)->dim;
    lam_tensor te, tp;
    lam_model_tensor(m, lam_model_find_tensor(m, "wte.weight"), &te);
    lam_model_tensor(m, lam_model_find_tensor(m, "wpe.weight"), &tp);
    CHECK(!te.transposed && !tp.transposed, "embeddings are stored as in the file");
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++)
            for (size_t c = 0; c < C; c++)
                out[(b * T + t) * C + c] = (double)(te.data[tok[b * T + t] * C + c] + tp.data[t * C + c]);   /* the float sum */
}

/* float64 norm of x (N, C) with scalar gamma g and beta b: xhat and y */
static void ref_norm(lam_norm kind, const double *x, size_t N, size_t C, double eps, double g, double bb, double *xhat,
                     double *y) {
    if (kind == LAM_NORM_BATCHNORM) {
        for (size_t c = 0; c < C; c++) {
            double mean = 0, var = 0;
            for (size_t r = 0; r < N; r++) mean += x[r * C + c];
            mean /= (double)N;
            for (size_t r = 0; r < N; r++) var += (x[r * C + c] - mean) * (x[r * C + c] - mean);
            double rs = 1 / sqrt(var / (double)N + eps);
            for (size_t r = 0; r < N; r++) xhat[r * C + c] = (x[r * C + c] - mean) * rs;
        }
    } else {
        for (size_t r = 0; r < N; r++) {
            const double *xr = x + r * C;
            double mean = 0, var = 0;
            if (kind == LAM_NORM_LAYERNORM) {
                for (size_t c = 0; c < C; c++) mean += xr[c];
                mean /= (double)C;
            }
            for (size_t c = 0; c < C; c++) var += (xr[c] - mean) * (xr[c] - mean);
            double rs = 1 / sqrt(var / (double)C + eps);
            for (size_t c = 0; c < C; c++) xhat[r * C + c] = (xr[c] - mean) * rs;
        }
    }
    for (size_t i = 0; i < N * C; i++) y[i] = g * xhat[i] + (kind == LAM_NORM_RMSNORM ? 0 : bb);
}

static void set_all(lam_model *m, const char *suffix, float v) {
    size_t n = lam_model_tensor_count(m), ls = strlen(suffix);
    for (size_t i = 0; i < n; i++) {
        lam_tensor t;
        lam_model_tensor(m, i, &t);
        size_t ln = strlen(t.name);
        if (ln >= ls && !strcmp(t.name + ln - ls, suffix) && strncmp(t.name, "wte", 3) && strncmp(t.name, "wpe", 3) &&
            !strstr(t.name, "attn.") && !strstr(t.name, "mlp."))
            for (size_t k = 0; k < t.numel; k++) t.data[k] = v;
    }
}

static void test_model_stats(lam_norm kind, lam_placement place) {
    lam_model_config mc;
    lam_model_config_default(&mc);
    mc.layers = 2, mc.heads = 2, mc.dim = 24, mc.ctx = 16, mc.norm = kind, mc.placement = place;
    lam_model *m;
    lam_error e;
    CHECK(lam_model_create(&m, &mc, 3, 7, &e) == LAM_OK, "create: %s", e.msg);
    const char *what = lam_norm_name(kind);
    size_t B = 3, T = 16, C = 24, N = B * T, P = lam_model_stats_count(m);
    CHECK(P == 5, "%s: %zu places", what, P);
    lam_sublayer_stats st[5], st1[5];
    CHECK(lam_model_stats(m, st, &e) == LAM_ERR_STATE, "%s: stats before a forward must fail", what);
    /* non-trivial gamma and beta: the output statistics must follow them */
    double g = 1.7, bb = -0.3;
    if (kind != LAM_NORM_NONE) {
        set_all(m, ".weight", (float)g);
        set_all(m, ".bias", (float)bb);
    }
    unsigned char tok[48], tgt[48];
    unsigned long long s = 99;
    for (size_t i = 0; i < N; i++) tok[i] = (unsigned char)(check_rng_next(&s) & 255), tgt[i] = (unsigned char)(check_rng_next(&s) & 255);
    float loss;
    lam_model_set_diagnostics(m, 1);
    CHECK(lam_model_forward(m, tok, tgt, B, T, 1, &loss, &e) == LAM_OK, "forward: %s", e.msg);
    lam_model_zero_grad(m);
    CHECK(lam_model_backward(m, 1.0f, &e) == LAM_OK, "backward: %s", e.msg);
    lam_set_num_threads(2);
    CHECK(lam_model_stats(m, st, &e) == LAM_OK, "stats: %s", e.msg);
    lam_set_num_threads(1);
    CHECK(lam_model_stats(m, st1, &e) == LAM_OK, "stats: %s", e.msg);
    CHECK(!memcmp(st, st1, sizeof st), "%s/%s: stats differ between 1 and 2 threads", what, lam_placement_name(place));
    lam_set_num_threads(2);

    /* place 0: the stream is the embedding */
    double *emb = check_alloc(N * C * sizeof(double)), *xh = check_alloc(N * C * sizeof(double)),
           *y = check_alloc(N * C * sizeof(double));
    embedding(m, tok, B, T, emb);
    lam_summary want;
    ref_summary(&want, emb, N * C);
    CHECK(close_summary(&st[0].stream, &want, 1e-12), "%s: stream at the embedding: std %g vs %g", what,
          st[0].stream.std, want.std);
    if (place == LAM_PLACE_PRE) {
        CHECK(!memcmp(&st[0].norm_in, &st[0].stream, sizeof want), "%s pre: norm_in is the stream", what);
        if (kind != LAM_NORM_NONE) {
            ref_norm(kind, emb, N, C, mc.eps, g, bb, xh, y);
            ref_summary(&want, xh, N * C);
            CHECK(close_summary(&st[0].xhat, &want, 2e-5), "%s: xhat mean %g/%g std %g/%g max %g/%g", what,
                  st[0].xhat.mean, want.mean, st[0].xhat.std, want.std, st[0].xhat.max_abs, want.max_abs);
            ref_summary(&want, y, N * C);
            CHECK(close_summary(&st[0].norm_out, &want, 2e-5), "%s: norm_out mean %g/%g std %g/%g", what,
                  st[0].norm_out.mean, want.mean, st[0].norm_out.std, want.std);
        }
    }
    /* everywhere: what a normalized tensor must look like before gamma and beta */
    for (size_t k = 0; k < P; k++) {
        const lam_sublayer_stats *p = &st[k];
        int head_post = k == P - 1 && place == LAM_PLACE_POST;
        if (kind == LAM_NORM_NONE || head_post) {
            CHECK(!memcmp(&p->xhat, &p->norm_in, sizeof want) && !memcmp(&p->norm_out, &p->norm_in, sizeof want),
                  "%s place %zu: without a norm xhat and norm_out are norm_in", what, k);
        } else if (kind == LAM_NORM_RMSNORM) {
            double rms = sqrt(p->xhat.mean * p->xhat.mean + p->xhat.std * p->xhat.std);
            CHECK(rms > 0.95 && rms <= 1.0 + 1e-6, "%s place %zu: xhat rms %g", what, k, rms);
            CHECK(fabs(p->norm_out.std - g * p->xhat.std) < 1e-4 * g, "%s place %zu: norm_out std %g, gamma·xhat std %g",
                  what, k, p->norm_out.std, g * p->xhat.std);
        } else {
            CHECK(fabs(p->xhat.mean) < 1e-6, "%s place %zu: xhat mean %g", what, k, p->xhat.mean);
            CHECK(p->xhat.std > 0.95 && p->xhat.std <= 1.0 + 1e-6, "%s place %zu: xhat std %g", what, k, p->xhat.std);
            CHECK(fabs(p->norm_out.mean - (g * p->xhat.mean + bb)) < 1e-4 &&
                      fabs(p->norm_out.std - g * p->xhat.std) < 1e-4 * g,
                  "%s place %zu: norm_out %g±%g vs gamma·xhat + beta %g±%g", what, k, p->norm_out.mean,
                  p->norm_out.std, g * p->xhat.mean + bb, g * p->xhat.std);
        }
        CHECK(isfinite(p->stream_grad.l2) && p->stream_grad.l2 > 0, "%s place %zu: stream gradient %g", what, k,
              p->stream_grad.l2);
    }
    free(emb), free(xh), free(y);

    /* the stream gradient at the embedding is the position embedding's gradient for one sequence */
    size_t ipe = lam_model_find_tensor(m, "wpe.weight");
    lam_tensor tp;
    lam_model_tensor(m, ipe, &tp);
    for (int pass = 0; pass < 2; pass++) {
        float scale = pass ? 0.25f : 1.0f;   /* the recorded gradient is that of the loss itself */
        CHECK(lam_model_forward(m, tok, tgt, 1, T, 1, &loss, &e) == LAM_OK, "forward: %s", e.msg);
        lam_model_zero_grad(m);
        CHECK(lam_model_backward(m, scale, &e) == LAM_OK, "backward: %s", e.msg);
        CHECK(lam_model_stats(m, st, &e) == LAM_OK, "stats: %s", e.msg);
        double *d = check_alloc(T * C * sizeof(double));
        for (size_t i = 0; i < T * C; i++) d[i] = (double)tp.grad[i] / scale;
        ref_summary(&want, d, T * C);
        CHECK(close_summary(&st[0].stream_grad, &want, 1e-9), "%s: stream gradient at the embedding %g vs wpe %g (scale %g)",
              what, st[0].stream_grad.l2, want.l2, (double)scale);
        free(d);
    }
    /* off: nothing recorded by a new model */
    lam_model *m2;
    CHECK(lam_model_create(&m2, &mc, 1, 7, &e) == LAM_OK, "create: %s", e.msg);
    CHECK(lam_model_forward(m2, tok, tgt, 1, T, 1, &loss, &e) == LAM_OK && lam_model_backward(m2, 1, &e) == LAM_OK, "fb");
    CHECK(lam_model_stats(m2, st, &e) == LAM_OK && isnan(st[0].stream_grad.l2), "%s: no diagnostics, no gradient", what);
    lam_model_free(m2);
    lam_model_free(m);
}

static void test_trainer_stats(void) {
    lam_model_config mc;
    lam_model_config_default(&mc);
    mc.layers = 2, mc.heads = 2, mc.dim = 16, mc.ctx = 8;
    lam_train_config tc;
    lam_train_config_default(&tc);
    tc.batch = 4, tc.steps = 10, tc.warmup = 2, tc.lr = 1e-2f, tc.clip = 0.5f;   /* clipping active */
    unsigned char data[4096];
    unsigned long long s = 5;
    for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)(97 + check_rng_next(&s) % 26);
    lam_model *m;
    lam_trainer *tr;
    lam_error e;
    CHECK(lam_model_create(&m, &mc, tc.batch, 3, &e) == LAM_OK, "create: %s", e.msg);
    CHECK(lam_trainer_create(&tr, m, &tc, data, sizeof data, &e) == LAM_OK, "trainer: %s", e.msg);
    CHECK(lam_trainer_tensor_stats(tr) == NULL, "no stats before an update with diagnostics");
    lam_step_stats st;
    CHECK(lam_trainer_step(tr, &st, &e) == LAM_OK, "step: %s", e.msg);   /* moments no longer zero */
    CHECK(lam_trainer_set_diagnostics(tr, 1, &e) == LAM_OK, "diagnostics: %s", e.msg);
    float loss;
    CHECK(lam_trainer_gradients(tr, &loss, &e) == LAM_OK, "gradients: %s", e.msg);
    size_t n = lam_model_tensor_count(m), total = 0;
    for (size_t i = 0; i < n; i++) {
        lam_tensor t;
        lam_model_tensor(m, i, &t);
        total += t.numel;
    }
    float *g0 = check_alloc(total * sizeof(float)), *w0 = check_alloc(total * sizeof(float));
    for (size_t i = 0, off = 0; i < n; i++) {
        lam_tensor t;
        lam_model_tensor(m, i, &t);
        if (t.grad) memcpy(g0 + off, t.grad, t.numel * sizeof(float));
        memcpy(w0 + off, t.data, t.numel * sizeof(float));
        off += t.numel;
    }
    lam_trainer_update(tr, &st);
    const lam_tensor_stats *ts = lam_trainer_tensor_stats(tr);
    CHECK(ts != NULL, "stats after an update with diagnostics");
    CHECK(st.grad_norm > tc.clip, "the test wants clipping active (norm %g)", (double)st.grad_norm);
    int checked = 0;
    for (size_t i = 0, off = 0; ts && i < n; i++) {
        lam_tensor t;
        lam_model_tensor(m, i, &t);
        if (!t.grad) {
            CHECK(isnan(ts[i].update_ratio), "%s: untrained tensor has no ratio", t.name);
            off += t.numel;
            continue;
        }
        double *v = check_alloc(t.numel * sizeof(double)), d2 = 0, w2 = 0;
        for (size_t k = 0; k < t.numel; k++) {
            v[k] = g0[off + k];
            double d = (double)t.data[k] - (double)w0[off + k];
            d2 += d * d;
            w2 += (double)w0[off + k] * w0[off + k];
        }
        lam_summary want;
        ref_summary(&want, v, t.numel);
        CHECK(close_summary(&ts[i].grad, &want, 1e-9), "%s: gradient (before clipping) l2 %g vs %g", t.name,
              ts[i].grad.l2, want.l2);
        double ratio = sqrt(d2) / sqrt(w2);
        CHECK(rel(ts[i].update_ratio, ratio, ratio) < 1e-9 || (isinf(ratio) && isinf(ts[i].update_ratio)),
              "%s: update ratio %g vs %g", t.name, ts[i].update_ratio, ratio);
        checked++;
        off += t.numel;
        free(v);
    }
    CHECK(checked > 10, "checked %d tensors", checked);
    free(g0), free(w0);
    lam_trainer_free(tr);
    lam_model_free(m);
}

/* lam_sum_squares against a long double sum, at lengths around its 16
 * partials and 64 chunks; the same bits on 1, 2 and 3 threads; NaN and inf
 * propagate. */
static void test_sum_squares(void) {
    const size_t lens[] = {0, 1, 15, 16, 17, 1023, 1024, 1025, 65537, 1000003};
    const size_t nmax = 1000003;
    float *x = check_alloc(nmax * 4);
    check_fill_normal(x, nmax, 0.5, 3, 77);
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        size_t n = lens[k];
        long double ref = 0;
        for (size_t i = 0; i < n; i++) ref += (long double)x[i] * x[i];
        double got[3];
        for (int nt = 1; nt <= 3; nt++) {
            lam_set_num_threads(nt);
            got[nt - 1] = lam_sum_squares(x, n);
        }
        lam_set_num_threads(2);
        double err = n ? fabs(got[0] - (double)ref) / (double)ref : fabs(got[0]);
        CHECK(err <= 1e-13, "sum_squares n=%zu: rel err %.3g", n, err);
        CHECK(!memcmp(&got[0], &got[1], 8) && !memcmp(&got[0], &got[2], 8),
              "sum_squares n=%zu: thread counts differ (%.17g %.17g %.17g)", n, got[0], got[1], got[2]);
    }
    x[777] = NAN;
    CHECK(isnan(lam_sum_squares(x, nmax)), "sum_squares: NaN lost");
    x[777] = -INFINITY;
    CHECK(isinf(lam_sum_squares(x, nmax)), "sum_squares: inf lost");
    free(x);
}

int main(void) {
    test_summarize();
    test_sum_squares();
    const lam_norm kinds[] = {LAM_NORM_LAYERNORM, LAM_NORM_RMSNORM, LAM_NORM_BATCHNORM, LAM_NORM_NONE};
    for (int k = 0; k < 4; k++) {
        test_model_stats(kinds[k], LAM_PLACE_PRE);
        test_model_stats(kinds[k], LAM_PLACE_POST);
    }
    test_trainer_stats();
    return check_done("test_stats");
}

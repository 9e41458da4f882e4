/* The fused feed-forward layer against a float64 reference written here
 * (every activation, gated and not, with and without biases, odd shapes and
 * more rows than one block), finite differences, the documented cache
 * contents, accumulate/NULL semantics, the _ws form, thread bit identity. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "kernels/workspace.h"
#include "lamina.h"

static double act_ref(double x, int act, double *deriv) {
    const double k = 0.7978845608028654, c = 0.044715;
    switch (act) {
    case LAM_ACT_RELU:
        *deriv = x > 0;
        return x > 0 ? x : 0;
    case LAM_ACT_GELU: {
        double cdf = 0.5 * erfc(-x / sqrt(2.0));
        *deriv = cdf + x * exp(-0.5 * x * x) / sqrt(2 * 3.141592653589793);
        return x * cdf;
    }
    case LAM_ACT_GELU_TANH: {
        double u = k * (x + c * x * x * x), th = tanh(u);
        *deriv = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * k * (1 + 3 * c * x * x);
        return 0.5 * x * (1 + th);
    }
    default: {
        double s = 1 / (1 + exp(-x));
        *deriv = s * (1 + x * (1 - s));
        return x * s;
    }
    }
}

typedef struct {
    size_t rows, dim, hidden;
    int act, gated, bias;
    float *x, *dy, *w1, *b1, *w3, *b3, *w2, *b2;
} problem;

static void make(problem *p, size_t rows, size_t dim, size_t hidden, int act, int gated, int bias, unsigned long long seed) {
    p->rows = rows, p->dim = dim, p->hidden = hidden, p->act = act, p->gated = gated, p->bias = bias;
    size_t D = dim, H = hidden;
    p->x = check_alloc(rows * D * 4), p->dy = check_alloc(rows * D * 4);
    p->w1 = check_alloc(H * D * 4), p->w3 = check_alloc(H * D * 4), p->w2 = check_alloc(D * H * 4);
    p->b1 = check_alloc(H * 4), p->b3 = check_alloc(H * 4), p->b2 = check_alloc(D * 4);
    check_fill_normal(p->x, rows * D, 0, 1, seed);
    check_fill_normal(p->dy, rows * D, 0, 1, seed + 1);
    check_fill_normal(p->w1, H * D, 0, 1.0 / sqrt((double)D), seed + 2);
    check_fill_normal(p->w3, H * D, 0, 1.0 / sqrt((double)D), seed + 3);
    check_fill_normal(p->w2, D * H, 0, 1.0 / sqrt((double)H), seed + 4);
    check_fill_normal(p->b1, H, 0, 0.5, seed + 5);
    check_fill_normal(p->b3, H, 0.2, 0.5, seed + 6);
    check_fill_normal(p->b2, D, 0, 0.5, seed + 7);
}

static void release(problem *p) {
    free(p->x); free(p->dy); free(p->w1); free(p->w3); free(p->w2); free(p->b1); free(p->b3); free(p->b2);
}

static lam_ffn layer(const problem *p) {
    lam_ffn f = {p->dim, p->hidden, (lam_act)p->act, p->gated, p->w1, p->bias ? p->b1 : NULL,
                 p->gated ? p->w3 : NULL, p->gated && p->bias ? p->b3 : NULL, p->w2, p->bias ? p->b2 : NULL};
    return f;
}

/* Reference forward and backward in double: y, and the gradients of Σ y·dy. */
static void reference(const problem *p, double *y, double *dx, double *dw1, double *db1, double *dw3, double *db3,
                      double *dw2, double *db2, double *h_out, double *a_out) {
    size_t R = p->rows, D = p->dim, H = p->hidden;
    double *g = check_alloc(H * 8), *u = check_alloc(H * 8), *dact = check_alloc(H * 8), *m = check_alloc(H * 8);
    double *gd = check_alloc(H * 8);
    memset(dw1, 0, H * D * 8), memset(dw3, 0, H * D * 8), memset(dw2, 0, D * H * 8);
    memset(db1, 0, H * 8), memset(db3, 0, H * 8), memset(db2, 0, D * 8);
    for (size_t i = 0; i < R; i++) {
        const float *xi = p->x + i * D, *dyi = p->dy + i * D;
        for (size_t j = 0; j < H; j++) {
            double s1 = p->bias ? p->b1[j] : 0, s3 = p->bias ? p->b3[j] : 0;
            for (size_t k = 0; k < D; k++) s1 += (double)xi[k] * p->w1[j * D + k], s3 += (double)xi[k] * p->w3[j * D + k];
            g[j] = s1;
            u[j] = s3;
            double a = act_ref(s1, p->act, &gd[j]);
            m[j] = p->gated ? a * s3 : a;
            if (h_out) h_out[i * H + j] = p->gated ? s1 : gd[j], a_out[i * H + j] = m[j];
        }
        for (size_t o = 0; o < D; o++) {
            double s = p->bias ? p->b2[o] : 0;
            for (size_t j = 0; j < H; j++) s += m[j] * p->w2[o * H + j];
            y[i * D + o] = s;
            db2[o] += dyi[o];
            for (size_t j = 0; j < H; j++) dw2[o * H + j] += dyi[o] * m[j];
        }
        for (size_t j = 0; j < H; j++) {
            double dm = 0;
            for (size_t o = 0; o < D; o++) dm += dyi[o] * (double)p->w2[o * H + j];
            double dummy, a = act_ref(g[j], p->act, &dummy);
            dact[j] = p->gated ? dm * u[j] * gd[j] : dm * gd[j];
            double du = p->gated ? dm * a : 0;
            db1[j] += dact[j];
            db3[j] += du;
            for (size_t k = 0; k < D; k++) dw1[j * D + k] += dact[j] * xi[k], dw3[j * D + k] += du * xi[k];
            u[j] = du;   /* reuse: du for dx */
        }
        for (size_t k = 0; k < D; k++) {
            double s = 0;
            for (size_t j = 0; j < H; j++) s += dact[j] * p->w1[j * D + k] + (p->gated ? u[j] * p->w3[j * D + k] : 0);
            dx[i * D + k] = s;
        }
    }
    free(g); free(u); free(dact); free(m); free(gd);
}

static const char *act_name[] = {"relu", "gelu", "gelu_tanh", "silu"};

static void check_against_reference(size_t rows, size_t dim, size_t hidden, int act, int gated, int bias,
                                    unsigned long long seed) {
    problem p;
    make(&p, rows, dim, hidden, act, gated, bias, seed);
    lam_ffn f = layer(&p);
    size_t R = rows, D = dim, H = hidden;
    float *y = check_alloc(R * D * 4), *cache = check_alloc(lam_ffn_cache_floats(&f, R) * 4), *dx = check_alloc(R * D * 4);
    float *gw1 = check_alloc(H * D * 4), *gw3 = check_alloc(H * D * 4), *gw2 = check_alloc(D * H * 4);
    float *gb1 = check_alloc(H * 4), *gb3 = check_alloc(H * 4), *gb2 = check_alloc(D * 4);
    double *ry = check_alloc(R * D * 8), *rdx = check_alloc(R * D * 8), *rw1 = check_alloc(H * D * 8),
           *rw3 = check_alloc(H * D * 8), *rw2 = check_alloc(D * H * 8), *rb1 = check_alloc(H * 8), *rb3 = check_alloc(H * 8),
           *rb2 = check_alloc(D * 8), *rh = check_alloc(R * H * 8), *ra = check_alloc(R * H * 8);
    /* gradients start at 0.5 and must be accumulated onto it */
    for (size_t i = 0; i < H * D; i++) gw1[i] = gw3[i] = gw2[i] = 0.5f;
    for (size_t i = 0; i < H; i++) gb1[i] = gb3[i] = 0.5f;
    for (size_t i = 0; i < D; i++) gb2[i] = 0.5f;
    for (size_t i = 0; i < R * D; i++) dx[i] = 1e30f;   /* must be overwritten */
    lam_ffn g = {D, H, f.act, gated, gw1, gb1, gw3, gb3, gw2, gb2};
    lam_ffn_forward(&f, y, cache, p.x, R);
    lam_ffn_backward(&f, &g, dx, p.dy, p.x, cache, R);
    reference(&p, ry, rdx, rw1, rb1, rw3, rb3, rw2, rb2, rh, ra);
    for (size_t i = 0; i < H * D; i++) rw1[i] += 0.5, rw3[i] += 0.5, rw2[i] += 0.5;
    for (size_t i = 0; i < H; i++) rb1[i] += 0.5, rb3[i] += 0.5;
    for (size_t i = 0; i < D; i++) rb2[i] += 0.5;
    size_t longest = R > D ? R : D;
    if (H > longest) longest = H;
    double tol = 3e-6 * (1 + sqrt((double)longest));
    char what[96];
    snprintf(what, sizeof what, "%zux%zux%zu %s gated=%d bias=%d", R, D, H, act_name[act], gated, bias);
    CHECK(check_rel_err_f64(y, ry, R * D, 1e-30) <= tol, "%s: y rel err %.3g", what, check_rel_err_f64(y, ry, R * D, 1e-30));
    /* the cache holds act'(h) (or g) and a = act(h) (or m), as lamina.h documents;
     * ReLU's act' is a step, so a float h within rounding of 0 may land on
     * either side: those elements are not compared */
    double *rcache_h = rh, *rcache_a = ra;
    if (!gated && act == LAM_ACT_RELU) {
        size_t wrong = 0;
        int steps = 1;
        for (size_t i = 0; i < R * H; i++) {
            wrong += cache[i] != (float)rcache_h[i];
            steps &= cache[i] == 0.0f || cache[i] == 1.0f;
        }
        CHECK(steps && wrong <= R * H / 1000, "%s: cached relu' not 0/1 or wrong in %zu of %zu", what, wrong, R * H);
    } else {
        CHECK(check_rel_err_f64(cache, rcache_h, R * H, 1e-30) <= tol, "%s: cached %s", what, gated ? "g" : "act'(h)");
    }
    CHECK(check_rel_err_f64(cache + (gated ? 2 : 1) * R * H, rcache_a, R * H, 1e-30) <= tol, "%s: cached act", what);
    CHECK(check_rel_err_f64(dx, rdx, R * D, 1e-30) <= tol, "%s: dx rel err %.3g", what, check_rel_err_f64(dx, rdx, R * D, 1e-30));
    CHECK(check_rel_err_f64(gw1, rw1, H * D, 1e-30) <= tol, "%s: dw1 rel err %.3g", what, check_rel_err_f64(gw1, rw1, H * D, 1e-30));
    CHECK(check_rel_err_f64(gw2, rw2, D * H, 1e-30) <= tol, "%s: dw2 rel err %.3g", what, check_rel_err_f64(gw2, rw2, D * H, 1e-30));
    if (bias) {
        CHECK(check_rel_err_f64(gb1, rb1, H, 1e-30) <= tol, "%s: db1", what);
        CHECK(check_rel_err_f64(gb2, rb2, D, 1e-30) <= tol, "%s: db2", what);
    } else {
        int untouched = 1;
        for (size_t i = 0; i < H; i++) untouched &= gb1[i] == 0.5f;
        CHECK(untouched, "%s: NULL biases: their gradients must not be touched", what);
    }
    if (gated) {
        CHECK(check_rel_err_f64(gw3, rw3, H * D, 1e-30) <= tol, "%s: dw3 rel err %.3g", what, check_rel_err_f64(gw3, rw3, H * D, 1e-30));
        if (bias) CHECK(check_rel_err_f64(gb3, rb3, H, 1e-30) <= tol, "%s: db3", what);
    }
    /* accumulate: a second backward adds the same gradient again (0.5 + 2·g) */
    float *gw2b = check_alloc(D * H * 4);
    memcpy(gw2b, gw2, D * H * 4);
    lam_ffn g2 = {D, H, f.act, gated, NULL, NULL, NULL, NULL, gw2b, NULL};
    lam_ffn_backward(&f, &g2, NULL, p.dy, p.x, cache, R);   /* only dw2, no dx */
    for (size_t i = 0; i < D * H; i++) rw2[i] = 2 * (rw2[i] - 0.5) + 0.5;
    CHECK(check_rel_err_f64(gw2b, rw2, D * H, 1e-30) <= 2 * tol, "%s: second backward must accumulate", what);
    /* the caller's work buffer gives the same bits */
    float *gw1c = check_alloc(H * D * 4), *dxc = check_alloc(R * D * 4), *work = check_alloc(lam_ffn_work_floats(&f, R) * 4 + 4);
    for (size_t i = 0; i < H * D; i++) gw1c[i] = 0.5f;
    lam_ffn g3 = {D, H, f.act, gated, gw1c, NULL, NULL, NULL, NULL, NULL};
    lam_ffn_backward_ws(&f, &g3, dxc, p.dy, p.x, cache, R, work);
    CHECK(!memcmp(gw1c, gw1, H * D * 4) && !memcmp(dxc, dx, R * D * 4), "%s: _ws form differs", what);
    free(gw2b); free(gw1c); free(dxc); free(work);
    free(y); free(cache); free(dx); free(gw1); free(gw3); free(gw2); free(gb1); free(gb3); free(gb2);
    free(ry); free(rdx); free(rw1); free(rw3); free(rw2); free(rb1); free(rb3); free(rb2); free(rh); free(ra);
    release(&p);
}

/* L = Σ y·dy by central differences through the float forward. */
static void check_finite_differences(int act, int gated) {
    problem p;
    make(&p, 3, 4, 5, act, gated, 1, 900 + act * 2 + gated);
    lam_ffn f = layer(&p);
    size_t D = 4, H = 5, R = 3;
    float y[12], cache[45], dx[12], gw1[20] = {0}, gb1[5] = {0}, gw3[20] = {0}, gb3[5] = {0}, gw2[20] = {0}, gb2[4] = {0};
    lam_ffn g = {D, H, f.act, gated, gw1, gb1, gw3, gb3, gw2, gb2};
    lam_ffn_forward(&f, y, cache, p.x, R);
    lam_ffn_backward(&f, &g, dx, p.dy, p.x, cache, R);
    float *params[8] = {p.x, p.w1, p.b1, p.w3, p.b3, p.w2, p.b2, NULL}, *grads[8] = {dx, gw1, gb1, gw3, gb3, gw2, gb2, NULL};
    size_t sizes[8] = {12, 20, 5, 20, 5, 20, 4, 0};
    int worst_ok = 1;
    double worst = 0;
    for (int t = 0; t < 7; t++) {
        if (!gated && (t == 3 || t == 4)) continue;
        for (size_t i = 0; i < sizes[t]; i++) {
            float keep = params[t][i], hh = 1e-2f;
            double l[2];
            for (int s = 0; s < 2; s++) {
                params[t][i] = s ? keep - hh : keep + hh;
                lam_ffn_forward(&f, y, cache, p.x, R);
                l[s] = 0;
                for (size_t k = 0; k < R * D; k++) l[s] += (double)y[k] * p.dy[k];
            }
            params[t][i] = keep;
            double fd = (l[0] - l[1]) / ((double)(keep + hh) - (double)(keep - hh));
            double e = fabs(fd - grads[t][i]) / (1 + fabs(fd));
            if (e > worst) worst = e;
            /* ReLU's kink can sit inside ±h: skip those points for ReLU */
            if (e > 3e-3 && act != LAM_ACT_RELU) worst_ok = 0;
        }
    }
    CHECK(worst_ok, "finite differences %s gated=%d: worst %.3g", act_name[act], gated, worst);
    release(&p);
}

static void check_threads(int gated) {
    problem p;
    size_t R = 700, D = 48, H = 136;   /* 700 rows: 22 bias-sum groups of 32, the last short */
    make(&p, R, D, H, LAM_ACT_GELU_TANH, gated, 1, 77 + gated);
    lam_ffn f = layer(&p);
    float *y[3], *dx[3], *gw[3], *gb[3];
    float *cache = check_alloc(lam_ffn_cache_floats(&f, R) * 4);
    for (int t = 0; t < 3; t++) {
        y[t] = check_alloc(R * D * 4), dx[t] = check_alloc(R * D * 4), gw[t] = calloc(H * D, 4), gb[t] = calloc(H, 4);
        lam_set_num_threads(t + 1);
        lam_ffn g = {D, H, f.act, gated, gw[t], gb[t], NULL, NULL, NULL, NULL};
        lam_ffn_forward(&f, y[t], cache, p.x, R);
        lam_ffn_backward(&f, &g, dx[t], p.dy, p.x, cache, R);
    }
    for (int t = 1; t < 3; t++) {
        CHECK(!memcmp(y[0], y[t], R * D * 4), "gated=%d: forward differs on %d threads", gated, t + 1);
        CHECK(!memcmp(dx[0], dx[t], R * D * 4), "gated=%d: dx differs on %d threads", gated, t + 1);
        CHECK(!memcmp(gw[0], gw[t], H * D * 4) && !memcmp(gb[0], gb[t], H * 4), "gated=%d: dw1/db1 differ on %d threads",
              gated, t + 1);
    }
    for (int t = 0; t < 3; t++) { free(y[t]); free(dx[t]); free(gw[t]); free(gb[t]); }
    free(cache);
    release(&p);
    lam_set_num_threads(2);
}

/* lam_ffn_forward_residual: y = res + ffn(x) against lam_ffn_forward's y plus
 * res in double (the sums round differently, so to a tolerance), with and
 * without b2, res NULL (exactly the forward), and y written over res. */
static void check_residual(int gated, int bias) {
    problem p;
    size_t R = 67, D = 24, H = 40;
    make(&p, R, D, H, LAM_ACT_GELU_TANH, gated, bias, 300 + 2 * gated + bias);
    lam_ffn f = layer(&p);
    float *cache = check_alloc(lam_ffn_cache_floats(&f, R) * 4), *y = check_alloc(R * D * 4);
    float *res = check_alloc(R * D * 4), *yr = check_alloc(R * D * 4), *y0 = check_alloc(R * D * 4);
    double *ref = check_alloc(R * D * 8);
    check_fill_normal(res, R * D, 3, 2, 301);
    lam_ffn_forward(&f, y, cache, p.x, R);
    for (size_t i = 0; i < R * D; i++) ref[i] = (double)y[i] + res[i];
    lam_ffn_forward_residual(&f, yr, cache, p.x, res, R);
    double e = check_rel_err_f64(yr, ref, R * D, 1e-30);
    CHECK(e <= 1e-6, "gated=%d bias=%d: residual forward rel err %.3g", gated, bias, e);
    lam_ffn_forward_residual(&f, y0, cache, p.x, NULL, R);
    CHECK(!memcmp(y0, y, R * D * 4), "gated=%d bias=%d: residual NULL differs from the forward", gated, bias);
    lam_ffn_forward_residual(&f, res, cache, p.x, res, R);   /* in place over the stream */
    CHECK(!memcmp(res, yr, R * D * 4), "gated=%d bias=%d: y = res in place differs", gated, bias);
    free(cache); free(y); free(res); free(yr); free(y0); free(ref);
    release(&p);
}

/* lam_ffn_backward without room for its whole workspace (the test hook
 * LAMINA_TEST_WORKSPACE_MAX makes larger requests fail): the rows go in
 * pieces and the gradients equal the one-piece backward's up to rounding. */
static void check_workspace_pieces(int gated) {
    problem p;
    size_t R = 700, D = 48, H = 136;
    make(&p, R, D, H, LAM_ACT_GELU_TANH, gated, 1, 500 + gated);
    lam_ffn f = layer(&p);
    size_t nw = lam_ffn_work_floats(&f, R), np = 3 * H * D + 2 * H + D;
    float *cache = check_alloc(lam_ffn_cache_floats(&f, R) * 4), *y = check_alloc(R * D * 4);
    float *work = check_alloc(nw * 4), *dx[2], *gp[2];
    lam_ffn_forward(&f, y, cache, p.x, R);
    for (int k = 0; k < 2; k++) {
        dx[k] = check_alloc(R * D * 4), gp[k] = calloc(np, 4);
        float *g = gp[k];
        lam_ffn grad = {D, H, f.act, gated, g, g + H * D, gated ? g + H * D + H : NULL,
                        gated ? g + 2 * H * D + H : NULL, g + 2 * H * D + 2 * H, g + 3 * H * D + 2 * H};
        if (k == 0) lam_ffn_backward_ws(&f, &grad, dx[k], p.dy, p.x, cache, R, work);
        else {
            char lim[32];
            snprintf(lim, sizeof lim, "%zu", nw / 3);   /* the whole fails, a quarter of the rows fits */
            setenv("LAMINA_TEST_WORKSPACE_MAX", lim, 1);
            CHECK(lam_workspace(LAM_WS_FFN, nw) == NULL, "the test hook does not limit the workspace");
            lam_ffn_backward(&f, &grad, dx[k], p.dy, p.x, cache, R);
            unsetenv("LAMINA_TEST_WORKSPACE_MAX");
        }
    }
    double edx = 0, eg = 0, sdx = 0, sg = 0;
    for (size_t i = 0; i < R * D; i++) edx = fmax(edx, fabs(dx[0][i] - dx[1][i])), sdx = fmax(sdx, fabs(dx[0][i]));
    for (size_t i = 0; i < np; i++) eg = fmax(eg, fabs(gp[0][i] - gp[1][i])), sg = fmax(sg, fabs(gp[0][i]));
    CHECK(edx <= 1e-6 * sdx && eg <= 1e-5 * sg, "gated=%d: backward in pieces: dx off by %.3g of %.3g, grads %.3g of %.3g",
          gated, edx, sdx, eg, sg);
    free(cache); free(y); free(work); free(dx[0]); free(dx[1]); free(gp[0]); free(gp[1]);
    release(&p);
}

int main(void) {
    lam_set_num_threads(2);
    check_workspace_pieces(0);
    check_workspace_pieces(1);
    for (int gated = 0; gated < 2; gated++)
        for (int bias = 0; bias < 2; bias++) check_residual(gated, bias);
    static const size_t shapes[][3] = {{1, 1, 1}, {2, 3, 5}, {7, 13, 11}, {37, 17, 29}, {3, 8, 24}, {530, 9, 19}};
    unsigned long long seed = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int act = 0; act < 4; act++)
            for (int gated = 0; gated < 2; gated++)
                for (int bias = 0; bias < 2; bias++)
                    check_against_reference(shapes[s][0], shapes[s][1], shapes[s][2], act, gated, bias, seed++);
    for (int act = 0; act < 4; act++)
        for (int gated = 0; gated < 2; gated++) check_finite_differences(act, gated);
    check_threads(0);
    check_threads(1);
    lam_release_workspace();
    return check_done("ffn");
}

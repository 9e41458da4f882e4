/* The softmax cross-entropy (kernels/embedding.c) against float64: losses
 * and the gradient scale·(softmax − onehot), in every family, at vocabularies around its 256-wide chunks,
 * with large and widely spread logits; the same bits on 1-3 threads; the
 * backward in place over the logits; a NaN logit poisons only its row. */
#include "check.h"
#include "kernels/embedding.h"
#include "lamina.h"

static void reference(double *loss, double *lse, double *grad, const float *l, const uint8_t *t, size_t N, size_t V,
                      double scale) {
    for (size_t i = 0; i < N; i++) {
        const float *r = l + i * V;
        double mx = r[0], s = 0;
        for (size_t j = 1; j < V; j++) mx = r[j] > mx ? r[j] : mx;
        for (size_t j = 0; j < V; j++) s += exp((double)r[j] - mx);
        lse[i] = mx + log(s);
        loss[i] = lse[i] - r[t[i]];
        for (size_t j = 0; j < V; j++) grad[i * V + j] = scale * (exp((double)r[j] - lse[i]) - (j == t[i]));
    }
}

static void check_case(const char *isa, size_t N, size_t V, double spread, double shift, unsigned long long seed) {
    float *l = check_alloc(N * V * 4), *loss = check_alloc(N * 4), *g = check_alloc(N * V * 4);
    double *rl = check_alloc(N * 8), *rlse = check_alloc(N * 8), *rg = check_alloc(N * V * 8);
    uint8_t *t = check_alloc(N);
    check_fill_normal(l, N * V, shift, spread, seed);
    unsigned long long s = seed;
    for (size_t i = 0; i < N; i++) t[i] = (uint8_t)(check_rng_next(&s) % (V < 256 ? V : 256));
    const float scale = 0.37f;
    reference(rl, rlse, rg, l, t, N, V, scale);
    lam_crossentropy_forward(loss, l, t, N, V);
    lam_crossentropy_backward(g, l, t, N, V, scale);
    double el = 0;
    for (size_t i = 0; i < N; i++) el = fmax(el, fabs(loss[i] - rl[i]) / fmax(fabs(rl[i]), 1.0));
    double eg = check_rel_err_f64(g, rg, N * V, 1e-30);
    CHECK(el <= 4e-7 && eg <= 1e-6, "%s N%zu V%zu spread %g shift %g: loss %.3g grad %.3g", isa, N, V, spread, shift,
          el, eg);
    /* threads 1 and 3 give the same bits; the backward may run in place */
    float *loss2 = check_alloc(N * 4), *g2 = check_alloc(N * V * 4);
    for (int nt = 1; nt <= 3; nt += 2) {
        lam_set_num_threads(nt);
        lam_crossentropy_forward(loss2, l, t, N, V);
        memcpy(g2, l, N * V * 4);
        lam_crossentropy_backward(g2, g2, t, N, V, scale);
        CHECK(!memcmp(loss, loss2, N * 4) && !memcmp(g, g2, N * V * 4),
              "%s N%zu V%zu: %d threads (backward in place) differ", isa, N, V, nt);
    }
    lam_set_num_threads(2);
    free(l); free(loss); free(g); free(rl); free(rlse); free(rg); free(t); free(loss2); free(g2);
}

static void check_nan_row(void) {
    const size_t N = 6, V = 300;
    float *l = check_alloc(N * V * 4), *loss = check_alloc(N * 4), *g = check_alloc(N * V * 4);
    uint8_t t[6] = {0, 1, 2, 3, 4, 5};
    check_fill_normal(l, N * V, 0, 2, 5);
    l[3 * V + 290] = NAN;
    lam_crossentropy_forward(loss, l, t, N, V);
    lam_crossentropy_backward(g, l, t, N, V, 1.0f);
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) {
        int want_nan = i == 3;
        bad += (isnan(loss[i]) != 0) != want_nan;
        for (size_t j = 0; j < V; j++) bad += (isnan(g[i * V + j]) != 0) != want_nan;
    }
    CHECK(bad == 0, "NaN logit: %zu values in the wrong state (only row 3 may be NaN, and all of it)", bad);
    free(l); free(loss); free(g);
}

int main(void) {
    lam_set_num_threads(2);
    check_nan_row();
    const char *isas[3] = {"generic", "avx2", "avx512"};
    for (int k = 0; k < 3; k++) {
        if (!check_isa(isas[k])) continue;
        check_case(isas[k], 1, 1, 1, 0, 1);
        check_case(isas[k], 7, 5, 1, 0, 2);
        check_case(isas[k], 100, 256, 3, 0, 3);
        check_case(isas[k], 33, 257, 3, 0, 4);
        check_case(isas[k], 9, 1000, 10, 0, 5);
        check_case(isas[k], 50, 256, 30, 0, 6);    /* exponentials deep into the tail */
        check_case(isas[k], 50, 256, 2, 1e4, 7);   /* large logits: the shift by the max matters */
    }
    return check_done("loss");
}

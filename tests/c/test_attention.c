/* Causal self-attention (the model's core, kernels/attention.c) against a
 * float64 reference whose backward is itself checked by finite differences;
 * the softmax's exponential micro-kernel (exp_shift) in every family; the
 * causal row blocks at T around and past a block (1, 63, 64, 65, 130, 200);
 * bit-identity over thread counts and between the AVX2 and AVX-512
 * families; a NaN stays in the (sequence, head, row) it came from. */
#include "check.h"
#include "kernels/act_ukr.h"
#include "kernels/attention.h"
#include "lamina.h"

#include <float.h>
#include <stdint.h>

/* exp_shift: y = exp(x − shift) to 2 ulp (subnormal results: 2 units of the
 * smallest subnormal), x − shift over [−110, 0] and some positive values;
 * exp(−inf) = 0, NaN stays NaN; aliasing y = x. */
static void check_exp_shift(const char *isa) {
    const lam_act_ukr *uk = lam_act_ukr_get();
    const size_t n = 200003;
    float *x = check_alloc(n * 4), *y = check_alloc(n * 4);
    const float shifts[3] = {0.0f, 3.25f, -17.5f};
    for (int k = 0; k < 3; k++) {
        float sh = shifts[k];
        for (size_t i = 0; i < n; i++) x[i] = sh + (float)(-110.0 + 120.0 * (double)i / (double)(n - 1));
        uk->exp_shift(y, x, sh, n);
        double worst = 0;
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            double z = (double)(x[i] - sh);   /* the kernel's argument (the subtraction rounds in float) */
            double r = (double)expl((long double)z), e = fabs((double)y[i] - r) / check_ulp_of(r);
            if (!(e <= worst)) worst = e, at = i;
        }
        CHECK(worst <= 2.0, "%s exp_shift (shift %g): %.2f ulp at x = %.9g", isa, (double)sh, worst, (double)x[at]);
    }
    float sp[5] = {-INFINITY, NAN, 0.0f, 1.0f, -200.0f};
    uk->exp_shift(sp, sp, 1.0f, 5);   /* in place */
    CHECK(sp[0] == 0.0f && isnan(sp[1]) && sp[3] == 1.0f && sp[4] == 0.0f,
          "%s exp_shift specials: %g %g %g %g", isa, (double)sp[0], (double)sp[1], (double)sp[3], (double)sp[4]);
    CHECK(fabs(sp[2] - 0.36787944) < 1e-7, "%s exp_shift(0 - 1) = %.9g", isa, (double)sp[2]);
    free(x);
    free(y);
}

/* ---- float64 reference, qkv (B, T, 3C), out (B, T, C), att (B, H, T, T) */
static void ref_forward(double *out, double *att, const double *qkv, size_t B, size_t T, size_t C, size_t H) {
    size_t hs = C / H, C3 = 3 * C;
    double scale = 1.0 / sqrt((double)hs);
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < H; h++)
            for (size_t t = 0; t < T; t++) {
                const double *q = qkv + (b * T + t) * C3 + h * hs;
                double *a = att + ((b * H + h) * T + t) * T, mx = -INFINITY, sum = 0;
                for (size_t j = 0; j < T; j++) {
                    a[j] = 0;
                    if (j > t) continue;
                    const double *k = qkv + (b * T + j) * C3 + C + h * hs;
                    double s = 0;
                    for (size_t i = 0; i < hs; i++) s += q[i] * k[i];
                    a[j] = s * scale;
                    if (a[j] > mx) mx = a[j];
                }
                for (size_t j = 0; j <= t; j++) sum += (a[j] = exp(a[j] - mx));
                double *o = out + (b * T + t) * C + h * hs;
                for (size_t i = 0; i < hs; i++) o[i] = 0;
                for (size_t j = 0; j <= t; j++) {
                    a[j] /= sum;
                    const double *v = qkv + (b * T + j) * C3 + 2 * C + h * hs;
                    for (size_t i = 0; i < hs; i++) o[i] += a[j] * v[i];
                }
            }
}

/* dqkv written, from dout and the reference forward's att. */
static void ref_backward(double *dqkv, const double *dout, const double *qkv, const double *att, size_t B, size_t T,
                         size_t C, size_t H) {
    size_t hs = C / H, C3 = 3 * C;
    double scale = 1.0 / sqrt((double)hs);
    double *ds = check_alloc(T * sizeof(double));
    for (size_t i = 0; i < B * T * C3; i++) dqkv[i] = 0;
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < H; h++)
            for (size_t t = 0; t < T; t++) {
                const double *a = att + ((b * H + h) * T + t) * T, *d_o = dout + (b * T + t) * C + h * hs;
                const double *q = qkv + (b * T + t) * C3 + h * hs;
                double *dq = dqkv + (b * T + t) * C3 + h * hs, dot = 0;
                for (size_t j = 0; j <= t; j++) {   /* o_t = Σ_j a_tj v_j */
                    const double *v = qkv + (b * T + j) * C3 + 2 * C + h * hs;
                    double *dv = dqkv + (b * T + j) * C3 + 2 * C + h * hs, da = 0;
                    for (size_t i = 0; i < hs; i++) {
                        da += d_o[i] * v[i];
                        dv[i] += a[j] * d_o[i];
                    }
                    ds[j] = da;
                    dot += da * a[j];
                }
                for (size_t j = 0; j <= t; j++) {   /* a = softmax(s); s_tj = scale·q_t·k_j */
                    double g = a[j] * (ds[j] - dot) * scale;
                    const double *k = qkv + (b * T + j) * C3 + C + h * hs;
                    double *dk = dqkv + (b * T + j) * C3 + C + h * hs;
                    for (size_t i = 0; i < hs; i++) {
                        dq[i] += g * k[i];
                        dk[i] += g * q[i];
                    }
                }
            }
    free(ds);
}

/* The reference backward against central differences of L = Σ dout·out. */
static void check_reference_gradient(void) {
    const size_t B = 2, T = 5, C = 6, H = 2, nq = B * T * 3 * C, no = B * T * C;
    double *qkv = check_alloc(nq * 8), *dout = check_alloc(no * 8), *d = check_alloc(nq * 8);
    double *out = check_alloc(no * 8), *att = check_alloc(B * H * T * T * 8);
    unsigned long long s = 5;
    for (size_t i = 0; i < nq; i++) qkv[i] = check_normal(&s);
    for (size_t i = 0; i < no; i++) dout[i] = check_normal(&s);
    ref_forward(out, att, qkv, B, T, C, H);
    ref_backward(d, dout, qkv, att, B, T, C, H);
    double worst = 0;
    for (size_t i = 0; i < nq; i++) {
        double keep = qkv[i], l[2];
        for (int side = 0; side < 2; side++) {
            qkv[i] = keep + (side ? -1e-6 : 1e-6);
            ref_forward(out, att, qkv, B, T, C, H);
            l[side] = 0;
            for (size_t j = 0; j < no; j++) l[side] += dout[j] * out[j];
        }
        qkv[i] = keep;
        double fd = (l[0] - l[1]) / 2e-6, e = fabs(fd - d[i]) / (1.0 + fabs(fd));
        if (e > worst) worst = e;
    }
    CHECK(worst < 1e-7, "reference attention backward vs finite differences: %.3g", worst);
    free(qkv); free(dout); free(d); free(out); free(att);
}

typedef struct {
    float *qkv, *dout, *out, *att, *dqkv, *work;
} run_bufs;

static run_bufs run(const float *qkv, const float *dout, size_t B, size_t T, size_t C, size_t H) {
    size_t nq = B * T * 3 * C, no = B * T * C, na = B * H * T * T;
    run_bufs r = {NULL, NULL, check_alloc(no * 4), check_alloc(na * 4), check_alloc(nq * 4), check_alloc(na * 4)};
    memset(r.att, 0x7f, na * 4);   /* garbage the kernel must overwrite */
    memset(r.dqkv, 0x7f, nq * 4);
    memset(r.work, 0x7f, na * 4);
    lam_attention_forward(r.out, r.att, qkv, B, T, C, H);
    lam_attention_backward(r.dqkv, r.work, dout, qkv, r.att, B, T, C, H);
    return r;
}
static void run_free(run_bufs *r) { free(r->out); free(r->att); free(r->dqkv); free(r->work); }
static int same(const run_bufs *a, const run_bufs *b, size_t B, size_t T, size_t C, size_t H) {
    return !memcmp(a->out, b->out, B * T * C * 4) && !memcmp(a->att, b->att, B * H * T * T * 4) &&
           !memcmp(a->dqkv, b->dqkv, B * T * 3 * C * 4);
}

static void check_shape(const char *isa, size_t B, size_t T, size_t C, size_t H, unsigned long long seed) {
    size_t nq = B * T * 3 * C, no = B * T * C, na = B * H * T * T;
    float *qkv = check_alloc(nq * 4), *dout = check_alloc(no * 4);
    check_fill_normal(qkv, nq, 0, 1.5, seed);
    check_fill_normal(dout, no, 0, 1, seed + 1);
    double *q64 = check_alloc(nq * 8), *d64 = check_alloc(no * 8), *ro = check_alloc(no * 8);
    double *ra = check_alloc(na * 8), *rd = check_alloc(nq * 8);
    for (size_t i = 0; i < nq; i++) q64[i] = qkv[i];
    for (size_t i = 0; i < no; i++) d64[i] = dout[i];
    ref_forward(ro, ra, q64, B, T, C, H);
    ref_backward(rd, d64, q64, ra, B, T, C, H);

    lam_set_num_threads(2);
    run_bufs r = run(qkv, dout, B, T, C, H);
    double tol = 2e-6 * (1.0 + sqrt((double)(T > C / H ? T : C / H)));
    double eo = check_rel_err_f64(r.out, ro, no, 1e-30), ea = check_rel_err_f64(r.att, ra, na, 1e-30);
    double ed = check_rel_err_f64(r.dqkv, rd, nq, 1e-30);
    CHECK(eo <= tol && ea <= tol && ed <= tol, "%s B%zu T%zu C%zu H%zu: rel err out %.3g att %.3g dqkv %.3g > %.3g",
          isa, B, T, C, H, eo, ea, ed, tol);
    /* the probabilities the backward keeps: exact zeros above the diagonal, rows summing to 1 */
    size_t above = 0;
    double worst_sum = 0;
    for (size_t p = 0; p < B * H; p++)
        for (size_t t = 0; t < T; t++) {
            const float *a = r.att + (p * T + t) * T;
            double sum = 0;
            for (size_t j = 0; j < T; j++) {
                if (j > t) above += a[j] != 0.0f || signbit(a[j]);
                else sum += a[j];
            }
            if (fabs(sum - 1) > worst_sum) worst_sum = fabs(sum - 1);
        }
    CHECK(above == 0 && worst_sum < 1e-5, "%s T%zu: %zu nonzero scores above the diagonal, row sums off by %.3g", isa,
          T, above, worst_sum);
    /* thread counts 1 and 3 give the same bits */
    for (int nt = 1; nt <= 3; nt += 2) {
        lam_set_num_threads(nt);
        run_bufs o = run(qkv, dout, B, T, C, H);
        CHECK(same(&r, &o, B, T, C, H), "%s T%zu: %d threads differ from 2", isa, T, nt);
        run_free(&o);
    }
    lam_set_num_threads(2);
    run_free(&r);
    free(qkv); free(dout); free(q64); free(d64); free(ro); free(ra); free(rd);
}

/* A NaN in one query element poisons only its own (sequence, head, row):
 * the row's probabilities and output, and in the backward the gradients
 * that row touches — nothing in another sequence or head. */
static void check_nan_confined(void) {
    const size_t B = 3, T = 70, C = 16, H = 2, hs = C / H, nq = B * T * 3 * C, no = B * T * C;
    float *qkv = check_alloc(nq * 4), *dout = check_alloc(no * 4);
    check_fill_normal(qkv, nq, 0, 1, 21);
    check_fill_normal(dout, no, 0, 1, 22);
    run_bufs clean = run(qkv, dout, B, T, C, H);
    const size_t bb = 1, hh = 1, tt = 66;   /* in the second row block */
    qkv[(bb * T + tt) * 3 * C + hh * hs + 3] = NAN;
    run_bufs r = run(qkv, dout, B, T, C, H);
    size_t wrong = 0, nan_row = 0;
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++)
            for (size_t c = 0; c < C; c++) {
                size_t i = (b * T + t) * C + c;
                int mine = b == bb && t == tt && c / hs == hh;
                if (mine) nan_row += isnan(r.out[i]) != 0;
                else wrong += memcmp(&r.out[i], &clean.out[i], 4) != 0;
            }
    CHECK(wrong == 0 && nan_row == hs, "NaN query: %zu outputs elsewhere changed, %zu of %zu in its row NaN", wrong,
          nan_row, hs);
    /* backward: sequences and heads other than (bb, hh) are untouched */
    wrong = 0;
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++)
            for (size_t c = 0; c < 3 * C; c++) {
                size_t i = (b * T + t) * 3 * C + c;
                if (b == bb && (c % C) / hs == hh) continue;
                wrong += memcmp(&r.dqkv[i], &clean.dqkv[i], 4) != 0;
            }
    CHECK(wrong == 0, "NaN query: %zu gradients of other sequences or heads changed", wrong);
    run_free(&clean);
    run_free(&r);
    free(qkv); free(dout);
}

/* AVX-512 gives the AVX2 family's bits: the exponential over every 65521st
 * bit pattern and short lengths, and the whole attention. */
static void check_families_agree(void) {
    if (lam_set_isa("avx512") != 0 || lam_set_isa("avx2") != 0) {
        printf("avx512 or avx2 not available here: family agreement skipped\n");
        return;
    }
    const size_t n = 65554;
    float *x = check_alloc(n * 4), *y[2];
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)(i * 65521u);
        memcpy(&x[i], &bits, 4);
    }
    const char *isas[2] = {"avx2", "avx512"};
    for (int k = 0; k < 2; k++) {
        lam_set_isa(isas[k]);
        y[k] = check_alloc(n * 4);
        lam_act_ukr_get()->exp_shift(y[k], x, -0.75f, n);
    }
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += !((isnan(y[0][i]) && isnan(y[1][i])) || !memcmp(&y[0][i], &y[1][i], 4));
    CHECK(bad == 0, "exp_shift: avx512 differs from avx2 at %zu of %zu points", bad, n);
    int tails_ok = 1;
    for (size_t len = 1; len <= 40; len++) {
        float part[40];
        lam_act_ukr_get()->exp_shift(part, x + 1000, -0.75f, len);   /* avx512 selected */
        if (memcmp(part, y[0] + 1000, len * 4)) tails_ok = 0;
    }
    CHECK(tails_ok, "exp_shift: avx512 on a short range differs from avx2");
    free(y[0]); free(y[1]); free(x);

    const size_t B = 2, T = 97, C = 32, H = 4, nq = B * T * 3 * C, no = B * T * C;
    float *qkv = check_alloc(nq * 4), *dout = check_alloc(no * 4);
    check_fill_normal(qkv, nq, 0, 2, 31);
    check_fill_normal(dout, no, 0, 1, 32);
    run_bufs r[2];
    for (int k = 0; k < 2; k++) {
        lam_set_isa(isas[k]);
        r[k] = run(qkv, dout, B, T, C, H);
    }
    CHECK(same(&r[0], &r[1], B, T, C, H), "attention: avx512 differs from avx2");
    run_free(&r[0]); run_free(&r[1]);
    free(qkv); free(dout);
}

int main(void) {
    check_reference_gradient();
    check_families_agree();
    check_nan_confined();
    const char *isas[3] = {"generic", "avx2", "avx512"};
    for (int k = 0; k < 3; k++) {
        if (!check_isa(isas[k])) continue;
        check_exp_shift(isas[k]);
        check_shape(isas[k], 1, 1, 4, 1, 1);
        check_shape(isas[k], 2, 5, 12, 3, 2);
        check_shape(isas[k], 1, 63, 16, 2, 3);
        check_shape(isas[k], 2, 64, 16, 2, 4);
        check_shape(isas[k], 1, 65, 24, 3, 5);
        check_shape(isas[k], 2, 130, 32, 4, 6);
        check_shape(isas[k], 1, 200, 8, 1, 7);
    }
    return check_done("attention");
}

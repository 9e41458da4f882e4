/* Linear layer and the GEMM seam against float64 references; finite
 * differences; accumulate/NULL semantics; thread-count bit-identity. */
#include "check.h"
#include "kernels/gemm.h"
#include "lamina.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

/* y = x·wᵀ + b in double. */
static void ref_forward(double *y, const float *x, const float *w, const float *b, size_t rows, size_t in,
                        size_t out) {
    for (size_t i = 0; i < rows; i++)
        for (size_t o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0;
            for (size_t k = 0; k < in; k++) s += (double)x[i * in + k] * w[o * in + k];
            y[i * out + o] = s;
        }
}

/* dx = dy·w, dw = dyᵀ·x, db = Σ dy in double (not accumulated). */
static void ref_backward(double *dx, double *dw, double *db, const float *dy, const float *x, const float *w,
                         size_t rows, size_t in, size_t out) {
    for (size_t i = 0; i < rows; i++)
        for (size_t k = 0; k < in; k++) {
            double s = 0;
            for (size_t o = 0; o < out; o++) s += (double)dy[i * out + o] * w[o * in + k];
            dx[i * in + k] = s;
        }
    for (size_t o = 0; o < out; o++) {
        double sb = 0;
        for (size_t k = 0; k < in; k++) {
            double s = 0;
            for (size_t i = 0; i < rows; i++) s += (double)dy[i * out + o] * x[i * in + k];
            dw[o * in + k] = s;
        }
        for (size_t i = 0; i < rows; i++) sb += dy[i * out + o];
        db[o] = sb;
    }
}

static void check_shape(size_t rows, size_t in, size_t out, int with_bias, unsigned long long seed) {
    size_t nx = rows * in, nw = out * in, ny = rows * out;
    float *x = check_alloc(nx * 4), *w = check_alloc(nw * 4), *b = check_alloc(out * 4), *y = check_alloc(ny * 4);
    float *dy = check_alloc(ny * 4), *dx = check_alloc(nx * 4), *dw = check_alloc(nw * 4), *db = check_alloc(out * 4);
    double *ry = check_alloc(ny * 8), *rdx = check_alloc(nx * 8), *rdw = check_alloc(nw * 8), *rdb = check_alloc(out * 8);
    check_fill_normal(x, nx, 0, 1, seed);
    check_fill_normal(w, nw, 0, 0.5, seed + 1);
    check_fill_normal(b, out, 0.3, 1, seed + 2);
    check_fill_normal(dy, ny, 0, 1, seed + 3);
    const float *bb = with_bias ? b : NULL;

    lam_linear_forward(y, x, w, bb, rows, in, out);
    ref_forward(ry, x, w, bb, rows, in, out);
    double e = check_rel_err_f64(y, ry, ny, 1e-30);
    /* fp32 dot products of length `in`: error grows like sqrt(in)·2^-24 */
    double tol = 1e-6 * (1.0 + sqrt((double)in));
    CHECK(e <= tol, "forward %zux%zux%zu bias=%d: rel err %.3g > %.3g", rows, in, out, with_bias, e, tol);

    /* backward: dx written, dw/db accumulated onto a start value */
    for (size_t i = 0; i < nx; i++) dx[i] = 12345.0f;   /* must be overwritten */
    for (size_t i = 0; i < nw; i++) dw[i] = 0.25f;
    for (size_t i = 0; i < out; i++) db[i] = -0.5f;
    lam_linear_backward(dx, dw, db, dy, x, w, rows, in, out);
    ref_backward(rdx, rdw, rdb, dy, x, w, rows, in, out);
    for (size_t i = 0; i < nw; i++) rdw[i] += 0.25;
    for (size_t i = 0; i < out; i++) rdb[i] += -0.5;
    double tolr = 1e-6 * (1.0 + sqrt((double)(rows > out ? rows : out)));
    e = check_rel_err_f64(dx, rdx, nx, 1e-30);
    CHECK(e <= tolr, "dx %zux%zux%zu: rel err %.3g", rows, in, out, e);
    e = check_rel_err_f64(dw, rdw, nw, 1e-30);
    CHECK(e <= tolr, "dw += %zux%zux%zu: rel err %.3g", rows, in, out, e);
    e = check_rel_err_f64(db, rdb, out, 1e-30);
    CHECK(e <= tolr, "db += %zux%zux%zu: rel err %.3g", rows, in, out, e);

    /* NULL skips: only db asked for leaves dx, dw untouched */
    for (size_t i = 0; i < nx; i++) dx[i] = 7.0f;
    float dw0 = dw[0];
    lam_linear_backward(NULL, NULL, db, dy, x, w, rows, in, out);
    CHECK(dx[0] == 7.0f && dw[0] == dw0, "NULL outputs must be skipped");
    free(x); free(w); free(b); free(y); free(dy); free(dx); free(dw); free(db);
    free(ry); free(rdx); free(rdw); free(rdb);
}

/* The loss L = Σ y·c; dL/dx, dL/dw, dL/db by central differences in float64
 * through the float forward, against the backward. */
static void check_finite_differences(void) {
    const size_t rows = 3, in = 5, out = 4;
    float x[15], w[20], b[4], c[12], y[12], dx[15], dw[20] = {0}, db[4] = {0};
    check_fill_normal(x, 15, 0, 1, 11);
    check_fill_normal(w, 20, 0, 1, 12);
    check_fill_normal(b, 4, 0, 1, 13);
    check_fill_normal(c, 12, 0, 1, 14);
    lam_linear_backward(dx, dw, db, c, x, w, rows, in, out);
    float *params[3] = {x, w, b}, *grads[3] = {dx, dw, db};
    size_t sizes[3] = {15, 20, 4};
    const char *names[3] = {"x", "w", "b"};
    for (int p = 0; p < 3; p++)
        for (size_t i = 0; i < sizes[p]; i++) {
            float keep = params[p][i], h = 1e-2f;
            double lp = 0, lm = 0;
            params[p][i] = keep + h;
            lam_linear_forward(y, x, w, b, rows, in, out);
            for (size_t k = 0; k < 12; k++) lp += (double)y[k] * c[k];
            params[p][i] = keep - h;
            lam_linear_forward(y, x, w, b, rows, in, out);
            for (size_t k = 0; k < 12; k++) lm += (double)y[k] * c[k];
            params[p][i] = keep;
            double fd = (lp - lm) / (2.0 * ((double)(keep + h) - (double)(keep - h)) / 2.0) / 2.0 * 2.0;
            fd = (lp - lm) / ((double)(keep + h) - (double)(keep - h));
            CHECK(fabs(fd - grads[p][i]) <= 2e-3 * (1 + fabs(fd)), "finite difference d%s[%zu]: %g vs %g", names[p],
                  i, fd, (double)grads[p][i]);
        }
}

static int same_bits(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

/* Forward and backward give the same bits on 1, 2 and 3 threads. */
static void check_thread_identity_shape(size_t rows, size_t in, size_t out) {
    size_t nx = rows * in, nw = out * in, ny = rows * out;
    float *x = check_alloc(nx * 4), *w = check_alloc(nw * 4), *b = check_alloc(out * 4), *dy = check_alloc(ny * 4);
    float *y[3], *dx[3], *dw[3], *db[3];
    check_fill_normal(x, nx, 0, 1, 21);
    check_fill_normal(w, nw, 0, 1, 22);
    check_fill_normal(b, out, 0, 1, 23);
    check_fill_normal(dy, ny, 0, 1, 24);
    for (int t = 0; t < 3; t++) {
        y[t] = check_alloc(ny * 4);
        dx[t] = check_alloc(nx * 4);
        dw[t] = calloc(nw, 4);
        db[t] = calloc(out, 4);
        lam_set_num_threads(t + 1);
        lam_linear_forward(y[t], x, w, b, rows, in, out);
        lam_linear_backward(dx[t], dw[t], db[t], dy, x, w, rows, in, out);
    }
    for (int t = 1; t < 3; t++) {
        CHECK(same_bits(y[0], y[t], ny), "%zux%zux%zu forward differs between 1 and %d threads", rows, in, out, t + 1);
        CHECK(same_bits(dx[0], dx[t], nx), "%zux%zux%zu dx differs between 1 and %d threads", rows, in, out, t + 1);
        CHECK(same_bits(dw[0], dw[t], nw), "%zux%zux%zu dw differs between 1 and %d threads", rows, in, out, t + 1);
        CHECK(same_bits(db[0], db[t], out), "%zux%zux%zu db differs between 1 and %d threads", rows, in, out, t + 1);
    }
    for (int t = 0; t < 3; t++) { free(y[t]); free(dx[t]); free(dw[t]); free(db[t]); }
    free(x); free(w); free(b); free(dy);
    lam_set_num_threads(2);
}

/* Large shapes are tiled between threads; small ones (longer side < 128)
 * run as one call, where the BLAS must not thread on its own. */
static void check_thread_identity(void) {
    check_thread_identity_shape(517, 301, 263);
    check_thread_identity_shape(2048, 64, 64);
    check_thread_identity_shape(4096, 100, 17);
}

/* lam_colsum_add with a leading dimension wider than the columns summed, and
 * columns crossing the thread blocks; against a double sum. */
static void check_colsum(void) {
    const size_t rows = 4099, n = 1000, ld = 1003;
    float *dy = check_alloc(rows * ld * 4), *db = check_alloc(n * 4);
    check_fill_normal(dy, rows * ld, 1e3, 1, 31);
    for (size_t j = 0; j < n; j++) db[j] = 1.0f;
    lam_colsum_add(db, dy, rows, n, ld);
    double worst = 0;
    for (size_t j = 0; j < n; j++) {
        double s = 1.0;
        for (size_t i = 0; i < rows; i++) s += dy[i * ld + j];
        double e = fabs(db[j] - s) / fabs(s);
        if (!(e <= worst)) worst = e;
    }
    /* a sequential float sum of `rows` terms: relative error <= rows·2^-24 */
    CHECK(worst <= (double)rows * 6e-8, "colsum rel err %.3g", worst);
    free(dy);
    free(db);
}

/* K = 0 and beta semantics of the seam. */
static void check_gemm_edges(void) {
    float c[4] = {1, 2, 3, 4}, a[1] = {0}, b[1] = {0};
    lam_gemm(LAM_NO_TRANS, LAM_NO_TRANS, 2, 2, 0, 1.0f, a, 1, b, 2, 0.5f, c, 2);
    CHECK(c[0] == 0.5f && c[3] == 2.0f, "K = 0 scales C by beta");
    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1}, C[4] = {NAN, NAN, NAN, NAN};
    /* A (2,3)·B (3,2) with beta 0 must not read C's NaN */
    lam_gemm(LAM_NO_TRANS, LAM_NO_TRANS, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2);
    CHECK(C[0] == 4 && C[1] == 5 && C[2] == 10 && C[3] == 11, "2x3·3x2 = [4 5; 10 11], got [%g %g; %g %g]", C[0], C[1],
          C[2], C[3]);
    /* transposed operands: Aᵀ (A stored (3,2)) times Bᵀ (B stored (2,3)) */
    float At[6] = {1, 4, 2, 5, 3, 6}, Bt[6] = {1, 0, 1, 0, 1, 1};
    lam_gemm(LAM_TRANS, LAM_TRANS, 2, 2, 3, 1.0f, At, 2, Bt, 3, 0.0f, C, 2);
    CHECK(C[0] == 4 && C[1] == 5 && C[2] == 10 && C[3] == 11, "transposed operands");
    /* lam_gemm_seq: the same cases as one call on this thread */
    float cs[4] = {1, 2, 3, 4}, Cs[4] = {NAN, NAN, NAN, NAN};
    lam_gemm_seq(LAM_NO_TRANS, LAM_NO_TRANS, 2, 2, 0, 1.0f, a, 1, b, 2, 0.5f, cs, 2);
    CHECK(cs[0] == 0.5f && cs[3] == 2.0f, "seq: K = 0 scales C by beta");
    lam_gemm_seq(LAM_TRANS, LAM_TRANS, 2, 2, 3, 1.0f, At, 2, Bt, 3, 0.0f, Cs, 2);
    CHECK(Cs[0] == 4 && Cs[1] == 5 && Cs[2] == 10 && Cs[3] == 11, "seq: transposed operands, beta 0 not reading C");
    /* and a product big enough for lam_gemm to tile, with beta = 1, against float64 */
    const size_t M = 300, N = 70, K = 129;
    float *x = check_alloc(M * K * 4), *w = check_alloc(N * K * 4), *y = check_alloc(M * N * 4);
    double *r = check_alloc(M * N * 8);
    check_fill_normal(x, M * K, 0, 1, 61);
    check_fill_normal(w, N * K, 0, 1, 62);
    check_fill_normal(y, M * N, 0, 1, 63);
    ref_forward(r, x, w, NULL, M, K, N);
    for (size_t i = 0; i < M * N; i++) r[i] += y[i];
    float *y1 = check_alloc(M * N * 4);
    memcpy(y1, y, M * N * 4);
    lam_gemm_seq(LAM_NO_TRANS, LAM_TRANS, M, N, K, 1.0f, x, K, w, K, 1.0f, y, N);
    double e = check_rel_err_f64(y, r, M * N, 1e-30);
    CHECK(e <= 1e-6 * (1.0 + sqrt((double)K)), "seq: %zux%zux%zu with beta 1: rel err %.3g", M, N, K, e);
    /* one call on this thread whatever the thread count (the BLAS must not
     * take threads of its own outside a parallel region either) */
    for (int nt = 1; nt <= 3; nt += 2) {
        float *yt = check_alloc(M * N * 4);
        memcpy(yt, y1, M * N * 4);
        lam_set_num_threads(nt);
        lam_gemm_seq(LAM_NO_TRANS, LAM_TRANS, M, N, K, 1.0f, x, K, w, K, 1.0f, yt, N);
        CHECK(!memcmp(yt, y, M * N * 4), "seq: %d threads give other bits than 2", nt);
        free(yt);
    }
    lam_set_num_threads(2);
    free(x); free(w); free(y); free(y1); free(r);
}

/* The GEMMs read subnormal operands as zero and write subnormal results as
 * zero (x86: DAZ and FTZ for the call only; gemm.c), and leave the caller's
 * floating-point mode as it was. */
static void check_subnormals(void) {
#if defined(__x86_64__) || defined(__i386__)
    const size_t rows = 6, in = 64, out = 5;
    float x[6 * 64], w[5 * 64], y[6 * 5], y0[6 * 5];
    for (size_t i = 0; i < rows * in; i++) x[i] = (i / in) % 2 ? 1e-39f : 0.25f * (float)(i % 7);   /* odd rows subnormal */
    for (size_t i = 0; i < out * in; i++) w[i] = 1.0f;
    /* the mode (rounding, masks, DAZ, FTZ), not the sticky status flags in
     * the low 6 bits: LLVM's OpenMP runtime clears those on leaving a
     * serialized parallel region */
    const unsigned int mode = ~0x3Fu, csr = _mm_getcsr() & mode;
    lam_linear_forward(y, x, w, NULL, rows, in, out);
    CHECK((_mm_getcsr() & mode) == csr, "lam_linear_forward changed the MXCSR mode: %#x -> %#x", csr,
          _mm_getcsr() & mode);
    for (size_t i = 0; i < rows * in; i++)
        if ((i / in) % 2) x[i] = 0.0f;
    lam_linear_forward(y0, x, w, NULL, rows, in, out);
    CHECK(same_bits(y, y0, rows * out), "subnormal inputs must read as zero (row sum %g)", (double)y[out]);
    float a = 1e-20f, b = 1e-20f, c = -1.0f;   /* exact product 1e-40: subnormal */
    lam_linear_forward(&c, &a, &b, NULL, 1, 1, 1);
    CHECK(c == 0.0f, "a subnormal result must be written as zero, got %g", (double)c);
    /* the caller's arithmetic keeps its subnormals (compared as bits: under
     * DAZ a comparison would read the subnormal constant as zero, too) */
    volatile float tiny = 1e-39f, two = 2.0f;
    float r = tiny * two;
    unsigned int rbits;
    memcpy(&rbits, &r, sizeof rbits);
    CHECK(rbits != 0, "MXCSR leaked: subnormal arithmetic outside the GEMM flushed to zero");
#endif
}

/* lam_linear_forward_residual: y = res + x·wᵀ + b against float64, with and
 * without b, res NULL (exactly lam_linear_forward), y written over res. */
static void check_residual(size_t rows, size_t in, size_t out, int with_bias) {
    float *x = check_alloc(rows * in * 4), *w = check_alloc(out * in * 4), *b = check_alloc(out * 4);
    float *res = check_alloc(rows * out * 4), *y = check_alloc(rows * out * 4), *y0 = check_alloc(rows * out * 4);
    double *ref = check_alloc(rows * out * 8);
    check_fill_normal(x, rows * in, 0, 1, 41);
    check_fill_normal(w, out * in, 0, 0.5, 42);
    check_fill_normal(b, out, 0.3, 1, 43);
    check_fill_normal(res, rows * out, -2, 3, 44);
    const float *bb = with_bias ? b : NULL;
    ref_forward(ref, x, w, bb, rows, in, out);
    for (size_t i = 0; i < rows * out; i++) ref[i] += res[i];
    lam_linear_forward_residual(y, x, w, bb, res, rows, in, out);
    double e = check_rel_err_f64(y, ref, rows * out, 1e-30), tol = 1e-6 * (1.0 + sqrt((double)in));
    CHECK(e <= tol, "residual %zux%zux%zu bias=%d: rel err %.3g > %.3g", rows, in, out, with_bias, e, tol);
    lam_linear_forward(y0, x, w, bb, rows, in, out);
    lam_linear_forward_residual(res, x, w, bb, NULL, rows, in, out);
    CHECK(!memcmp(res, y0, rows * out * 4), "residual NULL %zux%zux%zu bias=%d differs from the forward", rows, in,
          out, with_bias);
    check_fill_normal(res, rows * out, -2, 3, 44);
    lam_linear_forward_residual(res, x, w, bb, res, rows, in, out);   /* in place over the stream */
    CHECK(!memcmp(res, y, rows * out * 4), "residual in place %zux%zux%zu bias=%d differs", rows, in, out,
          with_bias);
    free(x); free(w); free(b); free(res); free(y); free(y0); free(ref);
}

int main(void) {
    lam_set_num_threads(2);
    check_subnormals();
    for (int bias = 0; bias < 2; bias++) {
        check_residual(1, 1, 1, bias);
        check_residual(37, 13, 29, bias);
        check_residual(300, 64, 96, bias);
    }
    static const size_t shapes[][3] = {{1, 1, 1}, {2, 3, 5}, {7, 13, 11}, {37, 1, 29}, {1, 64, 1},
                                       {5, 17, 1}, {127, 33, 65}, {256, 768, 96}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int bias = 0; bias < 2; bias++)
            check_shape(shapes[s][0], shapes[s][1], shapes[s][2], bias, 100 + s);
    check_finite_differences();
    check_thread_identity();
    check_colsum();
    check_gemm_edges();
    return check_done("linear");
}

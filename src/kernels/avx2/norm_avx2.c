/* AVX2/FMA normalization micro-kernels (the table in norm_ukr.h).
 *
 * Row reductions: four 8-wide accumulators over 32-float steps, then one
 * 8-wide step at a time, then a masked tail; the partial sums are combined in
 * a fixed tree, so the order depends only on n.  Column kernels hold up to 16
 * columns in two registers, one lane per column, rows in order; tails use
 * masked loads/stores and the same fused operations as full lanes, so a
 * column's arithmetic is the same wherever it sits in a block. */
#if defined(__x86_64__) || defined(__i386__)
#include "kernels/norm_ukr.h"

#include <immintrin.h>
#include <stdint.h>

static const int32_t mask_tab[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* lanes [0, k) set, k in [0, 8] */
static inline __m256i mask_n(size_t k) { return _mm256_loadu_si256((const __m256i *)(mask_tab + 8 - k)); }

static inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

static inline float hsum(__m256 v) {
    float a[8];
    _mm256_storeu_ps(a, v);
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}
static inline float hmax(__m256 v) {
    float a[8];
    _mm256_storeu_ps(a, v);
    float m = a[0];
    for (int l = 1; l < 8; l++) m = a[l] > m ? a[l] : m;
    return m;
}

/* x is (n). */
static void a_row_sum_shift(float *sum, float *amax, const float *x, size_t n, float s, float k) {
    const __m256 vs = _mm256_set1_ps(s), vk = _mm256_set1_ps(k);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m256 m0 = a0, m1 = a0;
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m256 x0 = _mm256_loadu_ps(x + j), x1 = _mm256_loadu_ps(x + j + 8);
        __m256 x2 = _mm256_loadu_ps(x + j + 16), x3 = _mm256_loadu_ps(x + j + 24);
        a0 = _mm256_add_ps(a0, _mm256_fmsub_ps(x0, vs, vk));
        a1 = _mm256_add_ps(a1, _mm256_fmsub_ps(x1, vs, vk));
        a2 = _mm256_add_ps(a2, _mm256_fmsub_ps(x2, vs, vk));
        a3 = _mm256_add_ps(a3, _mm256_fmsub_ps(x3, vs, vk));
        m0 = _mm256_max_ps(abs_ps(x0), m0);
        m1 = _mm256_max_ps(abs_ps(x1), m1);
        m0 = _mm256_max_ps(abs_ps(x2), m0);
        m1 = _mm256_max_ps(abs_ps(x3), m1);
    }
    for (; j + 8 <= n; j += 8) {
        __m256 x0 = _mm256_loadu_ps(x + j);
        a0 = _mm256_add_ps(a0, _mm256_fmsub_ps(x0, vs, vk));
        m0 = _mm256_max_ps(abs_ps(x0), m0);
    }
    if (j < n) {
        __m256i mk = mask_n(n - j);
        __m256 x0 = _mm256_maskload_ps(x + j, mk);
        a1 = _mm256_add_ps(a1, _mm256_and_ps(_mm256_castsi256_ps(mk), _mm256_fmsub_ps(x0, vs, vk)));
        m1 = _mm256_max_ps(abs_ps(x0), m1);
    }
    *sum = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    *amax = hmax(_mm256_max_ps(m0, m1));
}

/* x is (n). */
static float a_row_sum_sqdev(const float *x, size_t n, float s, float m) {
    const __m256 vs = _mm256_set1_ps(s), vm = _mm256_set1_ps(m);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m256 d0 = _mm256_fmsub_ps(_mm256_loadu_ps(x + j), vs, vm);
        __m256 d1 = _mm256_fmsub_ps(_mm256_loadu_ps(x + j + 8), vs, vm);
        __m256 d2 = _mm256_fmsub_ps(_mm256_loadu_ps(x + j + 16), vs, vm);
        __m256 d3 = _mm256_fmsub_ps(_mm256_loadu_ps(x + j + 24), vs, vm);
        a0 = _mm256_fmadd_ps(d0, d0, a0);
        a1 = _mm256_fmadd_ps(d1, d1, a1);
        a2 = _mm256_fmadd_ps(d2, d2, a2);
        a3 = _mm256_fmadd_ps(d3, d3, a3);
    }
    for (; j + 8 <= n; j += 8) {
        __m256 d0 = _mm256_fmsub_ps(_mm256_loadu_ps(x + j), vs, vm);
        a0 = _mm256_fmadd_ps(d0, d0, a0);
    }
    if (j < n) {
        __m256i mk = mask_n(n - j);
        __m256 d0 = _mm256_fmsub_ps(_mm256_maskload_ps(x + j, mk), vs, vm);
        d0 = _mm256_and_ps(_mm256_castsi256_ps(mk), d0);
        a1 = _mm256_fmadd_ps(d0, d0, a1);
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

/* One 8-wide step of y = (x − m)·r·gamma + beta; mk selects the lanes
 * (all-ones for a full step).  G, B are compile-time flags. */
static inline __attribute__((always_inline)) void apply8(float *y, const float *x, const float *gamma,
                                                         const float *beta, __m256 vm, __m256 vr, __m256i mk,
                                                         int full, int G, int B) {
    __m256 xv = full ? _mm256_loadu_ps(x) : _mm256_maskload_ps(x, mk);
    __m256 h = _mm256_mul_ps(_mm256_sub_ps(xv, vm), vr);
    __m256 out;
    if (G) {
        __m256 g = full ? _mm256_loadu_ps(gamma) : _mm256_maskload_ps(gamma, mk);
        if (B) {
            __m256 b = full ? _mm256_loadu_ps(beta) : _mm256_maskload_ps(beta, mk);
            out = _mm256_fmadd_ps(h, g, b);
        } else {
            out = _mm256_mul_ps(h, g);
        }
    } else if (B) {
        __m256 b = full ? _mm256_loadu_ps(beta) : _mm256_maskload_ps(beta, mk);
        out = _mm256_add_ps(h, b);
    } else {
        out = h;
    }
    if (full)
        _mm256_storeu_ps(y, out);
    else
        _mm256_maskstore_ps(y, mk, out);
}

static inline __attribute__((always_inline)) void apply_row(float *y, const float *x, const float *gamma,
                                                            const float *beta, size_t n, float m, float r, int G,
                                                            int B) {
    const __m256 vm = _mm256_set1_ps(m), vr = _mm256_set1_ps(r);
    const __m256i all = _mm256_set1_epi32(-1);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        apply8(y + j, x + j, gamma + (G ? j : 0), beta + (B ? j : 0), vm, vr, all, 1, G, B);
        apply8(y + j + 8, x + j + 8, gamma + (G ? j + 8 : 0), beta + (B ? j + 8 : 0), vm, vr, all, 1, G, B);
    }
    for (; j + 8 <= n; j += 8) apply8(y + j, x + j, gamma + (G ? j : 0), beta + (B ? j : 0), vm, vr, all, 1, G, B);
    if (j < n) apply8(y + j, x + j, gamma + (G ? j : 0), beta + (B ? j : 0), vm, vr, mask_n(n - j), 0, G, B);
}

/* x, y, gamma, beta are (n). */
static void a_row_apply(float *y, const float *x, const float *gamma, const float *beta, size_t n, float m,
                        float r) {
    if (gamma && beta)
        apply_row(y, x, gamma, beta, n, m, r, 1, 1);
    else if (gamma)
        apply_row(y, x, gamma, x, n, m, r, 1, 0);
    else if (beta)
        apply_row(y, x, x, beta, n, m, r, 0, 1);
    else
        apply_row(y, x, x, x, n, m, r, 0, 0);
}

/* LayerNorm / RMSNorm backward.  C = 1 centres (LayerNorm: x̂ = (x − m)·r,
 * subtract mean(g)); C = 0 is RMSNorm (x̂ = x·r).  G: gamma given.
 * Pass 1 of a row's backward: *a = mean(g) (0 when !C), *b = mean(g·x̂),
 * g = dy·gamma (G) or dy, x̂ = (x − m)·r (C) or x·r. */
static inline __attribute__((always_inline)) void row_bwd_sums(float *a, float *b, const float *dy, const float *x,
                                                               const float *gamma, size_t n, float m, float r, int C,
                                                               int G) {
    const __m256 vm = _mm256_set1_ps(m), vr = _mm256_set1_ps(r);
    __m256 sg0 = _mm256_setzero_ps(), sg1 = sg0, sx0 = sg0, sx1 = sg0;
    size_t j = 0;
#define XH(p) (C ? _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(p), vm), vr) : _mm256_mul_ps(_mm256_loadu_ps(p), vr))
#define GG(q) (G ? _mm256_mul_ps(_mm256_loadu_ps(dy + (q)), _mm256_loadu_ps(gamma + (q))) : _mm256_loadu_ps(dy + (q)))
    for (; j + 16 <= n; j += 16) {
        __m256 g0 = GG(j), g1 = GG(j + 8);
        __m256 h0 = XH(x + j), h1 = XH(x + j + 8);
        if (C) {
            sg0 = _mm256_add_ps(sg0, g0);
            sg1 = _mm256_add_ps(sg1, g1);
        }
        sx0 = _mm256_fmadd_ps(g0, h0, sx0);
        sx1 = _mm256_fmadd_ps(g1, h1, sx1);
    }
    for (; j + 8 <= n; j += 8) {
        __m256 g0 = GG(j), h0 = XH(x + j);
        if (C) sg0 = _mm256_add_ps(sg0, g0);
        sx0 = _mm256_fmadd_ps(g0, h0, sx0);
    }
    if (j < n) {
        __m256i mk = mask_n(n - j);
        __m256 mf = _mm256_castsi256_ps(mk);
        __m256 d = _mm256_maskload_ps(dy + j, mk);
        __m256 g0 = G ? _mm256_mul_ps(d, _mm256_maskload_ps(gamma + j, mk)) : d;
        __m256 xv = _mm256_maskload_ps(x + j, mk);
        __m256 h0 = _mm256_and_ps(mf, C ? _mm256_mul_ps(_mm256_sub_ps(xv, vm), vr) : _mm256_mul_ps(xv, vr));
        if (C) sg1 = _mm256_add_ps(sg1, g0);
        sx1 = _mm256_fmadd_ps(g0, h0, sx1);
    }
#undef XH
#undef GG
    const float inv = 1.0f / (float)n;
    *a = C ? hsum(_mm256_add_ps(sg0, sg1)) * inv : 0.0f;
    *b = hsum(_mm256_add_ps(sx0, sx1)) * inv;
}

/* Pass 2 for the vector at column j of one row (mask mk, full: all 8 lanes):
 *   dx = r·((g − mean(g)) − x̂·mean(g·x̂))
 * and its contribution to the column partials ag += dy·x̂, ab += dy (when C).
 * Needs dyr, xr, dxr (the row), vm, vr, va, vb (its m, r, mean(g),
 * mean(g·x̂)), C and G in scope.  The one definition of this arithmetic, for
 * the row kernels and the group kernel alike. */
#define BWD_VEC(j, mk, full, ag, ab)                                                                          \
    do {                                                                                                        \
        __m256 d_ = (full) ? _mm256_loadu_ps(dyr + (j)) : _mm256_maskload_ps(dyr + (j), (mk));                    \
        __m256 gg_ = G ? _mm256_mul_ps(d_, (full) ? _mm256_loadu_ps(gamma + (j)) : _mm256_maskload_ps(gamma + (j), (mk))) \
                      : d_;                                                                                      \
        __m256 xv_ = (full) ? _mm256_loadu_ps(xr + (j)) : _mm256_maskload_ps(xr + (j), (mk));                     \
        __m256 h_ = C ? _mm256_mul_ps(_mm256_sub_ps(xv_, vm), vr) : _mm256_mul_ps(xv_, vr);                       \
        __m256 t_ = C ? _mm256_sub_ps(gg_, va) : gg_;                                                              \
        __m256 o_ = _mm256_mul_ps(vr, _mm256_fnmadd_ps(h_, vb, t_));                                              \
        if (full)                                                                                               \
            _mm256_storeu_ps(dxr + (j), o_);                                                                     \
        else                                                                                                    \
            _mm256_maskstore_ps(dxr + (j), (mk), o_);                                                            \
        ag = _mm256_fmadd_ps(d_, h_, ag);                                                                        \
        if (C) ab = _mm256_add_ps(ab, d_);                                                                       \
    } while (0)

/* dx of one row; dx, dy, x, gamma are (n). */
static inline __attribute__((always_inline)) void row_backward(float *dx, const float *dy, const float *x,
                                                               const float *gamma, size_t n, float m, float r, int C,
                                                               int G) {
    float sa, sb;
    row_bwd_sums(&sa, &sb, dy, x, gamma, n, m, r, C, G);
    const __m256 vm = _mm256_set1_ps(m), vr = _mm256_set1_ps(r), va = _mm256_set1_ps(sa), vb = _mm256_set1_ps(sb);
    const float *dyr = dy, *xr = x;
    float *dxr = dx;
    __m256 ag = _mm256_setzero_ps(), ab = ag;   /* partials not wanted here: dead, removed by the compiler */
    for (size_t j = 0; j < n; j += 8) {
        const int full = j + 8 <= n;
        const __m256i mk = full ? _mm256_set1_epi32(-1) : mask_n(n - j);
        BWD_VEC(j, mk, full, ag, ab);
    }
    (void)ag, (void)ab;
}

static void a_ln_row_backward(float *dx, const float *dy, const float *x, const float *gamma, size_t n, float m,
                              float r) {
    if (gamma)
        row_backward(dx, dy, x, gamma, n, m, r, 1, 1);
    else
        row_backward(dx, dy, x, dy, n, m, r, 1, 0);
}

static void a_rms_row_backward(float *dx, const float *dy, const float *x, const float *gamma, size_t n, float r) {
    if (gamma)
        row_backward(dx, dy, x, gamma, n, 0.0f, r, 0, 1);
    else
        row_backward(dx, dy, x, dy, n, 0.0f, r, 0, 0);
}

/* A group of rows <= LAM_NORM_GROUP_MAX: every row's sums first, then the
 * second pass by blocks of 32 columns, rows in order inside a block, so the
 * column partials stay in registers and are stored once. */
static inline __attribute__((always_inline)) void group_backward(float *dx, float *pg, float *pb, const float *dy,
                                                                 const float *x, const float *gamma, size_t rows,
                                                                 size_t n, const float *mean, const float *rstd,
                                                                 int C, int G) {
    float sa[LAM_NORM_GROUP_MAX], sb[LAM_NORM_GROUP_MAX];
    for (size_t i = 0; i < rows; i++)
        row_bwd_sums(&sa[i], &sb[i], dy + i * n, x + i * n, gamma, n, C ? mean[i] : 0.0f, rstd[i], C, G);
    const __m256i all = _mm256_set1_epi32(-1);
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m256 g0 = _mm256_setzero_ps(), g1 = g0, g2 = g0, g3 = g0, b0 = g0, b1 = g0, b2 = g0, b3 = g0;
        for (size_t i = 0; i < rows; i++) {
            const float *dyr = dy + i * n, *xr = x + i * n;
            float *dxr = dx + i * n;
            const __m256 vm = _mm256_set1_ps(C ? mean[i] : 0.0f), vr = _mm256_set1_ps(rstd[i]);
            const __m256 va = _mm256_set1_ps(sa[i]), vb = _mm256_set1_ps(sb[i]);
            BWD_VEC(j, all, 1, g0, b0);
            BWD_VEC(j + 8, all, 1, g1, b1);
            BWD_VEC(j + 16, all, 1, g2, b2);
            BWD_VEC(j + 24, all, 1, g3, b3);
        }
        _mm256_storeu_ps(pg + j, g0);
        _mm256_storeu_ps(pg + j + 8, g1);
        _mm256_storeu_ps(pg + j + 16, g2);
        _mm256_storeu_ps(pg + j + 24, g3);
        if (C) {
            _mm256_storeu_ps(pb + j, b0);
            _mm256_storeu_ps(pb + j + 8, b1);
            _mm256_storeu_ps(pb + j + 16, b2);
            _mm256_storeu_ps(pb + j + 24, b3);
        }
    }
    for (; j < n; j += 8) {
        const int full = j + 8 <= n;
        const __m256i mk = full ? all : mask_n(n - j);
        __m256 g0 = _mm256_setzero_ps(), b0 = g0;
        for (size_t i = 0; i < rows; i++) {
            const float *dyr = dy + i * n, *xr = x + i * n;
            float *dxr = dx + i * n;
            const __m256 vm = _mm256_set1_ps(C ? mean[i] : 0.0f), vr = _mm256_set1_ps(rstd[i]);
            const __m256 va = _mm256_set1_ps(sa[i]), vb = _mm256_set1_ps(sb[i]);
            BWD_VEC(j, mk, full, g0, b0);
        }
        if (full) {
            _mm256_storeu_ps(pg + j, g0);
            if (C) _mm256_storeu_ps(pb + j, b0);
        } else {
            _mm256_maskstore_ps(pg + j, mk, g0);
            if (C) _mm256_maskstore_ps(pb + j, mk, b0);
        }
    }
}

static void a_norm_group_backward(float *dx, float *pg, float *pb, const float *dy, const float *x,
                                  const float *gamma, size_t rows, size_t n, const float *mean, const float *rstd) {
    const float *gm = gamma ? gamma : dy;
    if (mean) {
        if (gamma)
            group_backward(dx, pg, pb, dy, x, gm, rows, n, mean, rstd, 1, 1);
        else
            group_backward(dx, pg, pb, dy, x, gm, rows, n, mean, rstd, 1, 0);
    } else {
        if (gamma)
            group_backward(dx, pg, pb, dy, x, gm, rows, n, mean, rstd, 0, 1);
        else
            group_backward(dx, pg, pb, dy, x, gm, rows, n, mean, rstd, 0, 0);
    }
}

#undef BWD_VEC

/* Masks for a block of nc <= 16 columns. */
static inline void masks16(size_t nc, __m256i *k0, __m256i *k1) {
    *k0 = mask_n(nc < 8 ? nc : 8);
    *k1 = mask_n(nc > 8 ? nc - 8 : 0);
}
#define LD(p, k) _mm256_maskload_ps((p), (k))

/* x, dy are (rows, ld); mean, rstd are (rows); dgamma, dbeta are (nc), nc <= LAM_NORM_COL_MAX.
 * Rows are walked contiguously; the column sums live in a stack buffer. */
static void a_col_dgamma_dbeta(float *dgamma, float *dbeta, const float *dy, const float *x, const float *mean,
                               const float *rstd, size_t rows, size_t ld, size_t nc) {
    _Alignas(32) float sg[LAM_NORM_COL_MAX], sb[LAM_NORM_COL_MAX];
    const size_t nv = nc / 8 * 8;
    const __m256i kt = mask_n(nc - nv);
    for (size_t j = 0; j < nc; j++) sg[j] = sb[j] = 0.0f;
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + i * ld, *dr = dy + i * ld;
        const __m256 vm = _mm256_set1_ps(mean ? mean[i] : 0.0f), vr = _mm256_set1_ps(rstd[i]);
        size_t j = 0;
        for (; j < nv; j += 8) {
            __m256 d = _mm256_loadu_ps(dr + j);
            __m256 h = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vm), vr);
            _mm256_store_ps(sg + j, _mm256_fmadd_ps(d, h, _mm256_load_ps(sg + j)));
            _mm256_store_ps(sb + j, _mm256_add_ps(_mm256_load_ps(sb + j), d));
        }
        if (j < nc) { /* same operations, masked */
            __m256 d = _mm256_maskload_ps(dr + j, kt);
            __m256 h = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + j, kt), vm), vr);
            _mm256_store_ps(sg + j, _mm256_fmadd_ps(d, h, _mm256_load_ps(sg + j)));
            _mm256_store_ps(sb + j, _mm256_add_ps(_mm256_load_ps(sb + j), d));
        }
    }
    for (size_t j = 0; j < nc; j += 8) {
        __m256i k = j + 8 <= nc ? _mm256_set1_epi32(-1) : kt;
        if (dgamma)
            _mm256_maskstore_ps(dgamma + j, k, _mm256_add_ps(_mm256_maskload_ps(dgamma + j, k), _mm256_load_ps(sg + j)));
        if (dbeta)
            _mm256_maskstore_ps(dbeta + j, k, _mm256_add_ps(_mm256_maskload_ps(dbeta + j, k), _mm256_load_ps(sb + j)));
    }
}

/* x is (rows, ld); sum, amax, s, k are (nc). */
static void a_col_sum_shift(float *sum, float *amax, const float *x, size_t rows, size_t ld, size_t nc,
                            const float *s, const float *k) {
    __m256i k0, k1;
    masks16(nc, &k0, &k1);
    const __m256 s0 = LD(s, k0), s1 = LD(s + 8, k1), c0 = LD(k, k0), c1 = LD(k + 8, k1);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, m0 = a0, m1 = a0;
    for (size_t i = 0; i < rows; i++) {
        __m256 x0 = LD(x + i * ld, k0), x1 = LD(x + i * ld + 8, k1);
        a0 = _mm256_add_ps(a0, _mm256_fmsub_ps(x0, s0, c0));
        a1 = _mm256_add_ps(a1, _mm256_fmsub_ps(x1, s1, c1));
        m0 = _mm256_max_ps(abs_ps(x0), m0);
        m1 = _mm256_max_ps(abs_ps(x1), m1);
    }
    _mm256_maskstore_ps(sum, k0, a0);
    _mm256_maskstore_ps(sum + 8, k1, a1);
    _mm256_maskstore_ps(amax, k0, m0);
    _mm256_maskstore_ps(amax + 8, k1, m1);
}

/* x is (rows, ld); out, s, m are (nc). */
static void a_col_sum_sqdev(float *out, const float *x, size_t rows, size_t ld, size_t nc, const float *s,
                            const float *m) {
    __m256i k0, k1;
    masks16(nc, &k0, &k1);
    const __m256 s0 = LD(s, k0), s1 = LD(s + 8, k1), c0 = LD(m, k0), c1 = LD(m + 8, k1);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    for (size_t i = 0; i < rows; i++) {
        __m256 d0 = _mm256_fmsub_ps(LD(x + i * ld, k0), s0, c0);
        __m256 d1 = _mm256_fmsub_ps(LD(x + i * ld + 8, k1), s1, c1);
        a0 = _mm256_fmadd_ps(d0, d0, a0);
        a1 = _mm256_fmadd_ps(d1, d1, a1);
    }
    _mm256_maskstore_ps(out, k0, a0);
    _mm256_maskstore_ps(out + 8, k1, a1);
}

/* x, y are (rows, ld); m, a, b are (nc). */
static void a_col_apply(float *y, const float *x, size_t rows, size_t ld, size_t nc, const float *m, const float *a,
                        const float *b) {
    __m256i k0, k1;
    masks16(nc, &k0, &k1);
    const __m256 m0 = LD(m, k0), m1 = LD(m + 8, k1), a0 = LD(a, k0), a1 = LD(a + 8, k1);
    const __m256 b0 = LD(b, k0), b1 = LD(b + 8, k1);
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + i * ld;
        float *yr = y + i * ld;
        _mm256_maskstore_ps(yr, k0, _mm256_fmadd_ps(_mm256_sub_ps(LD(xr, k0), m0), a0, b0));
        _mm256_maskstore_ps(yr + 8, k1, _mm256_fmadd_ps(_mm256_sub_ps(LD(xr + 8, k1), m1), a1, b1));
    }
}

/* dy, x are (rows, ld); sdy, sdyxh, m, r are (nc). */
static void a_col_bn_sums(float *sdy, float *sdyxh, const float *dy, const float *x, size_t rows, size_t ld,
                          size_t nc, const float *m, const float *r) {
    __m256i k0, k1;
    masks16(nc, &k0, &k1);
    const __m256 m0 = LD(m, k0), m1 = LD(m + 8, k1), r0 = LD(r, k0), r1 = LD(r + 8, k1);
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, t0 = s0, t1 = s0;
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + i * ld, *dr = dy + i * ld;
        __m256 d0 = LD(dr, k0), d1 = LD(dr + 8, k1);
        s0 = _mm256_add_ps(s0, d0);
        s1 = _mm256_add_ps(s1, d1);
        t0 = _mm256_fmadd_ps(d0, _mm256_mul_ps(_mm256_sub_ps(LD(xr, k0), m0), r0), t0);
        t1 = _mm256_fmadd_ps(d1, _mm256_mul_ps(_mm256_sub_ps(LD(xr + 8, k1), m1), r1), t1);
    }
    _mm256_maskstore_ps(sdy, k0, s0);
    _mm256_maskstore_ps(sdy + 8, k1, s1);
    _mm256_maskstore_ps(sdyxh, k0, t0);
    _mm256_maskstore_ps(sdyxh + 8, k1, t1);
}

/* dx, dy, x are (rows, ld); m, r, a, b, c are (nc). */
static void a_col_bn_dx(float *dx, const float *dy, const float *x, size_t rows, size_t ld, size_t nc,
                        const float *m, const float *r, const float *a, const float *b, const float *c) {
    __m256i k0, k1;
    masks16(nc, &k0, &k1);
    const __m256 m0 = LD(m, k0), m1 = LD(m + 8, k1), r0 = LD(r, k0), r1 = LD(r + 8, k1);
    const __m256 a0 = LD(a, k0), a1 = LD(a + 8, k1), b0 = LD(b, k0), b1 = LD(b + 8, k1);
    const __m256 c0 = LD(c, k0), c1 = LD(c + 8, k1);
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + i * ld, *dr = dy + i * ld;
        float *dxr = dx + i * ld;
        __m256 h0 = _mm256_mul_ps(_mm256_sub_ps(LD(xr, k0), m0), r0);
        __m256 h1 = _mm256_mul_ps(_mm256_sub_ps(LD(xr + 8, k1), m1), r1);
        __m256 t0 = _mm256_fnmadd_ps(h0, c0, _mm256_sub_ps(LD(dr, k0), b0));
        __m256 t1 = _mm256_fnmadd_ps(h1, c1, _mm256_sub_ps(LD(dr + 8, k1), b1));
        _mm256_maskstore_ps(dxr, k0, _mm256_mul_ps(a0, t0));
        _mm256_maskstore_ps(dxr + 8, k1, _mm256_mul_ps(a1, t1));
    }
}
#undef LD

const lam_norm_ukr lam_norm_ukr_avx2 = {
    a_row_sum_shift, a_row_sum_sqdev, a_row_apply, a_ln_row_backward, a_rms_row_backward, a_col_dgamma_dbeta,
    a_col_sum_shift, a_col_sum_sqdev, a_col_apply, a_col_bn_sums,     a_col_bn_dx,        a_norm_group_backward,
};
#else
typedef int lam_norm_avx2_unused;
#endif

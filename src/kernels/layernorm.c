/* LayerNorm forward and backward (PyTorch nn.LayerNorm over the last dim),
 * the micro-kernel selection and the row-wise backward shared with RMSNorm.
 *
 * Statistics per row, one thread per row:
 *   pass 1: S = Σ (x − K) with K = x[0] (shifted sum: no cancellation for
 *           rows with a large offset) and max |x|;  mean = K + S/dim;
 *   pass 2: Σ (x − mean)²  (two-pass variance, never E[x²] − E[x]²);
 *   y = (x − mean)·rstd·gamma + beta  in exactly this form, so a constant row
 *   gives var = 0 and y = beta exactly.
 * Rows whose largest magnitude is beyond 2^48 (squares could overflow) or
 * below 2^-40 (squares would underflow) are first scaled by an exact power of
 * two s (lam_norm_scale_for); mean = mean'/s, rstd = s/sqrt(var' + eps·s²).
 * The few scalar operations per row that finish the statistics are done in
 * double (they may involve s² far outside float range); everything per
 * element is float.  NaN and Inf are never scaled away: they reach the sums
 * and make their own row NaN, no other. */
#include "kernels/kernels_internal.h"
#include "kernels/norm_ukr.h"
#include "kernels/workspace.h"
#include "lamina.h"

#include <float.h>
#include <math.h>
#include <omp.h>

const lam_norm_ukr *lam_norm_ukr_get(void) {
#ifdef LAM_NORM_HAVE_AVX2
    if (lam_use_avx2()) return &lam_norm_ukr_avx2;
#endif
    return &lam_norm_ukr_generic;
}

float lam_norm_scale_for(float amax) {
    if (!(amax > 0.0f) || !(amax <= FLT_MAX)) return 1.0f; /* 0, NaN, Inf */
    if (amax >= 0x1p-40f && amax <= 0x1p48f) return 1.0f;
    int e;
    (void)frexpf(amax, &e); /* amax = f·2^e, f in [0.5, 1) */
    int p = 1 - e;          /* amax·2^p in [1, 2) */
    if (p < -126) p = -126; /* keep s a normal float: amax·s in [1, 4) */
    if (p > 100) p = 100;
    return ldexpf(1.0f, p);
}

/* x is (n).  Mean and rstd of one row (see the file comment). */
static void ln_row_stats(const lam_norm_ukr *u, const float *x, size_t n, float eps, float *mean, float *rstd) {
    float s = 1.0f, k = x[0], sum, amax;
    u->row_sum_shift(&sum, &amax, x, n, s, k);
    float s2 = lam_norm_scale_for(amax);
    if (s2 != 1.0f) {
        s = s2;
        k = x[0] * s;
        u->row_sum_shift(&sum, &amax, x, n, s, k);
    }
    float ms = k + sum / (float)n; /* mean of the scaled row */
    float ss = u->row_sum_sqdev(x, n, s, ms);
    double var = (double)ss / (double)n, sd = (double)s;
    *mean = (float)((double)ms / sd);
    *rstd = (float)(sd / sqrt(var + (double)eps * sd * sd));
}

/* y, x are (rows, dim); mean, rstd are (rows) or NULL; gamma, beta are (dim) or NULL. */
void lam_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                           const float *beta, size_t rows, size_t dim, float eps) {
    const lam_norm_ukr *u = lam_norm_ukr_get();
    int nt = lam_threads_for(rows * dim);
    if ((size_t)nt > rows) nt = (int)rows;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + i * dim;
        float m, r;
        ln_row_stats(u, xr, dim, eps, &m, &r);
        u->row_apply(y + i * dim, xr, gamma, beta, dim, m, r);
        if (mean) mean[i] = m;
        if (rstd) rstd[i] = r;
    }
}

/* Rows per chunk of the backward: x and dy of a chunk (~512 KB) stay in
 * cache between the dx step and the column step.  Depends only on dim, so
 * the grouping of the dgamma/dbeta sums is the same for every thread count. */
static size_t chunk_rows(size_t dim) {
    size_t c = (size_t)65536 / dim;
    if (c < 16) c = 16;
    if (c > 256) c = 256;
    return c;
}

/* Fused path (dx and dgamma/dbeta wanted, 2·FUSE_GROUPS·dim <= FUSE_MAX_FLOATS):
 * rows go in groups of FUSE_GROUP_ROWS, groups in chunks of FUSE_GROUPS.
 * The thread that takes a group computes its rows' dx and, in the same pass,
 * the group's column partial sums (rows in order) into part[group]
 * (norm_group_backward: the partials stay in registers per column block).
 * Then each thread, for its columns, sums each chunk's partials in group
 * order and adds that sum to dgamma/dbeta, chunk after chunk.  Groups and
 * chunks are fixed by the row index alone, so every sum has the same order
 * for any thread count, and x, dy are read once.
 * Partials for many chunks are kept at once (a phase), in the norm's
 * per-thread workspace: a barrier costs ~10 µs under OMP_WAIT_POLICY=PASSIVE,
 * and one chunk per phase (128 rows) spent a third of the time in them.  When
 * the workspace cannot be had, a phase is one chunk on the stack (64 KB);
 * the sums and their order are the same either way. */
#define FUSE_GROUPS ((size_t)8)
#define FUSE_GROUP_ROWS LAM_NORM_GROUP_MAX
#define FUSE_MAX_FLOATS ((size_t)16384)
#define PHASE_MAX_FLOATS ((size_t)1 << 20)   /* 4 MB of partials at most */

/* As lam_norm_rows_backward, dx != NULL and 2·FUSE_GROUPS·dim <= FUSE_MAX_FLOATS. */
static void rows_backward_fused(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                const float *gamma, const float *mean, const float *rstd, size_t rows, size_t dim,
                                int nt) {
    const lam_norm_ukr *u = lam_norm_ukr_get();
    const size_t G = FUSE_GROUP_ROWS, ch = FUSE_GROUPS * FUSE_GROUP_ROWS, chunk_floats = FUSE_GROUPS * 2 * dim;
    const size_t nchunks = (rows + ch - 1) / ch;
    size_t pc = PHASE_MAX_FLOATS / chunk_floats;   /* chunks per phase */
    if (pc > nchunks) pc = nchunks;
    float stack_part[FUSE_MAX_FLOATS];
    float *part = pc > 1 ? lam_workspace(LAM_WS_NORM, pc * chunk_floats) : NULL; /* [group][dgamma, dbeta][dim] */
    if (!part) part = stack_part, pc = 1;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int T = omp_get_num_threads(), t = omp_get_thread_num();
        size_t j0, j1;
        lam_split(dim, LAM_COL_BLOCK, T, t, &j0, &j1);
        float acc[FUSE_MAX_FLOATS / (2 * FUSE_GROUPS)];   /* >= dim on this path */
        for (size_t p0 = 0; p0 < rows; p0 += pc * ch) {
            size_t p1 = rows - p0 < pc * ch ? rows : p0 + pc * ch, ng = (p1 - p0 + G - 1) / G;
#pragma omp for schedule(static)
            for (size_t g = 0; g < ng; g++) {
                float *pg = part + g * 2 * dim, *pb = pg + dim;
                size_t i0 = p0 + g * G, i1 = i0 + G < p1 ? i0 + G : p1, o = i0 * dim;
                u->norm_group_backward(dx + o, pg, pb, dy + o, x + o, gamma, i1 - i0, dim, mean ? mean + i0 : NULL,
                                       rstd + i0);
            } /* implicit barrier: the phase's partials are complete */
            /* per chunk and column: (0 + p_0) + p_1 + ... in group order,
             * then added once; the loops run over j inside so they vectorize */
            for (size_t c = 0; c * FUSE_GROUPS < ng; c++) {
                size_t g1 = (c + 1) * FUSE_GROUPS < ng ? (c + 1) * FUSE_GROUPS : ng;
                for (int w = 0; w < 2; w++) {
                    float *out = w ? dbeta : dgamma;
                    if (!out || (w && !mean)) continue;   /* pb is set for LayerNorm only */
                    for (size_t j = j0; j < j1; j++) acc[j - j0] = 0.0f;
                    for (size_t g = c * FUSE_GROUPS; g < g1; g++) {
                        const float *pp = part + g * 2 * dim + (size_t)w * dim;
                        for (size_t j = j0; j < j1; j++) acc[j - j0] += pp[j];
                    }
                    for (size_t j = j0; j < j1; j++) out[j] += acc[j - j0];
                }
            }
            if (p1 < rows) {
#pragma omp barrier /* part is reused by the next phase */
            }
        }
    }
}

/* x, dy, dx are (rows, dim); mean (NULL for RMSNorm), rstd are (rows); gamma, dgamma, dbeta are (dim). */
void lam_norm_rows_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                            const float *gamma, const float *mean, const float *rstd, size_t rows, size_t dim) {
    const lam_norm_ukr *u = lam_norm_ukr_get();
    const size_t ch = chunk_rows(dim);
    const int cols = dgamma != NULL || dbeta != NULL;
    if (!dx && !cols) return;
    int nt = lam_threads_for(2 * rows * dim);
    if (dx && cols && 2 * FUSE_GROUPS * dim <= FUSE_MAX_FLOATS) {
        rows_backward_fused(dx, dgamma, dbeta, dy, x, gamma, mean, rstd, rows, dim, nt);
        return;
    }
    /* General path (wide rows, or only dx, or only dgamma/dbeta). */
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int T = omp_get_num_threads(), t = omp_get_thread_num();
        size_t j0, j1;
        lam_split(dim, LAM_COL_BLOCK, T, t, &j0, &j1);
        for (size_t c0 = 0; c0 < rows; c0 += ch) {
            size_t c1 = rows - c0 < ch ? rows : c0 + ch;
            if (dx) {
                /* (a) the chunk's rows, split between threads: dx */
#pragma omp for schedule(static)
                for (size_t i = c0; i < c1; i++) {
                    size_t o = i * dim;
                    if (mean)
                        u->ln_row_backward(dx + o, dy + o, x + o, gamma, dim, mean[i], rstd[i]);
                    else
                        u->rms_row_backward(dx + o, dy + o, x + o, gamma, dim, rstd[i]);
                }
                /* implicit barrier: the chunk is now in cache */
            }
            /* (b) the chunk's columns, split in LAM_COL_BLOCK multiples:
             *     dgamma += Σ dy·x̂, dbeta += Σ dy, each column's rows in order
             *     (the kernel walks rows contiguously over up to
             *     LAM_NORM_COL_MAX columns, sums kept on its stack).
             *     Columns are owned by one thread across all chunks, so no
             *     barrier is needed before the next chunk. */
            if (cols)
                for (size_t j = j0; j < j1; j += LAM_NORM_COL_MAX) {
                    size_t nc = j1 - j < LAM_NORM_COL_MAX ? j1 - j : LAM_NORM_COL_MAX;
                    u->col_dgamma_dbeta(dgamma ? dgamma + j : NULL, dbeta ? dbeta + j : NULL, dy + c0 * dim + j,
                                        x + c0 * dim + j, mean ? mean + c0 : NULL, rstd + c0, c1 - c0, dim, nc);
                }
        }
    }
}

/* dx, dy, x are (rows, dim); mean, rstd are (rows) from the forward; gamma, dgamma, dbeta are (dim).
 * Differentiates y = (x − mean)·rstd·gamma + beta:
 *   x̂ = (x − mean)·rstd, g = dy·gamma, dx = rstd·(g − mean(g) − x̂·mean(g·x̂)),
 *   dgamma += Σ_rows dy·x̂, dbeta += Σ_rows dy. */
void lam_layernorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                            const float *gamma, const float *mean, const float *rstd, size_t rows, size_t dim) {
    lam_norm_rows_backward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd, rows, dim);
}

/* Token + position embeddings and the softmax cross-entropy; see embedding.h.
 * The exponentials are the vector families' exp_shift (as the attention's
 * softmax), the sums of a row fixed-order in double (lam_dot_f64). */
#include "kernels/embedding.h"
#include "kernels/act_ukr.h"
#include "kernels/kernels_internal.h"
#include "kernels/reduce.h"

#include <math.h>
#include <omp.h>

void lam_embedding_forward(float *x, const uint8_t *tokens, const float *wte, const float *wpe, size_t B, size_t T,
                           size_t C) {
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < B * T; r++) {
        const float *e = wte + (size_t)tokens[r] * C, *p = wpe + (r % T) * C;
        float *o = x + r * C;
        for (size_t c = 0; c < C; c++) o[c] = e[c] + p[c];
    }
}

void lam_embedding_backward(float *dwte, float *dwpe, const float *dx, const uint8_t *tokens, size_t B, size_t T,
                            size_t C) {
    int nt = lam_threads_for(B * T * C);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        size_t c0, c1;
        lam_split(C, LAM_COL_BLOCK, omp_get_num_threads(), omp_get_thread_num(), &c0, &c1);
        for (size_t r = 0; r < B * T && c1 > c0; r++) {
            const float *g = dx + r * C;
            if (dwte) {
                float *d = dwte + (size_t)tokens[r] * C;
                for (size_t c = c0; c < c1; c++) d[c] += g[c];
            }
            if (dwpe) {
                float *d = dwpe + (r % T) * C;
                for (size_t c = c0; c < c1; c++) d[c] += g[c];
            }
        }
    }
}

/* Columns of a row summed as one piece (the forward's stack buffer). */
#define VCHUNK ((size_t)256)

/* l, e are (n): e = exp(l − mx); returns Σ e in double, chunk by chunk of
 * VCHUNK in order, each chunk's sum fixed-order.  e may be l. */
static double exp_sum(const lam_act_ukr *uk, float *e, const float *l, size_t n, float mx) {
    double s = 0;
    for (size_t j0 = 0; j0 < n; j0 += VCHUNK) {
        size_t k = n - j0 < VCHUNK ? n - j0 : VCHUNK;
        uk->exp_shift(e + j0, l + j0, mx, k);
        s += lam_dot_f64(e + j0, NULL, k);
    }
    return s;
}

void lam_crossentropy_forward(float *losses, const float *logits, const uint8_t *targets, size_t N, size_t V) {
    const lam_act_ukr *uk = lam_act_ukr_get();
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < N; i++) {
        const float *l = logits + i * V;
        float e[VCHUNK], mx = lam_max_f32(l, V);
        double s = 0;
        for (size_t j0 = 0; j0 < V; j0 += VCHUNK)   /* the same chunks as exp_sum */
            s += exp_sum(uk, e, l + j0, V - j0 < VCHUNK ? V - j0 : VCHUNK, mx);
        losses[i] = (float)(((double)mx - l[targets[i]]) + log(s));
    }
}

void lam_crossentropy_backward(float *dlogits, const float *logits, const uint8_t *targets, size_t N, size_t V,
                               float scale) {
    const lam_act_ukr *uk = lam_act_ukr_get();
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < N; i++) {
        const float *l = logits + i * V;
        float *d = dlogits + i * V, mx = lam_max_f32(l, V);
        /* softmax = exp(l − max) / Σ, the exponentials formed once, in d (in place when d is l) */
        float k = (float)((double)scale / exp_sum(uk, d, l, V, mx));
        for (size_t j = 0; j < V; j++) d[j] *= k;
        d[targets[i]] -= scale;
    }
}

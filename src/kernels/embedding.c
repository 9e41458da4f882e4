/* Token + position embeddings and the softmax cross-entropy; see embedding.h. */
#include "kernels/embedding.h"
#include "kernels/kernels_internal.h"

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

void lam_crossentropy_forward(float *losses, float *lse, const float *logits, const uint8_t *targets, size_t N,
                              size_t V) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < N; i++) {
        const float *l = logits + i * V;
        float mx = l[0];
        for (size_t j = 1; j < V; j++)
            if (l[j] > mx || l[j] != l[j]) mx = l[j];
        double s = 0;
        for (size_t j = 0; j < V; j++) s += exp((double)l[j] - mx);
        double z = mx + log(s);
        lse[i] = (float)z;
        losses[i] = (float)(z - l[targets[i]]);
    }
}

void lam_crossentropy_backward(float *dlogits, const float *logits, const float *lse, const uint8_t *targets,
                               size_t N, size_t V, float scale) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < N; i++) {
        const float *l = logits + i * V;
        float *d = dlogits + i * V;
        for (size_t j = 0; j < V; j++) d[j] = scale * expf(l[j] - lse[i]);
        d[targets[i]] -= scale;
    }
}

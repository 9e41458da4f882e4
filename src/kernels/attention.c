/* Causal multi-head self-attention, one (sequence, head) pair per task: the
 * products go through lam_gemm (single-threaded inside the parallel loop),
 * each pair's outputs belong to it alone, so the result does not depend on
 * the thread count. */
#include "kernels/attention.h"
#include "kernels/gemm.h"

#include <math.h>

/* One row of scores s[0..t] → probabilities in place; s[t+1..T) = 0. */
static void causal_softmax_row(float *s, size_t t, size_t T) {
    float mx = s[0];
    for (size_t j = 1; j <= t; j++)
        if (s[j] > mx || s[j] != s[j]) mx = s[j];
    double sum = 0;
    for (size_t j = 0; j <= t; j++) {
        s[j] = expf(s[j] - mx);
        sum += s[j];
    }
    float inv = (float)(1.0 / sum);
    for (size_t j = 0; j <= t; j++) s[j] *= inv;
    for (size_t j = t + 1; j < T; j++) s[j] = 0.0f;
}

void lam_attention_forward(float *out, float *att, const float *qkv, size_t B, size_t T, size_t C, size_t H) {
    size_t hs = C / H, C3 = 3 * C;
    float scale = (float)(1.0 / sqrt((double)hs));
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t bh = 0; bh < B * H; bh++) {
        size_t b = bh / H, h = bh % H;
        const float *q = qkv + b * T * C3 + h * hs, *k = q + C, *v = q + 2 * C;
        float *a = att + bh * T * T;
        /* a = scale·q·kᵀ  (T, T); only the causal part is used */
        lam_gemm(LAM_NO_TRANS, LAM_TRANS, T, T, hs, scale, q, C3, k, C3, 0.0f, a, T);
        for (size_t t = 0; t < T; t++) causal_softmax_row(a + t * T, t, T);
        /* out_h = a·v  (T, hs) */
        lam_gemm(LAM_NO_TRANS, LAM_NO_TRANS, T, hs, T, 1.0f, a, T, v, C3, 0.0f, out + b * T * C + h * hs, C);
    }
}

/* Differentiates, per pair: s = scale·q·kᵀ; a = softmax(s) (causal); o = a·v. */
void lam_attention_backward(float *dqkv, float *work, const float *dout, const float *qkv, const float *att,
                            size_t B, size_t T, size_t C, size_t H) {
    size_t hs = C / H, C3 = 3 * C;
    float scale = (float)(1.0 / sqrt((double)hs));
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t bh = 0; bh < B * H; bh++) {
        size_t b = bh / H, h = bh % H;
        const float *q = qkv + b * T * C3 + h * hs, *k = q + C, *v = q + 2 * C;
        const float *a = att + bh * T * T, *dout_h = dout + b * T * C + h * hs;
        float *dq = dqkv + b * T * C3 + h * hs, *dk = dq + C, *dv = dq + 2 * C;
        float *da = work + bh * T * T;
        /* o = a·v:  da = do·vᵀ,  dv = aᵀ·do */
        lam_gemm(LAM_NO_TRANS, LAM_TRANS, T, T, hs, 1.0f, dout_h, C, v, C3, 0.0f, da, T);
        lam_gemm(LAM_TRANS, LAM_NO_TRANS, T, hs, T, 1.0f, a, T, dout_h, C, 0.0f, dv, C3);
        /* a = softmax(s):  ds = a ⊙ (da − Σ_j da·a)  (row by row, causal part) */
        for (size_t t = 0; t < T; t++) {
            float *dr = da + t * T;
            const float *ar = a + t * T;
            double dot = 0;
            for (size_t j = 0; j <= t; j++) dot += (double)dr[j] * ar[j];
            float d = (float)dot;
            for (size_t j = 0; j <= t; j++) dr[j] = ar[j] * (dr[j] - d);
            for (size_t j = t + 1; j < T; j++) dr[j] = 0.0f;
        }
        /* s = scale·q·kᵀ:  dq = scale·ds·k,  dk = scale·dsᵀ·q */
        lam_gemm(LAM_NO_TRANS, LAM_NO_TRANS, T, hs, T, scale, da, T, k, C3, 0.0f, dq, C3);
        lam_gemm(LAM_TRANS, LAM_NO_TRANS, T, hs, T, scale, da, T, q, C3, 0.0f, dk, C3);
    }
}

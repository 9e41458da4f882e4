/* Causal multi-head self-attention, one (sequence, head) pair per task: the
 * products go through lam_gemm_seq (one BLAS call on the task's thread),
 * each pair's outputs belong to it alone, so the result does not depend on
 * the thread count.
 *
 * Causal blocks: the T query rows are taken in blocks of QBLOCK, and block
 * [r0, r1) multiplies only against keys 0 .. r1−1 — the scores above the
 * diagonal block are never formed, read or differentiated.  At T = 128 and
 * QBLOCK 64 that is 3/4 of the full products' arithmetic.  The blocking is
 * fixed, so it changes no result with the thread count. */
#include "kernels/act_ukr.h"
#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/reduce.h"

#include <math.h>

#ifndef QBLOCK
#define QBLOCK ((size_t)64)
#endif

/* One row of scores s[0..t] → probabilities in place; s[t+1..end) = 0.
 * A NaN or +inf score makes the row NaN (through exp and the sum). */
static void causal_softmax_row(const lam_act_ukr *uk, float *s, size_t t, size_t end) {
    size_t n = t + 1;
    uk->exp_shift(s, s, lam_max_f32(s, n), n);
    float inv = (float)(1.0 / lam_dot_f64(s, NULL, n));
    for (size_t j = 0; j < n; j++) s[j] *= inv;
    for (size_t j = n; j < end; j++) s[j] = 0.0f;
}

void lam_attention_forward(float *out, float *att, const float *qkv, size_t B, size_t T, size_t C, size_t H) {
    const lam_act_ukr *uk = lam_act_ukr_get();
    size_t hs = C / H, C3 = 3 * C;
    float scale = (float)(1.0 / sqrt((double)hs));
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t bh = 0; bh < B * H; bh++) {
        size_t b = bh / H, h = bh % H;
        const float *q = qkv + b * T * C3 + h * hs, *k = q + C, *v = q + 2 * C;
        float *a = att + bh * T * T, *o = out + b * T * C + h * hs;
        for (size_t r0 = 0; r0 < T; r0 += QBLOCK) {
            size_t r1 = T - r0 < QBLOCK ? T : r0 + QBLOCK, m = r1 - r0;
            /* a[r0:r1, 0:r1] = scale·q[r0:r1]·k[0:r1]ᵀ */
            lam_gemm_seq(LAM_NO_TRANS, LAM_TRANS, m, r1, hs, scale, q + r0 * C3, C3, k, C3, 0.0f, a + r0 * T, T);
            for (size_t t = r0; t < r1; t++) causal_softmax_row(uk, a + t * T, t, T);
            /* o[r0:r1] = a[r0:r1, 0:r1]·v[0:r1] */
            lam_gemm_seq(LAM_NO_TRANS, LAM_NO_TRANS, m, hs, r1, 1.0f, a + r0 * T, T, v, C3, 0.0f, o + r0 * C, C);
        }
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
        for (size_t r0 = 0; r0 < T; r0 += QBLOCK) {
            size_t r1 = T - r0 < QBLOCK ? T : r0 + QBLOCK, m = r1 - r0;
            /* o[r0:r1] = a[r0:r1, 0:r1]·v[0:r1]:  da[r0:r1, 0:r1] = do[r0:r1]·v[0:r1]ᵀ */
            lam_gemm_seq(LAM_NO_TRANS, LAM_TRANS, m, r1, hs, 1.0f, dout_h + r0 * C, C, v, C3, 0.0f, da + r0 * T, T);
            /* a = softmax(s):  ds = a ⊙ (da − Σ_j da·a)  (row by row, causal part; zero to r1) */
            for (size_t t = r0; t < r1; t++) {
                float *dr = da + t * T;
                const float *ar = a + t * T;
                float d = (float)lam_dot_f64(dr, ar, t + 1);
                for (size_t j = 0; j <= t; j++) dr[j] = ar[j] * (dr[j] - d);
                for (size_t j = t + 1; j < r1; j++) dr[j] = 0.0f;
            }
            /* s = scale·q·kᵀ:  dq[r0:r1] = scale·ds[r0:r1, 0:r1]·k[0:r1] */
            lam_gemm_seq(LAM_NO_TRANS, LAM_NO_TRANS, m, hs, r1, scale, da + r0 * T, T, k, C3, 0.0f, dq + r0 * C3, C3);
        }
        /* key block [c0, c1) is seen by query rows c0 .. T−1 only:
         * dv[c0:c1] = a[c0:T, c0:c1]ᵀ·do[c0:T],  dk[c0:c1] = scale·ds[c0:T, c0:c1]ᵀ·q[c0:T] */
        for (size_t c0 = 0; c0 < T; c0 += QBLOCK) {
            size_t c1 = T - c0 < QBLOCK ? T : c0 + QBLOCK, m = c1 - c0, kk = T - c0;
            lam_gemm_seq(LAM_TRANS, LAM_NO_TRANS, m, hs, kk, 1.0f, a + c0 * T + c0, T, dout_h + c0 * C, C, 0.0f,
                     dv + c0 * C3, C3);
            lam_gemm_seq(LAM_TRANS, LAM_NO_TRANS, m, hs, kk, scale, da + c0 * T + c0, T, q + c0 * C3, C3, 0.0f,
                     dk + c0 * C3, C3);
        }
    }
}

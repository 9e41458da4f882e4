/* Internal: token + position embeddings and the softmax cross-entropy. */
#ifndef LAMINA_KERNELS_EMBEDDING_H
#define LAMINA_KERNELS_EMBEDDING_H

#include <stddef.h>
#include <stdint.h>

/* x (B·T, C) = wte[tokens] + wpe[position]; tokens (B, T) bytes; wte (256, C); wpe (≥ T, C). */
void lam_embedding_forward(float *x, const uint8_t *tokens, const float *wte, const float *wpe, size_t B, size_t T,
                           size_t C);
/* dwte (256, C) and dwpe (≥ T, C) accumulated (+=), either may be NULL.
 * Threads own column blocks and add rows in token order: deterministic. */
void lam_embedding_backward(float *dwte, float *dwpe, const float *dx, const uint8_t *tokens, size_t B, size_t T,
                            size_t C);

/* logits (N, V); targets (N); losses (N) = logsumexp(row) − logit[target]. */
void lam_crossentropy_forward(float *losses, const float *logits, const uint8_t *targets, size_t N, size_t V);
/* dlogits (N, V) written = scale·(softmax(logits) − onehot(target)); may alias
 * logits.  The softmax is formed again as exp(l − max)/Σ, not from a stored
 * log-sum-exp: a float lse of large logits (|lse| ~ 1e4) would carry its
 * rounding (ulp/2 ≈ 5e-4) into every exponential. */
void lam_crossentropy_backward(float *dlogits, const float *logits, const uint8_t *targets, size_t N, size_t V,
                               float scale);

#endif

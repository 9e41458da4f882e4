/* Internal: the core of causal multi-head self-attention (no projections). */
#ifndef LAMINA_KERNELS_ATTENTION_H
#define LAMINA_KERNELS_ATTENTION_H

#include <stddef.h>

/* qkv is (B, T, 3C): per token [q | k | v], each C = H·hs wide, head h at
 * columns h·hs .. h·hs+hs−1.  out is (B, T, C), heads side by side.  att is
 * (B, H, T, T): the softmax probabilities of each query row t over keys
 * 0..t (the rest written as 0), kept for the backward.  Scores are
 * q·k/sqrt(hs). */
void lam_attention_forward(float *out, float *att, const float *qkv, size_t B, size_t T, size_t C, size_t H);
/* dqkv (B, T, 3C) is written; dout is (B, T, C); work is (B, H, T, T)
 * scratch. */
void lam_attention_backward(float *dqkv, float *work, const float *dout, const float *qkv, const float *att,
                            size_t B, size_t T, size_t C, size_t H);

#endif

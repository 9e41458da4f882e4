/*
 * lamina — feed-forward and normalization layers for training transformer
 * language models on CPUs.  Public C API.
 *
 * Conventions
 *  - Row-major fp32.  Shapes are written (rows, dim): `x is (rows, dim)` means
 *    x[i * dim + j] is feature j of row i.
 *  - Kernels (lam_*_forward / lam_*_backward) take plain pointers and size_t
 *    sizes, never allocate, and are threaded with OpenMP over the calling
 *    thread's OpenMP team (see lam_set_num_threads).  Their results are
 *    bit-identical for any thread count: every reduction has a fixed order.
 *  - In a backward, input gradients (dx) are written, parameter gradients
 *    (dgamma, dbeta, dw, db) are accumulated (+=) so micro-batches can sum;
 *    any output pointer documented "may be NULL" is skipped when NULL.
 *  - NaN and Inf stay in the row (token) they came from.
 *  - Fallible calls (I/O, parsing, configuration) return lam_status and
 *    never abort; kernels trust their arguments (sizes > 0, pointers valid).
 */
#ifndef LAMINA_H
#define LAMINA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LAMINA_VERSION_MAJOR 0
#define LAMINA_VERSION_MINOR 1
#define LAMINA_VERSION_PATCH 0
const char *lam_version(void);

/* ------------------------------------------------------------------------
 * Status and errors
 *
 * Fallible calls (I/O, parsing, configuration) return a lam_status and, when
 * given a non-NULL lam_error, fill it on failure with a one-line message that
 * names the problem (the file, the tensor, the flag).  Nothing aborts on user
 * input.
 * ---------------------------------------------------------------------- */
typedef enum {
    LAM_OK = 0,
    LAM_ERR_ARG = 1,    /* a bad argument or configuration value */
    LAM_ERR_IO = 2,     /* the system refused: open, read, write, fsync, rename */
    LAM_ERR_FORMAT = 3, /* a file is corrupt or does not match what is expected */
    LAM_ERR_NOMEM = 4,  /* out of memory */
    LAM_ERR_STATE = 5   /* a call out of order (e.g. backward before forward) */
} lam_status;

typedef struct lam_error {
    lam_status status;
    char msg[512];
} lam_error;

/* A short name for a status ("ok", "bad argument", ...). */
const char *lam_status_name(lam_status s);

/* ------------------------------------------------------------------------
 * Runtime: threads and instruction set
 * ---------------------------------------------------------------------- */

/* Threads used by the kernels and by the BLAS behind them (n >= 1). */
void lam_set_num_threads(int n);
int lam_get_num_threads(void);

/* The micro-kernel family in use: "avx2" (AVX2+FMA, chosen at run time when
 * the CPU has it) or "generic" (portable C).  The environment variable
 * LAMINA_ISA=generic|avx2 picks one at start-up. */
const char *lam_isa(void);
/* Selects "generic" or "avx2"; returns 0, or -1 (nothing changed) when the
 * name is unknown or the CPU lacks the instructions. */
int lam_set_isa(const char *name);

/* ------------------------------------------------------------------------
 * Normalization
 *
 * x, y, dx, dy are (rows, dim).  LayerNorm and RMSNorm normalize each row over
 * its dim features; BatchNorm normalizes each feature over the rows.
 * Semantics are PyTorch's nn.LayerNorm, nn.RMSNorm and nn.BatchNorm1d:
 *   LayerNorm  y = (x - mean) * rstd * gamma + beta,  rstd = 1/sqrt(var + eps),
 *              var biased (divided by dim).
 *   RMSNorm    y = x * rstd * gamma,  rstd = 1/sqrt(mean(x^2) + eps).
 *   BatchNorm  as LayerNorm but per feature over rows.  training != 0:
 *              normalizes with the batch statistics (biased variance) and
 *              updates running_mean/running_var (unbiased variance) by
 *              running = (1 - momentum) * running + momentum * batch;
 *              training == 0: normalizes with running_mean/running_var and
 *              leaves them untouched.
 * gamma and beta may be NULL (scale 1, shift 0).  mean and rstd (per row for
 * LayerNorm/RMSNorm, per feature for BatchNorm) are saved for the backward and
 * may be NULL when no backward follows.  For BatchNorm the running buffers may
 * be NULL in training (not updated); with rows == 1 in training the unbiased
 * variance is undefined and running_var is left unchanged.
 * The backward functions differentiate the training-mode forward.
 * ---------------------------------------------------------------------- */

void lam_layernorm_forward(float *y, float *mean, float *rstd, const float *x,
                           const float *gamma, const float *beta, size_t rows, size_t dim, float eps);
void lam_layernorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                            const float *gamma, const float *mean, const float *rstd, size_t rows, size_t dim);

void lam_rmsnorm_forward(float *y, float *rstd, const float *x, const float *gamma,
                         size_t rows, size_t dim, float eps);
void lam_rmsnorm_backward(float *dx, float *dgamma, const float *dy, const float *x, const float *gamma,
                          const float *rstd, size_t rows, size_t dim);

void lam_batchnorm_forward(float *y, float *mean, float *rstd, float *running_mean, float *running_var,
                           const float *x, const float *gamma, const float *beta, size_t rows, size_t dim,
                           float eps, float momentum, int training);
void lam_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                            const float *gamma, const float *mean, const float *rstd, size_t rows, size_t dim);

/* ------------------------------------------------------------------------
 * Feed-forward layer
 * ---------------------------------------------------------------------- */

typedef enum { LAM_ACT_RELU = 0, LAM_ACT_GELU = 1, LAM_ACT_GELU_TANH = 2, LAM_ACT_SILU = 3 } lam_act;

/* y = x·wᵀ + b.  x is (rows, in), w is (out, in) as torch.nn.Linear, b is (out) or NULL, y is (rows, out). */
void lam_linear_forward(float *y, const float *x, const float *w, const float *b, size_t rows, size_t in, size_t out);
/* dx is written; dw and db are accumulated (+=); any may be NULL to skip it. */
void lam_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                         size_t rows, size_t in, size_t out);

/* Elementwise activation over n values.  GELU is the exact erf form, GELU_TANH
 * PyTorch's approximate='tanh', SILU x·sigmoid(x); all accurate to float32
 * over the whole range.  ReLU's derivative at 0 is 0 (as PyTorch). */
void lam_act_forward(float *y, const float *x, size_t n, lam_act act);
void lam_act_backward(float *dx, const float *dy, const float *x, size_t n, lam_act act);   /* dx written */

/* One feed-forward sublayer, dim -> hidden -> dim.
   gated = 0: y = act(x·w1ᵀ + b1)·w2ᵀ + b2
   gated = 1: y = (act(x·w1ᵀ + b1) ⊙ (x·w3ᵀ + b3))·w2ᵀ + b2   (SwiGLU with SILU, GeGLU with GELU)
   Weights in torch.nn.Linear layout; every bias may be NULL. */
typedef struct lam_ffn {
    size_t dim, hidden;
    lam_act act;
    int gated;
    float *w1, *b1;   /* (hidden, dim), (hidden) */
    float *w3, *b3;   /* gated only: (hidden, dim), (hidden) */
    float *w2, *b2;   /* (dim, hidden), (dim) */
} lam_ffn;

/* What the forward keeps for the backward, in floats.  See lam_ffn_forward. */
size_t lam_ffn_cache_floats(const lam_ffn *f, size_t rows);
/* x and y are (rows, dim); cache holds lam_ffn_cache_floats(f, rows) floats.
 * The cache keeps, each (rows, hidden):
 *   ungated: h = x·w1ᵀ + b1 (the backward needs act'(h)) and a = act(h)
 *            (the backward needs it for dw2 += dyᵀ·a; the forward has to
 *            materialize it anyway as the second GEMM's input);
 *   gated:   g = x·w1ᵀ + b1, u = x·w3ᵀ + b3 (the backward needs act(g),
 *            act'(g) and u) and m = act(g) ⊙ u (for dw2, as above). */
void lam_ffn_forward(const lam_ffn *f, float *y, float *cache, const float *x, size_t rows);
/* grad has the same shape as f; its weight and bias buffers are accumulated (+=)
 * (a NULL buffer in grad is skipped); dx is written (may be NULL).
 * The backward needs (rows, hidden) floats of scratch (two such for gated)
 * for the gradient flowing into the hidden layer.  lam_ffn_backward takes it
 * from a per-thread workspace that grows to the largest size seen and is then
 * reused (released by lam_release_workspace); lam_ffn_backward_ws takes the
 * caller's work buffer of lam_ffn_work_floats(f, rows) floats and allocates
 * nothing. */
void lam_ffn_backward(const lam_ffn *f, const lam_ffn *grad, float *dx, const float *dy, const float *x,
                      const float *cache, size_t rows);
size_t lam_ffn_work_floats(const lam_ffn *f, size_t rows);
void lam_ffn_backward_ws(const lam_ffn *f, const lam_ffn *grad, float *dx, const float *dy, const float *x,
                         const float *cache, size_t rows, float *work);
/* Frees the calling thread's workspace (lam_ffn_backward's scratch). */
void lam_release_workspace(void);

#ifdef __cplusplus
}
#endif
#endif /* LAMINA_H */

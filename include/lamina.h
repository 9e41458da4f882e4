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

/* The micro-kernel family in use, the widest the CPU has unless told
 * otherwise: "avx512" (the AVX2 kernels, with AVX-512 activations — results
 * bit-identical to "avx2", twice the lanes), "avx2" (AVX2+FMA) or "generic"
 * (portable C).  The environment variable LAMINA_ISA=generic|avx2|avx512
 * picks one at start-up (ignored when the CPU lacks it). */
const char *lam_isa(void);
/* Selects "generic", "avx2" or "avx512"; returns 0, or -1 (nothing changed)
 * when the name is unknown or the CPU lacks the instructions. */
int lam_set_isa(const char *name);

/* The BLAS behind the GEMMs: its build string and the kernel family it chose
 * for this CPU (OpenBLAS's core name, e.g. "Haswell", "SkylakeX"; "unknown"
 * for another CBLAS). */
const char *lam_blas_config(void);
const char *lam_blas_core(void);
/* The value OPENBLAS_CORETYPE should be given before the BLAS loads, or NULL
 * when the detected core is right.  OpenBLAS picks its kernels when the
 * library loads; Debian 12's OpenBLAS 0.3.21 takes Sapphire Rapids for
 * "Cooperlake" and then runs SSE3 (Prescott) sgemm kernels, 3-4x slower than
 * its SkylakeX ones; a core older than the CPU's AVX2 is also corrected, and
 * AVX2 kernels (Haswell, Zen) on a CPU with AVX-512 F/BW/DQ/VL are replaced
 * by SkylakeX (1.9x the sgemm speed on Zen 5).  The answer is about the core
 * OpenBLAS loaded, whoever chose it: when OPENBLAS_CORETYPE was set, non-NULL
 * means that choice holds the GEMMs back.  The lamina command re-executes
 * itself with the variable set, or, when the user set it, keeps it and says
 * so in the start-up lines of the commands that run GEMMs; a program using
 * the library sets the variable before it starts. */
const char *lam_blas_core_advice(void);

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
 * Summary statistics (diagnostics)
 * ---------------------------------------------------------------------- */

/* mean, population standard deviation, max |v| and L2 norm of a tensor. */
typedef struct lam_summary { double mean, std, max_abs, l2; } lam_summary;
/* x is (rows, dim); sub and mul are (rows) when by_col == 0, (dim) when
 * by_col == 1, or NULL (0 and 1).  Summarizes v = (x − sub)·mul over all
 * rows·dim values: two passes in double (never E[v²] − E[v]²), in a fixed
 * order, so the result does not depend on the thread count.  A NaN makes
 * mean, std, max_abs and l2 NaN; an infinity makes them non-finite. */
void lam_summarize(lam_summary *s, const float *x, const float *sub, const float *mul, int by_col, size_t rows,
                   size_t dim);

/* ------------------------------------------------------------------------
 * Feed-forward layer
 * ---------------------------------------------------------------------- */

typedef enum { LAM_ACT_RELU = 0, LAM_ACT_GELU = 1, LAM_ACT_GELU_TANH = 2, LAM_ACT_SILU = 3 } lam_act;

/* y = x·wᵀ + b.  x is (rows, in), w is (out, in) as torch.nn.Linear, b is (out) or NULL, y is (rows, out). */
void lam_linear_forward(float *y, const float *x, const float *w, const float *b, size_t rows, size_t in, size_t out);
/* y = res + x·wᵀ + b: a residual connection added by the product itself (y is
 * filled with res + b and the GEMM adds into it: no separate add pass).  res
 * is (rows, out), NULL (no residual) or y itself; y must not overlap x or w. */
void lam_linear_forward_residual(float *y, const float *x, const float *w, const float *b, const float *res,
                                 size_t rows, size_t in, size_t out);
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
 *   ungated: act'(h), h = x·w1ᵀ + b1 (all the backward needs of h:
 *            computed beside act(h) from the same exponential, it spares
 *            the backward a transcendental per element) and a = act(h)
 *            (the backward needs it for dw2 += dyᵀ·a; the forward has to
 *            materialize it anyway as the second GEMM's input);
 *   gated:   g = x·w1ᵀ + b1, u = x·w3ᵀ + b3 (the backward needs act(g),
 *            act'(g) and u) and m = act(g) ⊙ u (for dw2, as above). */
void lam_ffn_forward(const lam_ffn *f, float *y, float *cache, const float *x, size_t rows);
/* y = res + ffn(x), the residual added by the last GEMM as in
 * lam_linear_forward_residual; res is (rows, dim), NULL or y itself.  The
 * backward is lam_ffn_backward's (the residual's gradient is dy itself). */
void lam_ffn_forward_residual(const lam_ffn *f, float *y, float *cache, const float *x, const float *res,
                              size_t rows);
/* grad has the same shape as f; its weight and bias buffers are accumulated (+=)
 * (a NULL buffer in grad is skipped, and so is the gradient of a bias that f
 * does not have); dx is written (may be NULL).
 * The backward needs (rows, hidden) floats of scratch (two such for gated)
 * for the gradient flowing into the hidden layer, and about rows/32 rows
 * more for the bias gradients' partial sums.  lam_ffn_backward takes it
 * from a per-thread workspace that grows to the largest size seen and is then
 * reused (released by lam_release_workspace); when memory for all rows cannot
 * be had it takes the rows in halves, quarters, … (the same gradients up to
 * the order of their sums), and only with not even 32 rows' worth does it
 * print why and abort.  lam_ffn_backward_ws takes the caller's work buffer of
 * lam_ffn_work_floats(f, rows) floats, allocates nothing and cannot fail. */
void lam_ffn_backward(const lam_ffn *f, const lam_ffn *grad, float *dx, const float *dy, const float *x,
                      const float *cache, size_t rows);
size_t lam_ffn_work_floats(const lam_ffn *f, size_t rows);
void lam_ffn_backward_ws(const lam_ffn *f, const lam_ffn *grad, float *dx, const float *dy, const float *x,
                         const float *cache, size_t rows, float *work);
/* Frees the calling thread's workspace (lam_ffn_backward's scratch). */
void lam_release_workspace(void);


/* ------------------------------------------------------------------------
 * Transformer language model (GPT-2 style, byte-level)
 *
 * Vocabulary 256 (token id = byte value); learned token and position
 * embeddings; `layers` blocks of causal multi-head self-attention (fused
 * q,k,v projection) and a feed-forward sublayer, each around a residual add;
 * LM head tied to the token embedding; mean cross-entropy over all positions.
 *   placement pre:  x = x + f(norm(x)) for each sublayer; a final norm before the head.
 *   placement post: x = norm(x + f(x)) for each sublayer; no final norm.
 *   norm none:      the norms are the identity (and hold no parameters).
 * BatchNorm normalizes each channel over all batch·time rows in training mode
 * and uses its running statistics in evaluation mode.
 * ---------------------------------------------------------------------- */

typedef enum { LAM_NORM_LAYERNORM = 0, LAM_NORM_RMSNORM = 1, LAM_NORM_BATCHNORM = 2, LAM_NORM_NONE = 3 } lam_norm;
typedef enum { LAM_PLACE_PRE = 0, LAM_PLACE_POST = 1 } lam_placement;
typedef enum {
    LAM_MLP_RELU = 0, LAM_MLP_GELU = 1, LAM_MLP_GELU_TANH = 2, LAM_MLP_SILU = 3,
    LAM_MLP_SWIGLU = 4, LAM_MLP_GEGLU = 5   /* gated: SiLU / GELU gate ⊙ a second projection */
} lam_mlp;

#define LAM_VOCAB 256
#define LAM_MAX_CTX 65536

typedef struct lam_model_config {
    size_t layers, heads, dim, ctx;
    size_t hidden;          /* 0 = default: 4·dim, gated 8/3·dim rounded up to a multiple of 8 */
    lam_norm norm;
    lam_placement placement;
    lam_mlp act;
    float eps;              /* norm epsilon, default 1e-5 */
    float bn_momentum;      /* BatchNorm running-statistics momentum, default 0.1 */
} lam_model_config;

/* Defaults: layers 4, heads 4, dim 256, ctx 128, hidden 0, layernorm, pre, gelu_tanh, eps 1e-5. */
void lam_model_config_default(lam_model_config *c);
/* Sets one field from text, as the CLI flags and checkpoint metadata spell it:
 * key is layers|heads|dim|ctx|hidden|norm|placement|act|eps|bn_momentum;
 * norm is layernorm|rmsnorm|batchnorm|none, placement pre|post, act
 * relu|gelu|gelu_tanh|silu|swiglu|geglu.  Unknown keys and malformed values
 * are LAM_ERR_ARG with a message naming them. */
lam_status lam_model_config_set(lam_model_config *c, const char *key, const char *value, lam_error *err);
/* Checks every field and their combination (dim divisible by heads, sizes
 * within limits, ...); fills hidden when 0.  LAM_ERR_ARG with a message. */
lam_status lam_model_config_check(lam_model_config *c, lam_error *err);
const char *lam_norm_name(lam_norm n);
const char *lam_placement_name(lam_placement p);
const char *lam_mlp_name(lam_mlp a);

typedef struct lam_model lam_model;

/* Creates a model for micro-batches of up to max_batch sequences of up to ctx
 * tokens: parameters, gradients and activations are allocated here, once.
 * Weights are GPT-2-initialized from `seed`: N(0, 0.02), the attention and
 * MLP output projections N(0, 0.02/sqrt(2·layers)), biases 0, gamma 1, beta 0,
 * BatchNorm running mean 0 and variance 1. */
lam_status lam_model_create(lam_model **out, const lam_model_config *c, size_t max_batch, uint64_t seed,
                            lam_error *err);
void lam_model_free(lam_model *m);
const lam_model_config *lam_model_get_config(const lam_model *m);
size_t lam_model_max_batch(const lam_model *m);
size_t lam_model_param_count(const lam_model *m);       /* trainable floats */
/* Bytes allocated for each role. */
typedef struct lam_memory_plan { size_t params, grads, activations, optimizer; } lam_memory_plan;
void lam_model_memory(const lam_model *m, lam_memory_plan *plan);   /* optimizer = 0 here */

/* One named tensor as it appears in a file (Hugging Face GPT-2 names and
 * Conv1D (in, out) shapes).  data/grad point at internal storage, which is
 * the file layout, or its transpose when `transposed` is set; use
 * lam_tensor_export/import to convert.  grad is NULL for buffers that are
 * not trained (BatchNorm running statistics). */
typedef struct lam_tensor {
    const char *name;
    size_t ndim, shape[2];  /* file shape; shape[1] = 1 when ndim == 1 */
    size_t numel;
    int transposed;
    int decay;              /* AdamW weight decay applies (matrices and embeddings) */
    float *data, *grad;
} lam_tensor;
size_t lam_model_tensor_count(const lam_model *m);
void lam_model_tensor(const lam_model *m, size_t i, lam_tensor *t);
/* Finds a tensor by name; returns its index or (size_t)-1. */
size_t lam_model_find_tensor(const lam_model *m, const char *name);
/* Copies numel floats from internal storage `src` to file layout `dst`, and back. */
void lam_tensor_export(const lam_tensor *t, float *dst, const float *src);
void lam_tensor_import(const lam_tensor *t, float *dst, const float *src);

/* Forward over tokens (batch, T), 1 <= batch <= max_batch, 1 <= T <= ctx.
 * training != 0: BatchNorm uses batch statistics and updates its running
 * ones; otherwise evaluation mode.  targets (batch, T) may be NULL (no loss;
 * *loss is set to NaN).  The logits stay available until the next forward. */
lam_status lam_model_forward(lam_model *m, const uint8_t *tokens, const uint8_t *targets, size_t batch, size_t T,
                             int training, float *loss, lam_error *err);
/* logits of the last forward, (batch, T, LAM_VOCAB). */
const float *lam_model_logits(const lam_model *m);
void lam_model_zero_grad(lam_model *m);
/* Backward of the last forward (which must have had targets): gradients of
 * scale · loss are accumulated (+=) into the parameter gradients. */
lam_status lam_model_backward(lam_model *m, float scale, lam_error *err);
/* sqrt of the sum of squares of every gradient, in a fixed order (float64). */
double lam_model_grad_norm(const lam_model *m);
/* Gradient-ready notification, for overlapping communication with the
 * backward: during lam_model_backward, fn(ctx, first, end) is called once for
 * each group of tensors [first, end) (lam_model_tensor indices) as soon as
 * their gradients are final for this backward — the final norm first, then
 * layer L−1 down to layer 0, then the embeddings (0 and 1, last because the
 * tied head also writes wte).  The groups cover every tensor once, and a
 * group's gradients are one contiguous run of floats, from tensor first's
 * grad (untrained tensors inside the run, such as BatchNorm running
 * statistics, have zero gradients there).  fn NULL turns it off. */
typedef void (*lam_grad_ready_fn)(void *ctx, size_t first, size_t end);
void lam_model_set_grad_hook(lam_model *m, lam_grad_ready_fn fn, void *ctx);
/* The start of tensor i's run of gradient floats (also for untrained tensors),
 * and the number of floats from tensor first to the end of tensor end − 1. */
float *lam_model_grad_run(lam_model *m, size_t first, size_t end, size_t *nfloats);
/* Mean next-byte cross-entropy over consecutive non-overlapping windows of
 * ctx inputs: window k predicts data[k·ctx+1 .. (k+1)·ctx] from
 * data[k·ctx .. (k+1)·ctx−1]; only whole windows; at most max_windows (0 =
 * all).  Evaluation mode.  Sets the summed loss (nats) and the token count. */
lam_status lam_model_eval(lam_model *m, const uint8_t *data, size_t len, size_t max_windows, double *loss_sum,
                          size_t *tokens, lam_error *err);

/* Diagnostics: what the residual stream and the norms look like.
 *
 * The stream is observed at 2·layers + 1 places: entry 2i is layer i's
 * attention sublayer, 2i + 1 its MLP sublayer, entry 2·layers the head (after
 * the last layer).  For each:
 *   stream    the residual stream entering the sublayer (layer i's input, or
 *             `mid` between the sublayers; for the head, the last layer's output);
 *   norm_in   what the sublayer's norm reads: pre = the stream; post = the
 *             stream plus the sublayer's output (x = norm(x + f(x)));
 *             the head: ln_f's input (pre) or the stream (post);
 *   xhat      the normalized values before gamma and beta: (x − mean)·rstd for
 *             LayerNorm and BatchNorm (per row / per feature), x·rstd for RMSNorm;
 *   norm_out  the norm's output, gamma·xhat + beta;
 *   stream_grad  ∂loss/∂stream of the last backward run with diagnostics on
 *             (the gradient of that micro-batch's mean loss; NaN otherwise).
 * Where there is no norm (norm none, or the post-norm head) xhat and norm_out
 * equal norm_in.  All from the last forward (its rows only). */
typedef struct lam_sublayer_stats {
    lam_summary stream, norm_in, xhat, norm_out, stream_grad;
} lam_sublayer_stats;
size_t lam_model_stats_count(const lam_model *m);   /* 2·layers + 1 */
/* On: lam_model_backward also summarizes ∂loss/∂stream at each place (a pass
 * over one (rows, dim) buffer per place).  Off by default. */
void lam_model_set_diagnostics(lam_model *m, int on);
/* Fills out[0 .. lam_model_stats_count(m)) from the last forward;
 * LAM_ERR_STATE before any forward. */
lam_status lam_model_stats(const lam_model *m, lam_sublayer_stats *out, lam_error *err);

/* ------------------------------------------------------------------------
 * Training: AdamW, learning-rate schedule, seeded batches, one step
 * ---------------------------------------------------------------------- */

typedef struct lam_train_config {
    size_t steps;           /* optimizer steps, default 1000 */
    size_t batch;           /* sequences per optimizer step, default 16 */
    size_t accum;           /* micro-batches per step (batch % accum == 0), default 1 */
    size_t warmup;          /* linear warmup steps, default 100 */
    float lr;               /* peak, default 1e-3 */
    float min_lr;           /* cosine floor; < 0 = 10% of lr (default) */
    float weight_decay;     /* decoupled, default 0.1 (matrices and embeddings only) */
    float clip;             /* global gradient-norm clip, default 1.0; 0 = off */
    float beta1, beta2, adam_eps;   /* 0.9, 0.95, 1e-8 */
    uint64_t seed;          /* batches (and the model's init in the CLI), default 1337 */
} lam_train_config;

void lam_train_config_default(lam_train_config *t);
lam_status lam_train_config_check(lam_train_config *t, lam_error *err);   /* fills min_lr */
/* Learning rate of optimizer step `step` (0-based): lr·(step+1)/warmup during
 * warmup, then cosine from lr to min_lr at step == steps−1. */
float lam_lr_at(const lam_train_config *t, size_t step);

typedef struct lam_trainer lam_trainer;
typedef struct lam_step_stats {
    size_t step;            /* the step just taken (0-based) */
    float loss;             /* mean over the step's micro-batches */
    float lr;
    float grad_norm;        /* before clipping */
    size_t tokens;          /* tokens processed in the step */
} lam_step_stats;

/* The trainer borrows the model and the training bytes (both must outlive
 * it) and allocates the AdamW moments.  Batches: each sequence starts at an
 * offset drawn uniformly from [0, len − ctx − 1] by a generator seeded from
 * t->seed; the global batch's offsets are drawn in order, so they depend only
 * on the seed and the step. */
lam_status lam_trainer_create(lam_trainer **out, lam_model *m, const lam_train_config *t, const uint8_t *data,
                              size_t len, lam_error *err);
void lam_trainer_free(lam_trainer *tr);
/* One optimizer step = lam_trainer_gradients + lam_trainer_update. */
lam_status lam_trainer_step(lam_trainer *tr, lam_step_stats *st, lam_error *err);
/* Zeroes the gradients and accumulates the mean gradient of the next global
 * batch (accum micro-batches); sets *loss (mean).  Between this and
 * lam_trainer_update the gradients may be averaged across processes. */
lam_status lam_trainer_gradients(lam_trainer *tr, float *loss, lam_error *err);
/* Data parallelism: this process computes the gradients of its share of
 * every global batch — sequences [rank·batch/nranks, (rank+1)·batch/nranks)
 * of the batch drawn from the seed, in accum micro-batches — scaled by
 * 1/nranks, so that summing the gradients over the processes (an all-reduce)
 * gives the gradient of the global batch's mean loss.  The sequences do not
 * depend on nranks.  LAM_ERR_ARG when batch is not a multiple of
 * nranks·accum.  *loss from lam_trainer_gradients is this share's mean. */
lam_status lam_trainer_set_shard(lam_trainer *tr, size_t rank, size_t nranks, lam_error *err);
/* A gradient-ready hook (lam_model_set_grad_hook) for the last micro-batch of
 * each lam_trainer_gradients: the gradients it reports are final for the step. */
void lam_trainer_set_grad_hook(lam_trainer *tr, lam_grad_ready_fn fn, void *ctx);
/* Clips by global norm and applies AdamW at the current step's learning
 * rate; advances the step.  Fills st (loss is left as given). */
void lam_trainer_update(lam_trainer *tr, lam_step_stats *st);
/* AdamW first (which 0) or second (which 1) moment of tensor i, in internal
 * layout like lam_tensor.data; NULL for untrained tensors. */
float *lam_trainer_moment(lam_trainer *tr, size_t i, int which);
size_t lam_trainer_memory(const lam_trainer *tr);   /* bytes of optimizer state */

/* Per-tensor diagnostics of an update: the gradient (before clipping) and
 * the update-to-weight ratio ‖w_after − w_before‖ / ‖w_before‖. */
typedef struct lam_tensor_stats { lam_summary grad; double update_ratio; } lam_tensor_stats;
/* On: the next updates record lam_tensor_stats for every tensor (one copy of
 * the parameters, allocated here once, and a pass over them per update) and
 * the model records its stream gradients (lam_model_set_diagnostics).
 * LAM_ERR_NOMEM when the copy cannot be allocated. */
lam_status lam_trainer_set_diagnostics(lam_trainer *tr, int on, lam_error *err);
/* Per tensor (lam_model_tensor order) of the last update made with
 * diagnostics on; NULL before one.  Untrained tensors hold NaN. */
const lam_tensor_stats *lam_trainer_tensor_stats(const lam_trainer *tr);

/* Everything besides the moments that a bit-exact resume needs. */
typedef struct lam_trainer_state {
    uint64_t step;          /* optimizer steps taken */
    uint64_t rng[4];        /* batch generator */
} lam_trainer_state;
void lam_trainer_get_state(const lam_trainer *tr, lam_trainer_state *s);
void lam_trainer_set_state(lam_trainer *tr, const lam_trainer_state *s);

#ifdef __cplusplus
}
#endif
#endif /* LAMINA_H */

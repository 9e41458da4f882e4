/* The byte-level GPT: parameter layout, initialization, forward, backward,
 * evaluation.  One flat buffer per role (parameters, gradients,
 * activations, backward scratch), each allocated once in lam_model_create.
 *
 * Internal layout: matrices in torch.nn.Linear layout (out, in), so the
 * Linear and FFN kernels take them directly; the file layout is GPT-2's
 * Conv1D (in, out), hence `transposed` on those tensors. */
#define _POSIX_C_SOURCE 200809L
#include "base/error.h"
#include "kernels/attention.h"
#include "kernels/embedding.h"
#include "kernels/memory.h"
#include "kernels/reduce.h"
#include "lamina.h"
#include "model/rng.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TENSOR_NAME 48

typedef struct tensor_desc {
    char name[MAX_TENSOR_NAME];
    size_t ndim, shape[2], numel, offset;   /* offset into params (and grads) */
    int transposed, decay, trained;
    float init_std;                          /* > 0: normal; 0: constant init_value */
    float init_value;
} tensor_desc;

/* Pointers of one norm (NULL where the kind has no such tensor). */
typedef struct norm_params { float *w, *b, *rm, *rv; } norm_params;

typedef struct layer_params {
    norm_params ln1, ln2;
    float *attn_w, *attn_b, *proj_w, *proj_b;   /* (3C, C), (3C), (C, C), (C) */
    lam_ffn ffn;                                 /* w1 = c_fc, w3 = c_fc2, w2 = c_proj */
} layer_params;

/* Activations of one layer, (N, ·) with N = rows of the forward. */
typedef struct layer_acts {
    float *in;                 /* the residual stream entering the layer */
    float *n1_in, *n1_out, *n1_mean, *n1_rstd;
    float *qkv, *att, *atty;
    float *mid;                /* between the sublayers */
    float *n2_in, *n2_out, *n2_mean, *n2_rstd;
    float *ffn_cache;
    float *out;                /* leaving the layer */
} layer_acts;

struct lam_model {
    lam_model_config c;
    size_t max_batch, ntensors, nparams_all, nparams_trained;
    tensor_desc *t;
    float *params, *grads, *acts, *scratch;
    size_t acts_floats, scratch_floats;
    float *wte, *wpe, *dwte, *dwpe;
    layer_params *L, *G;       /* parameters and their gradients, per layer */
    norm_params lnf, glnf;
    /* activations */
    layer_acts *A;
    float *emb, *f_out, *f_mean, *f_rstd, *logits, *losses;
    /* backward scratch */
    float *d_res, *d_a, *d_b, *d_qkv, *att_work, *ffn_work, *dlogits;
    /* the last forward */
    uint8_t *tokens, *targets;
    size_t B, T;
    int have_forward, forward_training;
    /* diagnostics: ∂loss/∂stream summaries of the last backward, 2·layers + 1 */
    int diag;
    lam_summary *rec_grad;
    /* gradient-ready hook; layer i's tensors are [tfirst[i], tfirst[i+1]) */
    lam_grad_ready_fn hook;
    void *hook_ctx;
    size_t *tfirst;
};

static int gated_of(lam_mlp a) { return a == LAM_MLP_SWIGLU || a == LAM_MLP_GEGLU; }
static lam_act act_of(lam_mlp a) {
    switch (a) {
    case LAM_MLP_RELU: return LAM_ACT_RELU;
    case LAM_MLP_GELU: case LAM_MLP_GEGLU: return LAM_ACT_GELU;
    case LAM_MLP_GELU_TANH: return LAM_ACT_GELU_TANH;
    default: return LAM_ACT_SILU;
    }
}

/* ---- layout */

static void add_tensor(lam_model *m, const char *name, size_t ndim, size_t s0, size_t s1, int transposed, int decay,
                       int trained, float std, float value) {
    if (m->t) {
        tensor_desc *d = &m->t[m->ntensors];
        snprintf(d->name, sizeof d->name, "%s", name);
        d->ndim = ndim, d->shape[0] = s0, d->shape[1] = ndim == 2 ? s1 : 1;
        d->numel = s0 * (ndim == 2 ? s1 : 1);
        d->offset = m->nparams_all;
        d->transposed = transposed, d->decay = decay, d->trained = trained;
        d->init_std = std, d->init_value = value;
    }
    m->ntensors++;
    m->nparams_all += s0 * (ndim == 2 ? s1 : 1);
    if (trained) m->nparams_trained += s0 * (ndim == 2 ? s1 : 1);
}

static void add_norm(lam_model *m, const char *prefix) {
    char n[MAX_TENSOR_NAME];
    size_t C = m->c.dim;
    if (m->c.norm == LAM_NORM_NONE) return;
    snprintf(n, sizeof n, "%s.weight", prefix);
    add_tensor(m, n, 1, C, 0, 0, 0, 1, 0, 1.0f);
    if (m->c.norm != LAM_NORM_RMSNORM) {
        snprintf(n, sizeof n, "%s.bias", prefix);
        add_tensor(m, n, 1, C, 0, 0, 0, 1, 0, 0.0f);
    }
    if (m->c.norm == LAM_NORM_BATCHNORM) {
        snprintf(n, sizeof n, "%s.running_mean", prefix);
        add_tensor(m, n, 1, C, 0, 0, 0, 0, 0, 0.0f);
        snprintf(n, sizeof n, "%s.running_var", prefix);
        add_tensor(m, n, 1, C, 0, 0, 0, 0, 0, 1.0f);
    }
}

/* Walks the tensors in file order; with m->t NULL it only counts. */
static void layout(lam_model *m) {
    size_t C = m->c.dim, Hd = m->c.hidden, Lc = m->c.layers;
    float std = 0.02f, proj_std = (float)(0.02 / sqrt(2.0 * (double)Lc));
    char n[MAX_TENSOR_NAME];
    m->ntensors = m->nparams_all = m->nparams_trained = 0;
    add_tensor(m, "wte.weight", 2, LAM_VOCAB, C, 0, 1, 1, std, 0);
    add_tensor(m, "wpe.weight", 2, m->c.ctx, C, 0, 1, 1, std, 0);
    for (size_t i = 0; i < Lc; i++) {
        if (m->tfirst) m->tfirst[i] = m->ntensors;
#define NAME(s) (snprintf(n, sizeof n, "h.%zu.%s", i, s), n)
        add_norm(m, NAME("ln_1"));
        add_tensor(m, NAME("attn.c_attn.weight"), 2, C, 3 * C, 1, 1, 1, std, 0);
        add_tensor(m, NAME("attn.c_attn.bias"), 1, 3 * C, 0, 0, 0, 1, 0, 0);
        add_tensor(m, NAME("attn.c_proj.weight"), 2, C, C, 1, 1, 1, proj_std, 0);
        add_tensor(m, NAME("attn.c_proj.bias"), 1, C, 0, 0, 0, 1, 0, 0);
        add_norm(m, NAME("ln_2"));
        add_tensor(m, NAME("mlp.c_fc.weight"), 2, C, Hd, 1, 1, 1, std, 0);
        add_tensor(m, NAME("mlp.c_fc.bias"), 1, Hd, 0, 0, 0, 1, 0, 0);
        if (gated_of(m->c.act)) {
            add_tensor(m, NAME("mlp.c_fc2.weight"), 2, C, Hd, 1, 1, 1, std, 0);
            add_tensor(m, NAME("mlp.c_fc2.bias"), 1, Hd, 0, 0, 0, 1, 0, 0);
        }
        add_tensor(m, NAME("mlp.c_proj.weight"), 2, Hd, C, 1, 1, 1, proj_std, 0);
        add_tensor(m, NAME("mlp.c_proj.bias"), 1, C, 0, 0, 0, 1, 0, 0);
#undef NAME
    }
    if (m->tfirst) m->tfirst[Lc] = m->ntensors;
    if (m->c.placement == LAM_PLACE_PRE) add_norm(m, "ln_f");
}

/* Binds the per-layer pointers into buffer `base` (params or grads). */
static void bind(lam_model *m, float *base, layer_params *L, norm_params *lnf, float **wte, float **wpe) {
    size_t k = 0;
    tensor_desc *t = m->t;
#define NEXT() (base + t[k++].offset)
    *wte = NEXT();
    *wpe = NEXT();
    int bn = m->c.norm == LAM_NORM_BATCHNORM, has_b = m->c.norm != LAM_NORM_RMSNORM, none = m->c.norm == LAM_NORM_NONE;
    for (size_t i = 0; i < m->c.layers; i++) {
        layer_params *p = &L[i];
        memset(p, 0, sizeof *p);
        norm_params *ns[2] = {&p->ln1, &p->ln2};
        for (int which = 0; which < 2; which++) {
            if (!none) {
                ns[which]->w = NEXT();
                if (has_b) ns[which]->b = NEXT();
                if (bn) ns[which]->rm = NEXT(), ns[which]->rv = NEXT();
            }
            if (which == 0) {
                p->attn_w = NEXT(), p->attn_b = NEXT(), p->proj_w = NEXT(), p->proj_b = NEXT();
            } else {
                p->ffn.dim = m->c.dim, p->ffn.hidden = m->c.hidden, p->ffn.act = act_of(m->c.act);
                p->ffn.gated = gated_of(m->c.act);
                p->ffn.w1 = NEXT(), p->ffn.b1 = NEXT();
                if (p->ffn.gated) p->ffn.w3 = NEXT(), p->ffn.b3 = NEXT();
                p->ffn.w2 = NEXT(), p->ffn.b2 = NEXT();
            }
        }
    }
    memset(lnf, 0, sizeof *lnf);
    if (m->c.placement == LAM_PLACE_PRE && !none) {
        lnf->w = NEXT();
        if (has_b) lnf->b = NEXT();
        if (bn) lnf->rm = NEXT(), lnf->rv = NEXT();
    }
#undef NEXT
}

/* Activation floats for N rows, and the pointers when base is not NULL. */
static size_t bind_acts(lam_model *m, float *base) {
    size_t N = m->max_batch * m->c.ctx, C = m->c.dim, L = m->c.layers, T = m->c.ctx, H = m->c.heads;
    size_t stat = N > C ? N : C, off = 0;
    int none = m->c.norm == LAM_NORM_NONE, pre = m->c.placement == LAM_PLACE_PRE;
    lam_ffn probe = {C, m->c.hidden, LAM_ACT_RELU, gated_of(m->c.act), 0, 0, 0, 0, 0, 0};
    size_t cache = lam_ffn_cache_floats(&probe, N);
#define TAKE(n) (off += (n), base ? base + off - (n) : NULL)
    m->emb = TAKE(N * C);
    float *prev = m->emb;
    for (size_t i = 0; i < L; i++) {
        layer_acts *a = base ? &m->A[i] : &(layer_acts){0};
        a->in = prev;
        /* pre: norm1 reads the layer input; post: it reads in + attention */
        a->n1_in = pre ? a->in : TAKE(N * C);
        a->n1_out = none ? a->n1_in : TAKE(N * C);
        a->n1_mean = none ? NULL : TAKE(stat);
        a->n1_rstd = none ? NULL : TAKE(stat);
        a->qkv = TAKE(N * 3 * C);
        a->att = TAKE(m->max_batch * H * T * T);
        a->atty = TAKE(N * C);
        a->mid = pre ? TAKE(N * C) : a->n1_out;
        a->n2_in = pre ? a->mid : TAKE(N * C);
        a->n2_out = none ? a->n2_in : TAKE(N * C);
        a->n2_mean = none ? NULL : TAKE(stat);
        a->n2_rstd = none ? NULL : TAKE(stat);
        a->ffn_cache = TAKE(cache);
        a->out = pre ? TAKE(N * C) : a->n2_out;
        prev = a->out;
    }
    m->f_out = (pre && !none) ? TAKE(N * C) : prev;
    m->f_mean = (pre && !none) ? TAKE(stat) : NULL;
    m->f_rstd = (pre && !none) ? TAKE(stat) : NULL;
    m->logits = TAKE(N * LAM_VOCAB);
    m->losses = TAKE(N);
#undef TAKE
    return off;
}

static size_t bind_scratch(lam_model *m, float *base) {
    size_t N = m->max_batch * m->c.ctx, C = m->c.dim, T = m->c.ctx, off = 0;
    lam_ffn probe = {C, m->c.hidden, LAM_ACT_RELU, gated_of(m->c.act), 0, 0, 0, 0, 0, 0};
#define TAKE(p, n) (off += (n), p = base ? base + off - (n) : NULL)
    TAKE(m->d_res, N * C);
    TAKE(m->d_a, N * C);
    TAKE(m->d_b, N * C);
    TAKE(m->d_qkv, N * 3 * C);
    TAKE(m->att_work, m->max_batch * m->c.heads * T * T);
    TAKE(m->ffn_work, lam_ffn_work_floats(&probe, N));
    TAKE(m->dlogits, N * LAM_VOCAB);
#undef TAKE
    return off;
}

/* ---- create, free, tensors */

static void init_params(lam_model *m, uint64_t seed) {
    lam_rng r;
    lam_rng_seed(&r, seed);
    float *tmp = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < m->ntensors; i++) {
        tensor_desc *d = &m->t[i];
        float *dst = m->params + d->offset;
        if (d->init_std == 0) {
            for (size_t k = 0; k < d->numel; k++) dst[k] = d->init_value;
            continue;
        }
        if (d->numel > cap) {
            free(tmp);
            cap = d->numel;
            tmp = malloc(cap * sizeof(float));
        }
        float *fill = d->transposed && tmp ? tmp : dst;
        for (size_t k = 0; k < d->numel; k++) fill[k] = (float)(d->init_std * lam_rng_normal(&r));
        if (d->transposed && tmp) {
            lam_tensor t;
            lam_model_tensor(m, i, &t);
            lam_tensor_import(&t, dst, tmp);
        }
    }
    free(tmp);
}

static double machine_bytes(void) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 1e15;
}

lam_status lam_model_create(lam_model **out, const lam_model_config *cfg, size_t max_batch, uint64_t seed,
                            lam_error *e) {
    *out = NULL;
    lam_model_config c = *cfg;
    lam_status s = lam_model_config_check(&c, e);
    if (s) return s;
    if (max_batch < 1 || max_batch > ((size_t)1 << 20))
        return lam_fail(e, LAM_ERR_ARG, "batch must be in [1, 1048576], got %zu", max_batch);
    /* the sizes, in double first: nothing below may overflow */
    double N = (double)max_batch * (double)c.ctx, C = (double)c.dim, Hd = (double)c.hidden, L = (double)c.layers;
    double est = 4.0 * (2.0 * L * (12.0 * C * C + 3.0 * C * Hd) + 2.0 * (256.0 + c.ctx) * C +
                        L * (N * (16.0 * C + 5.0 * Hd) + 2.0 * (double)max_batch * (double)c.heads * c.ctx * c.ctx) +
                        N * (4.0 * C + 2.0 * LAM_VOCAB + 2.0 * Hd));
    if (est > 0.9 * machine_bytes())
        return lam_fail(e, LAM_ERR_ARG, "this model needs about %.1f GiB for batch %zu x ctx %zu; the machine has %.1f GiB",
                        est / (1 << 30), max_batch, c.ctx, machine_bytes() / (1 << 30));
    lam_model *m = calloc(1, sizeof *m);
    if (!m) return lam_fail(e, LAM_ERR_NOMEM, "out of memory");
    m->c = c;
    m->max_batch = max_batch;
    layout(m);   /* count */
    m->t = calloc(m->ntensors, sizeof *m->t);
    m->L = calloc(c.layers, sizeof *m->L);
    m->G = calloc(c.layers, sizeof *m->G);
    m->A = calloc(c.layers, sizeof *m->A);
    m->rec_grad = malloc((2 * c.layers + 1) * sizeof *m->rec_grad);
    m->tfirst = malloc((c.layers + 1) * sizeof *m->tfirst);
    size_t ntok = max_batch * c.ctx;
    m->tokens = malloc(ntok), m->targets = malloc(ntok);
    if (!m->t || !m->L || !m->G || !m->A || !m->rec_grad || !m->tfirst || !m->tokens || !m->targets) goto nomem;
    layout(m);   /* fill */
    m->acts_floats = bind_acts(m, NULL);
    m->scratch_floats = bind_scratch(m, NULL);
    m->params = lam_alloc_floats(m->nparams_all, 0);
    m->grads = lam_alloc_floats(m->nparams_all, 1);
    m->acts = lam_alloc_floats(m->acts_floats, 1);
    m->scratch = lam_alloc_floats(m->scratch_floats, 1);
    if (!m->params || !m->grads || !m->acts || !m->scratch) goto nomem;
    bind(m, m->params, m->L, &m->lnf, &m->wte, &m->wpe);
    bind(m, m->grads, m->G, &m->glnf, &m->dwte, &m->dwpe);
    bind_acts(m, m->acts);
    bind_scratch(m, m->scratch);
    init_params(m, seed);
    for (size_t i = 0; i < 2 * c.layers + 1; i++) m->rec_grad[i] = (lam_summary){NAN, NAN, NAN, NAN};
    *out = m;
    return LAM_OK;
nomem:
    lam_model_free(m);
    return lam_fail(e, LAM_ERR_NOMEM, "out of memory for a model of %.1f GiB", est / (1 << 30));
}

void lam_model_free(lam_model *m) {
    if (!m) return;
    free(m->t), free(m->L), free(m->G), free(m->A), free(m->rec_grad), free(m->tfirst), free(m->tokens), free(m->targets);
    free(m->params), free(m->grads), free(m->acts), free(m->scratch);
    free(m);
}

const lam_model_config *lam_model_get_config(const lam_model *m) { return &m->c; }
size_t lam_model_max_batch(const lam_model *m) { return m->max_batch; }
size_t lam_model_param_count(const lam_model *m) { return m->nparams_trained; }

void lam_model_memory(const lam_model *m, lam_memory_plan *p) {
    p->params = m->nparams_all * sizeof(float);
    p->grads = m->nparams_all * sizeof(float);
    p->activations = (m->acts_floats + m->scratch_floats) * sizeof(float);
    p->optimizer = 0;
}

size_t lam_model_tensor_count(const lam_model *m) { return m->ntensors; }

void lam_model_tensor(const lam_model *m, size_t i, lam_tensor *t) {
    const tensor_desc *d = &m->t[i];
    t->name = d->name;
    t->ndim = d->ndim, t->shape[0] = d->shape[0], t->shape[1] = d->shape[1], t->numel = d->numel;
    t->transposed = d->transposed, t->decay = d->decay;
    t->data = m->params + d->offset;
    t->grad = d->trained ? m->grads + d->offset : NULL;
}

size_t lam_model_find_tensor(const lam_model *m, const char *name) {
    for (size_t i = 0; i < m->ntensors; i++)
        if (!strcmp(m->t[i].name, name)) return i;
    return (size_t)-1;
}

/* file (s0, s1) <-> internal (s1, s0) when transposed */
void lam_tensor_export(const lam_tensor *t, float *dst, const float *src) {
    if (!t->transposed) {
        memcpy(dst, src, t->numel * sizeof(float));
        return;
    }
    size_t r = t->shape[0], c = t->shape[1];   /* file (r, c); internal (c, r) */
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++) dst[i * c + j] = src[j * r + i];
}

void lam_tensor_import(const lam_tensor *t, float *dst, const float *src) {
    if (!t->transposed) {
        memcpy(dst, src, t->numel * sizeof(float));
        return;
    }
    size_t r = t->shape[0], c = t->shape[1];
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++) dst[j * r + i] = src[i * c + j];
}

/* ---- forward */

static void norm_forward(const lam_model *m, const norm_params *p, float *y, float *mean, float *rstd, const float *x,
                         size_t N, int training) {
    size_t C = m->c.dim;
    switch (m->c.norm) {
    case LAM_NORM_LAYERNORM: lam_layernorm_forward(y, mean, rstd, x, p->w, p->b, N, C, m->c.eps); break;
    case LAM_NORM_RMSNORM: lam_rmsnorm_forward(y, rstd, x, p->w, N, C, m->c.eps); break;
    case LAM_NORM_BATCHNORM:
        lam_batchnorm_forward(y, mean, rstd, p->rm, p->rv, x, p->w, p->b, N, C, m->c.eps, m->c.bn_momentum, training);
        break;
    default: break;   /* none: y is x (no copy; the pointers coincide) */
    }
}

/* dx is written. */
static void norm_backward(const lam_model *m, const norm_params *p, const norm_params *g, float *dx, const float *dy,
                          const float *x, const float *mean, const float *rstd, size_t N) {
    size_t C = m->c.dim;
    switch (m->c.norm) {
    case LAM_NORM_LAYERNORM: lam_layernorm_backward(dx, g->w, g->b, dy, x, p->w, mean, rstd, N, C); break;
    case LAM_NORM_RMSNORM: lam_rmsnorm_backward(dx, g->w, dy, x, p->w, rstd, N, C); break;
    case LAM_NORM_BATCHNORM: lam_batchnorm_backward(dx, g->w, g->b, dy, x, p->w, mean, rstd, N, C); break;
    default: memcpy(dx, dy, N * C * sizeof(float)); break;
    }
}

/* z = x + y (n); z may alias x or y. */
static void add(float *z, const float *x, const float *y, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) z[i] = x[i] + y[i];
}

lam_status lam_model_forward(lam_model *m, const uint8_t *tokens, const uint8_t *targets, size_t B, size_t T,
                             int training, float *loss, lam_error *e) {
    if (B < 1 || B > m->max_batch)
        return lam_fail(e, LAM_ERR_ARG, "batch %zu outside [1, %zu] (the model's maximum)", B, m->max_batch);
    if (T < 1 || T > m->c.ctx) return lam_fail(e, LAM_ERR_ARG, "sequence length %zu outside [1, ctx = %zu]", T, m->c.ctx);
    size_t N = B * T, C = m->c.dim, H = m->c.heads;
    int pre = m->c.placement == LAM_PLACE_PRE;
    memcpy(m->tokens, tokens, N);
    if (targets) memcpy(m->targets, targets, N);
    m->B = B, m->T = T;
    lam_embedding_forward(m->emb, tokens, m->wte, m->wpe, B, T, C);
    for (size_t i = 0; i < m->c.layers; i++) {
        layer_acts *a = &m->A[i];
        layer_params *p = &m->L[i];
        /* attention sublayer */
        const float *att_in = pre ? a->n1_out : a->in;
        if (pre) norm_forward(m, &p->ln1, a->n1_out, a->n1_mean, a->n1_rstd, a->n1_in, N, training);
        lam_linear_forward(a->qkv, att_in, p->attn_w, p->attn_b, N, C, 3 * C);
        lam_attention_forward(a->atty, a->att, a->qkv, B, T, C, H);
        /* each residual add is done by the sublayer's last product (…_residual) */
        if (pre) {
            /* mid = in + attn(norm1(in)) */
            lam_linear_forward_residual(a->mid, a->atty, p->proj_w, p->proj_b, a->in, N, C, C);
            norm_forward(m, &p->ln2, a->n2_out, a->n2_mean, a->n2_rstd, a->n2_in, N, training);
            /* out = mid + mlp(norm2(mid)) */
            lam_ffn_forward_residual(&p->ffn, a->out, a->ffn_cache, a->n2_out, a->mid, N);
        } else {
            /* mid = norm1(in + attn(in)) */
            lam_linear_forward_residual(a->n1_in, a->atty, p->proj_w, p->proj_b, a->in, N, C, C);
            norm_forward(m, &p->ln1, a->n1_out, a->n1_mean, a->n1_rstd, a->n1_in, N, training);
            /* out = norm2(mid + mlp(mid)) */
            lam_ffn_forward_residual(&p->ffn, a->n2_in, a->ffn_cache, a->mid, a->mid, N);
            norm_forward(m, &p->ln2, a->n2_out, a->n2_mean, a->n2_rstd, a->n2_in, N, training);
        }
    }
    const float *last = m->c.layers ? m->A[m->c.layers - 1].out : m->emb;
    if (pre && m->c.norm != LAM_NORM_NONE) norm_forward(m, &m->lnf, m->f_out, m->f_mean, m->f_rstd, last, N, training);
    lam_linear_forward(m->logits, m->f_out, m->wte, NULL, N, C, LAM_VOCAB);   /* tied head */
    m->have_forward = targets != NULL;
    m->forward_training = training;
    if (!targets) {
        *loss = NAN;
        return LAM_OK;
    }
    lam_crossentropy_forward(m->losses, m->logits, targets, N, LAM_VOCAB);
    double sum = 0;
    for (size_t i = 0; i < N; i++) sum += m->losses[i];
    *loss = (float)(sum / (double)N);
    return LAM_OK;
}

const float *lam_model_logits(const lam_model *m) { return m->logits; }

void lam_model_zero_grad(lam_model *m) { memset(m->grads, 0, m->nparams_all * sizeof(float)); }

/* ---- backward */

/* Diagnostics: summarizes the gradient g (N, C) of scale·loss at stream place k,
 * as the gradient of the loss itself. */
static void record_grad(lam_model *m, size_t k, const float *g, size_t N, float scale) {
    if (!m->diag) return;
    lam_summary *r = &m->rec_grad[k];
    lam_summarize(r, g, NULL, NULL, 0, N, m->c.dim);
    double a = fabs((double)scale);
    if (a > 0) r->mean /= (double)scale, r->std /= a, r->max_abs /= a, r->l2 /= a;
}

lam_status lam_model_backward(lam_model *m, float scale, lam_error *e) {
    if (!m->have_forward) return lam_fail(e, LAM_ERR_STATE, "backward needs a forward with targets first");
    if (m->c.norm == LAM_NORM_BATCHNORM && !m->forward_training)
        return lam_fail(e, LAM_ERR_STATE, "backward through BatchNorm needs a training-mode forward");
    size_t B = m->B, T = m->T, N = B * T, C = m->c.dim, H = m->c.heads;
    int pre = m->c.placement == LAM_PLACE_PRE, none = m->c.norm == LAM_NORM_NONE;
    /* loss = mean over N rows of cross-entropy(logits) */
    lam_crossentropy_backward(m->dlogits, m->logits, m->targets, N, LAM_VOCAB, scale / (float)N);
    /* logits = f_out·wteᵀ */
    lam_linear_backward(m->d_res, m->dwte, NULL, m->dlogits, m->f_out, m->wte, N, C, LAM_VOCAB);
    const float *last = m->c.layers ? m->A[m->c.layers - 1].out : m->emb;
    if (pre && !none) {   /* f_out = norm_f(last) */
        norm_backward(m, &m->lnf, &m->glnf, m->d_a, m->d_res, last, m->f_mean, m->f_rstd, N);
        memcpy(m->d_res, m->d_a, N * C * sizeof(float));
    }
    record_grad(m, 2 * m->c.layers, m->d_res, N, scale);
    if (m->hook && m->tfirst[m->c.layers] < m->ntensors) m->hook(m->hook_ctx, m->tfirst[m->c.layers], m->ntensors);
    /* d_res: gradient w.r.t. the current layer's output */
    for (size_t li = m->c.layers; li-- > 0;) {
        layer_acts *a = &m->A[li];
        layer_params *p = &m->L[li], *g = &m->G[li];
        float *d_mid = m->d_a, *tmp = m->d_b;
        if (pre) {
            /* out = mid + ffn(n2_out),  n2_out = norm2(mid) */
            lam_ffn_backward_ws(&p->ffn, &g->ffn, tmp, m->d_res, a->n2_out, a->ffn_cache, N, m->ffn_work);
            norm_backward(m, &p->ln2, &g->ln2, d_mid, tmp, a->n2_in, a->n2_mean, a->n2_rstd, N);
            add(d_mid, d_mid, m->d_res, N * C);
            record_grad(m, 2 * li + 1, d_mid, N, scale);
            /* mid = in + proj(attn(qkv(norm1(in)))) */
            lam_linear_backward(tmp, g->proj_w, g->proj_b, d_mid, a->atty, p->proj_w, N, C, C);
            lam_attention_backward(m->d_qkv, m->att_work, tmp, a->qkv, a->att, B, T, C, H);
            lam_linear_backward(tmp, g->attn_w, g->attn_b, m->d_qkv, a->n1_out, p->attn_w, N, C, 3 * C);
            norm_backward(m, &p->ln1, &g->ln1, m->d_res, tmp, a->n1_in, a->n1_mean, a->n1_rstd, N);
            add(m->d_res, m->d_res, d_mid, N * C);                   /* d_in = d_mid + through norm1 */
            record_grad(m, 2 * li, m->d_res, N, scale);
        } else {
            /* out = norm2(s2),  s2 = mid + ffn(mid) */
            norm_backward(m, &p->ln2, &g->ln2, tmp, m->d_res, a->n2_in, a->n2_mean, a->n2_rstd, N);
            lam_ffn_backward_ws(&p->ffn, &g->ffn, d_mid, tmp, a->mid, a->ffn_cache, N, m->ffn_work);
            add(d_mid, d_mid, tmp, N * C);
            record_grad(m, 2 * li + 1, d_mid, N, scale);
            /* mid = norm1(s1),  s1 = in + attn(in) */
            norm_backward(m, &p->ln1, &g->ln1, tmp, d_mid, a->n1_in, a->n1_mean, a->n1_rstd, N);
            lam_linear_backward(d_mid, g->proj_w, g->proj_b, tmp, a->atty, p->proj_w, N, C, C);
            lam_attention_backward(m->d_qkv, m->att_work, d_mid, a->qkv, a->att, B, T, C, H);
            lam_linear_backward(m->d_res, g->attn_w, g->attn_b, m->d_qkv, a->in, p->attn_w, N, C, 3 * C);
            add(m->d_res, m->d_res, tmp, N * C);
            record_grad(m, 2 * li, m->d_res, N, scale);
        }
        if (m->hook) m->hook(m->hook_ctx, m->tfirst[li], m->tfirst[li + 1]);
    }
    lam_embedding_backward(m->dwte, m->dwpe, m->d_res, m->tokens, B, T, C);
    if (m->hook) m->hook(m->hook_ctx, 0, 2);
    return LAM_OK;
}

double lam_model_grad_norm(const lam_model *m) {
    double s = 0;
    for (size_t i = 0; i < m->ntensors; i++) {
        const tensor_desc *d = &m->t[i];
        if (!d->trained) continue;
        s += lam_sum_squares(m->grads + d->offset, d->numel);
    }
    return sqrt(s);
}

lam_status lam_model_eval(lam_model *m, const uint8_t *data, size_t len, size_t max_windows, double *loss_sum,
                          size_t *tokens, lam_error *e) {
    size_t ctx = m->c.ctx, W = len > 0 ? (len - 1) / ctx : 0;
    if (max_windows && W > max_windows) W = max_windows;
    *loss_sum = 0;
    *tokens = 0;
    for (size_t k0 = 0; k0 < W; k0 += m->max_batch) {
        size_t b = W - k0 < m->max_batch ? W - k0 : m->max_batch;
        float loss;
        /* windows k0 .. k0+b−1 are contiguous: inputs data[k0·ctx ...], targets one byte later */
        lam_status s = lam_model_forward(m, data + k0 * ctx, data + k0 * ctx + 1, b, ctx, 0, &loss, e);
        if (s) return s;
        for (size_t i = 0; i < b * ctx; i++) *loss_sum += m->losses[i];
        *tokens += b * ctx;
    }
    return LAM_OK;
}

void lam_model_set_grad_hook(lam_model *m, lam_grad_ready_fn fn, void *ctx) {
    m->hook = fn;
    m->hook_ctx = ctx;
}

float *lam_model_grad_run(lam_model *m, size_t first, size_t end, size_t *nfloats) {
    *nfloats = m->t[end - 1].offset + m->t[end - 1].numel - m->t[first].offset;
    return m->grads + m->t[first].offset;
}

/* ---- diagnostics */

size_t lam_model_stats_count(const lam_model *m) { return 2 * m->c.layers + 1; }

void lam_model_set_diagnostics(lam_model *m, int on) { m->diag = on != 0; }

/* xhat of a norm that read x (N, C) and saved mean and rstd. */
static void summarize_xhat(const lam_model *m, lam_summary *s, const float *x, const float *mean, const float *rstd,
                           size_t N) {
    size_t C = m->c.dim;
    switch (m->c.norm) {
    case LAM_NORM_LAYERNORM: lam_summarize(s, x, mean, rstd, 0, N, C); break;
    case LAM_NORM_RMSNORM: lam_summarize(s, x, NULL, rstd, 0, N, C); break;
    case LAM_NORM_BATCHNORM: lam_summarize(s, x, mean, rstd, 1, N, C); break;
    default: lam_summarize(s, x, NULL, NULL, 0, N, C); break;
    }
}

/* One place's activation statistics.  The buffers coincide where the model
 * shares them (pre-norm: the norm reads the stream; no norm: its output is
 * its input): those are summarized once. */
static void sublayer_stats(const lam_model *m, lam_sublayer_stats *s, const float *stream, const float *norm_in,
                           const float *mean, const float *rstd, const float *norm_out, size_t N) {
    size_t C = m->c.dim;
    lam_summarize(&s->stream, stream, NULL, NULL, 0, N, C);
    if (norm_in == stream) s->norm_in = s->stream;
    else lam_summarize(&s->norm_in, norm_in, NULL, NULL, 0, N, C);
    if (norm_out == norm_in) {   /* no norm: xhat, too, is the input */
        s->xhat = s->norm_out = s->norm_in;
        return;
    }
    summarize_xhat(m, &s->xhat, norm_in, mean, rstd, N);
    lam_summarize(&s->norm_out, norm_out, NULL, NULL, 0, N, C);
}

lam_status lam_model_stats(const lam_model *m, lam_sublayer_stats *out, lam_error *e) {
    if (!m->B) return lam_fail(e, LAM_ERR_STATE, "diagnostics need a forward first");
    size_t N = m->B * m->T, L = m->c.layers;
    for (size_t i = 0; i < L; i++) {
        const layer_acts *a = &m->A[i];
        sublayer_stats(m, &out[2 * i], a->in, a->n1_in, a->n1_mean, a->n1_rstd, a->n1_out, N);
        sublayer_stats(m, &out[2 * i + 1], a->mid, a->n2_in, a->n2_mean, a->n2_rstd, a->n2_out, N);
        out[2 * i].stream_grad = m->rec_grad[2 * i];
        out[2 * i + 1].stream_grad = m->rec_grad[2 * i + 1];
    }
    /* the head: f_out is the last output itself without a final norm */
    const float *last = L ? m->A[L - 1].out : m->emb;
    sublayer_stats(m, &out[2 * L], last, last, m->f_mean, m->f_rstd, m->f_out, N);
    out[2 * L].stream_grad = m->rec_grad[2 * L];
    return LAM_OK;
}

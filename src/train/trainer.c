/* One optimizer step: seeded batches, gradient accumulation, global-norm
 * clipping and AdamW (decoupled weight decay, as torch.optim.AdamW). */
#include "base/error.h"
#include "kernels/memory.h"
#include "lamina.h"
#include "model/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct lam_trainer {
    lam_model *m;
    lam_train_config t;
    const uint8_t *data;
    size_t len;
    float *moments;        /* m then v, each laid out like the model's gradients */
    size_t nfloats;        /* per moment */
    size_t *offset;        /* tensor i's offset into each moment (trained tensors) */
    uint8_t *tokens, *targets;   /* one micro-batch */
    lam_rng rng;
    uint64_t step;
    /* data parallelism: this process's share of each global batch */
    size_t rank, nranks;
    size_t *offsets;           /* the global batch's sequence offsets */
    lam_grad_ready_fn hook;
    void *hook_ctx;
    /* diagnostics */
    int diag, have_stats;
    float *before;             /* the parameters before the update, like the moments */
    lam_tensor_stats *stats;   /* per tensor */
};

lam_status lam_trainer_create(lam_trainer **out, lam_model *m, const lam_train_config *cfg, const uint8_t *data,
                              size_t len, lam_error *e) {
    *out = NULL;
    lam_train_config t = *cfg;
    lam_status s = lam_train_config_check(&t, e);
    if (s) return s;
    size_t ctx = lam_model_get_config(m)->ctx, micro = t.batch / t.accum;
    /* a model smaller than the micro-batch is allowed here for a later
     * lam_trainer_set_shard; lam_trainer_gradients checks the share */
    if (len < ctx + 2)
        return lam_fail(e, LAM_ERR_ARG, "training data of %zu bytes is too short for ctx %zu (needs %zu)", len, ctx, ctx + 2);
    lam_trainer *tr = calloc(1, sizeof *tr);
    if (!tr) return lam_fail(e, LAM_ERR_NOMEM, "out of memory");
    tr->m = m, tr->t = t, tr->data = data, tr->len = len;
    size_t n = lam_model_tensor_count(m);
    tr->offset = calloc(n, sizeof(size_t));
    lam_tensor tt;
    for (size_t i = 0; i < n; i++) {
        lam_model_tensor(m, i, &tt);
        tr->offset[i] = tr->nfloats;
        if (tt.grad) tr->nfloats += tt.numel;
    }
    tr->moments = lam_alloc_floats(2 * tr->nfloats + 1, 1);
    tr->tokens = malloc(micro * ctx), tr->targets = malloc(micro * ctx);
    tr->offsets = malloc(t.batch * sizeof(size_t));
    tr->rank = 0, tr->nranks = 1;
    if (!tr->offset || !tr->moments || !tr->tokens || !tr->targets || !tr->offsets) {
        lam_trainer_free(tr);
        return lam_fail(e, LAM_ERR_NOMEM, "out of memory for the optimizer state");
    }
    lam_rng_seed(&tr->rng, t.seed);
    *out = tr;
    return LAM_OK;
}

void lam_trainer_free(lam_trainer *tr) {
    if (!tr) return;
    free(tr->offset), free(tr->moments), free(tr->tokens), free(tr->targets), free(tr->before), free(tr->stats);
    free(tr->offsets);
    free(tr);
}

size_t lam_trainer_memory(const lam_trainer *tr) { return 2 * tr->nfloats * sizeof(float); }

float *lam_trainer_moment(lam_trainer *tr, size_t i, int which) {
    lam_tensor t;
    lam_model_tensor(tr->m, i, &t);
    if (!t.grad) return NULL;
    return tr->moments + (which ? tr->nfloats : 0) + tr->offset[i];
}

lam_status lam_trainer_set_diagnostics(lam_trainer *tr, int on, lam_error *e) {
    if (on && !tr->before) {
        size_t n = lam_model_tensor_count(tr->m);
        tr->before = malloc((tr->nfloats + 1) * sizeof(float));
        tr->stats = malloc(n * sizeof *tr->stats);
        if (!tr->before || !tr->stats) {
            free(tr->before), free(tr->stats);
            tr->before = NULL, tr->stats = NULL;
            return lam_fail(e, LAM_ERR_NOMEM, "out of memory for the diagnostics' copy of the parameters");
        }
    }
    tr->diag = on != 0;
    lam_model_set_diagnostics(tr->m, on);
    return LAM_OK;
}

const lam_tensor_stats *lam_trainer_tensor_stats(const lam_trainer *tr) { return tr->have_stats ? tr->stats : NULL; }

/* Before an update: each tensor's gradient summary, and a copy of its weights. */
static void diag_before(lam_trainer *tr) {
    size_t n = lam_model_tensor_count(tr->m);
    for (size_t i = 0; i < n; i++) {
        lam_tensor p;
        lam_model_tensor(tr->m, i, &p);
        lam_tensor_stats *st = &tr->stats[i];
        if (!p.grad) {
            st->grad = (lam_summary){NAN, NAN, NAN, NAN};
            st->update_ratio = NAN;
            continue;
        }
        lam_summarize(&st->grad, p.grad, NULL, NULL, 0, 1, p.numel);
        memcpy(tr->before + tr->offset[i], p.data, p.numel * sizeof(float));
    }
}

/* After it: ‖after − before‖ / ‖before‖, in double, in index order. */
static void diag_after(lam_trainer *tr) {
    size_t n = lam_model_tensor_count(tr->m);
    for (size_t i = 0; i < n; i++) {
        lam_tensor p;
        lam_model_tensor(tr->m, i, &p);
        if (!p.grad) continue;
        const float *b = tr->before + tr->offset[i];
        double d2 = 0, w2 = 0;
        for (size_t k = 0; k < p.numel; k++) {
            double d = (double)p.data[k] - (double)b[k];
            d2 += d * d;
            w2 += (double)b[k] * b[k];
        }
        tr->stats[i].update_ratio = sqrt(d2) / sqrt(w2);   /* inf for a zero tensor that moved */
    }
    tr->have_stats = 1;
}

void lam_trainer_get_state(const lam_trainer *tr, lam_trainer_state *s) {
    s->step = tr->step;
    memcpy(s->rng, tr->rng.s, sizeof s->rng);
}

void lam_trainer_set_state(lam_trainer *tr, const lam_trainer_state *s) {
    tr->step = s->step;
    memcpy(tr->rng.s, s->rng, sizeof s->rng);
}

lam_status lam_trainer_set_shard(lam_trainer *tr, size_t rank, size_t nranks, lam_error *e) {
    size_t B = tr->t.batch, A = tr->t.accum;
    if (nranks < 1 || rank >= nranks) return lam_fail(e, LAM_ERR_ARG, "rank %zu of %zu is not a rank", rank, nranks);
    if (B % (nranks * A) != 0)
        return lam_fail(e, LAM_ERR_ARG,
                        "batch %zu does not divide into %zu ranks x %zu micro-batches (it must be a multiple of %zu)", B,
                        nranks, A, nranks * A);
    if (B / (nranks * A) > lam_model_max_batch(tr->m))
        return lam_fail(e, LAM_ERR_ARG, "a rank's micro-batch %zu exceeds the model's maximum batch %zu",
                        B / (nranks * A), lam_model_max_batch(tr->m));
    tr->rank = rank, tr->nranks = nranks;
    return LAM_OK;
}

void lam_trainer_set_grad_hook(lam_trainer *tr, lam_grad_ready_fn fn, void *ctx) {
    tr->hook = fn;
    tr->hook_ctx = ctx;
}

lam_status lam_trainer_gradients(lam_trainer *tr, float *loss, lam_error *e) {
    lam_model *m = tr->m;
    size_t ctx = lam_model_get_config(m)->ctx, B = tr->t.batch, A = tr->t.accum, share = B / tr->nranks,
           micro = share / A;
    if (micro > lam_model_max_batch(m))
        return lam_fail(e, LAM_ERR_ARG, "micro-batch %zu exceeds the model's maximum batch %zu", micro,
                        lam_model_max_batch(m));
    /* the whole global batch is drawn, in order, whatever the share: the
     * sequences depend on the seed and the step only */
    for (size_t j = 0; j < B; j++) tr->offsets[j] = (size_t)(lam_rng_next(&tr->rng) % (uint64_t)(tr->len - ctx));
    lam_model_zero_grad(m);
    double sum = 0;
    /* each process's backward is scaled so that the sum over processes is the global mean */
    float scale = 1.0f / (float)(A * tr->nranks);
    for (size_t a = 0; a < A; a++) {
        for (size_t j = 0; j < micro; j++) {
            size_t off = tr->offsets[tr->rank * share + a * micro + j];
            memcpy(tr->tokens + j * ctx, tr->data + off, ctx);
            memcpy(tr->targets + j * ctx, tr->data + off + 1, ctx);
        }
        float l;
        lam_status s = lam_model_forward(m, tr->tokens, tr->targets, micro, ctx, 1, &l, e);
        if (!s) {
            lam_model_set_grad_hook(m, a + 1 == A ? tr->hook : NULL, tr->hook_ctx);
            s = lam_model_backward(m, scale, e);
            lam_model_set_grad_hook(m, NULL, NULL);
        }
        if (s) return s;
        sum += l;
    }
    *loss = (float)(sum / (double)A);
    return LAM_OK;
}

void lam_trainer_update(lam_trainer *tr, lam_step_stats *st) {
    lam_model *m = tr->m;
    const lam_train_config *t = &tr->t;
    double norm = lam_model_grad_norm(m);
    if (tr->diag) diag_before(tr);
    float coef = 1.0f;
    if (t->clip > 0) {
        double c = (double)t->clip / (norm + 1e-6);   /* as torch.nn.utils.clip_grad_norm_ */
        if (c < 1) coef = (float)c;
    }
    float lr = lam_lr_at(t, (size_t)tr->step);
    double tt = (double)(tr->step + 1);
    float bc1 = (float)(1.0 - pow(t->beta1, tt)), bc2_sqrt = (float)sqrt(1.0 - pow(t->beta2, tt));
    float step_size = lr / bc1, b1 = t->beta1, b2 = t->beta2, eps = t->adam_eps;
    size_t n = lam_model_tensor_count(m);
    for (size_t i = 0; i < n; i++) {
        lam_tensor p;
        lam_model_tensor(m, i, &p);
        if (!p.grad) continue;
        float *mm = tr->moments + tr->offset[i], *vv = mm + tr->nfloats;
        float decay = p.decay ? 1.0f - lr * t->weight_decay : 1.0f;
        float *w = p.data, *g = p.grad;
#pragma omp parallel for schedule(static) if (p.numel > 65536)
        for (size_t k = 0; k < p.numel; k++) {
            float gk = g[k] * coef;
            if (coef != 1.0f) g[k] = gk;
            mm[k] = b1 * mm[k] + (1.0f - b1) * gk;
            vv[k] = b2 * vv[k] + (1.0f - b2) * gk * gk;
            float denom = sqrtf(vv[k]) / bc2_sqrt + eps;
            w[k] = w[k] * decay - step_size * mm[k] / denom;
        }
    }
    if (tr->diag) diag_after(tr);
    st->step = (size_t)tr->step;
    st->lr = lr;
    st->grad_norm = (float)norm;
    st->tokens = t->batch * lam_model_get_config(m)->ctx;
    tr->step++;
}

lam_status lam_trainer_step(lam_trainer *tr, lam_step_stats *st, lam_error *e) {
    float loss;
    lam_status s = lam_trainer_gradients(tr, &loss, e);
    if (s) return s;
    lam_trainer_update(tr, st);
    st->loss = loss;
    return LAM_OK;
}

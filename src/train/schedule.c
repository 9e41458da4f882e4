/* Training configuration and the learning-rate schedule. */
#include "base/error.h"
#include "lamina.h"

#include <math.h>

void lam_train_config_default(lam_train_config *t) {
    t->steps = 1000, t->batch = 16, t->accum = 1, t->warmup = 100;
    t->lr = 1e-3f, t->min_lr = -1.0f, t->weight_decay = 0.1f, t->clip = 1.0f;
    t->beta1 = 0.9f, t->beta2 = 0.95f, t->adam_eps = 1e-8f;
    t->seed = 1337;
}

lam_status lam_train_config_check(lam_train_config *t, lam_error *e) {
    if (t->steps < 1) return lam_fail(e, LAM_ERR_ARG, "steps must be at least 1");
    if (t->batch < 1) return lam_fail(e, LAM_ERR_ARG, "batch must be at least 1");
    if (t->accum < 1 || t->batch % t->accum)
        return lam_fail(e, LAM_ERR_ARG, "accum (%zu) must divide batch (%zu)", t->accum, t->batch);
    if (!(t->lr > 0 && isfinite(t->lr))) return lam_fail(e, LAM_ERR_ARG, "lr must be positive, got %g", (double)t->lr);
    if (t->min_lr < 0) t->min_lr = 0.1f * t->lr;
    if (!(t->min_lr <= t->lr)) return lam_fail(e, LAM_ERR_ARG, "min_lr (%g) must not exceed lr (%g)", (double)t->min_lr, (double)t->lr);
    if (!(t->weight_decay >= 0 && isfinite(t->weight_decay))) return lam_fail(e, LAM_ERR_ARG, "weight_decay must be >= 0");
    if (!(t->clip >= 0 && isfinite(t->clip))) return lam_fail(e, LAM_ERR_ARG, "clip must be >= 0");
    if (!(t->beta1 >= 0 && t->beta1 < 1 && t->beta2 >= 0 && t->beta2 < 1))
        return lam_fail(e, LAM_ERR_ARG, "AdamW betas must be in [0, 1)");
    if (!(t->adam_eps > 0)) return lam_fail(e, LAM_ERR_ARG, "AdamW eps must be positive");
    return LAM_OK;
}

float lam_lr_at(const lam_train_config *t, size_t step) {
    if (step < t->warmup) return t->lr * (float)(step + 1) / (float)t->warmup;
    double span = t->steps > t->warmup + 1 ? (double)(t->steps - 1 - t->warmup) : 1.0;
    double p = (double)(step - t->warmup) / span;
    if (p > 1) p = 1;
    double min_lr = t->min_lr < 0 ? 0.1 * t->lr : t->min_lr;
    return (float)(min_lr + 0.5 * ((double)t->lr - min_lr) * (1.0 + cos(3.141592653589793 * p)));
}

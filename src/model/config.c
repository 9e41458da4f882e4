/* Model configuration: defaults, setting fields from text, checking. */
#include "base/error.h"
#include "lamina.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const norm_names[] = {"layernorm", "rmsnorm", "batchnorm", "none"};
static const char *const place_names[] = {"pre", "post"};
static const char *const mlp_names[] = {"relu", "gelu", "gelu_tanh", "silu", "swiglu", "geglu"};

const char *lam_norm_name(lam_norm n) { return (unsigned)n < 4 ? norm_names[n] : "?"; }
const char *lam_placement_name(lam_placement p) { return (unsigned)p < 2 ? place_names[p] : "?"; }
const char *lam_mlp_name(lam_mlp a) { return (unsigned)a < 6 ? mlp_names[a] : "?"; }

void lam_model_config_default(lam_model_config *c) {
    c->layers = 4, c->heads = 4, c->dim = 256, c->ctx = 128, c->hidden = 0;
    c->norm = LAM_NORM_LAYERNORM, c->placement = LAM_PLACE_PRE, c->act = LAM_MLP_GELU_TANH;
    c->eps = 1e-5f, c->bn_momentum = 0.1f;
}

static int pick(const char *v, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(v, names[i])) return i;
    return -1;
}

static lam_status parse_size(const char *key, const char *v, size_t *out, lam_error *e) {
    char *end;
    errno = 0;
    if (!*v || *v < '0' || *v > '9') return lam_fail(e, LAM_ERR_ARG, "%s expects a positive integer, got '%s'", key, v);
    unsigned long long x = strtoull(v, &end, 10);
    if (*end || errno) return lam_fail(e, LAM_ERR_ARG, "%s expects a positive integer, got '%s'", key, v);
    *out = (size_t)x;
    return LAM_OK;
}

static lam_status parse_float(const char *key, const char *v, float *out, lam_error *e) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(x)) return lam_fail(e, LAM_ERR_ARG, "%s expects a number, got '%s'", key, v);
    *out = (float)x;
    return LAM_OK;
}

lam_status lam_model_config_set(lam_model_config *c, const char *key, const char *v, lam_error *e) {
    if (!strcmp(key, "layers")) return parse_size(key, v, &c->layers, e);
    if (!strcmp(key, "heads")) return parse_size(key, v, &c->heads, e);
    if (!strcmp(key, "dim")) return parse_size(key, v, &c->dim, e);
    if (!strcmp(key, "ctx")) return parse_size(key, v, &c->ctx, e);
    if (!strcmp(key, "hidden")) return parse_size(key, v, &c->hidden, e);
    if (!strcmp(key, "eps")) return parse_float(key, v, &c->eps, e);
    if (!strcmp(key, "bn_momentum")) return parse_float(key, v, &c->bn_momentum, e);
    int k;
    if (!strcmp(key, "norm")) {
        if ((k = pick(v, norm_names, 4)) < 0)
            return lam_fail(e, LAM_ERR_ARG, "norm must be layernorm, rmsnorm, batchnorm or none, got '%s'", v);
        c->norm = (lam_norm)k;
        return LAM_OK;
    }
    if (!strcmp(key, "placement")) {
        if ((k = pick(v, place_names, 2)) < 0) return lam_fail(e, LAM_ERR_ARG, "placement must be pre or post, got '%s'", v);
        c->placement = (lam_placement)k;
        return LAM_OK;
    }
    if (!strcmp(key, "act")) {
        if ((k = pick(v, mlp_names, 6)) < 0)
            return lam_fail(e, LAM_ERR_ARG, "act must be relu, gelu, gelu_tanh, silu, swiglu or geglu, got '%s'", v);
        c->act = (lam_mlp)k;
        return LAM_OK;
    }
    return lam_fail(e, LAM_ERR_ARG, "unknown model setting '%s'", key);
}

lam_status lam_model_config_check(lam_model_config *c, lam_error *e) {
    if (c->layers < 1 || c->layers > 1024) return lam_fail(e, LAM_ERR_ARG, "layers must be in [1, 1024], got %zu", c->layers);
    if (c->dim < 1 || c->dim > 65536) return lam_fail(e, LAM_ERR_ARG, "dim must be in [1, 65536], got %zu", c->dim);
    if (c->heads < 1 || c->heads > c->dim)
        return lam_fail(e, LAM_ERR_ARG, "heads must be in [1, dim = %zu], got %zu", c->dim, c->heads);
    if (c->dim % c->heads)
        return lam_fail(e, LAM_ERR_ARG, "dim (%zu) must be divisible by heads (%zu)", c->dim, c->heads);
    if (c->ctx < 1 || c->ctx > LAM_MAX_CTX)
        return lam_fail(e, LAM_ERR_ARG, "ctx must be in [1, %d], got %zu", LAM_MAX_CTX, c->ctx);
    if (c->hidden > ((size_t)1 << 20)) return lam_fail(e, LAM_ERR_ARG, "hidden must be at most 1048576, got %zu", c->hidden);
    if ((unsigned)c->norm > 3) return lam_fail(e, LAM_ERR_ARG, "unknown norm %d", (int)c->norm);
    if ((unsigned)c->placement > 1) return lam_fail(e, LAM_ERR_ARG, "unknown placement %d", (int)c->placement);
    if ((unsigned)c->act > 5) return lam_fail(e, LAM_ERR_ARG, "unknown act %d", (int)c->act);
    if (!(c->eps > 0 && c->eps <= 1)) return lam_fail(e, LAM_ERR_ARG, "eps must be in (0, 1], got %g", (double)c->eps);
    if (!(c->bn_momentum >= 0 && c->bn_momentum <= 1))
        return lam_fail(e, LAM_ERR_ARG, "bn_momentum must be in [0, 1], got %g", (double)c->bn_momentum);
    if (c->hidden == 0) {
        int gated = c->act == LAM_MLP_SWIGLU || c->act == LAM_MLP_GEGLU;
        c->hidden = gated ? (c->dim + 2) / 3 * 8 : 4 * c->dim;   /* gated: 8/3·dim rounded up to a multiple of 8 */
    }
    return LAM_OK;
}

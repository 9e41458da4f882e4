/* Watching a norm through the public API: diagnostics while training.
 *
 *   norm_stats [NORM [PLACEMENT [STEPS]]]      (defaults: layernorm pre 40)
 *
 * Trains a small model on a built-in text and, every 10 steps, prints per
 * layer the residual stream's standard deviation, the normalized values' mean
 * and standard deviation (before gamma and beta) and the gradient norm with
 * respect to the layer's input, then each layer's largest update-to-weight
 * ratio.  Exits 1 if a LayerNorm or BatchNorm's normalized values are not
 * mean 0 / std 1 (to 1e-4 / within [0.9, 1]), so the test suite runs it. */
#include <lamina.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char text[] =
    "Now the serpent was more subtil than any beast of the field which the LORD God had made. And he said "
    "unto the woman, Yea, hath God said, Ye shall not eat of every tree of the garden? And the woman said "
    "unto the serpent, We may eat of the fruit of the trees of the garden: But of the fruit of the tree "
    "which is in the midst of the garden, God hath said, Ye shall not eat of it, neither shall ye touch it. ";

int main(int argc, char **argv) {
    lam_error err;
    lam_model_config mc;
    lam_train_config tc;
    lam_model_config_default(&mc);
    lam_train_config_default(&tc);
    mc.layers = 3, mc.heads = 2, mc.dim = 32, mc.ctx = 32;
    tc.batch = 8, tc.warmup = 5, tc.lr = 3e-3f;
    tc.steps = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 40;
    size_t len = 4 * (sizeof text - 1);
    unsigned char *data = malloc(len);
    if (!data) return 1;
    for (size_t i = 0; i < 4; i++) memcpy(data + i * (sizeof text - 1), text, sizeof text - 1);
    lam_model *m = NULL;
    lam_trainer *tr = NULL;
    if ((argc > 1 && lam_model_config_set(&mc, "norm", argv[1], &err)) ||
        (argc > 2 && lam_model_config_set(&mc, "placement", argv[2], &err)) || lam_model_config_check(&mc, &err) ||
        lam_train_config_check(&tc, &err) || lam_model_create(&m, &mc, tc.batch, 7, &err) ||
        lam_trainer_create(&tr, m, &tc, data, len, &err)) {
        fprintf(stderr, "norm_stats: %s\n", err.msg);
        lam_model_free(m);
        free(data);
        return 2;
    }
    size_t places = lam_model_stats_count(m), ntensors = lam_model_tensor_count(m);
    lam_sublayer_stats *st = calloc(places, sizeof *st);
    int bad = 0, centered = mc.norm == LAM_NORM_LAYERNORM || mc.norm == LAM_NORM_BATCHNORM;
    printf("%s, %s-norm, %zu layers\n", lam_norm_name(mc.norm), lam_placement_name(mc.placement), mc.layers);
    for (size_t s = 0; s < tc.steps && st; s++) {
        int show = s % 10 == 0 || s + 1 == tc.steps;
        lam_step_stats ss;
        if (lam_trainer_set_diagnostics(tr, show, &err) || lam_trainer_step(tr, &ss, &err) ||
            (show && lam_model_stats(m, st, &err))) {
            fprintf(stderr, "norm_stats: %s\n", err.msg);
            bad = 1;
            break;
        }
        if (!show) continue;
        printf("step %zu  loss %.3f\n  layer  stream std  xhat mean   xhat std  |dloss/dx|  max |dw|/|w|\n",
               ss.step + 1, ss.loss);
        const lam_tensor_stats *ts = lam_trainer_tensor_stats(tr);
        for (size_t i = 0; i + 1 < places; i += 2) {
            const lam_sublayer_stats *p = &st[i];   /* the layer's first sublayer: its input */
            double ratio = 0;
            char prefix[32];
            snprintf(prefix, sizeof prefix, "h.%zu.", i / 2);
            for (size_t k = 0; k < ntensors; k++) {
                lam_tensor t;
                lam_model_tensor(m, k, &t);
                if (t.grad && !strncmp(t.name, prefix, strlen(prefix)) && isfinite(ts[k].update_ratio) &&
                    ts[k].update_ratio > ratio)
                    ratio = ts[k].update_ratio;
            }
            printf("  %5zu  %10.4f  %9.2e  %9.5f  %10.4f  %12.2e\n", i / 2, p->stream.std, p->xhat.mean, p->xhat.std,
                   p->stream_grad.l2, ratio);
            if (centered && !(fabs(p->xhat.mean) < 1e-4 && p->xhat.std > 0.9 && p->xhat.std <= 1.0 + 1e-6)) {
                fprintf(stderr, "norm_stats: layer %zu: xhat mean %g, std %g: not normalized\n", i / 2, p->xhat.mean,
                        p->xhat.std);
                bad = 1;
            }
        }
    }
    free(st);
    lam_trainer_free(tr);
    lam_model_free(m);
    free(data);
    return bad;
}

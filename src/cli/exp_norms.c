/* lamina experiment norms: none, LayerNorm, RMSNorm and BatchNorm on the same
 * pre-norm model, seed and budget.  Loss curves, per-layer activation scale
 * and gradient norms over training, BatchNorm's batch- versus running-
 * statistics validation, and batch-size invariance of the logits. */
#define _POSIX_C_SOURCE 200809L
#include "cli/experiment.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NRUNS 4
static const lam_norm kinds[NRUNS] = {LAM_NORM_NONE, LAM_NORM_LAYERNORM, LAM_NORM_RMSNORM, LAM_NORM_BATCHNORM};

/* The untrained tensors (BatchNorm running statistics), saved or restored. */
static size_t running_stats(lam_model *m, float *buf, int restore) {
    size_t n = lam_model_tensor_count(m), off = 0;
    for (size_t i = 0; i < n; i++) {
        lam_tensor t;
        lam_model_tensor(m, i, &t);
        if (t.grad) continue;
        if (buf && restore) memcpy(t.data, buf + off, t.numel * sizeof(float));
        else if (buf) memcpy(buf + off, t.data, t.numel * sizeof(float));
        off += t.numel;
    }
    return off;
}

/* Validation loss over `windows` windows evaluated `b` at a time in training
 * mode (BatchNorm uses the statistics of those b windows); the running
 * statistics are left as they were.  NaN on failure. */
static double val_batch_stats(exp_ctx *x, lam_model *m, size_t windows, size_t b) {
    size_t ctx = lam_model_get_config(m)->ctx, W = (x->val_len - 1) / ctx;
    if (W > windows) W = windows;
    float *saved = malloc((running_stats(m, NULL, 0) + 1) * sizeof(float));
    if (!saved) return NAN;
    running_stats(m, saved, 0);
    double sum = 0;
    size_t tokens = 0;
    lam_error e;
    for (size_t k = 0; k + b <= W; k += b) {
        float loss;
        if (lam_model_forward(m, x->val + k * ctx, x->val + k * ctx + 1, b, ctx, 1, &loss, &e)) {
            sum = NAN;
            break;
        }
        sum += (double)loss * (double)(b * ctx);
        tokens += b * ctx;
    }
    running_stats(m, saved, 1);
    free(saved);
    return tokens ? sum / (double)tokens : NAN;
}

/* max |logits of window 0 computed alone − the same inside a batch of b| */
static double batch_invariance(exp_ctx *x, lam_model *m, size_t b, int training) {
    size_t ctx = lam_model_get_config(m)->ctx, n = ctx * LAM_VOCAB;
    float *alone = malloc(n * sizeof(float)), *saved = malloc((running_stats(m, NULL, 0) + 1) * sizeof(float));
    double d = NAN;
    lam_error e;
    float loss;
    if (alone && saved) {
        running_stats(m, saved, 0);
        if (!lam_model_forward(m, x->val, NULL, 1, ctx, training, &loss, &e)) {
            memcpy(alone, lam_model_logits(m), n * sizeof(float));
            if (!lam_model_forward(m, x->val, NULL, b, ctx, training, &loss, &e)) {
                const float *in = lam_model_logits(m);
                d = 0;
                for (size_t i = 0; i < n; i++) {
                    double v = fabs((double)in[i] - (double)alone[i]);
                    if (!(v <= d)) d = v;
                }
            }
        }
        running_stats(m, saved, 1);
    }
    free(alone), free(saved);
    return d;
}

/* min and max over the layer-input places (2i) of one snapshot's field. */
static void layer_range(const exp_run *r, size_t snap, size_t field_off, double *lo, double *hi) {
    *lo = INFINITY, *hi = -INFINITY;
    for (size_t i = 0; i + 1 < r->places; i += 2) {
        const lam_sublayer_stats *s = &r->stats[snap * r->places + i];
        double v = ((const lam_summary *)((const char *)s + field_off))->std;
        if (v < *lo) *lo = v;
        if (v > *hi) *hi = v;
    }
}

/* Writes one data block per run: step, then one column per layer input
 * (place 2i) of the chosen quantity. */
static int write_layer_data(exp_ctx *x, const char *file, const exp_run *runs, size_t field_off, int use_l2,
                            double range[2]) {
    FILE *f = exp_data_file(x, file);
    if (!f) return 1;
    range[0] = INFINITY, range[1] = 0;
    for (int k = 0; k < NRUNS; k++) {
        const exp_run *r = &runs[k];
        fprintf(f, "# %s: step, then layer 0..%zu input\n", r->name, r->mc.layers - 1);
        for (size_t s = 0; s < r->nstats; s++) {
            fprintf(f, "%zu", r->stats_step[s]);
            for (size_t i = 0; i + 1 < r->places; i += 2) {
                const lam_summary *v =
                    (const lam_summary *)((const char *)&r->stats[s * r->places + i] + field_off);
                double val = use_l2 ? v->l2 : v->std;
                fprintf(f, " %.6g", val);
                if (val > 0 && val < range[0]) range[0] = val;
                if (val > range[1]) range[1] = val;
            }
            fputc('\n', f);
        }
        fprintf(f, "\n\n");
    }
    return fclose(f) != 0;
}

/* The same layout for each layer's parameter-gradient norm (before clipping). */
static int write_param_grad_data(exp_ctx *x, const char *file, const exp_run *runs, double range[2]) {
    FILE *f = exp_data_file(x, file);
    if (!f) return 1;
    range[0] = INFINITY, range[1] = 0;
    for (int k = 0; k < NRUNS; k++) {
        const exp_run *r = &runs[k];
        size_t L = r->mc.layers;
        fprintf(f, "# %s: step, then the gradient norm of layer 0..%zu's parameters\n", r->name, L - 1);
        for (size_t s = 0; s < r->nstats; s++) {
            fprintf(f, "%zu", r->stats_step[s]);
            for (size_t i = 0; i < L; i++) {
                double v = r->layer_grad[s * L + i];
                fprintf(f, " %.6g", v);
                if (v > 0 && v < range[0]) range[0] = v;
                if (v > range[1]) range[1] = v;
            }
            fputc('\n', f);
        }
        fprintf(f, "\n\n");
    }
    return fclose(f) != 0;
}

/* 2×2 panels, one per norm, a line per layer; one y range for all panels */
static int layer_plot(exp_ctx *x, const char *name, const char *data, const exp_run *runs, const char *ylabel,
                      const char *title, const double range[2]) {
    size_t L = runs[0].mc.layers;
    double lo = range[0] < range[1] ? range[0] / 1.5 : 1e-3, hi = range[0] < range[1] ? range[1] * 1.5 : 1e3;
    char t[NRUNS][96 + 48];   /* a name and " (diverged at step N)" */
    for (int k = 0; k < NRUNS; k++) {
        if (runs[k].diverged) snprintf(t[k], sizeof t[k], "%s (diverged at step %zu)", runs[k].name, runs[k].steps_done);
        else snprintf(t[k], sizeof t[k], "%s", runs[k].name);
    }
    return exp_plot(x, name,
                    "set multiplot layout 2,2 title \"%s\"\nset logscale y\nset yrange [%.3g:%.3g]\n"
                    "set xlabel 'step'\nset ylabel '%s'\n"
                    "set palette defined (0 '#1b9e77', 0.5 '#7570b3', 1 '#d95f02')\nunset colorbox\n"
                    "set key inside right top font ',9'\nL = %zu\narray names[4] = ['%s', '%s', '%s', '%s']\n"
                    "do for [k=0:3] {\n  set title names[k+1]\n"
                    "  plot for [i=0:L-1] '%s' index k using 1:(column(i+2)) with lines lw 2 "
                    "lc palette frac (L > 1 ? i/(L-1.0) : 0) title sprintf('layer %%d', i)\n}\nunset multiplot\n",
                    title, lo, hi, ylabel, L, t[0], t[1], t[2], t[3], data);
}

int exp_suite_norms(exp_ctx *x) {
    exp_run runs[NRUNS];
    memset(runs, 0, sizeof runs);
    int rc = 0;
    x->run_total = NRUNS;
    for (int k = 0; k < NRUNS && !rc; k++) {
        exp_run *r = &runs[k];
        exp_base_config(x, &r->mc, &r->tc, r);
        if (!x->quick) r->mc.layers = 6, r->tc.steps = 1200, r->eval_every = 100;
        r->stats_every = x->quick ? 10 : 25;
        r->mc.norm = kinds[k];
        r->keep_model = 1;
        snprintf(r->name, sizeof r->name, "%s", lam_norm_name(kinds[k]));
        rc = exp_train(x, r);
    }
    if (rc) goto done;
    const exp_run *r0 = &runs[0];
    size_t B = r0->tc.batch, L = r0->mc.layers, fw = r0->final_windows;
    exp_say(x,
            "Model: pre-norm, %zu layers, %zu heads, dim %zu, ctx %zu, %s; AdamW lr %g, warmup %zu, cosine to 10%%, "
            "clip %g, batch %zu, %zu steps, seed %llu.  Diagnostics every %zu steps (and at step 1).  Validation: "
            "%zu windows of %zu bytes.\n\n",
            L, r0->mc.heads, r0->mc.dim, r0->mc.ctx, lam_mlp_name(r0->mc.act), (double)r0->tc.lr, r0->tc.warmup,
            (double)r0->tc.clip, B, r0->tc.steps, (unsigned long long)r0->tc.seed, r0->stats_every, fw, r0->mc.ctx);

    /* ---- loss curves */
    double target = -INFINITY;
    for (int k = 0; k < NRUNS; k++)
        if (!runs[k].diverged && exp_tail_loss(&runs[k], 50) > target) target = exp_tail_loss(&runs[k], 50);
    size_t win = x->quick ? 5 : 25;
    FILE *f = exp_data_file(x, "loss.dat");
    if (!f) goto fail;
    for (int k = 0; k < NRUNS; k++) {
        const exp_run *r = &runs[k];
        fprintf(f, "# %s: step, training loss (mean of the last %zu steps)\n", r->name, win);
        double s = 0;
        for (size_t i = 0; i < r->steps_done; i++) {
            s += r->loss[i];
            if (i >= win) s -= r->loss[i - win];
            if (i + 1 >= win) fprintf(f, "%zu %.6g\n", i + 1, s / (double)win);
        }
        if (r->steps_done < win) fprintf(f, "0 NaN\n");   /* keep the block: gnuplot skips empty ones */
        fprintf(f, "\n\n");
    }
    for (int k = 0; k < NRUNS; k++) {
        exp_val_block(f, &runs[k]);
    }
    if (fclose(f) != 0) goto fail;
    if (exp_plot(x, "loss",
                 "set title 'Training (lines, mean of %zu steps) and validation (points) loss'\n"
                 "set xlabel 'step'\nset ylabel 'loss (nats per byte)'\nset key inside right top\n"
                 "names = '%s %s %s %s'\n"
                 "plot for [k=0:3] 'loss.dat' index k using 1:2 with lines lw 2 lc k+1 title word(names, k+1), \\\n"
                 "     for [k=0:3] 'loss.dat' index k+4 using 1:2 with points pt 7 ps 0.8 lc k+1 notitle, \\\n"
                 "     %.4f with lines dt 2 lc rgb '#888888' title 'unigram baseline'\n",
                 win, runs[0].name, runs[1].name, runs[2].name, runs[3].name, x->unigram))
        goto fail;
    exp_say(x, "## Training\n\n![loss curves](loss.svg)\n\n");
    exp_say(x, "| norm | validation loss | training loss (last 50 steps) | steps to training loss %.3f | ms/step | "
               "largest gradient norm (before clipping) |\n|---|---|---|---|---|---|\n",
            target);
    for (int k = 0; k < NRUNS; k++) {
        const exp_run *r = &runs[k];
        char v[32];
        double gmax = 0;
        for (size_t i = 0; i < r->steps_done; i++)
            if (r->grad_norm[i] > gmax) gmax = r->grad_norm[i];
        size_t st = exp_steps_to(r, target, win);
        char stbuf[32];
        if (st) snprintf(stbuf, sizeof stbuf, "%zu", st);
        else snprintf(stbuf, sizeof stbuf, "not reached");
        exp_say(x, "| %s | %s | %.3f | %s | %.1f | %.3g |\n", r->name, exp_fmt_val(v, sizeof v, r),
                exp_tail_loss(r, 50), stbuf, r->ms_per_step, gmax);
    }
    exp_say(x, "\n");

    /* ---- scale of the activations */
    double r_in[2], r_stream[2], r_grad[2], r_pgrad[2];
    if (write_param_grad_data(x, "param_grad.dat", runs, r_pgrad) ||
        write_layer_data(x, "sublayer_input_std.dat", runs, offsetof(lam_sublayer_stats, norm_out), 0, r_in) ||
        write_layer_data(x, "stream_std.dat", runs, offsetof(lam_sublayer_stats, stream), 0, r_stream) ||
        write_layer_data(x, "stream_grad.dat", runs, offsetof(lam_sublayer_stats, stream_grad), 1, r_grad))
        goto fail;
    if (layer_plot(x, "sublayer_input_std", "sublayer_input_std.dat", runs, "std",
                   "Std of what each layer's attention sublayer reads (the norm's output; the stream itself for none)",
                   r_in) ||
        layer_plot(x, "stream_std", "stream_std.dat", runs, "std", "Std of the residual stream entering each layer",
                   r_stream) ||
        layer_plot(x, "stream_grad", "stream_grad.dat", runs, "‖∂loss/∂x‖",
                   "Gradient norm of the loss with respect to each layer's input", r_grad) ||
        layer_plot(x, "param_grad", "param_grad.dat", runs, "‖∂loss/∂θ‖",
                   "Gradient norm of each layer's parameters (before clipping)", r_pgrad))
        goto fail;
    exp_say(x, "## Activation scale\n\n![sublayer input std](sublayer_input_std.svg)\n\n![stream std](stream_std.svg)\n\n");
    exp_say(x, "| norm | sublayer-input std over layers, step 1 | same, last step | residual stream std entering "
               "the head, step 1 → last | normalized values (x̂): largest \\|mean\\| | x̂ std, min–max |\n"
               "|---|---|---|---|---|---|\n");
    size_t off_out = offsetof(lam_sublayer_stats, norm_out);
    double spread[NRUNS], xmean[NRUNS], xlo[NRUNS], xhi[NRUNS];
    for (int k = 0; k < NRUNS; k++) {
        const exp_run *r = &runs[k];
        double lo0, hi0, lo1, hi1, glo = INFINITY, ghi = -INFINITY;
        layer_range(r, 0, off_out, &lo0, &hi0);
        layer_range(r, r->nstats - 1, off_out, &lo1, &hi1);
        xmean[k] = 0, xlo[k] = INFINITY, xhi[k] = -INFINITY;
        for (size_t s = 0; s < r->nstats; s++) {
            double lo, hi;
            layer_range(r, s, off_out, &lo, &hi);
            if (lo < glo) glo = lo;
            if (hi > ghi) ghi = hi;
            for (size_t p = 0; p < r->places; p++) {
                const lam_summary *xh = &r->stats[s * r->places + p].xhat;
                if (fabs(xh->mean) > xmean[k]) xmean[k] = fabs(xh->mean);
                if (xh->std < xlo[k]) xlo[k] = xh->std;
                if (xh->std > xhi[k]) xhi[k] = xh->std;
            }
        }
        spread[k] = ghi / glo;
        const lam_sublayer_stats *h0 = &r->stats[r->places - 1], *h1 = &r->stats[(r->nstats - 1) * r->places + r->places - 1];
        if (kinds[k] == LAM_NORM_NONE)
            exp_say(x, "| %s | %.3g – %.3g | %.3g – %.3g | %.3g → %.3g | (no norm) | (no norm) |\n", r->name, lo0, hi0,
                    lo1, hi1, h0->stream.std, h1->stream.std);
        else
            exp_say(x, "| %s | %.3g – %.3g | %.3g – %.3g | %.3g → %.3g | %.2g | %.4f – %.4f |\n", r->name, lo0, hi0,
                    lo1, hi1, h0->stream.std, h1->stream.std, xmean[k], xlo[k], xhi[k]);
    }
    exp_say(x, "\nThe sublayer input is the norm's output γ·x̂ + β (what attention reads); without a norm it is the "
               "residual stream itself.  x̂ = (x − mean)·rstd for LayerNorm (per token) and BatchNorm (per feature), "
               "x·rstd for RMSNorm, over all %zu places and %zu snapshots.\n\n",
            runs[1].places, runs[1].nstats);

    /* ---- gradients */
    exp_say(x, "## Gradients\n\n![stream gradient](stream_grad.svg)\n\n![parameter gradient](param_grad.svg)\n\n");
    exp_say(x, "| norm | ‖∂loss/∂x‖ layer 0 input ÷ last layer's output, step 1 | same, last step | largest ÷ smallest "
               "over layers and snapshots |\n|---|---|---|---|\n");
    double gspread[NRUNS];
    for (int k = 0; k < NRUNS; k++) {
        const exp_run *r = &runs[k];
        double ratio[2];
        for (int w = 0; w < 2; w++) {
            size_t s = w ? r->nstats - 1 : 0;
            ratio[w] = r->stats[s * r->places].stream_grad.l2 / r->stats[s * r->places + r->places - 1].stream_grad.l2;
        }
        double lo = INFINITY, hi = 0;
        for (size_t s = 0; s < r->nstats; s++)
            for (size_t p = 0; p < r->places; p++) {
                double v = r->stats[s * r->places + p].stream_grad.l2;
                if (v < lo) lo = v;
                if (v > hi) hi = v;
            }
        gspread[k] = hi / lo;
        exp_say(x, "| %s | %.3g | %.3g | %.3g |\n", r->name, ratio[0], ratio[1], gspread[k]);
    }
    exp_say(x, "\n");

    /* ---- BatchNorm: batch versus running statistics; batch-size invariance */
    exp_say(x, "## Batch dependence\n\n");
    exp_say(x, "Validation loss over %zu windows evaluated three ways: in evaluation mode (BatchNorm uses its running "
               "statistics), and in training mode, where BatchNorm normalizes with the statistics of the windows "
               "evaluated together (%zu at a time, or 1 at a time).\n\n",
            fw, B);
    exp_say(x, "| norm | evaluation mode | batch statistics, %zu windows | batch statistics, 1 window |\n|---|---|---|---|\n", B);
    double bn_eval = NAN, bn_b = NAN, bn_1 = NAN, ln_eval = runs[1].final_val;
    for (int k = 0; k < NRUNS; k++) {
        exp_run *r = &runs[k];
        char v[32];
        double vb = r->diverged ? NAN : val_batch_stats(x, r->model, fw, B);
        double v1 = r->diverged ? NAN : val_batch_stats(x, r->model, fw, 1);
        if (r->diverged) exp_say(x, "| %s | diverged | — | — |\n", r->name);
        else exp_say(x, "| %s | %s | %.3f | %.3f |\n", r->name, exp_fmt_val(v, sizeof v, r), vb, v1);
        if (kinds[k] == LAM_NORM_BATCHNORM) bn_eval = r->final_val, bn_b = vb, bn_1 = v1;
    }
    exp_say(x, "\nThe logits of one sequence computed alone and as the first of a batch of %zu: largest absolute "
               "difference.\n\n| norm | evaluation mode | training mode |\n|---|---|---|\n", B);
    double inv_eval[NRUNS], inv_train[NRUNS];
    for (int k = 0; k < NRUNS; k++) {
        inv_eval[k] = batch_invariance(x, runs[k].model, B, 0);
        inv_train[k] = batch_invariance(x, runs[k].model, B, 1);
        if (runs[k].diverged) exp_say(x, "| %s | — (diverged) | — (diverged) |\n", runs[k].name);
        else exp_say(x, "| %s | %.3g | %.3g |\n", runs[k].name, inv_eval[k], inv_train[k]);
    }
    exp_say(x, "\n");

    /* ---- the claims */
    const exp_run *none = &runs[0], *ln = &runs[1];
    exp_say(x, "## Reading\n\n");
    for (int k = 0; k < NRUNS; k++)
        if (runs[k].diverged)
            exp_say(x, "The %s run diverged at step %zu (training loss %.3g, gradient norm %.3g before clipping); its "
                       "figures below cover the steps before.\n\n",
                    runs[k].name, runs[k].steps_done, (double)runs[k].loss[runs[k].steps_done - 1],
                    (double)runs[k].grad_norm[runs[k].steps_done - 1]);
    int xhat_ok = xmean[1] < 1e-3 && xlo[1] > 0.9 && xhi[1] <= 1.0 + 1e-6;
    exp_say(x,
            "- **LayerNorm keeps each layer's inputs at a steady scale (mean 0, std 1 before γ and β).** %s "
            "LayerNorm's normalized values had |mean| ≤ %.2g and std %.4f–%.4f everywhere it was measured (just under "
            "1 because of ε); the inputs its sublayers read varied by a factor of %.3g in std over layers and "
            "training, against %.3g without normalization.\n",
            xhat_ok && spread[1] < spread[0] ? "Supported:" : xhat_ok ? "Partly supported:" : "Not supported:",
            xmean[1], xlo[1], xhi[1], spread[1], spread[0]);
    double gmax[NRUNS];
    for (int k = 0; k < NRUNS; k++) {
        gmax[k] = 0;
        for (size_t i = 0; i < runs[k].steps_done; i++)
            if (runs[k].grad_norm[i] > gmax[k]) gmax[k] = runs[k].grad_norm[i];
    }
    /* exploded: the run diverged, or its gradient norm went 10x past LayerNorm's largest */
    int none_exploded = none->diverged || gmax[0] > 10 * gmax[1], ln_exploded = ln->diverged;
    exp_say(x,
            "- **Normalization prevents exploding and vanishing gradients.** %s without normalization the gradient "
            "norm (before clipping) reached %.3g%s, with LayerNorm at most %.3g%s.  Across layers, the gradient "
            "with respect to the layer inputs varied by a factor of %.3g with LayerNorm and %.3g without (over the "
            "snapshots each run has); nothing vanished in either: this is a pre-norm stack, whose residual path "
            "carries gradients past every sublayer unchanged (the placement suite has post-norm).\n",
            none_exploded && !ln_exploded ? "Supported:" : gspread[1] < gspread[0] ? "Supported in degree:" : "Not supported here:",
            gmax[0], none->diverged ? " and the run diverged" : "", gmax[1], ln->diverged ? " and the run diverged" : "",
            gspread[1], gspread[0]);
    size_t t_none = exp_steps_to(none, target, win), t_ln = exp_steps_to(ln, target, win);
    int faster = !ln->diverged && (none->diverged || (t_ln && (!t_none || t_ln < t_none)));
    char v0[32], v1[32], v2[32];
    exp_say(x,
            "- **LayerNorm converges faster.** %s LayerNorm reached a training loss of %.3f in %zu steps, the model "
            "without normalization %s; final validation loss %s with LayerNorm, %s without.\n",
            faster && (none->diverged || ln->final_val < none->final_val) ? "Supported:"
            : faster                                                     ? "Partly supported:"
                                                                         : "Not supported:",
            target, t_ln, t_none ? (snprintf(v0, sizeof v0, "in %zu", t_none), v0) : "never reached it",
            exp_fmt_val(v1, sizeof v1, ln),
            exp_fmt_val(v2, sizeof v2, none));
    int bn_worse = !(bn_eval <= ln_eval);
    exp_say(x,
            "- **BatchNorm is ill-suited to sequence models and to inference at batch size 1.** %s with its running "
            "statistics BatchNorm's validation loss was %.3f (LayerNorm %.3f); with batch statistics %.3f over %zu "
            "windows and %.3f over a single window.  In training mode one sequence's logits changed by up to %.3g "
            "when other sequences joined its batch (LayerNorm: %.3g); in evaluation mode, with running statistics, "
            "by %.3g.\n",
            bn_worse && inv_train[3] > 1e-3 ? "Supported:" : inv_train[3] > 1e-3 ? "Partly supported:" : "Not supported:",
            bn_eval, ln_eval, bn_b, B, bn_1, inv_train[3], inv_train[1], inv_eval[3]);
    exp_say(x, "\nEach sentence is decided by the rule it states, from this run's numbers; with one seed per "
               "setting, differences of a few hundredths of a nat are within run-to-run noise.\n");
done:
    for (int k = 0; k < NRUNS; k++) exp_run_free(&runs[k]);
    return rc;
fail:
    rc = 1;
    goto done;
}

/* The CSV files a training run appends to (train_log.c).
 *
 * metrics.csv: step,loss,lr,grad_norm,tokens_per_s,val_loss (val_loss empty
 * on steps without validation).
 * stats.csv (lamina train --stats-every N, lamina experiment): one row per
 * step, place and quantity:
 *   step,layer,sublayer,quantity,mean,std,max_abs,l2,update_ratio
 * - activation rows: sublayer attn|mlp for layer 0..L−1, head for the place
 *   after the last layer (layer L); quantity stream|norm_in|xhat|norm_out|
 *   stream_grad as in lam_sublayer_stats; mean, std, max_abs, l2 of that
 *   tensor; update_ratio empty.
 * - parameter rows: quantity is the tensor's name (h.0.mlp.c_fc.weight, ...),
 *   sublayer attn|mlp|head|embed (layer empty for embed); mean, std, max_abs,
 *   l2 are of its gradient before clipping (l2 = the gradient norm),
 *   update_ratio = ‖Δw‖/‖w‖ of the step (inf for a zero tensor that moved). */
#ifndef LAMINA_CLI_TRAIN_LOG_H
#define LAMINA_CLI_TRAIN_LOG_H

#include "lamina.h"

#include <stdio.h>

extern const char train_log_metrics_header[];
extern const char train_log_stats_header[];

/* DIR/name with the header, and on resume the old rows of steps <= step (a
 * resumed run drops what an interrupted one logged after its checkpoint);
 * replaced atomically, then opened to append.  NULL with errno on failure. */
FILE *train_log_open(const char *dir, const char *name, const char *header, unsigned long long step, int resume);

/* Appends step `st->step + 1`'s metrics row: tokens per second from the
 * step's seconds; val_loss empty when val is NaN (not measured).  Flushed. */
void train_log_metrics(FILE *f, const lam_step_stats *st, double seconds, double val);

/* The layer a tensor belongs to, from its GPT-2 name: 0 .. layers−1 for
 * h.{i}.*, layers for ln_f (the head), (size_t)−1 for the embeddings; *sub
 * is attn (ln_1, attn.*), mlp (ln_2, mlp.*), head or embed. */
size_t train_log_tensor_place(const char *name, size_t layers, const char **sub);

/* Appends the stats rows of `step` from the model's last forward and backward
 * and the trainer's last update (tr may be NULL: no parameter rows).  buf
 * holds lam_model_stats_count(m) entries.  0, or 1 with e set or errno. */
int train_log_stats(FILE *f, unsigned long long step, const lam_model *m, const lam_trainer *tr,
                    lam_sublayer_stats *buf, lam_error *e);

#endif

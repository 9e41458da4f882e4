/* lamina experiment: the shared machinery of the suites (experiment.c) and
 * the suites themselves (exp_norms.c, exp_placement.c, exp_lr.c, exp_ffn.c).
 *
 * A suite builds a grid of runs, trains each in process with the library
 * (exp_train), writes one CSV per run under DIR/runs/, data files and
 * gnuplot scripts for its plots (exp_plot renders DIR/NAME.svg), and
 * appends tables and one sentence per claim to DIR/report.md. */
#ifndef LAMINA_CLI_EXPERIMENT_H
#define LAMINA_CLI_EXPERIMENT_H

#include "io/json.h"
#include "lamina.h"

#include <stddef.h>
#include <stdio.h>

typedef struct exp_ctx {
    const char *suite, *dir;
    int quick, threads;
    const unsigned char *train, *val;   /* the default corpus */
    size_t train_len, val_len;
    double unigram;                     /* entropy of the training bytes' histogram, nats */
    lam_strbuf report;                  /* report.md, written at the end */
    size_t run_index, run_total;        /* for the progress lines */
    double t0;
} exp_ctx;

/* One training run: its settings (filled by the suite) and its results. */
typedef struct exp_run {
    char name[96];                /* file stem under runs/, and the label in tables */
    lam_model_config mc;
    lam_train_config tc;
    size_t eval_every;            /* validation every N steps (and at the end) */
    size_t val_windows;           /* windows per validation during training */
    size_t final_windows;         /* windows for the final validation */
    size_t stats_every;           /* diagnostics every N steps (and at step 1); 0 = none */
    int keep_model;               /* leave `model` alive for the suite to probe */
    /* results */
    lam_model *model;
    size_t params;                /* trainable floats */
    size_t steps_done;
    int diverged;                 /* a non-finite or exploded training loss stopped the run */
    float *loss, *grad_norm;      /* per step done */
    size_t nval, *val_step;
    double *val;
    double final_val;             /* over final_windows; NaN when diverged */
    double ms_per_step;           /* median over the steps (validation excluded) */
    size_t nstats, places, *stats_step;
    lam_sublayer_stats *stats;    /* nstats × places */
    double *layer_grad;           /* nstats × layers: ‖gradient‖ of each layer's parameters */
} exp_run;

/* Trains r (writing DIR/runs/NAME.csv and, with stats, NAME.stats.csv);
 * prints a progress line.  0, or an exit status after a one-line error. */
int exp_train(exp_ctx *x, exp_run *r);
void exp_run_free(exp_run *r);

/* Mean training loss over the last k steps done (fewer if there are fewer). */
double exp_tail_loss(const exp_run *r, size_t k);
/* First step at which the mean loss over the previous `window` steps is <= target; 0 if never. */
size_t exp_steps_to(const exp_run *r, double target, size_t window);
/* "2.345" or "diverged" (or "—" for NaN) into buf. */
const char *exp_fmt_val(char *buf, size_t n, const exp_run *r);

/* Writes DIR/NAME.gp (a gnuplot script whose `set output` the function
 * supplies) and runs gnuplot on it to make DIR/NAME.svg.  The script is
 * printf-formatted.  0, or 1 after a one-line error. */
int exp_plot(exp_ctx *x, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Opens DIR/NAME for writing (a plot's data file); NULL after a one-line error. */
FILE *exp_data_file(exp_ctx *x, const char *name);

/* One data block for gnuplot's `index`: "# NAME ..." then "step val" per
 * validation, and "0 NaN" when there is none (gnuplot does not count empty
 * blocks, which would shift every later index); ends with two blank lines. */
void exp_val_block(FILE *f, const exp_run *r);
/* Report helpers: printf into report.md. */
void exp_say(exp_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The suites: 0 or an exit status. */
int exp_suite_norms(exp_ctx *x);
int exp_suite_placement(exp_ctx *x);
int exp_suite_lr(exp_ctx *x);
int exp_suite_ffn(exp_ctx *x);

/* A base model and training setup for a suite: small in --quick. */
void exp_base_config(const exp_ctx *x, lam_model_config *mc, lam_train_config *tc, exp_run *r);

#endif

/* Training progress on the terminal: a redrawn progress bar on a TTY, one
 * plain line per interval otherwise. */
#ifndef LAMINA_CLI_PROGRESS_H
#define LAMINA_CLI_PROGRESS_H

#include <stdio.h>

typedef struct progress {
    FILE *out;
    int tty;            /* 1: redraw one line with \r; 0: plain lines */
    long total;         /* steps in the run */
    long first;         /* step the run (or resume) started at */
    double t0;          /* monotonic seconds at the start */
    double last_print;  /* monotonic seconds of the last plain line */
    double every;       /* seconds between plain lines */
} progress;

typedef struct progress_stats {
    long step;          /* steps done */
    double loss, val_loss;  /* val_loss < 0: not measured yet */
    double lr, grad_norm, tokens_per_s;
} progress_stats;

void progress_init(progress *p, FILE *out, long first, long total);
/* Shows the state after a step; `force` prints a plain line whatever the interval. */
void progress_update(progress *p, const progress_stats *s, int force);
/* Ends the bar's line (TTY) so later output starts on a new line. */
void progress_finish(progress *p);
/* "1h02m03s" / "2m03s" / "3.4s" into buf. */
void progress_format_duration(char *buf, size_t n, double seconds);

#endif

#define _POSIX_C_SOURCE 200809L
#include "cli/progress.h"
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>

void progress_format_duration(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e8) {
        snprintf(buf, n, "?");
    } else if (s < 60) {
        snprintf(buf, n, "%.1fs", s);
    } else if (s < 3600) {
        long t = lround(s);
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    } else {
        long t = lround(s);
        snprintf(buf, n, "%ldh%02ldm%02lds", t / 3600, (t / 60) % 60, t % 60);
    }
}

void progress_init(progress *p, FILE *out, long first, long total) {
    p->out = out;
    p->tty = isatty(fileno(out));
    p->total = total;
    p->first = first;
    p->t0 = bench_now();
    p->last_print = -1e30;
    p->every = 10.0;
}

void progress_update(progress *p, const progress_stats *s, int force) {
    double now = bench_now(), el = now - p->t0;
    long done = s->step - p->first, left = p->total - s->step;
    double eta = done > 0 ? el / (double)done * (double)left : -1;
    char els[32], etas[32], val[32];
    progress_format_duration(els, sizeof els, el);
    progress_format_duration(etas, sizeof etas, eta);
    if (s->val_loss >= 0) snprintf(val, sizeof val, "%.4f", s->val_loss);
    else snprintf(val, sizeof val, "-");
    if (p->tty) {
        const int width = 24;
        int fill = p->total > 0 ? (int)((double)width * (double)s->step / (double)p->total) : width;
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        fprintf(p->out, "\r[%s] %ld/%ld loss %.4f val %s lr %.2e gnorm %.3f %.0f tok/s %s eta %s\033[K", bar,
                s->step, p->total, s->loss, val, s->lr, s->grad_norm, s->tokens_per_s, els, etas);
        fflush(p->out);
    } else if (force || now - p->last_print >= p->every || s->step == p->total) {
        fprintf(p->out, "step %ld/%ld loss %.4f val %s lr %.3e grad_norm %.4f tokens/s %.0f elapsed %s eta %s\n",
                s->step, p->total, s->loss, val, s->lr, s->grad_norm, s->tokens_per_s, els, etas);
        fflush(p->out);
        p->last_print = now;
    }
}

void progress_finish(progress *p) {
    if (p->tty) {
        fputc('\n', p->out);
        fflush(p->out);
    }
}

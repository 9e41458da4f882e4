/* The files a training run appends to as it goes: metrics.csv (one row per
 * step) and stats.csv (diagnostics every --stats-every steps). */
#define _POSIX_C_SOURCE 200809L
#include "cli/train_log.h"
#include "io/file.h"
#include "io/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char train_log_metrics_header[] = "step,loss,lr,grad_norm,tokens_per_s,val_loss\n";
const char train_log_stats_header[] = "step,layer,sublayer,quantity,mean,std,max_abs,l2,update_ratio\n";

FILE *train_log_open(const char *dir, const char *name, const char *header, unsigned long long step, int resume) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unsigned char *old = NULL;
    size_t len = 0;
    lam_strbuf keep = {0};
    lam_sb_puts(&keep, header);
    if (resume && lam_file_read(path, (size_t)1 << 31, &old, &len, NULL) == LAM_OK) {
        char *line = (char *)old, *end = (char *)old + len;
        while (line < end) {
            char *nl = memchr(line, '\n', (size_t)(end - line));
            if (!nl) break;   /* a torn last line */
            unsigned long long k;
            if (sscanf(line, "%llu,", &k) == 1 && k <= step) lam_sb_put(&keep, line, (size_t)(nl - line + 1));
            line = nl + 1;
        }
        free(old);
    }
    lam_error e;
    if (keep.oom || lam_file_write_atomic_buf(path, keep.p, keep.len, &e) != LAM_OK) {
        lam_sb_free(&keep);
        return NULL;
    }
    lam_sb_free(&keep);
    return fopen(path, "a");
}

static void put_summary(FILE *f, const lam_summary *s) {
    fprintf(f, ",%.6g,%.6g,%.6g,%.6g", s->mean, s->std, s->max_abs, s->l2);
}

void train_log_metrics(FILE *f, const lam_step_stats *st, double seconds, double val) {
    fprintf(f, "%zu,%.6g,%.6g,%.6g,%.1f,", st->step + 1, (double)st->loss, (double)st->lr, (double)st->grad_norm,
            (double)st->tokens / seconds);
    if (!isnan(val)) fprintf(f, "%.6g", val);
    fputc('\n', f);
    fflush(f);
}

size_t train_log_tensor_place(const char *name, size_t layers, const char **sub) {
    size_t i;
    int used = 0;
    if (sscanf(name, "h.%zu.%n", &i, &used) == 1 && used > 0) {
        const char *rest = name + used;
        *sub = !strncmp(rest, "ln_1", 4) || !strncmp(rest, "attn", 4) ? "attn" : "mlp";
        return i;
    }
    if (!strncmp(name, "ln_f", 4)) {
        *sub = "head";
        return layers;
    }
    *sub = "embed";
    return (size_t)-1;
}

int train_log_stats(FILE *f, unsigned long long step, const lam_model *m, const lam_trainer *tr,
                    lam_sublayer_stats *buf, lam_error *e) {
    lam_status s = lam_model_stats(m, buf, e);
    if (s) return 1;
    size_t n = lam_model_stats_count(m), L = lam_model_get_config(m)->layers;
    for (size_t k = 0; k < n; k++) {
        const char *sub = k == 2 * L ? "head" : k % 2 ? "mlp" : "attn";
        const struct { const char *name; const lam_summary *v; } rows[] = {
            {"stream", &buf[k].stream}, {"norm_in", &buf[k].norm_in}, {"xhat", &buf[k].xhat},
            {"norm_out", &buf[k].norm_out}, {"stream_grad", &buf[k].stream_grad},
        };
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            fprintf(f, "%llu,%zu,%s,%s", step, k / 2, sub, rows[r].name);
            put_summary(f, rows[r].v);
            fputs(",\n", f);
        }
    }
    const lam_tensor_stats *ts = tr ? lam_trainer_tensor_stats(tr) : NULL;
    if (ts) {
        size_t nt = lam_model_tensor_count(m);
        for (size_t i = 0; i < nt; i++) {
            lam_tensor t;
            lam_model_tensor(m, i, &t);
            if (!t.grad) continue;
            char layer[32] = "";
            const char *sub;
            size_t li = train_log_tensor_place(t.name, L, &sub);
            if (li != (size_t)-1) snprintf(layer, sizeof layer, "%zu", li);
            fprintf(f, "%llu,%s,%s,%s", step, layer, sub, t.name);
            put_summary(f, &ts[i].grad);
            fprintf(f, ",%.6g\n", ts[i].update_ratio);
        }
    }
    return fflush(f) == 0 ? 0 : 1;
}

/* lamina experiment SUITE: trains a suite's grid of small models on the
 * default corpus and writes DIR/report.md with tables, gnuplot SVG plots and
 * a reading of each claim.  The suites are in exp_*.c; this file holds what
 * they share: the command line, one training run, plotting, the report. */
#define _POSIX_C_SOURCE 200809L
#include "cli/experiment.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "cli/train_log.h"
#include "io/file.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TRAIN "data/kjv/train.bin"
#define DEFAULT_VAL "data/kjv/val.bin"

typedef struct suite {
    const char *name;
    int (*run)(exp_ctx *);
    const char *what;
} suite;

static const suite suites[] = {
    {"norms", exp_suite_norms, "none, LayerNorm, RMSNorm, BatchNorm on the same model and budget"},
    {"placement", exp_suite_placement, "pre- vs post-LayerNorm at depths 2, 6, 12, with and without warmup"},
    {"lr", exp_suite_lr, "learning-rate sweep with and without LayerNorm"},
    {"ffn", exp_suite_ffn, "MLP activations (relu, gelu, gelu_tanh, silu, swiglu, geglu) at a matched parameter count"},
};
#define NSUITES (sizeof suites / sizeof suites[0])

static void usage(FILE *f, const cli_flag *flags, size_t n) {
    fprintf(f,
            "usage: lamina experiment SUITE [--out DIR] [--quick] [--threads N] [--force]\n"
            "\n"
            "Trains a grid of small models on the default corpus (scripts/corpus.sh) with\n"
            "fixed seeds and writes DIR/report.md (tables, the reproducing command and a\n"
            "reading of each claim), SVG plots made with gnuplot, and one CSV per run in\n"
            "DIR/runs/.  The full grid takes at most 15 minutes on 2 cores; --quick runs a\n"
            "reduced grid in well under a minute.\n"
            "\n"
            "suites:\n");
    for (size_t i = 0; i < NSUITES; i++) fprintf(f, "  %-10s %s\n", suites[i].name, suites[i].what);
    fprintf(f, "\n");
    cli_print_flags(f, flags, n);
}

/* ---- the base setup */

void exp_base_config(const exp_ctx *x, lam_model_config *mc, lam_train_config *tc, exp_run *r) {
    lam_model_config_default(mc);
    lam_train_config_default(tc);
    mc->placement = LAM_PLACE_PRE;
    mc->norm = LAM_NORM_LAYERNORM;
    mc->act = LAM_MLP_GELU_TANH;
    tc->seed = 1337;
    tc->clip = 1.0f;
    tc->weight_decay = 0.1f;
    if (x->quick) {
        mc->layers = 2, mc->heads = 2, mc->dim = 32, mc->ctx = 32;
        tc->batch = 8, tc->steps = 30, tc->warmup = 5, tc->lr = 2e-3f;
        r->eval_every = 10, r->val_windows = 8, r->final_windows = 16;
    } else {
        mc->layers = 4, mc->heads = 4, mc->dim = 128, mc->ctx = 64;
        tc->batch = 16, tc->steps = 1000, tc->warmup = 50, tc->lr = 1e-3f;
        r->eval_every = 100, r->val_windows = 32, r->final_windows = 256;
    }
    tc->min_lr = -1;
}

/* ---- one run */

void exp_run_free(exp_run *r) {
    lam_model_free(r->model);
    free(r->loss), free(r->grad_norm), free(r->val_step), free(r->val), free(r->stats_step), free(r->stats);
    free(r->layer_grad);
    r->model = NULL, r->loss = r->grad_norm = NULL, r->val_step = NULL, r->val = NULL, r->stats_step = NULL;
    r->stats = NULL, r->layer_grad = NULL;
}

/* Each layer's parameter-gradient norm from the trainer's per-tensor stats. */
static void layer_grads(const lam_model *m, const lam_tensor_stats *ts, double *out, size_t L) {
    for (size_t i = 0; i < L; i++) out[i] = 0;
    size_t n = lam_model_tensor_count(m);
    for (size_t k = 0; k < n; k++) {
        lam_tensor t;
        lam_model_tensor(m, k, &t);
        const char *sub;
        size_t i = train_log_tensor_place(t.name, L, &sub);
        if (!t.grad || i >= L) continue;
        out[i] += ts[k].grad.l2 * ts[k].grad.l2;
    }
    for (size_t i = 0; i < L; i++) out[i] = sqrt(out[i]);
}

/* Mean validation loss over `windows` windows into *out; 0, or 1 after a one-line error. */
static int validate(exp_ctx *x, exp_run *r, size_t windows, double *out) {
    double sum;
    size_t tokens;
    lam_error e;
    if (lam_model_eval(r->model, x->val, x->val_len, windows, &sum, &tokens, &e)) {
        fprintf(stderr, "lamina experiment: run %s: validation: %s\n", r->name, e.msg);
        return 1;
    }
    *out = sum / (double)tokens;
    return 0;
}

int exp_train(exp_ctx *x, exp_run *r) {
    lam_error e;
    lam_status s = lam_model_config_check(&r->mc, &e);
    if (!s) s = lam_train_config_check(&r->tc, &e);
    size_t steps = r->tc.steps, L = r->mc.layers;
    if (!s) s = lam_model_create(&r->model, &r->mc, r->tc.batch / r->tc.accum, r->tc.seed, &e);
    lam_trainer *tr = NULL;
    if (!s) s = lam_trainer_create(&tr, r->model, &r->tc, x->train, x->train_len, &e);
    if (s) {
        fprintf(stderr, "lamina experiment: run %s: %s\n", r->name, e.msg);
        lam_trainer_free(tr);
        return 1;
    }
    r->params = lam_model_param_count(r->model);
    size_t max_stats = r->stats_every ? steps / r->stats_every + 2 : 0, max_val = steps / r->eval_every + 2;
    r->places = lam_model_stats_count(r->model);
    r->loss = calloc(steps, sizeof(float));
    r->grad_norm = calloc(steps, sizeof(float));
    r->val_step = calloc(max_val, sizeof(size_t));
    r->val = calloc(max_val, sizeof(double));
    double *times = calloc(steps, sizeof(double));
    if (max_stats) {
        r->stats_step = calloc(max_stats, sizeof(size_t));
        r->stats = calloc(max_stats * r->places, sizeof(lam_sublayer_stats));
        r->layer_grad = calloc(max_stats * (L ? L : 1), sizeof(double));
    }
    char dir[4096], file[256];
    snprintf(dir, sizeof dir, "%s/runs", x->dir);
    snprintf(file, sizeof file, "%s.csv", r->name);
    FILE *metrics = train_log_open(dir, file, train_log_metrics_header, 0, 0), *stats = NULL;
    if (max_stats) {
        snprintf(file, sizeof file, "%s.stats.csv", r->name);
        stats = train_log_open(dir, file, train_log_stats_header, 0, 0);
    }
    int rc = 0;
    if (!r->loss || !r->grad_norm || !r->val_step || !r->val || !times ||
        (max_stats && (!r->stats_step || !r->stats || !r->layer_grad))) {
        fprintf(stderr, "lamina experiment: run %s: out of memory\n", r->name);
        rc = 1;
    } else if (!metrics || (max_stats && !stats)) {
        fprintf(stderr, "lamina experiment: cannot write %s/%s.csv: %s\n", dir, r->name, strerror(errno));
        rc = 1;
    }
    x->run_index++;
    printf("[%zu/%zu] %s %s: ", x->run_index, x->run_total, x->suite, r->name);
    fflush(stdout);
    double t_start = bench_now();
    for (size_t step = 0; !rc && step < steps; step++) {
        size_t done = step + 1;
        int stats_step = r->stats_every && (step == 0 || done % r->stats_every == 0 || done == steps);
        if (stats_step && lam_trainer_set_diagnostics(tr, 1, &e)) {
            fprintf(stderr, "lamina experiment: run %s: %s\n", r->name, e.msg);
            rc = 1;
            break;
        }
        lam_step_stats st;
        double t0 = bench_now();
        s = lam_trainer_step(tr, &st, &e);
        times[step] = bench_now() - t0;
        if (s) {
            fprintf(stderr, "lamina experiment: run %s: step %zu: %s\n", r->name, done, e.msg);
            rc = 1;
            break;
        }
        r->loss[step] = st.loss;
        r->grad_norm[step] = st.grad_norm;
        r->steps_done = done;
        /* exploded: non-finite, or far above the loss of uniform guessing (ln 256 = 5.5) */
        int exploded = !isfinite(st.loss) || st.loss > 8.0f;
        if (stats_step) {
            lam_trainer_set_diagnostics(tr, 0, &e);
            lam_sublayer_stats *sl = r->stats + r->nstats * r->places;
            if (train_log_stats(stats, done, r->model, tr, sl, &e)) {
                fprintf(stderr, "lamina experiment: cannot write %s/%s.stats.csv\n", dir, r->name);
                rc = 1;
                break;
            }
            const lam_tensor_stats *ts = lam_trainer_tensor_stats(tr);
            if (ts && L) layer_grads(r->model, ts, r->layer_grad + r->nstats * L, L);
            r->stats_step[r->nstats++] = done;
        }
        double val = NAN;
        if (!exploded && (done % r->eval_every == 0 || done == steps)) {
            if ((rc = validate(x, r, r->val_windows, &val))) break;
            r->val_step[r->nval] = done;
            r->val[r->nval++] = val;
        }
        train_log_metrics(metrics, &st, times[step], val);
        if (exploded) {
            r->diverged = 1;
            break;
        }
    }
    r->final_val = NAN;
    if (!rc && !r->diverged) {
        rc = validate(x, r, r->final_windows, &r->final_val);
        if (!rc && !isfinite(r->final_val)) r->diverged = 1;
    }
    if (metrics && fclose(metrics) != 0 && !rc) {
        fprintf(stderr, "lamina experiment: cannot write %s/%s.csv\n", dir, r->name);
        rc = 1;
    }
    if (stats) fclose(stats);
    if (r->steps_done) {
        bench_sort(times, r->steps_done);
        r->ms_per_step = 1e3 * times[r->steps_done / 2];
    }
    free(times);
    lam_trainer_free(tr);
    if (!r->keep_model) {
        lam_model_free(r->model);
        r->model = NULL;
    }
    if (!rc) {
        char v[32];
        printf("%s after %zu steps (%.1f ms/step, %.0f s in all)\n",
               r->diverged ? "diverged" : (snprintf(v, sizeof v, "val %.3f", r->final_val), v), r->steps_done,
               r->ms_per_step, bench_now() - t_start);
        fflush(stdout);
    } else {
        printf("failed\n");
    }
    return rc;
}

double exp_tail_loss(const exp_run *r, size_t k) {
    size_t n = r->steps_done < k ? r->steps_done : k;
    if (!n) return NAN;
    double s = 0;
    for (size_t i = r->steps_done - n; i < r->steps_done; i++) s += r->loss[i];
    return s / (double)n;
}

size_t exp_steps_to(const exp_run *r, double target, size_t window) {
    double s = 0;
    for (size_t i = 0; i < r->steps_done; i++) {
        s += r->loss[i];
        if (i >= window) s -= r->loss[i - window];
        size_t n = i + 1 < window ? i + 1 : window;
        if (i + 1 >= window && s / (double)n <= target) return i + 1;
    }
    return 0;
}

const char *exp_fmt_val(char *buf, size_t n, const exp_run *r) {
    if (r->diverged) snprintf(buf, n, "diverged");
    else if (isnan(r->final_val)) snprintf(buf, n, "—");
    else snprintf(buf, n, "%.3f", r->final_val);
    return buf;
}

/* ---- plots and report */

void exp_val_block(FILE *f, const exp_run *r) {
    fprintf(f, "# %s: step, validation loss\n", r->name);
    for (size_t i = 0; i < r->nval; i++) fprintf(f, "%zu %.6g\n", r->val_step[i], r->val[i]);
    if (!r->nval) fprintf(f, "0 NaN\n");
    fprintf(f, "\n\n");
}

void exp_say(exp_ctx *x, const char *fmt, ...) {
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) lam_sb_put(&x->report, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

FILE *exp_data_file(exp_ctx *x, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", x->dir, name);
    FILE *f = fopen(path, "w");
    if (!f) fprintf(stderr, "lamina experiment: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

int exp_plot(exp_ctx *x, const char *name, const char *fmt, ...) {
    char gp[256], path[4096];
    snprintf(gp, sizeof gp, "%s.gp", name);
    FILE *f = exp_data_file(x, gp);
    if (!f) return 1;
    fprintf(f,
            "# %s.svg; made by lamina experiment %s (run gnuplot in this directory to redraw)\n"
            "set terminal svg size 960,600 dynamic noenhanced font 'sans,13' background '#ffffff'\n"
            "set output '%s.svg'\n"
            "set datafile separator whitespace\n"
            "set grid lc rgb '#dddddd'\n"
            "set key outside right top\n",
            name, x->suite, name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    if (fclose(f) != 0) {
        fprintf(stderr, "lamina experiment: cannot write %s/%s\n", x->dir, gp);
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "lamina experiment: cannot run gnuplot: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        if (chdir(x->dir) != 0) _exit(127);
        if (!freopen("gnuplot.log", "a", stderr)) _exit(127);
        execlp("gnuplot", "gnuplot", gp, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    snprintf(path, sizeof path, "%s/%s.svg", x->dir, name);
    struct stat sb;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || stat(path, &sb) != 0 || sb.st_size == 0) {
        fprintf(stderr, "lamina experiment: gnuplot failed on %s/%s (see %s/gnuplot.log)\n", x->dir, gp, x->dir);
        return 1;
    }
    return 0;
}

static int have_gnuplot(void) {
    const char *p = getenv("PATH");
    if (!p) p = "/usr/bin:/bin";
    char buf[4096];
    while (*p) {
        size_t n = strcspn(p, ":");
        snprintf(buf, sizeof buf, "%.*s/gnuplot", (int)n, p);
        if (n && access(buf, X_OK) == 0) return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

static double unigram_entropy(const unsigned char *d, size_t n) {
    double h = 0, count[256] = {0};
    for (size_t i = 0; i < n; i++) count[d[i]]++;
    for (int b = 0; b < 256; b++)
        if (count[b] > 0) h -= count[b] / (double)n * log(count[b] / (double)n);
    return h;
}

static void cpu_name(char *buf, size_t n) {
    snprintf(buf, n, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c += 1 + (c[1] == ' ');
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, n, "%s", c);
            }
            break;
        }
    fclose(f);
}

int cli_experiment(int argc, char **argv) {
    const char *out = NULL;
    int quick = 0, force = 0;
    long long threads = omp_get_num_procs();
    cli_flag flags[] = {
        CLI_FLAG_STRING("--out", &out, "DIR", "where the report, plots and CSVs go (experiments/SUITE)"),
        CLI_FLAG_SWITCH("--quick", &quick, "a reduced grid of tiny models, for the tests"),
        CLI_FLAG_INT("--threads", &threads, 1, 1024, "N", "threads (all cores)"),
        CLI_FLAG_SWITCH("--force", &force, "overwrite a report already in DIR"),
    };
    size_t nflags = sizeof flags / sizeof flags[0], npos = 0;
    const char *pos[1];
    int rc = cli_parse("experiment", flags, nflags, argc, argv, pos, 1, &npos);
    if (rc == CLI_HELP) {
        usage(stdout, flags, nflags);
        return 0;
    }
    if (rc) return rc;
    if (npos != 1) {
        fprintf(stderr, "lamina experiment: which suite? norms|placement|lr|ffn (see lamina experiment --help)\n");
        return 2;
    }
    const suite *su = NULL;
    for (size_t i = 0; i < NSUITES; i++)
        if (!strcmp(pos[0], suites[i].name)) su = &suites[i];
    if (!su) {
        fprintf(stderr, "lamina experiment: unknown suite '%s' (norms|placement|lr|ffn)\n", pos[0]);
        return 2;
    }
    char defdir[256];
    if (!out) {
        snprintf(defdir, sizeof defdir, "experiments/%s%s", su->name, quick ? "-quick" : "");
        out = defdir;
    }
    if (!have_gnuplot()) {
        fprintf(stderr, "lamina experiment: gnuplot not found on PATH (install Debian's gnuplot-nox: scripts/deps.sh)\n");
        return 2;
    }
    if (access(DEFAULT_TRAIN, R_OK) != 0 || access(DEFAULT_VAL, R_OK) != 0) {
        fprintf(stderr, "lamina experiment: the default corpus %s is missing (run scripts/corpus.sh)\n", DEFAULT_TRAIN);
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/report.md", out);
    if (!force && access(path, F_OK) == 0) {
        fprintf(stderr, "lamina experiment: %s already exists; choose another --out or pass --force\n", path);
        return 2;
    }
    rc = cli_ensure_dir("experiment", "--out", out);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/runs", out);
    rc = cli_ensure_dir("experiment", "--out", path);
    if (rc) return rc;

    exp_ctx x = {0};
    x.suite = su->name, x.dir = out, x.quick = quick, x.threads = (int)threads;
    unsigned char *train = NULL, *val = NULL;
    rc = cli_read_data("experiment", DEFAULT_TRAIN, 4096, &train, &x.train_len);
    if (!rc) rc = cli_read_data("experiment", DEFAULT_VAL, 4096, &val, &x.val_len);
    if (rc) {
        free(train);
        return rc;
    }
    x.train = train, x.val = val;
    x.unigram = unigram_entropy(train, x.train_len);
    lam_set_num_threads((int)threads);
    snprintf(path, sizeof path, "%s/gnuplot.log", out);
    remove(path);

    char cpu[256], when[64];
    cpu_name(cpu, sizeof cpu);
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    exp_say(&x, "# lamina experiment %s%s\n\n", su->name, quick ? " (quick)" : "");
    exp_say(&x, "%s.\n\n", su->what);
    exp_say(&x, "Reproduce: `lamina experiment %s%s --threads %d --out %s`\n\n", su->name, quick ? " --quick" : "",
            x.threads, out);
    exp_say(&x,
            "Machine: %s, %d threads; lamina %s (isa %s), BLAS %s (core %s); %s.  Corpus: %s (%zu bytes) and "
            "%s (%zu bytes); the unigram baseline (entropy of the training bytes' histogram) is %.3f nats.\n\n",
            cpu, lam_get_num_threads(), lam_version(), lam_isa(), lam_blas_config(), lam_blas_core(), when,
            DEFAULT_TRAIN, x.train_len, DEFAULT_VAL, x.val_len, x.unigram);
    const char *blas_note = cli_blas_core_note();
    if (blas_note) exp_say(&x, "BLAS core %s.\n\n", blas_note);
    if (quick)
        exp_say(&x, "**Quick run**: tiny models and a few dozen steps, to exercise the pipeline; the readings below "
                    "are not evidence either way.\n\n");
    x.t0 = bench_now();
    printf("lamina experiment %s%s: writing %s\n", su->name, quick ? " (quick)" : "", out);
    if (blas_note) printf("%s\n", blas_note);
    fflush(stdout);
    rc = su->run(&x);
    if (!rc) {
        char el[32];
        progress_format_duration(el, sizeof el, bench_now() - x.t0);
        exp_say(&x, "\n---\nThe suite took %s.  Per-run CSVs are in `runs/` (metrics: step, loss, lr, grad_norm, "
                    "tokens_per_s, val_loss; stats: see `lamina train --help`, --stats-every).\n", el);
        lam_error e;
        snprintf(path, sizeof path, "%s/report.md", out);
        if (x.report.oom || lam_file_write_atomic_buf(path, x.report.p, x.report.len, &e) != LAM_OK) {
            fprintf(stderr, "lamina experiment: cannot write %s\n", path);
            rc = 1;
        } else {
            printf("report: %s (%s)\n", path, el);
        }
    }
    lam_sb_free(&x.report);
    free(train);
    free(val);
    return rc;
}

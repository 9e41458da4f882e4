/* The lamina command line: one function per command, argv after the command name. */
#ifndef LAMINA_CLI_H
#define LAMINA_CLI_H

#include <stddef.h>
#include <stdio.h>

int cli_bench(int argc, char **argv);
int cli_bench_norm(int argc, char **argv);
int cli_bench_act(int argc, char **argv);
int cli_bench_ffn(int argc, char **argv);
int cli_bench_train(int argc, char **argv);
int cli_inspect(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_sample(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_experiment(int argc, char **argv);

/* ---- the BLAS core (blas_core.c) */
/* Re-executes the command with OPENBLAS_CORETYPE set when OpenBLAS's own
 * choice is known to be wrong for this CPU and the user set none; returns
 * (and lamina goes on) otherwise. */
void cli_blas_core_fix(char **argv);
/* "note: OPENBLAS_CORETYPE=... is set; ..." when the user's choice of core
 * holds the GEMMs back on this CPU (lam_blas_core_advice), else NULL. */
const char *cli_blas_core_note(void);
/* That note and a newline, when there is one; printed with the start-up
 * lines of the commands that run GEMMs (--version, train, bench ffn and
 * train, experiment). */
void cli_print_blas_core_note(FILE *f);

/* ---- shared by train, sample and eval (cli_model.c); each returns 0 or an
 * exit status after printing one line "lamina CMD: ..." on stderr. */
#include "lamina.h"
/* Reads a whole data file; too short (< min_len bytes), empty, missing, a
 * directory: status 2; an I/O failure: 1. */
int cli_read_data(const char *cmd, const char *path, size_t min_len, unsigned char **data, size_t *len);
/* DIR/model.safetensors when dir_or_file is a directory, else itself. */
void cli_model_path(char *out, size_t n, const char *dir_or_file);
/* Creates dir, and its missing parents, when missing (flag names it in the
 * error); 0, or 2 (a file in the way) / 1 after a one-line error. */
int cli_ensure_dir(const char *cmd, const char *flag, const char *dir);
/* Creates the model a model file describes and loads its weights. */
int cli_load_model(const char *cmd, const char *dir_or_file, size_t max_batch, lam_model **out);

/* ---- benchmark helpers (bench_util.c) */
double bench_now(void);                         /* monotonic seconds */
/* memcpy bandwidth in bytes/s (read + write counted) over `bytes`-sized
 * buffers with the current thread count; best of `reps`. */
double bench_copy_bandwidth(size_t bytes, int reps);
/* Sorts t[0..n) ascending (t[0] is then the best time). */
void bench_sort(double *t, size_t n);
/* Sorts t[0..n) ascending and returns its median (the mean of the middle
 * two when n is even); n >= 1. */
double bench_median(double *t, size_t n);
/* Touches every page so first-touch costs stay out of the timings. */
void bench_touch(float *p, size_t n, float value);
void *bench_alloc(size_t bytes);                /* 64-byte aligned; exits with a message on failure */
/* Parses --threads N, --reps N, --json shared by the benches; returns 0,
 * 2 after printing a one-line error, or CLI_HELP after printing the usage. */
int bench_parse_common(int argc, char **argv, int *threads, int *reps, int *json);

#endif

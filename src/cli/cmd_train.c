/* lamina train: trains a model on a byte file, shows progress, writes
 * metrics.csv and checkpoints, resumes bit-exactly, stops cleanly on SIGINT. */
#define _POSIX_C_SOURCE 200809L
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/dist.h"
#include "cli/interrupt.h"
#include "cli/progress.h"
#include "cli/train_log.h"
#include "io/checkpoint.h"
#include "io/file.h"
#include "lamina.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const norm_names[] = {"layernorm", "rmsnorm", "batchnorm", "none", NULL};
static const char *const place_names[] = {"pre", "post", NULL};
static const char *const act_names[] = {"relu", "gelu", "gelu_tanh", "silu", "swiglu", "geglu", NULL};

#define DEFAULT_TRAIN "data/kjv/train.bin"
#define DEFAULT_VAL "data/kjv/val.bin"

static void usage(FILE *f, const cli_flag *flags, size_t n) {
    fprintf(f,
            "usage: lamina train --out DIR [--data FILE] [options]\n"
            "\n"
            "Trains a byte-level GPT on FILE (default: the King James Bible prepared by\n"
            "scripts/corpus.sh in %s, validated on %s; with --data and no --val\n"
            "the last 10%% of FILE is held out).  Writes DIR/metrics.csv, DIR/model.safetensors,\n"
            "DIR/optimizer.safetensors and DIR/state.json; Ctrl-C saves a checkpoint and stops.\n"
            "\n",
            DEFAULT_TRAIN, DEFAULT_VAL);
    cli_print_flags(f, flags, n);
}

static void fmt_bytes(char *buf, size_t n, size_t bytes) {
    if (bytes >= ((size_t)1 << 30)) snprintf(buf, n, "%.2f GiB", (double)bytes / (1 << 30));
    else if (bytes >= ((size_t)1 << 20)) snprintf(buf, n, "%.1f MiB", (double)bytes / (1 << 20));
    else snprintf(buf, n, "%.1f KiB", (double)bytes / 1024);
}

/* FNV-1a over the bits of the trained parameters and their AdamW moments:
 * equal on every rank while the ranks agree (BatchNorm running statistics,
 * which are per rank, are left out). */
static uint64_t state_checksum(lam_model *m, lam_trainer *tr) {
    uint64_t h = 1469598103934665603ULL;
    size_t n = lam_model_tensor_count(m);
    for (size_t i = 0; i < n; i++) {
        lam_tensor t;
        lam_model_tensor(m, i, &t);
        if (!t.grad) continue;
        const float *parts[3] = {t.data, lam_trainer_moment(tr, i, 0), lam_trainer_moment(tr, i, 1)};
        for (int p = 0; p < 3; p++) {
            const unsigned char *b = (const unsigned char *)parts[p];
            for (size_t k = 0; k < t.numel * sizeof(float); k++) h = (h ^ b[k]) * 1099511628211ULL;
        }
    }
    return h;
}

/* LAMINA_TEST_PERTURB=RANK:STEP (a test hook): after optimizer step STEP,
 * rank RANK nudges one weight, which the next checksum must catch. */
static void test_perturb(lam_model *m, int rank, size_t done) {
    const char *v = getenv("LAMINA_TEST_PERTURB");
    int r;
    size_t at;
    if (!v || sscanf(v, "%d:%zu", &r, &at) != 2 || r != rank || at != done) return;
    lam_tensor t;
    lam_model_tensor(m, 0, &t);
    t.data[0] += 1e-3f;
}

int cli_train(int argc, char **argv) {
    /* under mpirun every rank runs this; rank 0 alone speaks and writes
     * files (the others see the same arguments and data, so rank 0's
     * messages are theirs too) */
    int rank = dist_rank(), nranks = dist_size();
    int saved_err = -1;
    if (rank > 0) {
        saved_err = dup(2);
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) return 1;
    }
    lam_model_config mc;
    lam_train_config tc;
    lam_model_config_default(&mc);
    lam_train_config_default(&tc);
    const char *data_path = NULL, *val_path = NULL, *out_dir = NULL;
    long long layers = (long long)mc.layers, heads = (long long)mc.heads, dim = (long long)mc.dim,
              ctx = (long long)mc.ctx, hidden = 0;
    int norm = (int)mc.norm, place = (int)mc.placement, act = (int)mc.act;
    double eps = mc.eps;
    long long steps = (long long)tc.steps, batch = (long long)tc.batch, accum = (long long)tc.accum,
              warmup = (long long)tc.warmup, seed = (long long)tc.seed;
    double lr = tc.lr, min_lr = -1, wd = tc.weight_decay, clip = tc.clip;
    long long eval_every = 100, ckpt_every = 500, val_windows = 64, log_every = 0,
              threads = omp_get_num_procs() / dist_local_size() > 0 ? omp_get_num_procs() / dist_local_size() : 1,
              stop_after = 0, stats_every = 0;
    int resume = 0;
    cli_flag flags[] = {
        CLI_FLAG_STRING("--data", &data_path, "FILE", "training bytes (default: the prepared KJV corpus)"),
        CLI_FLAG_STRING("--val", &val_path, "FILE", "validation bytes (default: last 10% of --data)"),
        CLI_FLAG_STRING("--out", &out_dir, "DIR", "where metrics and checkpoints go (required)"),
        CLI_FLAG_INT("--layers", &layers, 1, 256, "N", "transformer blocks (4)"),
        CLI_FLAG_INT("--heads", &heads, 1, 1024, "N", "attention heads (4)"),
        CLI_FLAG_INT("--dim", &dim, 1, 65536, "N", "model width (256)"),
        CLI_FLAG_INT("--ctx", &ctx, 1, LAM_MAX_CTX, "N", "context length in bytes (128)"),
        CLI_FLAG_INT("--hidden", &hidden, 0, 1 << 20, "N", "feed-forward width (0: 4*dim, gated 8/3*dim)"),
        CLI_FLAG_CHOICE("--norm", &norm, norm_names, "NAME", "layernorm|rmsnorm|batchnorm|none"),
        CLI_FLAG_CHOICE("--placement", &place, place_names, "NAME", "pre|post"),
        CLI_FLAG_CHOICE("--act", &act, act_names, "NAME", "relu|gelu|gelu_tanh|silu|swiglu|geglu"),
        CLI_FLAG_FLOAT("--eps", &eps, 0, 1, 1, "X", "norm epsilon (1e-5)"),
        CLI_FLAG_INT("--steps", &steps, 1, 1000000000, "N", "optimizer steps (1000)"),
        CLI_FLAG_INT("--batch", &batch, 1, 1 << 20, "N", "sequences per step (16)"),
        CLI_FLAG_INT("--accum", &accum, 1, 1 << 20, "N", "micro-batches per step (1)"),
        CLI_FLAG_FLOAT("--lr", &lr, 0, 10, 1, "X", "peak learning rate (1e-3)"),
        CLI_FLAG_FLOAT("--min-lr", &min_lr, 0, 10, 0, "X", "final learning rate (10% of --lr)"),
        CLI_FLAG_INT("--warmup", &warmup, 0, 1000000000, "N", "linear warmup steps (100)"),
        CLI_FLAG_FLOAT("--weight-decay", &wd, 0, 10, 0, "X", "decoupled weight decay (0.1)"),
        CLI_FLAG_FLOAT("--clip", &clip, 0, 1e6, 0, "X", "gradient-norm clip, 0 = off (1.0)"),
        CLI_FLAG_INT("--eval-every", &eval_every, 0, 1000000000, "N", "validation every N steps, 0 = at the end (100)"),
        CLI_FLAG_INT("--val-windows", &val_windows, 0, 1000000000, "N", "validation windows of ctx bytes, 0 = all (64)"),
        CLI_FLAG_INT("--ckpt-every", &ckpt_every, 0, 1000000000, "N", "checkpoint every N steps, 0 = at the end (500)"),
        CLI_FLAG_INT("--stats-every", &stats_every, 0, 1000000000, "N",
                     "diagnostics every N steps into DIR/stats.csv, 0 = off (0)"),
        CLI_FLAG_INT("--log-every", &log_every, 0, 1000000000, "N", "a progress line every N steps (0: every 2 s)"),
        CLI_FLAG_INT("--seed", &seed, 0, (long long)9007199254740991LL, "N", "initialization and batch seed (1337)"),
        CLI_FLAG_INT("--threads", &threads, 1, 1024, "N", "threads (all cores; under mpirun, cores / ranks per machine)"),
        CLI_FLAG_INT("--stop-after", &stop_after, 0, 1000000000, "N", "checkpoint and exit after step N (resume later)"),
        CLI_FLAG_SWITCH("--resume", &resume, "continue from the checkpoint in --out"),
    };
    size_t nflags = sizeof flags / sizeof flags[0];
    size_t npos;
    const char *pos[1];
    int rc = cli_parse("train", flags, nflags, argc, argv, pos, 0, &npos);
    if (rc == CLI_HELP) {
        usage(stdout, flags, nflags);
        return 0;
    }
    if (rc) return rc;
    if (!out_dir) {
        fprintf(stderr, "lamina train: --out DIR is required (see lamina train --help)\n");
        return 2;
    }

    /* configs: the flags' ranges caught the absurd; the library checks the combinations */
    mc.layers = (size_t)layers;
    mc.heads = (size_t)heads;
    mc.dim = (size_t)dim;
    mc.ctx = (size_t)ctx;
    mc.hidden = (size_t)hidden;
    mc.norm = (lam_norm)norm;
    mc.placement = (lam_placement)place;
    mc.act = (lam_mlp)act;
    mc.eps = (float)eps;
    tc.steps = (size_t)steps;
    tc.batch = (size_t)batch;
    tc.accum = (size_t)accum;
    tc.warmup = (size_t)warmup;
    tc.lr = (float)lr;
    tc.min_lr = (float)min_lr;
    tc.weight_decay = (float)wd;
    tc.clip = (float)clip;
    tc.seed = (uint64_t)seed;
    lam_error e;
    if (lam_model_config_check(&mc, &e) != LAM_OK || lam_train_config_check(&tc, &e) != LAM_OK) {
        fprintf(stderr, "lamina train: %s\n", e.msg);
        return 2;
    }
    lam_set_num_threads((int)threads);

    /* data */
    unsigned char *train = NULL, *val = NULL;
    size_t train_len = 0, val_len = 0, need = mc.ctx + 2;
    int default_corpus = !data_path;
    if (default_corpus) {
        if (access(DEFAULT_TRAIN, F_OK) != 0) {
            fprintf(stderr, "lamina train: no --data and no default corpus at %s (run scripts/corpus.sh)\n",
                    DEFAULT_TRAIN);
            return 2;
        }
        data_path = DEFAULT_TRAIN;
        if (!val_path) val_path = DEFAULT_VAL;
    }
    rc = cli_read_data("train", data_path, need, &train, &train_len);
    if (rc) return rc;
    unsigned char *train_buf = train;
    if (val_path) {
        rc = cli_read_data("train", val_path, mc.ctx + 1, &val, &val_len);
        if (rc) {
            free(train_buf);
            return rc;
        }
    } else {
        size_t cut = train_len - train_len / 10;
        if (train_len / 10 < mc.ctx + 1 || cut < need) {
            fprintf(stderr,
                    "lamina train: %s is too short (%zu bytes) to hold out 10%% for validation with ctx %zu; "
                    "pass --val FILE\n",
                    data_path, train_len, mc.ctx);
            free(train_buf);
            return 2;
        }
        val = train + cut;
        val_len = train_len - cut;
        train_len = cut;
    }
    unsigned char *val_buf = val_path ? val : NULL;

    rc = cli_ensure_dir("train", "--out", out_dir);
    if (!rc && !resume && lam_ckpt_exists(out_dir)) {
        fprintf(stderr,
                "lamina train: %s already holds a checkpoint; pass --resume to continue it or choose another --out\n",
                out_dir);
        rc = 2;
    }
    if (!rc && resume && !lam_ckpt_exists(out_dir)) {
        fprintf(stderr, "lamina train: --resume: %s holds no checkpoint (model.safetensors)\n", out_dir);
        rc = 2;
    }
    lam_model *m = NULL;
    lam_trainer *tr = NULL;
    lam_status s = LAM_OK;
    if (!rc) {
        size_t share = tc.batch / tc.accum / (size_t)nranks;
        s = lam_model_create(&m, &mc, share ? share : 1, tc.seed, &e);
        if (!s) s = lam_trainer_create(&tr, m, &tc, train, train_len, &e);
        if (!s) s = lam_trainer_set_shard(tr, (size_t)rank, (size_t)nranks, &e);
        if (!s && nranks > 1) lam_trainer_set_grad_hook(tr, dist_grads_hook, m);
        if (s) {
            fprintf(stderr, "lamina train: %s\n", e.msg);
            rc = s == LAM_ERR_ARG ? 2 : 1;
        }
    }
    uint64_t start = 0;
    if (!rc && resume) {
        s = lam_ckpt_resume(out_dir, m, tr, &tc, &start, &e);
        if (s) {
            fprintf(stderr, "lamina train: --resume: %s\n", e.msg);
            rc = s == LAM_ERR_IO || s == LAM_ERR_NOMEM ? 1 : 2;
        } else if (start >= tc.steps) {
            fprintf(stderr, "lamina train: --resume: the checkpoint in %s is at step %llu, --steps is %zu: nothing to do\n",
                    out_dir, (unsigned long long)start, tc.steps);
            rc = 2;
        }
    }
    FILE *metrics = NULL, *stats = NULL;
    lam_sublayer_stats *stats_buf = NULL;
    if (!rc && rank == 0) {
        metrics = train_log_open(out_dir, "metrics.csv", train_log_metrics_header, start, resume);
        if (!metrics) {
            fprintf(stderr, "lamina train: cannot write %s/metrics.csv: %s\n", out_dir, strerror(errno));
            rc = 1;
        }
    }
    if (!rc && stats_every && rank == 0) {
        stats = train_log_open(out_dir, "stats.csv", train_log_stats_header, start, resume);
        stats_buf = calloc(lam_model_stats_count(m), sizeof *stats_buf);
        if (!stats || !stats_buf) {
            fprintf(stderr, "lamina train: cannot write %s/stats.csv: %s\n", out_dir, strerror(errno));
            rc = 1;
        }
    }
    if (rank > 0 && saved_err >= 0) {   /* from here on a rank's own failures are its own */
        fflush(stderr);
        dup2(saved_err, 2);
        close(saved_err);
    }
    rc = dist_max_int(rc);   /* rank 0's files */
    if (rc) {
        if (metrics) fclose(metrics);
        if (stats) fclose(stats);
        free(stats_buf);
        lam_trainer_free(tr);
        lam_model_free(m);
        free(train_buf);
        free(val_buf);
        return rc;
    }

    /* start-up: config, parameters, memory plan */
    lam_memory_plan plan;
    lam_model_memory(m, &plan);
    plan.optimizer = lam_trainer_memory(tr);
    char b1[32], b2[32], b3[32], b4[32];
    fmt_bytes(b1, sizeof b1, plan.params);
    fmt_bytes(b2, sizeof b2, plan.grads);
    fmt_bytes(b3, sizeof b3, plan.activations);
    fmt_bytes(b4, sizeof b4, plan.optimizer);
    const lam_model_config *cc = lam_model_get_config(m);
    printf("model: layers %zu, heads %zu, dim %zu, ctx %zu, hidden %zu, norm %s, placement %s, act %s, eps %g\n",
           cc->layers, cc->heads, cc->dim, cc->ctx, cc->hidden, lam_norm_name(cc->norm),
           lam_placement_name(cc->placement), lam_mlp_name(cc->act), (double)cc->eps);
    printf("parameters: %zu (%.2f M)\n", lam_model_param_count(m), (double)lam_model_param_count(m) / 1e6);
    printf("memory: parameters %s, gradients %s, activations %s, optimizer %s\n", b1, b2, b3, b4);
    printf("training: steps %zu, batch %zu x %zu bytes (accum %zu), lr %g -> %g, warmup %zu, weight decay %g, clip %g, "
           "seed %llu, threads %d\n",
           tc.steps, tc.batch, cc->ctx, tc.accum, (double)tc.lr, (double)tc.min_lr, tc.warmup, (double)tc.weight_decay,
           (double)tc.clip, (unsigned long long)tc.seed, lam_get_num_threads());
    printf("data: %s (%zu bytes train, %zu bytes validation)\n", default_corpus ? "default corpus (KJV)" : data_path,
           train_len, val_len);
    if (nranks > 1)
        printf("ranks: %d (%s), %zu sequences per rank per step, %d threads each\n", nranks, dist_describe(),
               tc.batch / (size_t)nranks, lam_get_num_threads());
    if (resume) printf("resumed from %s at step %llu\n", out_dir, (unsigned long long)start);
    cli_print_blas_core_note(stdout);
    fflush(stdout);

    interrupt_install();
    progress pr;
    progress_init(&pr, stdout, (long)start, (long)tc.steps);
    /* Open MPI gives rank 0 a pseudo-terminal even when mpirun's own output
     * goes to a pipe or a file, where a redrawn bar would be garbage */
    if (nranks > 1) pr.tty = 0;
    if (log_every) pr.every = 1e30;
    double val_loss = -1, t_run = bench_now(), comm_wait = 0;
    int interrupted = 0;   /* 1: SIGINT, 2: --stop-after */
    for (size_t step = (size_t)start; step < tc.steps; step++) {
        double t0 = bench_now();
        lam_step_stats st;
        int stats_step = rank == 0 && stats_every && (step == 0 || (step + 1) % (size_t)stats_every == 0);
        if (stats_step && lam_trainer_set_diagnostics(tr, 1, &e) != LAM_OK) {
            progress_finish(&pr);
            fprintf(stderr, "lamina train: --stats-every: %s\n", e.msg);
            rc = 1;
            break;
        }
        float loss;
        s = lam_trainer_gradients(tr, &loss, &e);
        comm_wait += dist_grads_wait();   /* the gradients, summed over the ranks: the global batch's */
        if (s) fprintf(stderr, "lamina train: step %zu: %s\n", step + 1, e.msg);
        if (dist_max_int(s != LAM_OK)) {
            progress_finish(&pr);
            if (!s) fprintf(stderr, "lamina train: step %zu: another rank failed (see its message)\n", step + 1);
            rc = 1;
            break;
        }
        lam_trainer_update(tr, &st);   /* clipping on the averaged gradients */
        st.loss = (float)(dist_sum_double(loss) / nranks);
        test_perturb(m, rank, step + 1);
        double dt = bench_now() - t0;
        size_t done = step + 1;
        if (stats_step) {   /* before validation, which overwrites the activations */
            lam_trainer_set_diagnostics(tr, 0, &e);
            if (train_log_stats(stats, done, m, tr, stats_buf, &e)) {
                progress_finish(&pr);
                fprintf(stderr, "lamina train: cannot write %s/stats.csv\n", out_dir);
                rc = 1;
                break;
            }
        }
        int last = done == tc.steps;
        int measured = 0;
        if (rank == 0 && (last || (eval_every && done % (size_t)eval_every == 0))) {
            double sum;
            size_t tokens;
            s = lam_model_eval(m, val, val_len, (size_t)val_windows, &sum, &tokens, &e);
            if (s) {
                progress_finish(&pr);
                fprintf(stderr, "lamina train: validation: %s\n", e.msg);
                rc = 1;
                break;
            }
            val_loss = tokens ? sum / (double)tokens : NAN;
            measured = 1;
        }
        if (rc = dist_max_int(rc), rc) break;   /* rank 0's validation */
        if (metrics) train_log_metrics(metrics, &st, dt, measured ? val_loss : NAN);
        progress_stats ps = {(long)done, st.loss, val_loss, st.lr, st.grad_norm, (double)st.tokens / dt};
        progress_update(&pr, &ps, last || measured || (log_every && done % (size_t)log_every == 0));
        interrupted = dist_max_int(interrupt_requested() ? 1 : (stop_after && done == (size_t)stop_after) ? 2 : 0);
        if (last || interrupted || (ckpt_every && done % (size_t)ckpt_every == 0)) {
            uint64_t lo, hi;
            if (nranks > 1 && !dist_same_u64(state_checksum(m, tr), &lo, &hi)) {
                progress_finish(&pr);
                fprintf(stderr,
                        "lamina train: step %zu: the ranks' parameters or optimizer state differ (checksums %016llx "
                        "to %016llx); stopping without a checkpoint (the last one is whole)\n",
                        done, (unsigned long long)lo, (unsigned long long)hi);
                rc = 1;
                break;
            }
            if (rank == 0) {
                s = lam_ckpt_save(out_dir, m, tr, &tc, &e);
                if (s) {
                    progress_finish(&pr);
                    fprintf(stderr, "lamina train: checkpoint at step %zu: %s\n", done, e.msg);
                    rc = 1;
                }
            }
            if (rc = dist_max_int(rc), rc) break;
        }
        if (interrupted) break;
    }
    progress_finish(&pr);
    if (metrics) fclose(metrics);
    if (stats) fclose(stats);
    free(stats_buf);
    if (!rc) {
        lam_trainer_state ts;
        lam_trainer_get_state(tr, &ts);
        char el[32];
        progress_format_duration(el, sizeof el, bench_now() - t_run);
        if (interrupted)
            printf("%s: checkpoint at step %llu written to %s (continue with --resume)\n",
                   interrupted == 1 ? "interrupted" : "stopped (--stop-after)", (unsigned long long)ts.step, out_dir);
        else
            printf("done: %llu steps in %s, validation loss %.4f (%.3f bits/byte); model in %s/model.safetensors\n",
                   (unsigned long long)ts.step, el, val_loss, val_loss / log(2.0), out_dir);
        if (nranks > 1)
            printf("all-reduce: rank 0 waited %.2f s for the gradients after its backward (%.1f%% of the run)\n",
                   comm_wait, 100.0 * comm_wait / (bench_now() - t_run));
    }
    lam_trainer_free(tr);
    lam_model_free(m);
    free(train_buf);
    free(val_buf);
    return rc;
}

/* lamina eval: next-byte cross-entropy of a trained model over a file. */
#include "cli/args.h"
#include "cli/cli.h"
#include "lamina.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *f, const cli_flag *flags, size_t n) {
    fprintf(f,
            "usage: lamina eval --model DIR --data FILE [--json]\n"
            "\n"
            "Mean next-byte cross-entropy (nats), perplexity and bits per byte over\n"
            "consecutive non-overlapping windows of ctx inputs: window k predicts bytes\n"
            "k*ctx+1 .. (k+1)*ctx from bytes k*ctx .. (k+1)*ctx-1; only whole windows.\n"
            "\n");
    cli_print_flags(f, flags, n);
}

int cli_eval(int argc, char **argv) {
    const char *model_dir = NULL, *data_path = NULL;
    long long threads = omp_get_num_procs(), max_windows = 0;
    int json = 0;
    cli_flag flags[] = {
        CLI_FLAG_STRING("--model", &model_dir, "DIR", "a training --out directory or a model.safetensors (required)"),
        CLI_FLAG_STRING("--data", &data_path, "FILE", "bytes to evaluate on (required)"),
        CLI_FLAG_INT("--max-windows", &max_windows, 0, (long long)1 << 40, "N", "evaluate at most N windows, 0 = all"),
        CLI_FLAG_SWITCH("--json", &json, "print one JSON object"),
        CLI_FLAG_INT("--threads", &threads, 1, 1024, "N", "threads (all cores)"),
    };
    size_t nflags = sizeof flags / sizeof flags[0];
    size_t npos;
    const char *pos[1];
    int rc = cli_parse("eval", flags, nflags, argc, argv, pos, 0, &npos);
    if (rc == CLI_HELP) {
        usage(stdout, flags, nflags);
        return 0;
    }
    if (rc) return rc;
    if (!model_dir || !data_path) {
        fprintf(stderr, "lamina eval: --model DIR and --data FILE are required (see lamina eval --help)\n");
        return 2;
    }
    lam_set_num_threads((int)threads);
    lam_model *m;
    rc = cli_load_model("eval", model_dir, 8, &m);
    if (rc) return rc;
    size_t ctx = lam_model_get_config(m)->ctx, len;
    unsigned char *data;
    rc = cli_read_data("eval", data_path, ctx + 1, &data, &len);
    if (rc) {
        lam_model_free(m);
        return rc;
    }
    double sum;
    size_t tokens;
    lam_error e;
    if (lam_model_eval(m, data, len, (size_t)max_windows, &sum, &tokens, &e) != LAM_OK) {
        fprintf(stderr, "lamina eval: %s\n", e.msg);
        rc = 1;
    } else {
        double loss = sum / (double)tokens, ppl = exp(loss), bpb = loss / log(2.0);
        if (json)
            printf("{\"loss\": %.17g, \"perplexity\": %.17g, \"bits_per_byte\": %.17g, \"tokens\": %zu, \"windows\": %zu, "
                   "\"ctx\": %zu}\n",
                   loss, ppl, bpb, tokens, tokens / ctx, ctx);
        else
            printf("loss %.4f nats/byte, perplexity %.3f, %.4f bits/byte over %zu bytes (%zu windows of %zu)\n", loss,
                   ppl, bpb, tokens, tokens / ctx, ctx);
    }
    free(data);
    lam_model_free(m);
    return rc;
}

/* lamina bench WHAT: dispatch to the individual benchmarks. */
#include "cli/cli.h"
#include "cli/dist.h"

#include <stdio.h>
#include <string.h>

int cli_bench(int argc, char **argv) {
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        fprintf(argc < 1 ? stderr : stdout,
                "usage: lamina bench norm|act|ffn|train|allreduce [options] (lamina bench WHAT --help)\n");
        return argc < 1 ? 2 : 0;
    }
    if (!strcmp(argv[0], "norm")) return cli_bench_norm(argc - 1, argv + 1);
    if (!strcmp(argv[0], "act")) return cli_bench_act(argc - 1, argv + 1);
    if (!strcmp(argv[0], "ffn")) return cli_bench_ffn(argc - 1, argv + 1);
    if (!strcmp(argv[0], "train")) return cli_bench_train(argc - 1, argv + 1);
    if (!strcmp(argv[0], "allreduce")) return dist_bench_allreduce(argc - 1, argv + 1);
    fprintf(stderr, "lamina bench: unknown benchmark '%s' (norm, act, ffn, train, allreduce)\n", argv[0]);
    return 2;
}

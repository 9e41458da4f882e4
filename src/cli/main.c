/* lamina: the command-line entry point; a thin layer over liblamina. */
#include "lamina.h"
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: lamina COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  bench norm   time LayerNorm/RMSNorm forward and backward against memory bandwidth\n"
            "  bench ffn    time the feed-forward layer against its bare GEMMs\n"
            "  inspect FILE list the tensors, dtypes, shapes and metadata of a safetensors file\n"
            "\n"
            "  lamina --version | lamina --help | lamina COMMAND --help\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "lamina: missing command (see lamina --help)\n");
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("lamina %s (isa %s)\n", lam_version(), lam_isa());
        return 0;
    }
    if (!strcmp(cmd, "bench")) return cli_bench(argc - 2, argv + 2);
    if (!strcmp(cmd, "inspect")) return cli_inspect(argc - 2, argv + 2);
    fprintf(stderr, "lamina: unknown command '%s' (see lamina --help)\n", cmd);
    return 2;
}

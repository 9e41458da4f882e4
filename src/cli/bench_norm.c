/* lamina bench norm — filled in by the normalization issue. */
#include "cli/cli.h"
#include <stdio.h>
int cli_bench_norm(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "lamina bench norm: not built yet\n"); return 1; }

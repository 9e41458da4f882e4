/* lamina bench ffn — filled in by the feed-forward issue. */
#include "cli/cli.h"
#include <stdio.h>
int cli_bench_ffn(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "lamina bench ffn: not built yet\n"); return 1; }

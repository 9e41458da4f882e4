/* dist.h for a build without MPI: one process.  Launched as one of several
 * ranks (mpirun sets OMPI_COMM_WORLD_SIZE; Hydra and Slurm set PMI_SIZE or
 * SLURM_NTASKS), it refuses rather than train N independent copies. */
#define _POSIX_C_SOURCE 200809L
#include "cli/dist.h"

#include <stdio.h>
#include <stdlib.h>

static long ranks_from_env(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atol(v) > 1) return atol(v);
    }
    return 1;
}

int dist_init(int *argc, char ***argv) {
    (void)argc, (void)argv;
    long n = ranks_from_env();
    if (n > 1) {
        fprintf(stderr, "lamina: this lamina was built without MPI and cannot run as one of %ld ranks "
                        "(install libopenmpi-dev and rebuild)\n", n);
        return 2;
    }
    return 0;
}
void dist_finalize(void) {}
void dist_abort(int status) { exit(status); }
int dist_rank(void) { return 0; }
int dist_size(void) { return 1; }
int dist_local_size(void) { return 1; }
const char *dist_describe(void) { return "none (built without MPI)"; }
int dist_max_int(int v) { return v; }
double dist_sum_double(double v) { return v; }
int dist_same_u64(uint64_t v, uint64_t *lo, uint64_t *hi) {
    *lo = *hi = v;
    return 1;
}
void dist_grads_hook(void *model, size_t first, size_t end) { (void)model, (void)first, (void)end; }
double dist_grads_wait(void) { return 0; }
int dist_bench_allreduce(int argc, char **argv) {
    (void)argc, (void)argv;
    fprintf(stderr, "lamina bench allreduce: this lamina was built without MPI\n");
    return 2;
}

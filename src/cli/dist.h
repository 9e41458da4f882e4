/* Data-parallel training across processes (lamina train under mpirun).
 *
 * Two implementations of one interface: dist/mpi.c (Open MPI, when CMake
 * finds MPI) and dist/none.c (a single process; refuses to run as one of
 * several ranks).  Under one process every call is the identity, so the
 * commands need no special cases. */
#ifndef LAMINA_CLI_DIST_H
#define LAMINA_CLI_DIST_H

#include "lamina.h"

#include <stddef.h>
#include <stdint.h>

/* Before anything else in main: joins the job when launched by mpirun (with
 * MPI) or refuses with a one-line error when this build cannot (status 2).
 * 0 or an exit status. */
int dist_init(int *argc, char ***argv);
void dist_finalize(void);
/* Ends every rank of the job at once (a rank that cannot go on). */
void dist_abort(int status);
int dist_rank(void);          /* 0 .. dist_size()−1 */
int dist_size(void);          /* 1 without mpirun */
int dist_local_size(void);    /* ranks on this machine */
const char *dist_describe(void);   /* "Open MPI v4.1.4" or "none (built without MPI)" */

/* Collectives; the identity on one process. */
int dist_max_int(int v);
double dist_sum_double(double v);
int dist_same_u64(uint64_t v, uint64_t *lo, uint64_t *hi);   /* 1 when every rank has v */

/* Gradient averaging with the backward: dist_grads_hook is a
 * lam_grad_ready_fn (ctx = the model) that starts a float32 in-place
 * all-reduce (sum) of each group of gradients as the backward finishes it;
 * dist_grads_wait completes them and returns the seconds it waited. */
void dist_grads_hook(void *model, size_t first, size_t end);
double dist_grads_wait(void);

/* lamina bench allreduce: all-reduce bandwidth over message sizes. */
int dist_bench_allreduce(int argc, char **argv);

#endif

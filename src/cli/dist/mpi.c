/* dist.h over MPI (Open MPI from Debian).  MPI is initialized only when
 * lamina was launched by a process manager (mpirun sets
 * OMPI_COMM_WORLD_SIZE; Hydra and Slurm set PMI_SIZE or PMIX_RANK), so a
 * plain `lamina train` never touches MPI.  Errors use MPI's default handler
 * (MPI_ERRORS_ARE_FATAL): a failed communication, or a rank that dies,
 * ends the whole job with mpirun's message. */
#define _POSIX_C_SOURCE 200809L
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/dist.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int active, me, nprocs = 1, local = 1;
static char desc[MPI_MAX_LIBRARY_VERSION_STRING];
static MPI_Request *reqs;
static size_t nreq, capreq;

static int launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

int dist_init(int *argc, char ***argv) {
    if (!launched()) return 0;
    MPI_Init(argc, argv);
    active = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &local);
    MPI_Comm_free(&node);
    return 0;
}

void dist_finalize(void) {
    if (active) MPI_Finalize();
    active = 0;
    free(reqs);
    reqs = NULL, nreq = capreq = 0;
}

void dist_abort(int status) {
    if (active) MPI_Abort(MPI_COMM_WORLD, status);
    exit(status);
}

int dist_rank(void) { return me; }
int dist_size(void) { return nprocs; }
int dist_local_size(void) { return local; }

const char *dist_describe(void) {
    if (!desc[0]) {
        char v[MPI_MAX_LIBRARY_VERSION_STRING];
        int n = 0;
        MPI_Get_library_version(v, &n);
        v[strcspn(v, ",\n")] = 0;   /* "Open MPI v4.1.4, package: ..." */
        snprintf(desc, sizeof desc, "%s", v);
    }
    return desc;
}

int dist_max_int(int v) {
    if (nprocs == 1) return v;
    int r;
    MPI_Allreduce(&v, &r, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return r;
}

double dist_sum_double(double v) {
    if (nprocs == 1) return v;
    double r;
    MPI_Allreduce(&v, &r, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return r;
}

int dist_same_u64(uint64_t v, uint64_t *lo, uint64_t *hi) {
    *lo = *hi = v;
    if (nprocs == 1) return 1;
    unsigned long long x = v, a, b;
    MPI_Allreduce(&x, &a, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&x, &b, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
    *lo = a, *hi = b;
    return a == b;
}

void dist_grads_hook(void *model, size_t first, size_t end) {
    if (nprocs == 1) return;
    size_t n;
    float *g = lam_model_grad_run(model, first, end, &n);
    while (n) {
        int count = n > (size_t)(INT_MAX / 2) ? INT_MAX / 2 : (int)n;
        if (nreq == capreq) {
            size_t cap = capreq ? 2 * capreq : 64;
            MPI_Request *r = realloc(reqs, cap * sizeof *r);
            if (!r) {
                fprintf(stderr, "lamina: out of memory for MPI requests\n");
                dist_abort(1);
            }
            reqs = r, capreq = cap;
        }
        MPI_Iallreduce(MPI_IN_PLACE, g, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &reqs[nreq++]);
        g += count, n -= (size_t)count;
    }
    /* Open MPI progresses non-blocking collectives inside MPI calls: give the
     * earlier groups a turn while the backward goes on */
    int done;
    MPI_Testall((int)nreq, reqs, &done, MPI_STATUSES_IGNORE);
}

double dist_grads_wait(void) {
    if (!nreq) return 0;
    double t0 = MPI_Wtime();
    MPI_Waitall((int)nreq, reqs, MPI_STATUSES_IGNORE);
    nreq = 0;
    return MPI_Wtime() - t0;
}

int dist_bench_allreduce(int argc, char **argv) {
    int threads = 1, reps = 20, json = 0;
    int rc = bench_parse_common(argc, argv, &threads, &reps, &json);
    if (rc == CLI_HELP) return 0;
    if (rc) return rc;
    if (nprocs < 2) {
        fprintf(stderr, "lamina bench allreduce: run it under mpirun with 2 or more ranks (mpirun -np 2 lamina bench allreduce)\n");
        return 2;
    }
    size_t maxn = (size_t)16 << 20;   /* floats: 64 MB */
    float *buf = malloc(maxn * sizeof(float));
    if (!buf) {
        fprintf(stderr, "lamina bench allreduce: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < maxn; i++) buf[i] = 1.0f;
    if (me == 0)
        printf("all-reduce (float32 sum, in place) over %d ranks (%d on this machine), %s; best of %d\n"
               "%12s %12s %14s %14s\n",
               nprocs, local, dist_describe(), reps, "bytes", "time", "algbw GB/s", "busbw GB/s");
    for (size_t n = 1024; n <= maxn; n *= 4) {
        double best = 1e30;
        for (int r = 0; r < reps + 2; r++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            double t = MPI_Wtime() - t0, tmax;
            MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            if (r >= 2 && tmax < best) best = tmax;
            for (size_t i = 0; i < n; i++) buf[i] = 1.0f;
        }
        double bytes = (double)n * sizeof(float), alg = bytes / best / 1e9;
        if (me == 0) {
            if (json)
                printf("{\"bytes\": %.0f, \"seconds\": %.6g, \"algbw_gbs\": %.4g, \"busbw_gbs\": %.4g}\n", bytes, best,
                       alg, alg * 2.0 * (nprocs - 1) / nprocs);
            else
                printf("%12.0f %10.1f us %14.3f %14.3f\n", bytes, best * 1e6, alg, alg * 2.0 * (nprocs - 1) / nprocs);
        }
    }
    free(buf);
    return 0;
}

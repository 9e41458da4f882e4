/* Threads and run-time instruction-set choice. */
#include "lamina.h"
#include "kernels/kernels_internal.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


const char *lam_version(void) { return "0.1.0"; }

void lam_set_num_threads(int n) {
    if (n < 1) n = 1;
    omp_set_num_threads(n);   /* the BLAS runs single-threaded inside lamina's threads (gemm.c) */
}

int lam_get_num_threads(void) { return omp_get_max_threads(); }

int lam_threads_for(size_t work) {
    if (work < LAM_PAR_MIN_FLOATS) return 1;
    int t = omp_get_max_threads();
    size_t most = work / (LAM_PAR_MIN_FLOATS / 2);
    if ((size_t)t > most) t = (int)most;
    return t < 1 ? 1 : t;
}

/* -1 unknown, 0 generic, 1 avx2, 2 avx512 (AVX2 kernels + AVX-512 activations) */
static int isa_choice = -1;

static int cpu_has_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* AVX-512 as Skylake-SP and later have it (F, BW, DQ, VL): what OpenBLAS's
 * SkylakeX kernels and lamina's AVX-512 activations use.  libgcc reports a
 * feature only when the OS saves its registers (XCR0). */
static int cpu_has_avx512(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

static const char *const isa_names[] = {"generic", "avx2", "avx512"};

static int isa_available(int c) { return c == 0 || (c == 1 && cpu_has_avx2()) || (c == 2 && cpu_has_avx512()); }

static int isa_pick(void) {
    const char *env = getenv("LAMINA_ISA");
    if (env)
        for (int c = 0; c < 3; c++)
            if (strcmp(env, isa_names[c]) == 0 && isa_available(c)) return c;
    return cpu_has_avx512() ? 2 : cpu_has_avx2() ? 1 : 0;
}

static int isa_get(void) {
    int c = __atomic_load_n(&isa_choice, __ATOMIC_RELAXED);
    if (c < 0) {
        c = isa_pick();
        __atomic_store_n(&isa_choice, c, __ATOMIC_RELAXED);
    }
    return c;
}

int lam_use_avx2(void) { return isa_get() >= 1; }
int lam_use_avx512(void) { return isa_get() == 2; }

const char *lam_isa(void) { return isa_names[isa_get()]; }

int lam_set_isa(const char *name) {
    if (!name) return -1;
    for (int c = 0; c < 3; c++)
        if (strcmp(name, isa_names[c]) == 0 && isa_available(c)) {
            __atomic_store_n(&isa_choice, c, __ATOMIC_RELAXED);
            return 0;
        }
    return -1;
}

/* ---- the BLAS -------------------------------------------------------- */

/* OpenBLAS's own introspection; absent from another CBLAS. */
char *openblas_get_config(void) __attribute__((weak));
char *openblas_get_corename(void) __attribute__((weak));

const char *lam_blas_config(void) { return openblas_get_config ? openblas_get_config() : "unknown CBLAS"; }
const char *lam_blas_core(void) { return openblas_get_corename ? openblas_get_corename() : "unknown"; }

const char *lam_blas_core_advice(void) {
    const char *core = openblas_get_corename ? openblas_get_corename() : NULL;
    if (!core || !cpu_has_avx2()) return NULL;
    const int wide = cpu_has_avx512();
    const char *best = wide ? "SkylakeX" : "Haswell";
    /* Misdetected as Cooper Lake: measured SSE3 sgemm kernels (lamina.h). */
    if (!strcasecmp(core, "cooperlake") || !strcasecmp(core, "sapphirerapids")) return best;
    /* AVX2 kernels on a CPU with AVX-512 (F, BW, DQ, VL): OpenBLAS's SkylakeX
     * sgemm measured 1.9x its Haswell one on Zen 5 (lamina bench ffn). */
    if (wide && (!strcasecmp(core, "haswell") || !strcasecmp(core, "zen"))) return best;
    /* Kernel families without AVX2/FMA on a CPU that has them. */
    static const char *const old[] = {"prescott", "core2",   "penryn", "dunnington", "nehalem", "sandybridge",
                                      "atom",     "katmai",  "coppermine", "northwood", "banias", "barcelona",
                                      "opteron",  "opteron_sse3", "bobcat", "bulldozer", "piledriver", "unknown",
                                      NULL};
    for (size_t i = 0; old[i]; i++)
        if (!strcasecmp(core, old[i])) return best;
    return NULL;
}

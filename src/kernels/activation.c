/* Elementwise activations: drivers over the micro-kernels in act_ukr.h. */
#include "kernels/act_ukr.h"
#include "kernels/kernels_internal.h"

#include <omp.h>

const lam_act_ukr *lam_act_ukr_get(void) {
#ifdef LAM_ACT_HAVE_AVX2
    if (lam_use_avx512()) return &lam_act_ukr_avx512;
    if (lam_use_avx2()) return &lam_act_ukr_avx2;
#endif
    return &lam_act_ukr_generic;
}

/* Elementwise work is split in 64-float multiples: every element's
 * arithmetic is the same for any thread count. */
#define ACT_QUANTUM ((size_t)64)

/* x, y are (n). */
void lam_act_forward(float *y, const float *x, size_t n, lam_act act) {
    const lam_act_ukr *u = lam_act_ukr_get();
    int nt = lam_threads_for(n * 4);   /* transcendental: worth threads sooner than a copy */
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        size_t b, e;
        lam_split(n, ACT_QUANTUM, omp_get_num_threads(), omp_get_thread_num(), &b, &e);
        if (e > b) u->forward(y + b, x + b, e - b, act);
    }
}

/* dx, dy, x are (n): dx = dy·act′(x), differentiating y = act(x). */
void lam_act_backward(float *dx, const float *dy, const float *x, size_t n, lam_act act) {
    const lam_act_ukr *u = lam_act_ukr_get();
    int nt = lam_threads_for(n * 4);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        size_t b, e;
        lam_split(n, ACT_QUANTUM, omp_get_num_threads(), omp_get_thread_num(), &b, &e);
        if (e > b) u->backward(dx + b, dy + b, x + b, e - b, act);
    }
}

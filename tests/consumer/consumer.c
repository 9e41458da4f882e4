/* A program outside the tree that uses an installed liblamina. */
#include <lamina.h>
#include <math.h>
#include <stdio.h>

int main(void) {
    float x[4] = {1, 2, 3, 4}, y[4], mean, rstd;
    lam_layernorm_forward(y, &mean, &rstd, x, NULL, NULL, 1, 4, 1e-5f);
    /* mean 2.5, variance 1.25 */
    if (fabsf(mean - 2.5f) > 1e-6f || fabsf(y[0] + 1.5f / sqrtf(1.25f + 1e-5f)) > 1e-5f) {
        printf("consumer: wrong result\n");
        return 1;
    }
    printf("consumer ok: lamina %s\n", lam_version());
    return 0;
}

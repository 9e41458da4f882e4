/* Internal: the seeded generator shared by initialization and the batch
 * sampler — xoshiro256** seeded by splitmix64 — and normal draws. */
#ifndef LAMINA_MODEL_RNG_H
#define LAMINA_MODEL_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct lam_rng { uint64_t s[4]; } lam_rng;

static inline uint64_t lam_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* s[0..3] = four successive splitmix64 outputs from state `seed`. */
static inline void lam_rng_seed(lam_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = lam_splitmix64(&seed);
}

static inline uint64_t lam_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t lam_rng_next(lam_rng *r) {
    uint64_t *s = r->s, out = lam_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = lam_rotl(s[3], 45);
    return out;
}

/* Uniform in (0, 1): 53 random bits, centred. */
static inline double lam_rng_uniform(lam_rng *r) {
    return ((double)(lam_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Standard normal by Box–Muller (one draw from two uniforms). */
static inline double lam_rng_normal(lam_rng *r) {
    double u1 = lam_rng_uniform(r), u2 = lam_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif

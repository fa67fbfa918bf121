/* cuda/rng.c — splitmix64 and the two distributions built on it.
 *
 * The state is a single uint64_t so a checkpoint can store it as a number. The
 * normal sampler uses both uniforms of one Box–Muller pair and discards the
 * sine half, so no hidden cached value exists outside the state. Math is done
 * in double and rounded once, so every backend's host-side init agrees. */
#include <math.h>

#include "cuda/gpt.h"

uint64_t gpt_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

float gpt_rng_uniform(uint64_t *state)
{
    return (float)(gpt_rng_next(state) >> 40) * (1.0f / 16777216.0f);
}

float gpt_rng_normal(uint64_t *state)
{
    /* u1 in (0, 1] so the log is finite. */
    double u1 = 1.0 - (double)(gpt_rng_next(state) >> 40) * (1.0 / 16777216.0);
    double u2 = (double)(gpt_rng_next(state) >> 40) * (1.0 / 16777216.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

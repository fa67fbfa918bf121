/* cuda/cpu/cpu_simd.h — fixed-order reductions and exp shared by the CPU
 * kernels (private to cuda/cpu/). Hot reductions use 16 fixed lanes (lane l
 * sums the elements i ≡ l mod 16, then a fixed tree), which the compiler
 * vectorises without reassociating anything, so the bits do not depend on the
 * thread count or on vector width. */
#ifndef RUNS_CUDA_CPU_SIMD_H
#define RUNS_CUDA_CPU_SIMD_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float lane_reduce(float acc[16])
{
    for (int s = 8; s > 0; s >>= 1)
        for (int l = 0; l < s; l++)
            acc[l] += acc[l + s];
    return acc[0];
}

static inline float sum16(const float *x, int n)
{
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++)
            acc[l] += x[i + l];
    for (int l = 0; i + l < n; l++)
        acc[l] += x[i + l];
    return lane_reduce(acc);
}

static inline float dot16(const float *a, const float *b, int n)
{
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++)
            acc[l] += a[i + l] * b[i + l];
    for (int l = 0; i + l < n; l++)
        acc[l] += a[i + l] * b[i + l];
    return lane_reduce(acc);
}

static inline float max16(const float *x, int n)
{
    float acc[16];
    for (int l = 0; l < 16; l++)
        acc[l] = -INFINITY;
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++)
            acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
    for (int l = 0; i + l < n; l++)
        acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
    for (int s = 8; s > 0; s >>= 1)
        for (int l = 0; l < s; l++)
            acc[l] = acc[l + s] > acc[l] ? acc[l + s] : acc[l];
    return acc[0];
}

/* exp for x <= 88 (clamped below at −87, where it underflows to ~1e-38):
 * Cody–Waite reduction and a degree-6 polynomial, about 2 ulp. Plain arithmetic
 * so loops calling it vectorise (libm's expf would not), and the same bits in
 * vector and scalar code. */
static inline float exp_fast(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* the biased exponent is shifted as unsigned: a negative int shifted left is
     * undefined (UBSan caught it for a NaN input, where n converts to INT_MIN);
     * for every in-range n the bits are the same as before */
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float tanh_fast(float u)
{
    return 1.0f - 2.0f / (exp_fast(2.0f * u) + 1.0f);
}

#endif

/* cuda/global_norm.cuh — the clipping trio: per-block partial squared norms,
 * one final reduce, one scale pass, all before AdamW.
 *
 * Squares are accumulated in double, like the CPU reference, and the grid is a
 * fixed size, so the norm has the same bits on every run of the same build.
 * The scale factor stays on the device: k_grad_scale reads it and returns at
 * once when no clipping is needed, so a step needs no host round trip unless
 * the caller asks for the norm. */
#ifndef RUNS_CUDA_GLOBAL_NORM_CUH
#define RUNS_CUDA_GLOBAL_NORM_CUH

#include "cuda/common.cuh"

#define NORM_BLOCKS 512
#define NORM_THREADS 256

static __global__ void k_grad_norm_partial(double *partial, const float *g, size_t n)
{
    double acc = 0.0;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        double v = (double)g[i];
        acc += v * v;
    }
    acc = block_sum_d(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

/* One block. out[0] = norm, out[1] = scale (grad_clip/norm when clipping, else 1). */
static __global__ void k_grad_norm_final(float *out, const double *partial, int n_partial, float grad_clip)
{
    double acc = 0.0;
    for (int i = threadIdx.x; i < n_partial; i += blockDim.x) acc += partial[i];
    acc = block_sum_d(acc);
    if (threadIdx.x == 0) {
        double norm = sqrt(acc);
        float scale = 1.0f;
        if (grad_clip > 0.0f && norm > (double)grad_clip) scale = (float)((double)grad_clip / norm);
        out[0] = (float)norm;
        out[1] = scale;
    }
}

static __global__ void k_grad_scale(float *g, const float *norm_scale, size_t n)
{
    float s = norm_scale[1];
    if (s == 1.0f) return;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) g[i] *= s;
}

/* partial: NORM_BLOCKS doubles; norm_scale: 2 floats (see k_grad_norm_final). */
static int global_norm_clip(cudaStream_t st, float *g, size_t n, double *partial,
                            float *norm_scale, float grad_clip)
{
    unsigned blocks = ceil_div_u(n, NORM_THREADS);
    if (blocks > NORM_BLOCKS) blocks = NORM_BLOCKS;
    if (blocks == 0) blocks = 1;
    k_grad_norm_partial<<<blocks, NORM_THREADS, 0, st>>>(partial, g, n);
    CUDA_LAUNCHED("k_grad_norm_partial");
    k_grad_norm_final<<<1, 512, 0, st>>>(norm_scale, partial, (int)blocks, grad_clip);
    CUDA_LAUNCHED("k_grad_norm_final");
    k_grad_scale<<<blocks, NORM_THREADS, 0, st>>>(g, norm_scale, n);
    CUDA_LAUNCHED("k_grad_scale");
    return 0;
}

#endif

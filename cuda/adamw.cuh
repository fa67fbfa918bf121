/* cuda/adamw.cuh — AdamW with bias correction, decoupled weight decay.
 *
 * Exactly gpt.h's update, element-wise:
 *   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  m̂ = m/bc1;  v̂ = v/bc2
 *   p −= lr·(m̂/(√v̂ + eps) + wd·p)
 * bc1 = 1−β1^t and bc2 = 1−β2^t are computed on the host in double. The caller
 * launches once per run of consecutive tensors sharing a decay flag, so wd is
 * 0 for biases and LayerNorm parameters without a per-element lookup. */
#ifndef RUNS_CUDA_ADAMW_CUH
#define RUNS_CUDA_ADAMW_CUH

#include "cuda/common.cuh"

static __global__ void adamw_kernel(float *p, const float *g, float *m, float *v, size_t n, float lr,
                             float beta1, float beta2, float bc1, float bc2, float eps, float wd)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float gi = g[i];
    float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    float mhat = mi / bc1, vhat = vi / bc2;
    float pi = p[i];
    p[i] = pi - lr * (mhat / (sqrtf(vhat) + eps) + wd * pi);
}

static int adamw_update(cudaStream_t st, float *p, const float *g, float *m, float *v, size_t n,
                        float lr, float beta1, float beta2, float bc1, float bc2, float eps,
                        float wd)
{
    if (n == 0) return 0;
    adamw_kernel<<<ceil_div_u(n, 256), 256, 0, st>>>(p, g, m, v, n, lr, beta1, beta2, bc1, bc2, eps,
                                                     wd);
    CUDA_LAUNCHED("adamw_kernel");
    return 0;
}

#endif

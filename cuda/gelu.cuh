/* cuda/gelu.cuh — GELU (tanh approximation) with the c_fc bias fused in.
 *
 * Forward: pre = mm + bias (kept for backward), out = gelu(pre): the bias add
 * costs no extra pass. Backward: in place, d *= gelu'(pre). tanhf, not the
 * fast intrinsic, so the curve matches the CPU reference to fp32 rounding. */
#ifndef RUNS_CUDA_GELU_CUH
#define RUNS_CUDA_GELU_CUH

#include "cuda/common.cuh"

#define GELU_SCALE 0.7978845608028654f /* sqrt(2/pi) */

static __global__ void gelu_bias_forward_kernel(float *pre, float *out, const float *mm,
                                         const float *bias, size_t n, int OC)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = mm[i] + bias[i % OC];
    pre[i] = x;
    float cube = 0.044715f * x * x * x;
    out[i] = 0.5f * x * (1.0f + tanhf(GELU_SCALE * (x + cube)));
}

static __global__ void gelu_backward_kernel(float *d, const float *pre, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = pre[i];
    float cube = 0.044715f * x * x * x;
    float th = tanhf(GELU_SCALE * (x + cube));
    float sech2 = 1.0f - th * th;
    float local = 0.5f * (1.0f + th) + x * 0.5f * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
    d[i] *= local;
}

/* pre, out, mm: [N, OC]; pre may alias mm. */
static int gelu_bias_forward(cudaStream_t st, float *pre, float *out, const float *mm,
                             const float *bias, int N, int OC)
{
    size_t n = (size_t)N * OC;
    gelu_bias_forward_kernel<<<ceil_div_u(n, 256), 256, 0, st>>>(pre, out, mm, bias, n, OC);
    CUDA_LAUNCHED("gelu_bias_forward_kernel");
    return 0;
}

static int gelu_backward(cudaStream_t st, float *d, const float *pre, int N, int OC)
{
    size_t n = (size_t)N * OC;
    gelu_backward_kernel<<<ceil_div_u(n, 256), 256, 0, st>>>(d, pre, n);
    CUDA_LAUNCHED("gelu_backward_kernel");
    return 0;
}

#endif

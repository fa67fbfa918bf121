/* cuda/attention.cuh — causal multi-head self-attention: cuBLAS strided-batched
 * GEMMs for Q·Kᵀ and A·V, a causal softmax kernel between them.
 *
 * Layouts: qkv [B,T,3C] straight from the c_attn matmul ([q | k | v] columns,
 * head h at h·hd); qkvr = q, k, v each [B,NH,T,hd] (kept per layer for
 * backward, c_attn's bias added during the permute); preatt/att [B,NH,T,T]
 * with att zero above the diagonal so the full-square A·V GEMM is exact.
 * The upper triangle of Q·Kᵀ is computed and thrown away: a flash-style kernel
 * would halve attention FLOPs and drop the T² buffers; not done here. */
#ifndef RUNS_CUDA_ATTENTION_CUH
#define RUNS_CUDA_ATTENTION_CUH

#include "cuda/common.cuh"
#include "cuda/matmul.cuh"

/* qkvr[w][b,h,t,d] = qkv[b,t, w·C + h·hd + d] (+ bias[w·C + h·hd + d]). */
static __global__ void permute_qkv_kernel(float *qkvr, const float *qkv, const float *bias, int B, int T,
                                   int NH, int hd)
{
    size_t n = (size_t)B * NH * T * hd;
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n) return;
    int d = (int)(idx % hd);
    size_t r = idx / hd;
    int t = (int)(r % T);
    r /= T;
    int h = (int)(r % NH);
    int b = (int)(r / NH);
    int C = NH * hd;
    size_t src = ((size_t)b * T + t) * 3 * C + (size_t)h * hd + d;
    int bc = h * hd + d;
    for (int w = 0; w < 3; w++) {
        float v = qkv[src + (size_t)w * C];
        if (bias) v += bias[w * C + bc];
        qkvr[(size_t)w * n + idx] = v;
    }
}

/* dqkv[b,t, w·C + h·hd + d] = dqkvr[w][b,h,t,d] — the inverse of the above. */
static __global__ void unpermute_qkv_kernel(float *dqkv, const float *dqkvr, int B, int T, int NH, int hd)
{
    size_t n = (size_t)B * NH * T * hd;
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n) return;
    int d = (int)(idx % hd);
    size_t r = idx / hd;
    int t = (int)(r % T);
    r /= T;
    int h = (int)(r % NH);
    int b = (int)(r / NH);
    int C = NH * hd;
    size_t dst = ((size_t)b * T + t) * 3 * C + (size_t)h * hd + d;
    for (int w = 0; w < 3; w++) dqkv[dst + (size_t)w * C] = dqkvr[(size_t)w * n + idx];
}

/* to_heads: y[b,h,t,d] <-> x[b,t,h·hd+d]; dir 0: heads -> rows, 1: rows -> heads. */
static __global__ void heads_permute_kernel(float *dst, const float *src, int B, int T, int NH, int hd,
                                     int to_heads)
{
    size_t n = (size_t)B * NH * T * hd;
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n) return;
    int d = (int)(idx % hd);
    size_t r = idx / hd;
    int t = (int)(r % T);
    r /= T;
    int h = (int)(r % NH);
    int b = (int)(r / NH);
    size_t rows = ((size_t)b * T + t) * (size_t)NH * hd + (size_t)h * hd + d;
    if (to_heads)
        dst[idx] = src[rows];
    else
        dst[rows] = src[idx];
}

/* One warp per (b,h,t) row: att[t, j] = softmax_j<=t(scale·preatt[t, j]), 0 for j > t. */
static __global__ void causal_softmax_forward_kernel(float *att, const float *preatt, int rows, int T,
                                              float scale)
{
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    int t = row % T;
    const float *p = preatt + (size_t)row * T;
    float *a = att + (size_t)row * T;
    float mx = -INFINITY;
    for (int j = lane; j <= t; j += 32) mx = fmaxf(mx, scale * p[j]);
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int j = lane; j <= t; j += 32) sum += expf(scale * p[j] - mx);
    float inv = 1.0f / warp_sum(sum);
    for (int j = lane; j < T; j += 32) a[j] = j <= t ? expf(scale * p[j] - mx) * inv : 0.0f;
}

/* In place over datt: dpreatt[t, j] = scale·att[t,j]·(datt[t,j] − Σ_k att[t,k]·datt[t,k]),
 * 0 above the diagonal (the dQ/dK GEMMs read the full square). */
static __global__ void causal_softmax_backward_kernel(float *datt, const float *att, int rows, int T,
                                               float scale)
{
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    int t = row % T;
    float *d = datt + (size_t)row * T;
    const float *a = att + (size_t)row * T;
    float dot = 0.0f;
    for (int j = lane; j <= t; j += 32) dot += a[j] * d[j];
    dot = warp_sum(dot);
    for (int j = lane; j < T; j += 32) d[j] = j <= t ? scale * a[j] * (d[j] - dot) : 0.0f;
}

/* qkv [B,T,3C] (c_attn output without bias) -> atty [B,T,C]; saves qkvr and att.
 * preatt, y: scratch ([B,NH,T,T] and [B,T,C]). */
static int attention_forward(const gemm_ctx *g, cudaStream_t st, float *atty, float *qkvr,
                             float *att, float *preatt, float *y, const float *qkv,
                             const float *bias, int B, int T, int C, int NH)
{
    int hd = C / NH;
    size_t n = (size_t)B * T * C;
    permute_qkv_kernel<<<ceil_div_u(n, 256), 256, 0, st>>>(qkvr, qkv, bias, B, T, NH, hd);
    CUDA_LAUNCHED("permute_qkv_kernel");
    const float *q = qkvr, *k = qkvr + n, *v = qkvr + 2 * n;
    long long sq = (long long)T * hd, ss = (long long)T * T;
    if (gemm_batched(g, CUBLAS_OP_T, CUBLAS_OP_N, T, T, hd, 1.0f, k, hd, sq, q, hd, sq, 0.0f,
                     preatt, T, ss, B * NH, "attention Q·Kᵀ") < 0)
        return -1;
    int rows = B * NH * T;
    float scale = 1.0f / sqrtf((float)hd);
    causal_softmax_forward_kernel<<<ceil_div_u((size_t)rows, 8), 256, 0, st>>>(att, preatt, rows, T,
                                                                              scale);
    CUDA_LAUNCHED("causal_softmax_forward_kernel");
    if (gemm_batched(g, CUBLAS_OP_N, CUBLAS_OP_N, hd, T, T, 1.0f, v, hd, sq, att, T, ss, 0.0f, y,
                     hd, sq, B * NH, "attention A·V") < 0)
        return -1;
    heads_permute_kernel<<<ceil_div_u(n, 256), 256, 0, st>>>(atty, y, B, T, NH, hd, 0);
    CUDA_LAUNCHED("heads_permute_kernel");
    return 0;
}

/* datty [B,T,C] -> dqkv [B,T,3C] (overwritten). dy: [B,T,C] scratch; datt:
 * [B,NH,T,T] scratch; dqkvr: [3,B,T,C] scratch. */
static int attention_backward(const gemm_ctx *g, cudaStream_t st, float *dqkv, float *dy,
                              float *datt, float *dqkvr, const float *datty, const float *qkvr,
                              const float *att, int B, int T, int C, int NH)
{
    int hd = C / NH;
    size_t n = (size_t)B * T * C;
    const float *q = qkvr, *k = qkvr + n, *v = qkvr + 2 * n;
    float *dq = dqkvr, *dk = dqkvr + n, *dv = dqkvr + 2 * n;
    long long sq = (long long)T * hd, ss = (long long)T * T;
    heads_permute_kernel<<<ceil_div_u(n, 256), 256, 0, st>>>(dy, datty, B, T, NH, hd, 1);
    CUDA_LAUNCHED("heads_permute_kernel");
    /* datt = dY·Vᵀ, dV = Aᵀ·dY */
    if (gemm_batched(g, CUBLAS_OP_T, CUBLAS_OP_N, T, T, hd, 1.0f, v, hd, sq, dy, hd, sq, 0.0f, datt,
                     T, ss, B * NH, "attention dA") < 0)
        return -1;
    if (gemm_batched(g, CUBLAS_OP_N, CUBLAS_OP_T, hd, T, T, 1.0f, dy, hd, sq, att, T, ss, 0.0f, dv,
                     hd, sq, B * NH, "attention dV") < 0)
        return -1;
    int rows = B * NH * T;
    float scale = 1.0f / sqrtf((float)hd);
    causal_softmax_backward_kernel<<<ceil_div_u((size_t)rows, 8), 256, 0, st>>>(datt, att, rows, T,
                                                                               scale);
    CUDA_LAUNCHED("causal_softmax_backward_kernel");
    /* dQ = dP·K, dK = dPᵀ·Q (dP = gradient of Q·Kᵀ, scale folded in above) */
    if (gemm_batched(g, CUBLAS_OP_N, CUBLAS_OP_N, hd, T, T, 1.0f, k, hd, sq, datt, T, ss, 0.0f, dq,
                     hd, sq, B * NH, "attention dQ") < 0)
        return -1;
    if (gemm_batched(g, CUBLAS_OP_N, CUBLAS_OP_T, hd, T, T, 1.0f, q, hd, sq, datt, T, ss, 0.0f, dk,
                     hd, sq, B * NH, "attention dK") < 0)
        return -1;
    unpermute_qkv_kernel<<<ceil_div_u(n, 256), 256, 0, st>>>(dqkv, dqkvr, B, T, NH, hd);
    CUDA_LAUNCHED("unpermute_qkv_kernel");
    return 0;
}

#endif

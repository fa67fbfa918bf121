/* cuda/encoder.cuh — token + position embedding, forward and backward.
 *
 * Backward is deterministic without atomics: the host groups the batch's
 * positions by token (counting sort, see cuda_backend.cu) and one block sums a
 * token's rows in position order, so dwte gets the same bits on every run. */
#ifndef RUNS_CUDA_ENCODER_CUH
#define RUNS_CUDA_ENCODER_CUH

#include "cuda/common.cuh"

/* out[b,t,:] = wte[tok[b,t],:] + wpe[t,:]; one thread per (row, 4 columns group). */
static __global__ void encoder_forward_kernel(float *out, const int32_t *tok, const float *wte,
                                       const float *wpe, int BT, int T, int C)
{
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)BT * C) return;
    int row = (int)(idx / C), c = (int)(idx % C), t = row % T;
    out[idx] = wte[(size_t)tok[row] * C + c] + wpe[(size_t)t * C + c];
}

/* dwpe[t,c] += sum over b (in order) of dout[b,t,c]. */
static __global__ void encoder_backward_wpe_kernel(float *dwpe, const float *dout, int B, int T, int C)
{
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)T * C) return;
    float s = 0.0f;
    for (int b = 0; b < B; b++) s += dout[(size_t)b * T * C + idx];
    dwpe[idx] += s;
}

/* Block (u, column chunk): dwte[utok[u], c] += sum of dout[pos, c] over the
 * positions pos = upos[uoff[u] .. uoff[u+1]) (ascending). */
static __global__ void encoder_backward_wte_kernel(float *dwte, const float *dout, const int32_t *utok,
                                            const int32_t *uoff, const int32_t *upos, int C)
{
    int u = blockIdx.x;
    int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float s = 0.0f;
    for (int i = uoff[u]; i < uoff[u + 1]; i++) s += dout[(size_t)upos[i] * C + c];
    dwte[(size_t)utok[u] * C + c] += s;
}

static int encoder_forward(cudaStream_t st, float *out, const int32_t *tok, const float *wte,
                           const float *wpe, int B, int T, int C)
{
    size_t n = (size_t)B * T * C;
    encoder_forward_kernel<<<ceil_div_u(n, 256), 256, 0, st>>>(out, tok, wte, wpe, B * T, T, C);
    CUDA_LAUNCHED("encoder_forward_kernel");
    return 0;
}

/* n_unique: number of distinct tokens in the batch (entries of utok). */
static int encoder_backward(cudaStream_t st, float *dwte, float *dwpe, const float *dout,
                            const int32_t *utok, const int32_t *uoff, const int32_t *upos,
                            int n_unique, int B, int T, int C)
{
    size_t n = (size_t)T * C;
    encoder_backward_wpe_kernel<<<ceil_div_u(n, 256), 256, 0, st>>>(dwpe, dout, B, T, C);
    CUDA_LAUNCHED("encoder_backward_wpe_kernel");
    if (n_unique > 0) {
        dim3 grid((unsigned)n_unique, ceil_div_u((size_t)C, 128));
        encoder_backward_wte_kernel<<<grid, 128, 0, st>>>(dwte, dout, utok, uoff, upos, C);
        CUDA_LAUNCHED("encoder_backward_wte_kernel");
    }
    return 0;
}

#endif

/* cuda/crossentropy.cuh — fused softmax + cross-entropy over the vocabulary.
 *
 * One block per row of logits: max, sum of exponentials, the row's loss, and
 * (with backward) the logits gradient written in place, (softmax − onehot)/BT.
 * Fusing means the [BT, V] probabilities are never stored separately, which at
 * GPT-2 sizes is the single largest activation. */
#ifndef RUNS_CUDA_CROSSENTROPY_CUH
#define RUNS_CUDA_CROSSENTROPY_CUH

#include "cuda/common.cuh"

#define CE_THREADS 512

static __device__ float ce_block_reduce(float v, int is_max)
{
    __shared__ float part[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = is_max ? warp_max(v) : warp_sum(v);
    __syncthreads();
    if (lane == 0) part[warp] = v;
    __syncthreads();
    float t = lane < nw ? part[lane] : (is_max ? -INFINITY : 0.0f);
    return is_max ? warp_max(t) : warp_sum(t);
}

/* logits: [N, ldl] with V valid columns. losses[row] = −log softmax[target].
 * dscale != 0: logits[row] becomes dscale·(softmax − onehot(target)). */
static __global__ void crossentropy_forward_backward_kernel(float *losses, float *logits,
                                                     const int32_t *targets, int ldl, int V,
                                                     float dscale)
{
    int row = blockIdx.x;
    float *x = logits + (size_t)row * ldl;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < V; j += blockDim.x) mx = fmaxf(mx, x[j]);
    mx = ce_block_reduce(mx, 1);
    float s = 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) s += expf(x[j] - mx);
    s = ce_block_reduce(s, 0);
    int tgt = targets[row];
    if (threadIdx.x == 0) losses[row] = logf(s) + mx - x[tgt];
    if (dscale != 0.0f) {
        __syncthreads(); /* x[tgt] is read above before anyone overwrites it */
        float inv = 1.0f / s;
        for (int j = threadIdx.x; j < V; j += blockDim.x) {
            float p = expf(x[j] - mx) * inv;
            x[j] = dscale * (p - (j == tgt ? 1.0f : 0.0f));
        }
    }
}

/* backward: write dlogits = (softmax − onehot)/N in place. */
static int crossentropy_forward(cudaStream_t st, float *losses, float *logits,
                                const int32_t *targets, int N, int ldl, int V, int backward)
{
    float dscale = backward ? 1.0f / (float)N : 0.0f;
    crossentropy_forward_backward_kernel<<<(unsigned)N, CE_THREADS, 0, st>>>(losses, logits, targets,
                                                                            ldl, V, dscale);
    CUDA_LAUNCHED("crossentropy_forward_backward_kernel");
    return 0;
}

#endif

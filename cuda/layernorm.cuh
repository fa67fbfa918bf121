/* cuda/layernorm.cuh — LayerNorm (eps 1e-5, biased variance), fused with the
 * residual add that precedes every LayerNorm after the first.
 *
 * Forward: one warp per row. The residual sum (a + b + bias) is written once
 * and normalised in the same kernel, which saves a full read+write of the
 * residual stream per LayerNorm compared with a separate add kernel.
 * Backward: input gradient one warp per row (accumulated into the residual
 * gradient); weight/bias gradients as deterministic column sums. */
#ifndef RUNS_CUDA_LAYERNORM_CUH
#define RUNS_CUDA_LAYERNORM_CUH

#include "cuda/common.cuh"

#define LN_EPS 1e-5f

/* res = a (+ b) (+ bias[col]); written to res_out unless res_out is NULL (then
 * res is a itself). Then out = (res - mean) * rstd * w + lb; mean/rstd saved. */
static __global__ void residual_layernorm_forward_kernel(float *res_out, float *out, float *mean,
                                                  float *rstd, const float *a, const float *b,
                                                  const float *bias, const float *w,
                                                  const float *lb, int N, int C)
{
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= N) return;
    const float *ar = a + (size_t)row * C;
    const float *br = b ? b + (size_t)row * C : NULL;
    float *rr = res_out ? res_out + (size_t)row * C : NULL;
    const float *x = rr ? rr : ar; /* where the residual lives after pass 1 */

    float sum = 0.0f;
    for (int i = lane; i < C; i += 32) {
        float v = ar[i];
        if (br) v += br[i];
        if (bias) v += bias[i];
        if (rr) rr[i] = v; /* read back below by this same lane */
        sum += v;
    }
    float m = warp_sum(sum) / (float)C;
    float sq = 0.0f;
    for (int i = lane; i < C; i += 32) {
        float d = x[i] - m;
        sq += d * d;
    }
    float s = 1.0f / sqrtf(warp_sum(sq) / (float)C + LN_EPS); /* IEEE, like the CPU */
    float *o = out + (size_t)row * C;
    for (int i = lane; i < C; i += 32) o[i] = (x[i] - m) * s * w[i] + lb[i];
    if (lane == 0) {
        mean[row] = m;
        rstd[row] = s;
    }
}

/* dinp[row] += dLN/dx for one row per warp. */
static __global__ void layernorm_backward_input_kernel(float *dinp, const float *dout, const float *inp,
                                                const float *mean, const float *rstd,
                                                const float *w, int N, int C)
{
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= N) return;
    const float *d = dout + (size_t)row * C, *x = inp + (size_t)row * C;
    float m = mean[row], s = rstd[row];
    float dn_sum = 0.0f, dnn_sum = 0.0f;
    for (int i = lane; i < C; i += 32) {
        float dn = w[i] * d[i];
        dn_sum += dn;
        dnn_sum += dn * (x[i] - m) * s;
    }
    float dn_mean = warp_sum(dn_sum) / (float)C;
    float dnn_mean = warp_sum(dnn_sum) / (float)C;
    float *di = dinp + (size_t)row * C;
    for (int i = lane; i < C; i += 32) {
        float norm = (x[i] - m) * s;
        di[i] += (w[i] * d[i] - dn_mean - norm * dnn_mean) * s;
    }
}

/* Partial column sums for dw (sum dout*norm) and db (sum dout): block (32, 8)
 * covers 32 columns x COLSUM_ROWS rows; partial layout [2][n_chunks][C]. */
static __global__ void layernorm_backward_params_partial_kernel(float *partial, const float *dout,
                                                         const float *inp, const float *mean,
                                                         const float *rstd, int N, int C)
{
    __shared__ float sw[8][33], sb[8][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    int chunk = blockIdx.y, n_chunks = gridDim.y;
    float aw = 0.0f, ab = 0.0f;
    if (c < C) {
        int r0 = chunk * COLSUM_ROWS;
        int r1 = min(r0 + COLSUM_ROWS, N);
        for (int r = r0 + threadIdx.y; r < r1; r += 8) {
            float d = dout[(size_t)r * C + c];
            aw += d * (inp[(size_t)r * C + c] - mean[r]) * rstd[r];
            ab += d;
        }
    }
    sw[threadIdx.y][threadIdx.x] = aw;
    sb[threadIdx.y][threadIdx.x] = ab;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        for (int k = 1; k < 8; k++) {
            aw += sw[k][threadIdx.x];
            ab += sb[k][threadIdx.x];
        }
        partial[(size_t)chunk * C + c] = aw;
        partial[(size_t)n_chunks * C + (size_t)chunk * C + c] = ab;
    }
}

/* See residual_layernorm_forward_kernel; b, bias, res_out may be NULL. */
static int residual_layernorm_forward(cudaStream_t st, float *res_out, float *out, float *mean,
                                      float *rstd, const float *a, const float *b,
                                      const float *bias, const float *w, const float *lb, int N,
                                      int C)
{
    const int warps = 8;
    residual_layernorm_forward_kernel<<<ceil_div_u((size_t)N, warps), warps * 32, 0, st>>>(
        res_out, out, mean, rstd, a, b, bias, w, lb, N, C);
    CUDA_LAUNCHED("residual_layernorm_forward_kernel");
    return 0;
}

/* dinp += input gradient; dw += ..., db += ... . partial: scratch of at least
 * 2 * colsum_chunks(N) * C floats. */
static int layernorm_backward(cudaStream_t st, float *dinp, float *dw, float *db, float *partial,
                              const float *dout, const float *inp, const float *mean,
                              const float *rstd, const float *w, int N, int C)
{
    const int warps = 8;
    layernorm_backward_input_kernel<<<ceil_div_u((size_t)N, warps), warps * 32, 0, st>>>(
        dinp, dout, inp, mean, rstd, w, N, C);
    CUDA_LAUNCHED("layernorm_backward_input_kernel");
    int n_chunks = colsum_chunks(N);
    dim3 grid(ceil_div_u((size_t)C, 32), (unsigned)n_chunks), block(32, 8);
    layernorm_backward_params_partial_kernel<<<grid, block, 0, st>>>(partial, dout, inp, mean, rstd,
                                                                     N, C);
    CUDA_LAUNCHED("layernorm_backward_params_partial_kernel");
    if (colsum_final(st, dw, partial, n_chunks, C) < 0) return -1;
    return colsum_final(st, db, partial + (size_t)n_chunks * C, n_chunks, C);
}

#endif

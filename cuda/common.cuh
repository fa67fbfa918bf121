/* cuda/common.cuh — what every kernel header of the CUDA backend shares.
 *
 * The backend is one translation unit (cuda/cuda_backend.cu includes the kernel
 * headers), llm.c style: each header holds its kernels, then host launchers.
 * Launchers return 0 or -1; on -1 gpt_last_error() names the kernel or cuBLAS
 * call that failed. Nothing here exits or prints: fail-fast wrappers belong to
 * binaries, the library reports.
 */
#ifndef RUNS_CUDA_COMMON_CUH
#define RUNS_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "cuda/gpt_backend.h"

/* After every launch: a bad configuration (grid too large, too much shared memory,
 * a sticky error from an earlier kernel) surfaces here, with the kernel's name. */
#define CUDA_LAUNCHED(name)                                                                       \
    do {                                                                                          \
        cudaError_t err_ = cudaGetLastError();                                                    \
        if (err_ != cudaSuccess)                                                                  \
            return gpt_set_error("cuda: kernel %s failed: %s", (name), cudaGetErrorString(err_)); \
    } while (0)

/* A failed runtime call also becomes the thread's "last error"; a non-sticky one
 * (say, an invalid argument) left there would be reported by the next
 * CUDA_LAUNCHED, failing a later, healthy call under another kernel's name.
 * So the failure is consumed here (cudaGetLastError resets it; sticky errors
 * stay sticky whatever we do). */
#define CUDA_TRY(call, what)                                                                      \
    do {                                                                                          \
        cudaError_t err_ = (call);                                                                \
        if (err_ != cudaSuccess) {                                                                \
            (void)cudaGetLastError();                                                             \
            return gpt_set_error("cuda: %s failed: %s", (what), cudaGetErrorString(err_));       \
        }                                                                                         \
    } while (0)

#define CUBLAS_TRY(call, what)                                                                    \
    do {                                                                                          \
        cublasStatus_t st_ = (call);                                                              \
        if (st_ != CUBLAS_STATUS_SUCCESS) {                                                       \
            (void)cudaGetLastError(); /* as CUDA_TRY: cuBLAS may leave a runtime error behind */  \
            return gpt_set_error("cublas: %s failed: %s", (what), cublasGetStatusString(st_));   \
        }                                                                                         \
    } while (0)

static inline unsigned ceil_div_u(size_t a, size_t b) { return (unsigned)((a + b - 1) / b); }

/* Warp-wide sums and maxima (all 32 lanes get the result). */
__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ double warp_sum_d(double v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Block-wide double sum in a fixed order (lanes, then warps), so a reduction's
 * result depends on the launch shape only, never on scheduling. blockDim.x must
 * be a multiple of 32 and at most 1024. Every thread gets the result. */
__device__ __forceinline__ double block_sum_d(double v)
{
    __shared__ double warp_part[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = warp_sum_d(v);
    __syncthreads(); /* warp_part may still be read by a previous call */
    if (lane == 0) warp_part[warp] = v;
    __syncthreads();
    double t = lane < nwarps ? warp_part[lane] : 0.0;
    return warp_sum_d(t);
}

/* Column sums over many rows, deterministic and without atomics: blocks of
 * COLSUM_ROWS rows write one partial row each (partial[chunk][col]), then
 * colsum_final_kernel adds the chunks in order into dst (dst += sum). */
#define COLSUM_ROWS 256
static inline int colsum_chunks(int rows) { return (rows + COLSUM_ROWS - 1) / COLSUM_ROWS; }

static __global__ void colsum_final_kernel(float *dst, const float *partial, int n_chunks, int cols)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    float s = 0.0f;
    for (int k = 0; k < n_chunks; k++) s += partial[(size_t)k * cols + c];
    dst[c] += s;
}

static int colsum_final(cudaStream_t st, float *dst, const float *partial, int n_chunks, int cols)
{
    colsum_final_kernel<<<ceil_div_u((size_t)cols, 256), 256, 0, st>>>(dst, partial, n_chunks, cols);
    CUDA_LAUNCHED("colsum_final_kernel");
    return 0;
}

#endif

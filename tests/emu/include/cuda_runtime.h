/* tests/emu/include/cuda_runtime.h — a CPU stand-in for the subset of the CUDA
 * runtime that the CUDA backend (cuda/, .cu and .cuh) uses, so that the backend's kernels can run (and the
 * parity test can judge them) on a machine without a GPU. Used only by
 * `make test-emu` (tests/emu/run.sh); never part of the library.
 *
 * How: tests/emu/run.sh rewrites each launch `k<<<grid, block, shmem, stream>>>(args)`
 * into `emu_launch(k, grid, block, shmem, stream)(args)` and compiles the backend as
 * plain C++ against this header and tests/emu/emu.cpp. A launch runs every block
 * of the grid, one block after another; the threads of a block are cooperative
 * fibers, switched only at __syncthreads and __shfl_xor_sync, so both are real
 * barriers: a missing __syncthreads that lets one thread read what another has
 * not yet written, a barrier not reached by all threads, a shuffle in a partial
 * warp or an invalid launch shape are all caught or change the results.
 *
 * What it does NOT prove:
 *   - no real memory model: threads never run concurrently, so a data race that
 *     needs true parallelism (two blocks updating one word, a missing fence or
 *     atomic) can go unseen; EMU_REV_BLOCKS / EMU_REV_THREADS reverse the run
 *     order to shake out order dependencies, which is not the same thing;
 *   - no real device limits beyond the launch shape (shared-memory size,
 *     registers, occupancy) and no dynamic shared memory (a launch asking for
 *     any fails);
 *   - nothing about nvcc: its math (FMA contraction, fast intrinsics) and its
 *     compile errors are not reproduced; the code is compiled by g++;
 *   - streams are synchronous, so missing stream synchronisation is invisible;
 *   - no speed: nothing measured under emulation says anything about a GPU.
 */
#ifndef RUNS_EMU_CUDA_RUNTIME_H
#define RUNS_EMU_CUDA_RUNTIME_H

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>

/* CUDA's device min/max overloads; std's cover the same-typed calls the kernels make. */
using std::max;
using std::min;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
/* One block runs at a time, so a function-local static is exactly "one copy per
 * block" as long as nobody relies on shared memory surviving between blocks
 * (which CUDA does not promise either). */
#define __shared__ static

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};

typedef int cudaError_t;
enum {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
};
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
typedef struct emu_stream *cudaStream_t;
#define cudaStreamNonBlocking 1

/* The fiber running now; threadIdx is per fiber, the rest is per launch/block. */
struct emu_thread {
    dim3 tid;
    int lin; /* linear thread index in the block */
};
extern emu_thread *emu_self;
extern dim3 blockIdx, blockDim, gridDim;
#define threadIdx (emu_self->tid)

/* Parks the calling fiber until the barrier it names is released by the scheduler. */
enum emu_barrier { EMU_AT_SHUFFLE = 1, EMU_AT_SYNCTHREADS = 2 };
void emu_wait(emu_barrier b);
void emu_check_shuffle(unsigned mask);
extern double *emu_lane_slot; /* one exchange slot per thread of the block */

inline void __syncthreads() { emu_wait(EMU_AT_SYNCTHREADS); }

/* All 32 lanes publish, meet, read their partner's value, and meet again so that
 * no lane can overwrite its slot (at a following shuffle) before the partner has
 * read it. double holds every type the kernels shuffle (float, double, int) exactly. */
template <class T> T __shfl_xor_sync(unsigned mask, T v, int lane_mask)
{
    emu_check_shuffle(mask);
    int lin = emu_self->lin;
    emu_lane_slot[lin] = (double)v;
    emu_wait(EMU_AT_SHUFFLE);
    T r = (T)emu_lane_slot[(lin & ~31) | ((lin & 31) ^ lane_mask)];
    emu_wait(EMU_AT_SHUFFLE);
    return r;
}

/* Runs body() once per thread of every block; a bad shape or a request for dynamic
 * shared memory sets the error that cudaGetLastError returns, as a real launch would. */
void emu_run_grid(dim3 grid, dim3 block, size_t shmem, const std::function<void()> &body);

template <class F> struct emu_pending_launch {
    F kernel;
    dim3 grid, block;
    size_t shmem;
    template <class... A> void operator()(A... args)
    {
        emu_run_grid(grid, block, shmem, [&]() { kernel(args...); });
    }
};
template <class F>
emu_pending_launch<F> emu_launch(F kernel, dim3 grid, dim3 block, size_t shmem = 0, cudaStream_t = nullptr)
{
    return emu_pending_launch<F>{kernel, grid, block, shmem};
}

const char *cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError(void);
cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaSetDevice(int dev); /* device 0, the only one */
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
cudaError_t cudaMalloc(void **p, size_t n);
template <class T> cudaError_t cudaMalloc(T **p, size_t n) { return cudaMalloc((void **)p, n); }
cudaError_t cudaFree(void *p);
cudaError_t cudaMallocHost(void **p, size_t n);
template <class T> cudaError_t cudaMallocHost(T **p, size_t n) { return cudaMallocHost((void **)p, n); }
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind, cudaStream_t st);
cudaError_t cudaMemsetAsync(void *dst, int v, size_t n, cudaStream_t st);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *st, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t st);
cudaError_t cudaStreamSynchronize(cudaStream_t st);

#endif

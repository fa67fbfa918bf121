/* cuda/nccl_dist.cu — data-parallel training's collectives for the CUDA backend
 * (struct gpt_cuda_dist_ops in cuda/cuda_plugin.h): one NCCL communicator per job,
 * the GRAD group summed over the ranks in place on the device, then divided by
 * the number of micro-batches. Built into libruns-cuda.so; the NCCL half only where
 * the Makefile found nccl.h (RUNS_HAVE_NCCL), else gpt_cuda_dist() is NULL and the
 * runner refuses data-parallel CUDA training with one line.
 *
 * Why a division on the device after ncclSum rather than ncclAvg: runner/dp.c's
 * runs_dp_grad_mean divides too (1/3 is not a float), so 2 ranks x 1 micro-batch give
 * the bits of 1 rank x 2 (a + b is the same sum either way); ncclAvg's rounding is
 * NCCL's own. With more than 2 ranks NCCL's ring adds in its own order: same bits
 * run to run on one topology, not the host fold's.
 *
 * Device choice: gpt_cuda_select_device(local rank) before the model is created
 * (cuda/cuda_loader.c does it under a launcher), so each rank of a node owns one GPU
 * and the communicator, made on the current device, uses it. */
#include <string.h>

#include "cuda/common.cuh"
#include "cuda/cuda_plugin.h"

extern "C" float *gpt_cuda_grad_buffer(gpt_model *m, size_t *n, cudaStream_t *st);

extern "C" int gpt_cuda_select_device(int local_rank)
{
    int n = 0;
    CUDA_TRY(cudaGetDeviceCount(&n), "cudaGetDeviceCount (choosing this rank's GPU)");
    if (n <= 0)
        return gpt_set_error("cuda: no CUDA device for local rank %d; use --backend cpu", local_rank);
    int dev = (local_rank < 0 ? 0 : local_rank) % n;
    CUDA_TRY(cudaSetDevice(dev), "cudaSetDevice (choosing this rank's GPU by its local rank)");
    return 0;
}

#ifdef RUNS_HAVE_NCCL
#include <nccl.h>

static_assert(sizeof(ncclUniqueId) == GPT_CUDA_DIST_ID_BYTES, "ncclUniqueId is not 128 bytes");

#define NCCL_TRY(call, what)                                                                      \
    do {                                                                                          \
        ncclResult_t r_ = (call);                                                                 \
        if (r_ != ncclSuccess)                                                                    \
            return gpt_set_error("nccl: %s failed: %s", (what), ncclGetErrorString(r_));          \
    } while (0)

/* g[i] /= count, a grid-stride loop (any n fits one launch) */
__global__ void grad_divide_kernel(float *g, size_t n, float count)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) g[i] /= count;
}

static int dist_unique_id(unsigned char id[GPT_CUDA_DIST_ID_BYTES])
{
    ncclUniqueId u;
    NCCL_TRY(ncclGetUniqueId(&u), "ncclGetUniqueId");
    memcpy(id, &u, sizeof u);
    return 0;
}

static int dist_comm_init(void **comm, const unsigned char id[GPT_CUDA_DIST_ID_BYTES], int nranks, int rank)
{
    ncclUniqueId u;
    ncclComm_t c = NULL;
    memcpy(&u, id, sizeof u);
    *comm = NULL;
    NCCL_TRY(ncclCommInitRank(&c, nranks, u, rank), "ncclCommInitRank (joining the job's communicator)");
    *comm = c;
    return 0;
}

static int dist_allreduce_grad(void *comm, gpt_model *m, int count)
{
    size_t n = 0;
    cudaStream_t st;
    float *g = gpt_cuda_grad_buffer(m, &n, &st);
    if (count < 1) return gpt_set_error("nccl: gradient all-reduce over %d micro-batches", count);
    NCCL_TRY(ncclAllReduce(g, g, n, ncclFloat, ncclSum, (ncclComm_t)comm, st), "ncclAllReduce of the gradients");
    if (count > 1) {
        size_t blocks = (n + 255) / 256;
        if (blocks > 4096) blocks = 4096;
        grad_divide_kernel<<<(unsigned)blocks, 256, 0, st>>>(g, n, (float)count);
        CUDA_LAUNCHED("grad_divide_kernel");
    }
    CUDA_TRY(cudaStreamSynchronize(st), "the gradient all-reduce");
    return 0;
}

static void dist_comm_destroy(void *comm)
{
    if (!comm) return;
    ncclResult_t r = ncclCommDestroy((ncclComm_t)comm);
    if (r != ncclSuccess) gpt_set_error("nccl: ncclCommDestroy failed: %s", ncclGetErrorString(r));
}

static const struct gpt_cuda_dist_ops dist_ops = {
    dist_unique_id, dist_comm_init, dist_allreduce_grad, dist_comm_destroy,
};

extern "C" const struct gpt_cuda_dist_ops *gpt_cuda_dist(void)
{
    return &dist_ops;
}
#else
extern "C" const struct gpt_cuda_dist_ops *gpt_cuda_dist(void)
{
    return NULL; /* nccl.h was not found when this .so was built */
}
#endif

/* tests/emu/include/nccl.h — a CPU stand-in for the part of NCCL that the CUDA
 * backend's data-parallel step uses (cuda/nccl_dist.cu), over MPI on the emulated
 * device's memory (which is host memory): tests/emu/nccl_emu.cpp. Used only by the
 * emulated plugin that tests/emu/plugin.sh builds for tests/cli/t6001.
 *
 * It covers one communicator spanning MPI_COMM_WORLD (the ranks mpirun started,
 * which is what runs makes); ncclCommInitRank checks that every rank got the same
 * id, the rank count and its rank. ncclAllReduce: float sum only, synchronous.
 * What it does NOT prove: anything about NCCL itself (its rings and trees, their
 * summation order for more than 2 ranks, its transport, streams, GPU memory). */
#ifndef RUNS_EMU_NCCL_H
#define RUNS_EMU_NCCL_H

#include <stddef.h>

#include "cuda_runtime.h"

typedef enum {
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInvalidUsage = 5,
} ncclResult_t;

#define NCCL_UNIQUE_ID_BYTES 128
typedef struct {
    char internal[NCCL_UNIQUE_ID_BYTES];
} ncclUniqueId;

typedef struct ncclComm *ncclComm_t;
typedef enum { ncclInt32 = 2, ncclFloat32 = 7, ncclFloat = 7 } ncclDataType_t;
typedef enum { ncclSum = 0 } ncclRedOp_t;

ncclResult_t ncclGetUniqueId(ncclUniqueId *id);
ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank);
ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream);
ncclResult_t ncclCommDestroy(ncclComm_t comm);
const char *ncclGetErrorString(ncclResult_t r);

#endif

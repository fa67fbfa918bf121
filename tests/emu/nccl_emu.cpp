/* tests/emu/nccl_emu.cpp — tests/emu/include/nccl.h over MPI (see there). The
 * communicator is a duplicate of MPI_COMM_WORLD, so its traffic never mixes with
 * the runner's own MPI messages. A sum of two floats is the same whichever rank
 * adds it, so 2 emulated ranks give exactly what NCCL gives for 2. */
#include <mpi.h>
#include <climits>
#include <cstring>
#include <ctime>
#include <unistd.h>

#include "nccl.h"

struct ncclComm {
    MPI_Comm comm;
};

static const char magic[] = "runs-emu-nccl-id";

const char *ncclGetErrorString(ncclResult_t r)
{
    switch (r) {
    case ncclSuccess: return "no error (emulated)";
    case ncclSystemError: return "MPI call failed (emulated NCCL)";
    case ncclInternalError: return "internal error (emulated NCCL)";
    case ncclInvalidArgument: return "invalid argument (emulated NCCL)";
    case ncclInvalidUsage: return "invalid usage (emulated NCCL: MPI is not initialised, or the ranks differ)";
    default: return "unknown error (emulated NCCL)";
    }
}

ncclResult_t ncclGetUniqueId(ncclUniqueId *id)
{
    if (!id)
        return ncclInvalidArgument;
    memset(id, 0, sizeof *id);
    memcpy(id->internal, magic, sizeof magic);
    long stamp[2] = {(long)getpid(), (long)time(NULL)};
    memcpy(id->internal + 32, stamp, sizeof stamp);
    return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank)
{
    int init = 0, size = 0, me = -1;
    if (!comm)
        return ncclInvalidArgument;
    *comm = NULL;
    if (memcmp(id.internal, magic, sizeof magic))
        return ncclInvalidArgument; /* not an id of ours */
    if (MPI_Initialized(&init) != MPI_SUCCESS || !init)
        return ncclInvalidUsage;
    if (MPI_Comm_size(MPI_COMM_WORLD, &size) != MPI_SUCCESS || MPI_Comm_rank(MPI_COMM_WORLD, &me) != MPI_SUCCESS)
        return ncclSystemError;
    if (size != nranks || me != rank)
        return ncclInvalidUsage;
    ncclComm *c = new ncclComm;
    if (MPI_Comm_dup(MPI_COMM_WORLD, &c->comm) != MPI_SUCCESS) {
        delete c;
        return ncclSystemError;
    }
    /* every rank must hold rank 0's id: the runner broadcasts it */
    ncclUniqueId root = id;
    int same = 1, all = 0;
    if (MPI_Bcast(&root, sizeof root, MPI_BYTE, 0, c->comm) != MPI_SUCCESS)
        return ncclSystemError;
    same = memcmp(&root, &id, sizeof id) == 0;
    if (MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, c->comm) != MPI_SUCCESS)
        return ncclSystemError;
    if (!all) {
        MPI_Comm_free(&c->comm);
        delete c;
        return ncclInvalidArgument;
    }
    *comm = c;
    return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t)
{
    if (!comm || type != ncclFloat || op != ncclSum || (count && (!sendbuff || !recvbuff)))
        return ncclInvalidArgument;
    for (size_t done = 0; done < count;) {
        int n = count - done > (size_t)INT_MAX ? INT_MAX : (int)(count - done);
        float *dst = (float *)recvbuff + done;
        const void *src = sendbuff == recvbuff ? MPI_IN_PLACE : (const void *)((const float *)sendbuff + done);
        if (MPI_Allreduce(src, dst, n, MPI_FLOAT, MPI_SUM, comm->comm) != MPI_SUCCESS)
            return ncclSystemError;
        done += (size_t)n;
    }
    return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm)
{
    if (!comm)
        return ncclInvalidArgument;
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin)
        MPI_Comm_free(&comm->comm);
    delete comm;
    return ncclSuccess;
}

/* runner/mpi/dp_mpi_plugin.c — libruns-mpi.so: the MPI calls of runner/dp.c, built
 * only where mpicc is found and loaded only under mpirun/srun (dp_mpi_plugin.h says
 * why). Outside the library's source wildcard (the .c files directly in runner/): the Makefile builds it
 * into $(B)/libruns-mpi.so against libmpi, exporting runs_dp_mpi_plugin_v1 alone. */
#include <mpi.h>
#include <stdlib.h>

#include "runner/mpi/dp_mpi_plugin.h"

static void finalize(void)
{
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin)
        MPI_Finalize();
}

static int init(int *rank, int *size)
{
    int inited = 0, rc;
    MPI_Initialized(&inited);
    if (!inited) {
        if ((rc = MPI_Init(NULL, NULL)) != MPI_SUCCESS)
            return rc;
        atexit(finalize);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return 0;
}

static int bcast(void *buf, int bytes)
{
    int rc = MPI_Bcast(buf, bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : rc;
}

static int send0(const void *buf, int bytes)
{
    int rc = MPI_Send(buf, bytes, MPI_BYTE, 0, 1, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : rc;
}

static int recv(void *buf, int bytes, int from)
{
    int rc = MPI_Recv(buf, bytes, MPI_BYTE, from, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    return rc == MPI_SUCCESS ? 0 : rc;
}

static int bcast_root(void *buf, int bytes, int root)
{
    int rc = MPI_Bcast(buf, bytes, MPI_BYTE, root, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : rc;
}

static int send(const void *buf, int bytes, int to)
{
    int rc = MPI_Send(buf, bytes, MPI_BYTE, to, 1, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : rc;
}

static const struct runs_dp_mpi_plugin table = {
    .abi = RUNS_DP_MPI_PLUGIN_ABI,
    .init = init,
    .bcast = bcast,
    .send0 = send0,
    .recv = recv,
    .bcast_root = bcast_root,
    .send = send,
};

const struct runs_dp_mpi_plugin *runs_dp_mpi_plugin_v1(void);

/* The one exported symbol (dp_mpi_plugin.map). The table is static: nothing to free. */
const struct runs_dp_mpi_plugin *runs_dp_mpi_plugin_v1(void)
{
    return &table;
}

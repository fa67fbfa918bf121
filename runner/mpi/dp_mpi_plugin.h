/* runner/mpi/dp_mpi_plugin.h — the table libruns-mpi.so hands runner/dp.c.
 *
 * Why a plugin: linking Open MPI's libmpi (with open-rte, open-pal, hwloc, libevent)
 * into every program cost each command start 16-20 ms of dynamic relocation, for
 * `runs --help` as much as for a 2-rank run. Now only runner/dp.c, under mpirun/srun
 * (runs_dp_launch_size() > 1), dlopen()s libruns-mpi.so, which links libmpi.
 *
 * The plugin never calls into runs (it is linked -Wl,--no-undefined and uses no runs
 * symbol): it returns 0 or an MPI error code, and dp.c words the message. Counts are
 * ints, as MPI's are: dp.c cuts large buffers into pieces. */
#ifndef RUNS_DP_MPI_PLUGIN_H
#define RUNS_DP_MPI_PLUGIN_H

/* bumped whenever the struct below changes: dp.c refuses a plugin of another ABI */
#define RUNS_DP_MPI_PLUGIN_ABI 2
#define RUNS_DP_MPI_PLUGIN_SYMBOL "runs_dp_mpi_plugin_v1"

struct runs_dp_mpi_plugin {
    int abi;
    /* MPI_Init unless already initialised (then MPI_Finalize at exit), rank and size of
     * MPI_COMM_WORLD into the out-params; 0 or MPI_Init's code */
    int (*init)(int *rank, int *size);
    /* 0 or the MPI error code; bytes <= INT_MAX */
    int (*bcast)(void *buf, int bytes);
    int (*send0)(const void *buf, int bytes);
    int (*recv)(void *buf, int bytes, int from);
    /* ABI 2 (ZeRO-1): rank `root`'s buf to every rank; this rank's buf to rank `to` */
    int (*bcast_root)(void *buf, int bytes, int root);
    int (*send)(const void *buf, int bytes, int to);
};

typedef const struct runs_dp_mpi_plugin *(*runs_dp_mpi_plugin_entry)(void);

#endif

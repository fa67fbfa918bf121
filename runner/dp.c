/* runner/dp.c — see dp.h. */
#include "runner/dp.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"

static int env_count(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return 0;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    return errno || *end || n < 1 || n > 1 << 20 ? 0 : (int)n;
}

int runs_dp_launch_size(void)
{
    int n = env_count("OMPI_COMM_WORLD_SIZE");
    if (!n)
        n = env_count("PMI_SIZE");
    /* srun --mpi=pmix sets no size of its own; a task it started has PMIX_RANK, and
     * the step's task count is Slurm's (SLURM_NTASKS alone is also set in a batch
     * script outside any srun, where a plain `runs start` is one process) */
    if (!n && getenv("PMIX_RANK"))
        n = env_count("SLURM_STEP_NUM_TASKS");
    return n ? n : 1;
}

static int dp_rank = 0, dp_size = 1;

int runs_dp_rank(void)
{
    return dp_rank;
}

int runs_dp_size(void)
{
    return dp_size;
}

#ifdef RUNS_HAVE_MPI
/* The MPI calls live in libruns-mpi.so (runner/mpi/dp_mpi_plugin.c), loaded here only
 * under mpirun/srun: linking libmpi into every program cost each command start
 * 16-20 ms (runs --help 72.7 vs 56.3 ms at load 9). Where it is looked for, first hit
 * wins (a file that exists but fails to load stops the search: its error is the answer):
 *   $RUNS_MPI_LIB                           (only this one when it is set)
 *   <dir of the program>/libruns-mpi.so     (build/runs next to build/libruns-mpi.so)
 *   <dir of the program>/../lib/runs/libruns-mpi.so   (make install's layout)
 *   the path it was built at (RUNS_MPI_SO_PATH: tests, benches and tools/)
 * RTLD_GLOBAL: Open MPI dlopen()s its own components, which expect libmpi's symbols
 * to be global. The handle is never closed (MPI_Finalize runs at exit). */
#include <dlfcn.h>
#include <unistd.h>

#include "common/plugin_path.h"
#include "runner/mpi/dp_mpi_plugin.h"

#define MPI_SO_NAME "libruns-mpi.so"

static const struct runs_dp_mpi_plugin *mpi;

/* 1 loaded, 0 not there, negative: there but unusable (error set) */
static int mpi_try_load(const char *path, int n)
{
    if (access(path, F_OK) != 0)
        return 0;
    void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        const char *e = dlerror();
        return runs_error_set(RUNS_EINVALID,
                              "launched as %d processes (mpirun/srun), but cannot load the MPI transport "
                              "%s: %s; install Open MPI (make deps) and rebuild with make",
                              n, path, e ? e : "unknown dlopen error");
    }
    runs_dp_mpi_plugin_entry entry;
    *(void **)&entry = dlsym(h, RUNS_DP_MPI_PLUGIN_SYMBOL);
    const struct runs_dp_mpi_plugin *p = entry ? entry() : NULL;
    if (!p || p->abi != RUNS_DP_MPI_PLUGIN_ABI || !p->init || !p->bcast || !p->send0 || !p->recv || !p->bcast_root ||
        !p->send)
        return runs_error_set(RUNS_EINVALID,
                              "launched as %d processes (mpirun/srun), but %s is not this version's MPI "
                              "transport (%s, ABI %d); rebuild it with make",
                              n, path, RUNS_DP_MPI_PLUGIN_SYMBOL, RUNS_DP_MPI_PLUGIN_ABI);
    mpi = p;
    return 1;
}

static int mpi_load(int n)
{
    const char *env = getenv("RUNS_MPI_LIB");
    int r;
    if (env && *env) {
        if ((r = mpi_try_load(env, n)) == 0)
            return runs_error_set(RUNS_EINVALID,
                                  "launched as %d processes (mpirun/srun), but RUNS_MPI_LIB=%s does not "
                                  "exist; point it at %s or unset it",
                                  n, env, MPI_SO_NAME);
        return r < 0 ? r : RUNS_OK;
    }
    char dir[4096], path[4200];
    if (runs_plugin_exe_dir(dir, sizeof dir) == 0) {
        snprintf(path, sizeof path, "%s/%s", dir, MPI_SO_NAME);
        if ((r = mpi_try_load(path, n)))
            return r < 0 ? r : RUNS_OK;
        snprintf(path, sizeof path, "%s/../lib/runs/%s", dir, MPI_SO_NAME);
        if ((r = mpi_try_load(path, n)))
            return r < 0 ? r : RUNS_OK;
    }
#ifdef RUNS_MPI_SO_PATH
    if ((r = mpi_try_load(RUNS_MPI_SO_PATH, n)))
        return r < 0 ? r : RUNS_OK;
#endif
    return runs_error_set(RUNS_EINVALID,
                          "launched as %d processes (mpirun/srun), but the MPI transport %s is not next "
                          "to the program or in its ../lib/runs/; rebuild with make (make install "
                          "installs it), or set RUNS_MPI_LIB to its path",
                          n, MPI_SO_NAME);
}

int runs_dp_check_launch(void)
{
    int n = runs_dp_launch_size(), rc;
    if (n <= 1)
        return RUNS_OK;
    if (!mpi && (rc = mpi_load(n)))
        return rc;
    if (mpi->init(&dp_rank, &dp_size))
        return runs_error_set(RUNS_EINVALID,
                              "MPI_Init failed under mpirun (%d processes); check the "
                              "launcher (mpirun --allow-run-as-root as root)",
                              n);
    return RUNS_OK;
}

/* MPI counts are ints: large buffers go in 1 GiB pieces. Only called with more than
 * one rank, so after runs_dp_check_launch loaded the transport. */
#define DP_CHUNK ((size_t)1 << 30)

static int no_transport(void)
{
    return runs_error_set(RUNS_EINVALID, "MPI transfer before the MPI transport was loaded "
                                         "(runs_dp_check_launch first); a bug in runs");
}

int runs_dp_bcast(void *buf, size_t bytes)
{
    if (!mpi)
        return no_transport();
    for (size_t o = 0; o < bytes; o += DP_CHUNK) {
        size_t k = bytes - o < DP_CHUNK ? bytes - o : DP_CHUNK;
        if (mpi->bcast((char *)buf + o, (int)k))
            return runs_error_set(RUNS_EIO, "MPI_Bcast of %zu bytes failed; a rank may have died", bytes);
    }
    return RUNS_OK;
}

int runs_dp_send0(const void *buf, size_t bytes)
{
    if (!mpi)
        return no_transport();
    for (size_t o = 0; o < bytes; o += DP_CHUNK) {
        size_t k = bytes - o < DP_CHUNK ? bytes - o : DP_CHUNK;
        if (mpi->send0((const char *)buf + o, (int)k))
            return runs_error_set(RUNS_EIO, "MPI_Send of %zu bytes to rank 0 failed", bytes);
    }
    return RUNS_OK;
}

int runs_dp_recv(void *buf, size_t bytes, int from)
{
    if (!mpi)
        return no_transport();
    for (size_t o = 0; o < bytes; o += DP_CHUNK) {
        size_t k = bytes - o < DP_CHUNK ? bytes - o : DP_CHUNK;
        if (mpi->recv((char *)buf + o, (int)k, from))
            return runs_error_set(RUNS_EIO, "MPI_Recv of %zu bytes from rank %d failed", bytes, from);
    }
    return RUNS_OK;
}

int runs_dp_bcast_from(void *buf, size_t bytes, int root)
{
    if (!mpi)
        return no_transport();
    for (size_t o = 0; o < bytes; o += DP_CHUNK) {
        size_t k = bytes - o < DP_CHUNK ? bytes - o : DP_CHUNK;
        if (mpi->bcast_root((char *)buf + o, (int)k, root))
            return runs_error_set(RUNS_EIO, "MPI_Bcast of %zu bytes from rank %d failed; a rank may have died", bytes,
                                  root);
    }
    return RUNS_OK;
}

int runs_dp_send(const void *buf, size_t bytes, int to)
{
    if (!mpi)
        return no_transport();
    for (size_t o = 0; o < bytes; o += DP_CHUNK) {
        size_t k = bytes - o < DP_CHUNK ? bytes - o : DP_CHUNK;
        if (mpi->send((const char *)buf + o, (int)k, to))
            return runs_error_set(RUNS_EIO, "MPI_Send of %zu bytes to rank %d failed", bytes, to);
    }
    return RUNS_OK;
}
#else
static int no_mpi(void)
{
    return runs_error_set(RUNS_EINVALID, "this build has no MPI; install Open MPI (make deps) and rebuild");
}
int runs_dp_bcast(void *buf, size_t bytes)
{
    (void)buf, (void)bytes;
    return no_mpi();
}
int runs_dp_send0(const void *buf, size_t bytes)
{
    (void)buf, (void)bytes;
    return no_mpi();
}
int runs_dp_recv(void *buf, size_t bytes, int from)
{
    (void)buf, (void)bytes, (void)from;
    return no_mpi();
}
int runs_dp_bcast_from(void *buf, size_t bytes, int root)
{
    (void)buf, (void)bytes, (void)root;
    return no_mpi();
}
int runs_dp_send(const void *buf, size_t bytes, int to)
{
    (void)buf, (void)bytes, (void)to;
    return no_mpi();
}

int runs_dp_check_launch(void)
{
    int n = runs_dp_launch_size();
    if (n <= 1)
        return RUNS_OK;
    /* every rank would otherwise run its own copy of the run into one store: the
     * same run name, the same directory, one lock; refusing before any store work
     * keeps each rank's line the same and the store untouched */
    return runs_error_set(RUNS_EINVALID,
                          "launched as %d processes (mpirun/srun), but this build trains on one process "
                          "only (built without MPI); run without mpirun, or with -np 1, or install Open "
                          "MPI (make deps) and rebuild",
                          n);
}
#endif

static int init_done;

void runs_dp_init_sent(void)
{
    init_done = 1;
}

int runs_dp_release(void)
{
    if (init_done || dp_rank != 0 || dp_size <= 1)
        return RUNS_OK;
    init_done = 1;
    int64_t zero[RUNS_DP_INIT_WORDS] = {0};
    return runs_dp_bcast(zero, sizeof zero);
}

int runs_dp_fit_accum(int *accum, long batch_tokens, int batch, int seq_len, int ranks)
{
    long micro = (long)batch * seq_len;
    if (batch < 1 || seq_len < 1 || ranks < 1 || batch_tokens < micro || batch_tokens % micro)
        return runs_error_set(RUNS_EINVALID,
                              "the node's global batch of %ld tokens is not a whole number of micro-batches "
                              "of train.batch_size %d x train.seq_len %d; resume it with the config it was "
                              "written with",
                              batch_tokens, batch, seq_len);
    long total = batch_tokens / micro; /* micro-batches per optimizer step, all ranks */
    if (total % ranks || total / ranks > 1 << 16) {
        char ok[160] = "";
        size_t len = 0;
        for (long d = 1; d <= total && len < sizeof ok - 24; d++)
            if (total % d == 0 && total / d <= 1 << 16)
                len += (size_t)snprintf(ok + len, sizeof ok - len, "%s%ld", len ? ", " : "", d);
        return runs_error_set(RUNS_EINVALID,
                              "cannot keep the run's global batch on %d ranks: a step is %ld micro-batches "
                              "(%ld tokens = %d x %d each), which %d ranks do not share evenly; launch with "
                              "-np one of %s",
                              ranks, total, batch_tokens, batch, seq_len, ranks, ok);
    }
    *accum = (int)(total / ranks);
    return RUNS_OK;
}

int runs_dp_shard_owners(int *owner, const size_t *numel, int n, int ranks)
{
    int rc = RUNS_OK, *order = NULL;
    double *load = NULL;
    if (ranks < 1 || n < 0)
        return runs_error_set(RUNS_EINVALID, "shard owners: %d ranks, %d tensors (internal)", ranks, n);
    if (!(order = malloc(sizeof(int) * (size_t)(n ? n : 1))) || !(load = calloc((size_t)ranks, sizeof *load))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory sharing tensors out over %d ranks", ranks);
        goto done;
    }
    for (int j = 0; j < n; j++)
        order[j] = j;
    for (int a = 1; a < n; a++) { /* insertion sort by size, descending; stable */
        int x = order[a], b = a;
        while (b > 0 && numel[order[b - 1]] < numel[x]) {
            order[b] = order[b - 1];
            b--;
        }
        order[b] = x;
    }
    for (int a = 0; a < n; a++) {
        int best = 0;
        for (int r = 1; r < ranks; r++)
            if (load[r] < load[best])
                best = r;
        owner[order[a]] = best;
        load[best] += (double)numel[order[a]];
    }
done:
    free(order);
    free(load);
    return rc;
}

void runs_dp_grad_add(float *sum, const float *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sum[i] += g[i];
}

void runs_dp_grad_mean(float *sum, size_t n, int count)
{
    /* a division, not a multiplication by 1/count: 1/3 is not a float, so the
     * product would be off by one more rounding */
    if (count <= 1)
        return;
    for (size_t i = 0; i < n; i++)
        sum[i] /= (float)count;
}

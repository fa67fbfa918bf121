/* runner/dp.c — see dp.h. */
#include "runner/dp.h"

#include <errno.h>
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
    return n ? n : 1;
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
                          "only (data-parallel training over MPI is not built yet); run without mpirun, "
                          "or with -np 1, and use train.grad_accum for a bigger batch",
                          n);
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

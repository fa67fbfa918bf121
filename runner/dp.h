/* runner/dp.h — gradient accumulation and data-parallel helpers of the training step.
 *
 * One optimizer step sees train.grad_accum micro-batches (on each of the ranks, when
 * data-parallel). Their gradients are summed in one fixed order — the global
 * micro-batch order — and the sum is divided by the micro-batch count, so the
 * step's gradient is the mean over micro-batches, and the bits depend only on the
 * inputs, never on timing or on how the micro-batches were spread over ranks.
 */
#ifndef RUNS_RUNNER_DP_H
#define RUNS_RUNNER_DP_H

#include <stddef.h>

/* The number of processes the launcher started for this job: OMPI_COMM_WORLD_SIZE
 * (Open MPI's mpirun) or PMI_SIZE (MPICH's mpiexec, Slurm's srun with PMI); 1 when
 * neither is set or parses as a count (a plain `runs start`). */
int runs_dp_launch_size(void);

/* RUNS_OK when this process is the job's only one. Under `mpirun -np N` with N > 1,
 * RUNS_EINVALID with one line saying that this build trains on one process only
 * (data-parallel training over MPI is not built yet) and to run without mpirun or
 * with -np 1, before any rank touches the store. */
int runs_dp_check_launch(void);

/* sum[i] += g[i] for i in 0..n-1, in index order (a plain float add each, so a
 * left fold over micro-batches gives the same bits wherever it runs). */
void runs_dp_grad_add(float *sum, const float *g, size_t n);

/* sum[i] /= count for i in 0..n-1: the mean of count accumulated gradients.
 * count >= 1; count == 1 leaves sum unchanged. */
void runs_dp_grad_mean(float *sum, size_t n, int count);

#endif

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
 * (Open MPI's mpirun), PMI_SIZE (MPICH's mpiexec, Slurm's srun with PMI-2), or
 * SLURM_STEP_NUM_TASKS where PMIX_RANK is set (srun --mpi=pmix); 1 when none is set
 * or parses as a count (a plain `runs start`). */
int runs_dp_launch_size(void);

/* Joins the job the launcher started. One process (no mpirun): RUNS_OK, rank 0 of 1.
 * Under `mpirun -np N` (N > 1): in a build with MPI (RUNS_HAVE_MPI), MPI_Init
 * once (MPI_Finalize at exit) and RUNS_OK; in a build without, RUNS_EINVALID with
 * one line saying so and how to enable it, before any rank touches the store. */
int runs_dp_check_launch(void);

/* This process's rank and the job's rank count (0 and 1 until runs_dp_check_launch
 * joined a job of several). */
int runs_dp_rank(void);
int runs_dp_size(void);

/* Collectives of the data-parallel step (only with runs_dp_size() > 1; they
 * return RUNS_EINVALID in a build without MPI). bytes may exceed 2 GiB.
 * bcast: rank 0's buf to every rank. send0: this rank's buf to rank 0.
 * recv: receives bytes from rank `from` into buf (rank 0 from a rank; a rank from 0). */
int runs_dp_bcast(void *buf, size_t bytes);
int runs_dp_send0(const void *buf, size_t bytes);
int runs_dp_recv(void *buf, size_t bytes, int from);
/* ZeRO-1's moves: bcast_from: rank root's buf to every rank (each rank sends the
 * weights it updated); send: this rank's buf to rank `to` (rank 0 hands each rank its
 * tensors' gradients and, at start, their m and v), which takes it with runs_dp_recv. */
int runs_dp_bcast_from(void *buf, size_t bytes, int root);
int runs_dp_send(const void *buf, size_t bytes, int to);

/* The grad_accum that keeps a run's global batch on `ranks` ranks: batch_tokens
 * (a node's, = batch × seq_len × grad_accum × ranks when it was written) over
 * batch × seq_len × ranks. *accum is set only on RUNS_OK; RUNS_EINVALID (one line
 * naming the rank counts that would work) where the micro-batches of a step do not
 * split evenly over the ranks, or batch_tokens is not a whole number of
 * micro-batches. Why scale grad_accum: the global batch is the run's contract (the
 * LR schedule and the loss curve assume it), and with micro-batches folded in
 * global order (runner/loop.c) N ranks x A give the bits of M ranks x N·A/M. */
int runs_dp_fit_accum(int *accum, long batch_tokens, int batch, int seq_len, int ranks);

/* The first broadcast of a job (rank 0 → all, runner/loop.c): RUNS_DP_INIT_WORDS
 * int64s, the sizes of what follows. All zero: rank 0 stopped before training (a
 * refused resume, a locked run, a bad config), and the other ranks stop too instead
 * of waiting for it forever. runs_dp_init_sent records that rank 0 sent the real
 * one; runs_dp_release (rank 0, in its teardown) sends the zeros when it did not.
 * Both are no-ops on one rank, on ranks > 0, and once done. */
#define RUNS_DP_INIT_WORDS 5
void runs_dp_init_sent(void);
int runs_dp_release(void);

/* ZeRO-1's owner table (runner/dp_loop.c, dp_snap.c): owner[i] = the rank that keeps
 * tensor i's AdamW m and v, updates its weights and writes its three objects (weights,
 * m, v) at a node. Whole tensors, the largest first (numel[i] floats; ties in index
 * order), each to the rank with the fewest floats so far (the lowest rank on a tie):
 * a pure function of the sizes and the rank count, so every rank computes the same
 * table. One tensor larger than n/ranks (wte, V x C, in a small model) caps the
 * balance: its rank holds it all. RUNS_EINVALID when ranks < 1 or n < 0. */
int runs_dp_shard_owners(int *owner, const size_t *numel, int n, int ranks);

/* sum[i] += g[i] for i in 0..n-1, in index order (a plain float add each, so a
 * left fold over micro-batches gives the same bits wherever it runs). */
void runs_dp_grad_add(float *sum, const float *g, size_t n);

/* sum[i] /= count for i in 0..n-1: the mean of count accumulated gradients.
 * count >= 1; count == 1 leaves sum unchanged. */
void runs_dp_grad_mean(float *sum, size_t n, int count);

#endif

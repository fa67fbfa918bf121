/* runner/dp_loop.h — the data-parallel step of the training loop (internal to the
 * run loop's rooms, like session_int.h): rank 0 leads, ranks 1..N-1 follow.
 *
 * Every rank reads every micro-batch of the step from its own data loader (reading
 * is cheap, and so the cursors stay the same on every rank) and computes those
 * whose global index g = k·N + r (micro-step k, rank r) is its own. Rank 0 folds the
 * gradients in g order — its own, then rank 1's, ... for k = 0, then k = 1 ... — which
 * is the order one rank with grad_accum N·A folds them in, so the bits are the same;
 * the mean goes to every rank, and each runs the same gpt_update. Messages:
 *   start  rank 0 → all: RUNS_DP_INIT_WORDS sizes (all 0: rank 0 stopped, runner/dp.h),
 *          the config, the data cursors, weights, m, v;  ranks → 0: pid and host
 *   step   rank 0 → all: {DP_STEP, source, t}
 *          ranks → 0: per micro-batch its gradient, loss, signal flags, busy seconds
 *          rank 0 → all: ok (0: a non-finite loss; the step is abandoned and the
 *          others stop), then the mean gradient
 *   node   rank 0 → all: {DP_SNAP, 0, step}; each rank writes its share of the
 *          tensor objects;  ranks → 0: status, error text, the names it wrote
 *   end    rank 0 → all: {DP_STOP}
 * Signals: a rank that catches SIGUSR1/SIGUSR2/SIGINT/SIGTERM (mpirun forwards them,
 * srun and schedulers send them to every task) passes the flags to rank 0 with its
 * next gradient; rank 0 folds them into its own (runner/signals.h), so the job acts
 * on the step rank 0 chooses, and a worker never stops on its own. */
#ifndef RUNS_RUNNER_DP_LOOP_H
#define RUNS_RUNNER_DP_LOOP_H

#include "runner/session_int.h"

/* Host buffers of one optimizer step's gradient accumulation (grad_accum > 1 or
 * several ranks): sum holds n_params floats, grad n_params + RUNS_DP_TAIL. */
typedef struct {
    float *sum, *grad;
} runs_accum_bufs;

enum { RUNS_DP_TAIL = 3 }; /* floats after a worker's gradient: loss, signal flags, busy seconds */
enum { RUNS_DP_STOP = 0, RUNS_DP_STEP = 1, RUNS_DP_SNAP = 2 }; /* rank 0's headers */

/* rank 0: hands the other ranks what they need to follow (config, cursors, weights,
 * m, v, adam step) and takes their pids and hosts; ab->grad is the staging buffer. */
int runs__dp_start(session *sess, runs_accum_bufs *ab);

/* rank 0: one optimizer step's gradients over all ranks, mean written to the model;
 * *loss the mean loss (or the first non-finite one: then no gradient is written and
 * the other ranks have stopped), *diversity the mean distinct-bigram ratio. */
int runs__dp_accumulate(session *sess, runs_accum_bufs *ab, int src, long t, float *loss, double *diversity);

/* rank 0, at a node while the other ranks follow: every rank writes its share of the
 * node's tensor objects (weights, m, v; whole tensors, shared out by size so each
 * rank writes about 1/N of the bytes) into the store itself, all at once; rank 0
 * waits until every rank reported its objects' names. *tensors is the manifest's
 * "tensors" array (the entries runs_node_commit would make, in the same order, so
 * every reader sees the one-rank checkpoint) and *shards {"ranks": N, "rank": [the
 * writer of each entry]}; the caller owns both. A rank that fails to write: its
 * error, and no node. RUNS_ENOTFOUND (nothing set) when the others do not follow
 * (one rank, or they stopped after a non-finite loss): rank 0 writes alone. */
int runs__dp_snapshot(session *sess, cJSON **tensors, cJSON **shards);

/* a rank > 0's side of runs__dp_snapshot (dp_snap.c), on RUNS_DP_SNAP: writes its share
 * from *staging (allocated on first use, 3 x n_params; the caller frees it) through a
 * store handle of its own and reports to rank 0. Non-zero only when the report could
 * not be sent (a failed write is reported, and rank 0 stops the job). */
int runs__dp_worker_snapshot(session *sess, float **staging);

/* rank 0: 1 while the other ranks follow (waiting for a step header). */
int runs__dp_following(void);

/* rank 0: tells the other ranks to stop, if they are still following. */
int runs__dp_stop(void);

/* rank 0: writes RUNDIR/.ranks.json (advisory, at most once a second unless final):
 * {"ranks", "pid", "tokens_per_s", "reduce_s", "step_s", "reduce_share",
 *  "per_rank": [{"rank", "pid", "host", "tokens_per_s", "busy"}]}. Removes a stale
 * one on a single rank (final = -1). Best effort: never fails the run. */
void runs__dp_write_ranks(session *sess, int final);

#endif

/* runner/dp_loop.h — the data-parallel step of the training loop (internal to the
 * run loop's rooms, like session_int.h): rank 0 leads, ranks 1..N-1 follow.
 *
 * Every rank reads every micro-batch of the step from its own data loader (reading
 * is cheap, and so the cursors stay the same on every rank) and computes those
 * whose global index g = k·N + r (micro-step k, rank r) is its own. Rank 0 folds the
 * gradients in g order — its own, then rank 1's, ... for k = 0, then k = 1 ... — which
 * is the order one rank with grad_accum N·A folds them in, so the bits are the same.
 *
 * ZeRO-1 (dp_zero.c): each tensor has one owner rank (runs_dp_shard_owners: whole
 * tensors, shared out by size), which alone keeps its AdamW m and v, updates its
 * weights and writes its three objects at a node. Rank 0 computes the global norm
 * from the full mean gradient (gpt_grad_norm, the bits gpt_update would use) and sends
 * each rank only its tensors' gradients; after the update every rank broadcasts the
 * weights it owns, so all hold the full weights for the next forward. The update is
 * elementwise per tensor, so the bits are those of one rank updating everything.
 * Messages:
 *   start  rank 0 → all: RUNS_DP_INIT_WORDS sizes (all 0: rank 0 stopped, runner/dp.h),
 *          the config, the data cursors, the weights; rank 0 → each rank r: m, then v,
 *          of r's tensors (packed in tensor order); ranks → 0: pid, host, adam floats
 *   step   rank 0 → all: {DP_STEP, source, t}
 *          ranks → 0: per micro-batch its gradient, loss, signal flags, busy seconds
 *          rank 0 → all: {global norm, ok} (ok 0: a non-finite loss; the step is
 *          abandoned and the ranks wait for the halt node's snapshot, then the stop)
 *          rank 0 → each rank r: the mean gradient of r's tensors
 *          each rank r → all (r = 0 .. N-1 in turn): r's updated weights
 *   node   rank 0 → all: {DP_SNAP, 0, step}; each rank writes its tensors' weights,
 *          m and v into the store;  ranks → 0: status, error text, the names it wrote
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

/* rank 0: one optimizer step's gradients over all ranks, mean written to the model
 * and each rank's tensors' share sent to it with the global norm; *loss the mean
 * loss (or the first non-finite one: then no gradient is written, the step is
 * abandoned, and the other ranks wait for the halt node), *diversity the mean
 * distinct-bigram ratio. */
int runs__dp_accumulate(session *sess, runs_accum_bufs *ab, int src, long t, float *loss, double *diversity);

/* rank 0 after runs__dp_accumulate: the ZeRO-1 update (gpt_update_owned on its own
 * tensors with the step's global norm, *grad_norm = that norm) and the weights'
 * exchange; the other ranks do the same on theirs. RUNS_EINVALID after an abandoned
 * step (a non-finite loss halts before any update). */
int runs__dp_update(session *sess, runs_accum_bufs *ab, const gpt_adamw *hp, float lr, float *grad_norm);

/* rank 0: 1 while the model's optimizer state is sharded over the ranks (after
 * runs__dp_start): updates go through runs__dp_update, nodes through the ranks. */
int runs__dp_sharded(void);

/* rank 0, at a node while the other ranks follow: every rank writes its tensors'
 * objects (weights, m, v of the tensors it owns, from its own memory; whole tensors,
 * shared out by size so each rank writes about 1/N of the bytes) into the store
 * itself, all at once; rank 0
 * waits until every rank reported its objects' names. *tensors is the manifest's
 * "tensors" array (the entries runs_node_commit would make, in the same order, so
 * every reader sees the one-rank checkpoint) and *shards {"ranks": N, "rank": [the
 * writer of each entry]}; the caller owns both. A rank that fails to write: its
 * error, and no node. RUNS_ENOTFOUND (nothing set) when the state is not sharded
 * (one rank, the start node, the NCCL path): rank 0 writes alone. Sharded while the
 * others no longer follow: RUNS_EIO, no node (rank 0 lacks their m and v). */
int runs__dp_snapshot(session *sess, cJSON **tensors, cJSON **shards);

/* a rank > 0's side of runs__dp_snapshot (dp_snap.c), on RUNS_DP_SNAP: writes its share
 * from *staging (allocated on first use, 3 x its floats; the caller frees it) through a
 * store handle of its own and reports to rank 0. Non-zero only when the report could
 * not be sent (a failed write is reported, and rank 0 stops the job). */
int runs__dp_worker_snapshot(session *sess, float **staging);

/* a rank > 0: its model on backend be (its n_params checked against rank 0's n), its
 * data loader at rank 0's cursors cur, and its batch buffers, all in sess (freed with
 * the session). Shared by the CPU followers and the NCCL ones (dp_nccl.c). */
int runs__dp_worker_open(session *sess, size_t n, const cJSON *cur, gpt_backend be);

/* rank 0: 1 while the other ranks follow (waiting for a step header). */
int runs__dp_following(void);

/* rank 0: tells the other ranks to stop, if they are still following. */
int runs__dp_stop(void);

/* rank 0: writes RUNDIR/.ranks.json (advisory, at most once a second unless final):
 * {"ranks", "pid", "tokens_per_s", "reduce_s", "step_s", "reduce_share",
 *  "adam_floats": [the AdamW floats, m and v, rank r holds, by rank],
 *  "per_rank": [{"rank", "pid", "host", "tokens_per_s", "busy"}]}. Removes a stale
 * one on a single rank (final = -1). Best effort: never fails the run. */
void runs__dp_write_ranks(session *sess, int final);

/* ZeRO-1's owner table and packing (dp_zero.c). table: computes which rank owns each
 * tensor of md's shape on `ranks` ranks (kept for the job, the same on every rank);
 * owner: that table (NULL before); shard: md keeps m and v of rank me's tensors only;
 * floats: one group's floats of rank r's tensors; pack/unpack: rank r's tensors of a
 * slot between the model and a contiguous buffer (tensor order); pack_host: the same
 * from a whole-group host buffer; gather: every rank's owned weights to every rank
 * (buf: n_params floats of scratch). */
int runs__dp_zero_table(const gpt_model *md, int ranks);
const int *runs__dp_zero_owner(void);
int runs__dp_zero_shard(gpt_model *md, int me);
size_t runs__dp_zero_floats(const gpt_model *md, int r);
int runs__dp_zero_pack(const gpt_model *md, gpt_slot slot, int r, float *dst);
int runs__dp_zero_unpack(gpt_model *md, gpt_slot slot, int r, const float *src);
void runs__dp_zero_pack_host(const gpt_model *md, int r, const float *full, float *dst);
int runs__dp_zero_gather(gpt_model *md, int me, int ranks, float *buf);

#endif

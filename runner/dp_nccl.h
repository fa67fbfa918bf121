/* runner/dp_nccl.h — the data-parallel step on the CUDA backend: gradients all-reduced
 * by NCCL on the devices (cuda/gpt_dist.h) instead of gathered by rank 0 on the host
 * (runner/dp_loop.h, the CPU path). Internal to the run loop, like dp_loop.h.
 *
 * The ranks, one GPU each (device = local rank modulo the node's devices):
 *   start  rank 0 → all: the CPU path's first messages (RUNS_DP_INIT_WORDS sizes, the
 *          config, the data cursors); ranks → 0: a status (model on the device, data
 *          open) with its error text; rank 0 → all: go (0: a rank failed, all stop and
 *          rank 0 says why), weights, m, v, then the ncclUniqueId; every rank joins
 *          the communicator.
 *   step   rank 0 → all: {RUNS_DP_STEP, source, t}. Every rank reads every micro-batch
 *          (the cursors stay equal) and computes those of global index g = k·N + r
 *          (micro-step k, rank r), folding its own A gradients on the host in k order
 *          as runner/loop.c does for one rank; ranks → 0: their A losses, signal flags,
 *          busy seconds (tiny); rank 0 → all: ok (0: a non-finite loss, the others
 *          stop); then ncclAllReduce(sum) of the gradients on the devices and a
 *          division by N·A, and every rank runs gpt_update itself (each holds the
 *          whole optimizer state: no sharding on CUDA).
 *   node   rank 0 writes every node alone, from its own device copy (the same bits
 *          every rank holds): the followers wait for the next step header.
 *   end    rank 0 → all: {RUNS_DP_STOP}; every rank frees its communicator.
 * Bits: 2 ranks x 1 micro-batch equal 1 rank x 2 (a + b is one sum whatever the
 * order, and both divide); more ranks add in NCCL's ring order, which is
 * reproducible on one topology but not the host fold's.
 * Not built: .ranks.json and the per-rank rates of `runs status`. */
#ifndef RUNS_RUNNER_DP_NCCL_H
#define RUNS_RUNNER_DP_NCCL_H

#include <stdint.h>

#include "runner/dp_loop.h"

/* rank 0: refuses (one line, before anything is sent, so runs_dp_release frees the
 * other ranks) where the CUDA backend was built without NCCL; else starts the ranks as
 * above. ab->sum/ab->grad are the host buffers of runs__session_train. */
int runs__dp_nccl_start(session *sess, runs_accum_bufs *ab);

/* rank 0: one optimizer step over all ranks, the mean gradient left in every rank's
 * model; *loss and *diversity as runs__dp_accumulate's. */
int runs__dp_nccl_accumulate(session *sess, runs_accum_bufs *ab, int src, long t, float *loss, double *diversity);

/* rank 0: 1 between a successful runs__dp_nccl_start and runs__dp_nccl_stop. */
int runs__dp_nccl_active(void);

/* rank 0: tells the ranks to stop (if they still follow) and frees the communicator. */
int runs__dp_nccl_stop(void);

/* a rank > 0 of a CUDA job, from runs__session_worker once rank 0's config is in
 * sess (hdr: the sizes of the first broadcast; cur: rank 0's data cursors). Sets
 * sess->model, data, inputs and targets (the session's teardown frees them). */
int runs__dp_nccl_worker(session *sess, const int64_t *hdr, const cJSON *cur);

#endif

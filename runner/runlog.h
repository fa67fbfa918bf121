/* runner/runlog.h — the files a run writes in its run directory, beside the store:
 *   .loss.json     one line per executed step (JSON Lines, store/jsonl.h)
 *   .samples.json  one line per sample-audit prompt (JSON Lines)
 *   .state.json    the bandit's state at the last node (published, durable)
 *   .status.json   advisory progress for `runs status`, rewritten once a second
 * The session-facing writers are in session_int.h; the status file's writer is
 * here so it can be used (and tested) without a session. */
#ifndef RUNS_RUNNER_RUNLOG_H
#define RUNS_RUNNER_RUNLOG_H

#include <stddef.h>

#include "store/store.h"

/* What .status.json says about a run. */
typedef struct {
    const char *run;
    long pid;
    int running; /* 0 once the trainer finished or stopped */
    long step, total_steps;
    double loss, loss_ema, lr, grad_norm;
    double tokens_per_s; /* rounded when written */
    double eta_s;        /* -1 = unknown */
    long updated;        /* unix seconds */
    long stop_at;        /* `runs stop` pending: the boundary step it stops at (0 = none) */
} runs_run_status;

/* Writes dir/.status.json (one JSON object, no newline) from st: renamed into
 * place whole, without fsync (store/publish.h runs_file_write_advisory), since
 * it is rewritten every second and only advisory. */
int runs_runlog_write_status(const char *dir, const runs_run_status *st);

/* The job's tokens per second for .status.json: steps optimizer steps of batch x
 * seq_len x grad_accum tokens on each of ranks ranks, over elapsed_s seconds (the
 * job's figure, as the step lines count it; `runs status` shows each rank's share
 * from .ranks.json). 0 before any step or time has passed. */
double runs_runlog_tokens_per_s(long steps, int batch, int seq_len, int grad_accum, int ranks, double elapsed_s);

/* The loss history of the lineage ending at node_id as JSON Lines bytes (steps
 * 0..step-1), concatenated from the nodes' loss_log segments: what .loss.json holds
 * for a run at that node (a resume rewrites it from this; `runs verify` compares).
 * *out is malloc'd; the caller frees it. */
int runs_runlog_loss_history(char **out, size_t *len, runs_store *s, const char *node_id);

#endif

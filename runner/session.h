/* runner/session.h — the run loop: one trainer session on one run.
 *
 * Lifecycle of a run (each arrow is a lineage node, committed to the store):
 *
 *      runs start ──► [start] ──► [checkpoint] ──► ... ──► [checkpoint @ total_steps]
 *                                     │   ▲                      (done, exit 0)
 *              SIGINT/SIGTERM ────────┘   │ runs resume [NODE]
 *              (checkpoint, exit 0)       │ (bit-exact on CPU; log lines past NODE dropped)
 *                                         │
 *      gate: patience low scores ──► [halt] (exit 2)
 *      runs fork NODE --config P  ──► [fork]    new run: patched config, same weights/m/v/step
 *      runs restart NODE --peak-lr X ► [restart] new run: LR spiked to X, cosine to the end
 *
 * Checkpoints are written in the background: the loop copies weights, m and v into
 * a staging buffer, a committer thread hashes and writes them (objects → manifest →
 * ref) while training goes on; the next snapshot first waits for that commit, so
 * the optimizer never changes bytes being written.
 */
#ifndef RUNS_RUNNER_SESSION_H
#define RUNS_RUNNER_SESSION_H

#include <cJSON.h>

#include "store/store.h"

typedef struct {
    const char *run;       /* run name (required) */
    const char *dir;       /* run directory; NULL = the store's sibling runs/<run> */
    const char *backend;   /* "cpu" | "cuda" | "auto"; NULL = config's train.backend */
    long stop_after;       /* stop (with a checkpoint) after this step; 0 = total_steps */
    int no_train;          /* record the node only */
    int keep_bandit;       /* fork: keep the parent's bandit state */
    int quiet;             /* no per-step lines on stdout */
    const char *data_root; /* resume/fork/restart: the node's data files moved under this
                            * directory (runner/provenance.h); NULL = where recorded */
    int allow_data_change; /* go on (with a warning) when a data file no longer hashes as
                            * the node recorded; otherwise that is refused */
} runs_session_opts;

/* `runs start`: records a start node (step 0, initial weights) for config
 * (a full effective config as JSON, data paths absolute: runner/provenance.h), then
 * trains. Every node records the data files' fingerprints ("data_files"); resume,
 * fork and restart refuse data that changed since their node (see the options). Returns 0, RUNS_EHALT when the
 * gate halted the run, or an error. */
int runs_session_start(runs_store *s, const cJSON *config, const runs_session_opts *o);

/* `runs resume`: continues run o->run from node_id (a node of any run; NULL = the
 * run's tip). Lines of .loss.json / .samples.json past the node are dropped. */
int runs_session_resume(runs_store *s, const char *node_id, const runs_session_opts *o);

/* `runs fork` (patch != NULL, kind "fork") and `runs restart` (peak_lr > 0, kind
 * "restart"): a new run o->run branching from node_id. */
int runs_session_branch(runs_store *s, const char *node_id, const cJSON *patch, double peak_lr,
                        const runs_session_opts *o);

/* Loss history of the lineage ending at node_id as JSON Lines bytes (steps 0..step-1),
 * concatenated from the nodes' loss_log segments. *out is malloc'd; caller frees. */
int runs_lineage_loss_log(char **out, size_t *len, runs_store *s, const char *node_id);

#endif

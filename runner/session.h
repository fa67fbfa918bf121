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
 *
 * The code, one room per concern (docs/NOTES.md, "Layout"): session.c (set-up,
 * start, resume), loop.c (the training loop, sample audits), committer.c (the
 * background commit and its states), node_build.c (manifests, snapshots, loading
 * a node), runlog.c (the run directory's logs, state and status files),
 * branch.c (fork, restart), signals.c; session_int.h is what they share.
 */
#ifndef RUNS_RUNNER_SESSION_H
#define RUNS_RUNNER_SESSION_H

#include <cJSON.h>

#include "manifests/diff.h"
#include "store/store.h"

/* What a session reports while it runs. The library never prints: it hands each
 * event to runs_session_opts.on_event (the CLI prints them: runner/cli_events.c).
 * With opts.quiet only RUNS_EV_WARNING events come. Pointers in an event are
 * borrowed for the call only. */
typedef enum {
    RUNS_EV_WARNING,  /* message: something went on despite it (a dropped bandit arm,
                       * data that changed under --allow-data-change) */
    RUNS_EV_RESUMING, /* node (id), step: resume picks up there */
    RUNS_EV_BRANCH,   /* node_kind ("fork" | "restart"), node (parent id), step,
                       * changes/n_changes: the config diff, parent → child */
    RUNS_EV_TRAINING, /* step (first), end (last), backend, n_params, batch, seq_len,
                       * grad_accum, ranks, batch_tokens (= batch × seq_len × grad_accum × ranks) */
    RUNS_EV_STEP,     /* step, total_steps, loss, loss_ema, lr, grad_norm, source,
                       * tokens_per_s (about 40 a run, and the last step); stop_at
                       * when a `runs stop` is pending */
    RUNS_EV_SAMPLE,   /* step, score, prompt, text: the first prompt of each audit */
    RUNS_EV_NODE,     /* node (id), node_kind, step: a node was committed */
    RUNS_EV_STOPPED,  /* step: a signal stopped the run (after its checkpoint) */
    RUNS_EV_DONE,     /* step, loss_ema: training finished */
} runs_session_event_kind;

typedef struct {
    runs_session_event_kind kind;
    const char *run;
    long step, end, total_steps;
    const char *node, *node_kind;
    double loss, loss_ema, lr, grad_norm, tokens_per_s, score;
    const char *source, *backend, *prompt, *text, *message;
    size_t n_params;
    int batch, seq_len;
    int grad_accum, ranks; /* RUNS_EV_TRAINING: micro-batches per step, data-parallel ranks */
    long batch_tokens;     /* RUNS_EV_TRAINING: tokens per optimizer step, all ranks */
    const runs_diff_entry *changes;
    size_t n_changes;
    long stop_at; /* RUNS_EV_STEP: the boundary a pending stop lands on (0 = none) */
} runs_session_event;

typedef void (*runs_session_event_fn)(void *ctx, const runs_session_event *ev);

typedef struct {
    const char *run;                /* run name (required) */
    const char *dir;                /* run directory; NULL = the store's sibling runs/<run> */
    const char *backend;            /* "cpu" | "cuda" | "auto"; NULL = config's train.backend */
    long stop_after;                /* stop (with a checkpoint) after this step; 0 = total_steps */
    int no_train;                   /* record the node only */
    int keep_bandit;                /* fork: keep the parent's bandit state */
    int quiet;                      /* no progress events (warnings still come) */
    const char *data_root;          /* resume/fork/restart: the node's data files moved under this
                            * directory (runner/provenance.h); NULL = where recorded */
    int allow_data_change;          /* go on (with a warning) when a data file no longer hashes as
                            * the node recorded; otherwise that is refused */
    runs_session_event_fn on_event; /* NULL = events are dropped */
    void *event_ctx;                /* passed to on_event */
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

/* `runs fork` (peak_lr 0, patch != NULL, kind "fork") and `runs restart` (peak_lr > 0,
 * kind "restart", patch from -S or NULL; the LR spike is applied over it): a new run
 * o->run branching from node_id. patch stays the caller's. */
int runs_session_branch(runs_store *s, const char *node_id, const cJSON *patch, double peak_lr,
                        const runs_session_opts *o);

#endif

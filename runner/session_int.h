/* runner/session_int.h — what the rooms of the run loop share (not a public API):
 * the session struct and the functions one room calls in another. See session.h
 * for the lifecycle and the list of rooms. */
#ifndef RUNS_RUNNER_SESSION_INT_H
#define RUNS_RUNNER_SESSION_INT_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <cJSON.h>

#include "cuda/gpt.h"
#include "manifests/config.h"
#include "runner/bandit.h"
#include "runner/coherence.h"
#include "runner/committer.h"
#include "runner/data.h"
#include "runner/gate.h"
#include "runner/session.h"
#include "store/store.h"
#include "tools/bpe.h"

#define EMA_BETA 0.98

typedef struct {
    runs_store *store;
    char run[RUNS_NAME_MAX];
    char dir[PATH_MAX - 64]; /* room for "/.samples.json" in PATH_MAX */
    runs_session_opts opts;
    runs_config cfg;
    cJSON *config;     /* full effective config */
    cJSON *data_files; /* fingerprints of the data this session reads (provenance.h) */
    gpt_model *model;
    runs_data *data;
    runs_bandit *bandit;
    runs_bpe *bpe;
    int32_t *inputs, *targets;
    float *staging; /* 3 × n_params: weights | m | v */
    long step;
    long tokens;
    char parent[41];
    double loss_ema;
    int have_ema;
    float last_loss, last_lr, last_gnorm;
    double last_coherence;
    runs_gate gate;           /* fed every sample's score, in order */
    runs_loss_gate loss_gate; /* fed every step's loss and gradient norm (runner/gate.h) */
    runs_seg loss_seg, samples_seg;
    FILE *loss_f, *samples_f;
    /* held-out eval (runner/eval.h): the last one this session (step -1 = none), the
     * rows since the parent (the next node's "eval_log" array), .eval.json and the
     * last step it holds, so its steps stay strictly increasing */
    long eval_step;
    double val_loss;
    long val_tokens;
    cJSON *eval_rows;
    FILE *eval_f;
    long eval_logged_step;
    int lock_fd;
    runs_committer committer;
    /* rates */
    double t_start, t_last_status;
    long steps_this_session;
} session;

static inline double runs__now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Hands ev (run filled in) to opts.on_event, if any. */
void runs__session_emit(const session *sess, runs_session_event *ev);

/* RUNS_ERROR "what: <the trainer's last error>". */
int runs__gpt_fail(const char *what);
/* The AdamW settings of c's optimizer section, as gpt_update takes them (every rank's
 * update, CPU or CUDA, uses the same). */
gpt_adamw runs__session_adamw(const runs_config *c);

/* session.c: set-up and teardown */
int runs__session_init(session *sess, runs_store *s, const runs_session_opts *o);
int runs__session_setup(session *sess);
int runs__session_new_bandit(session *sess);
int runs__session_fit_ranks(session *sess, const cJSON *m, const char *verb);
int runs__session_open_run(session *sess, const char *run, const char *dir_opt, int reuse_dir);
int runs__session_check_data(session *sess, const cJSON *m);
int runs__session_finish(session *sess, int rc);
void runs__session_path(char *buf, size_t len, const session *sess, const char *name);
/* Stages a node of kind (extra merged into its manifest, consumed) and starts its
 * commit; wait: block until it landed. */
int runs__session_commit_node(session *sess, const char *kind, cJSON *extra, int wait);
/* Waits for the running commit, if any; on success the node becomes the parent
 * (announced as RUNS_EV_NODE when announce). */
int runs__session_wait_commit(session *sess, int announce);

/* loop.c */
int runs__session_train(session *sess);
/* A rank > 0 of a data-parallel job (runner/dp.h): takes rank 0's config, cursors and
 * model, then computes its micro-batches of each step until rank 0 stops it. The
 * model, data and batches it creates are the session's (session_close frees them). */
int runs__session_worker(session *sess);
/* Evaluates on the held-out batches at the current step unless eval is off or that
 * step was already evaluated; logs the row to .eval.json and the next node. */
int runs__session_eval(session *sess);
/* The step a pending `runs stop` (SIGUSR2) will stop at: the first
 * checkpoint.boundary at or after the current step (capped at the run's end);
 * 0 when no stop is pending. */
long runs__session_stop_at(const session *sess);

/* node_build.c */
cJSON *runs__node_build_manifest(const session *sess, const char *kind);
int runs__node_build_snapshot(session *sess, runs_commit_job *job);
int runs__node_build_load(session *sess, const cJSON *m, int keep_bandit_state);

/* runlog.c */
int runs__runlog_open(session *sess);
int runs__runlog_write_state(session *sess);
int runs__runlog_rebuild(session *sess, const char *node_id, int fresh_samples);
/* Appends one .eval.json line (len bytes, no '\n') and records its step. */
int runs__runlog_eval_append(session *sess, long step, const char *line, size_t len);
void runs__runlog_status(session *sess, int final);

#endif

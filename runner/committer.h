/* runner/committer.h — the background commit of a node (one at a time).
 *
 * States of the committer, as the training loop drives it:
 *
 *     IDLE ──(loop: snapshot weights/m/v into staging, move the log segments,
 *      ▲      sync the logs: a runs_commit_job)──► STAGED
 *      │                                             │ runs_committer_start
 *      │                                             ▼
 *      │                                WRITING (committer thread: log segments →
 *      │                                objects → manifest → ref; then retention gc)
 *      │                                    │                │
 *      │                                    ▼                ▼
 *      │                               COMMITTED           FAILED (job->err)
 *      │                                    │                │
 *      └───────── runs_committer_wait (joins; hands the job back) ◄┘
 *
 * Who waits for whom: the thread never waits on the loop. The loop waits for the
 * thread (runs_committer_wait) before it stages the next snapshot, since the
 * staging buffer is reused and the optimizer must never change bytes being
 * written; at the end of a run; and when a commit must land before going on
 * (start, fork, restart, the last step, a signal). In between, it polls
 * runs_committer_landed after each step, so a node is announced as soon as it
 * lands without the loop ever blocking on it.
 */
#ifndef RUNS_RUNNER_COMMITTER_H
#define RUNS_RUNNER_COMMITTER_H

#include <pthread.h>
#include <stddef.h>

#include <cJSON.h>

#include "manifests/config.h"
#include "store/lineage.h"
#include "store/store.h"

/* A growable byte buffer for log segments. */
typedef struct {
    char *buf;
    size_t len, cap;
} runs_seg;

/* Appends n bytes of s (keeps buf NUL-terminated). */
int runs_seg_append(runs_seg *b, const char *s, size_t n);

/* One background commit: owns manifest, tensors and segments until joined. */
typedef struct {
    runs_store *store;
    cJSON *manifest;
    runs_tensor *tensors;
    size_t n_tensors;
    runs_seg loss_seg, samples_seg;
    char run[RUNS_NAME_MAX];
    long keep_last, keep_every;
    int rc;
    char err[1024];
    char id[41];
    volatile int finished; /* set last by the committer thread, so the loop can join early */
} runs_commit_job;

/* Frees a job and all it owns (NULL is fine). */
void runs_commit_job_free(runs_commit_job *job);

typedef enum {
    RUNS_COMMIT_IDLE,
    RUNS_COMMIT_WRITING,
    RUNS_COMMIT_COMMITTED,
    RUNS_COMMIT_FAILED,
} runs_commit_state;

/* Zero-initialised = IDLE. */
typedef struct {
    pthread_t thread;
    runs_commit_job *job; /* non-NULL from start until wait */
} runs_committer;

/* STAGED → WRITING: starts the thread on job (the committer owns it until
 * runs_committer_wait hands it back). The committer must be IDLE. On failure
 * the job is freed and the committer stays IDLE. */
int runs_committer_start(runs_committer *c, runs_commit_job *job);

/* The current state (COMMITTED or FAILED once the thread finished, until wait). */
runs_commit_state runs_committer_state(const runs_committer *c);

/* Joins the thread, if one runs; *out gets the job (the caller frees it with
 * runs_commit_job_free; NULL when the committer was IDLE). Returns the job's rc
 * with the error set to "checkpoint: <the thread's message>". Back to IDLE. */
int runs_committer_wait(runs_commit_job **out, runs_committer *c);

#endif

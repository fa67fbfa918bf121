/* runner/rundir.h — a run's working directory and the trainer lock.
 *
 * A run works in a directory holding
 *   .loss.json     JSON Lines {"step","loss","lr","grad_norm","source"}, one per step,
 *                  steps strictly increasing by 1 along the lineage
 *   .samples.json  JSON Lines {"step","prompt","text","score"}
 *   .state.json    the curriculum bandit's state (rewritten at every checkpoint)
 *   .status.json   what `runs status` shows (rewritten about once a second)
 * The store remembers each run's directory in STORE/rundirs/<run>, so
 * `runs resume`, `runs status` and `runs fork` find it.
 *
 * One trainer per run: STORE/locks/<run>.trainer is held with flock() while a
 * trainer runs (the kernel drops it when the process dies, SIGKILL included) and
 * holds the trainer's pid, for `runs checkpoint` (SIGUSR1).
 */
#ifndef RUNS_RUNNER_RUNDIR_H
#define RUNS_RUNNER_RUNDIR_H

#include <stddef.h>
#include <stdio.h>

#include "store/store.h"

/* Records dir as run's directory (absolute path; atomically replaced). */
int runs_rundir_set(runs_store *s, const char *run, const char *dir);
/* Reads run's directory into buf; RUNS_ENOTFOUND if none is recorded. */
int runs_rundir_get(char *buf, size_t len, runs_store *s, const char *run);

/* Takes the trainer lock of run; RUNS_ELOCKED naming the holder's pid when another
 * trainer has it. *fd_out is kept open for the life of the trainer (close releases). */
int runs_trainer_lock(int *fd_out, runs_store *s, const char *run);
/* The pid of the trainer running run, or 0 when none (lock not held). */
int runs_trainer_pid(runs_store *s, const char *run);

/* runs_jsonl_truncate_steps and the other JSON Lines log functions: common/jsonl.h. */
#include "common/jsonl.h"

/* Reads a whole file into a NUL-terminated malloc'd buffer (caller frees). */
int runs_read_file(char **out, size_t *len, const char *path);

#endif

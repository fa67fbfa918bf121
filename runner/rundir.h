/* runner/rundir.h — a run's working directory and the trainer lock.
 *
 * A run works in a directory holding
 *   .loss.json     JSON Lines {"step","loss","lr","grad_norm","source"}, one per step,
 *                  steps strictly increasing by 1 along the lineage
 *   .samples.json  JSON Lines {"step","prompt","text","score"}
 *   .state.json    the curriculum bandit's state (rewritten at every checkpoint)
 *   .status.json   what `runs status` shows (rewritten about once a second)
 *   .runs-run      which store the directory belongs to (runs_rundir_claim)
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

/* Records dir as run's directory (atomically replaced): relative to the store's
 * parent directory when dir lies inside it (so a copy of the whole tree uses its own
 * copy), else absolute. dir must exist. */
int runs_rundir_set(runs_store *s, const char *run, const char *dir);
/* Reads run's directory into buf as an absolute path; RUNS_ENOTFOUND if none is recorded. */
int runs_rundir_get(char *buf, size_t len, runs_store *s, const char *run);

/* Each run directory holds a marker, DIR/.runs-run: {"store", "dir", "run"} with the
 * store's and the directory's real paths. Before a trainer writes into dir (which
 * must exist), runs_rundir_claim refuses (RUNS_EEXISTS, suggesting --dir) when the
 * marker names another store that still exists and this very directory: a copied
 * store would otherwise write into the original's run. A directory that was itself
 * copied or moved (marker "dir" differs), or has no marker, is claimed: the marker
 * is (re)written for this store. */
#define RUNS_RUNDIR_MARKER ".runs-run"
int runs_rundir_claim(runs_store *s, const char *run, const char *dir);

/* Takes the trainer lock of run; RUNS_ELOCKED naming the holder's pid when another
 * trainer has it. *fd_out is kept open for the life of the trainer (close releases). */
int runs_trainer_lock(int *fd_out, runs_store *s, const char *run);
/* The pid of the trainer running run, or 0 when none (lock not held). */
int runs_trainer_pid(runs_store *s, const char *run);
/* Sends sig to the trainer of run (a run that exists: RUNS_ENOTFOUND naming the runs
 * otherwise) and puts its pid in *pid. RUNS_ENOTFOUND with a hint when no trainer runs
 * it: `runs resume RUN` starts one. */
int runs_trainer_signal(int *pid, runs_store *s, const char *run, int sig);

/* runs_jsonl_truncate_steps and the other JSON Lines log functions: store/jsonl.h. */
#include "store/jsonl.h"

#endif

/* runner/cli_train.h — option handling shared by start, resume, fork and restart. */
#ifndef RUNS_RUNNER_CLI_TRAIN_H
#define RUNS_RUNNER_CLI_TRAIN_H

#include "runner/cli.h"
#include "runner/session.h"

/* Parses the options common to the training commands (--name, --dir, --backend,
 * --steps, --no-train, --keep-bandit, --quiet, plus --config/--peak-lr into the
 * given pointers, which may be NULL when a command has no such option).
 * Leaves positional arguments in pos[0..*npos). Returns 0 or an exit status. */
int runs_cli_train_opts(runs_session_opts *o, const char **config, double *peak_lr,
                        const char **pos, int *npos, int max_pos, const char *cmd,
                        const char *usage, int argc, char **argv);

/* Maps a session's return code to the exit status (printing the error). */
int runs_cli_train_exit(const char *cmd, int rc);

#endif

/* runner/cli_signal.h — what `runs checkpoint` and `runs stop` share: find the run
 * (RUN or the current one), signal its trainer, say so. */
#ifndef RUNS_RUNNER_CLI_SIGNAL_H
#define RUNS_RUNNER_CLI_SIGNAL_H

#include "runner/cli.h"

/* argv is the command's ([CMD, RUN?]); sig goes to RUN's trainer (default: the
 * current run) through runs_trainer_signal, then "asked trainer PID of RUN to WHAT"
 * is printed. Returns the exit status (129 for extra or option-like arguments, 1
 * when the run or its trainer is not there, the error printed as "runs CMD: ..."). */
int runs_cli_signal_run(runs_cli *cli, int argc, char **argv, const char *cmd, const char *usage, int sig,
                        const char *what);

#endif
